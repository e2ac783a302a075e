#pragma once
// Extended XYZ, exactly as ASE reads and writes it (ase.io.extxyz): a count line, a comment line of
// key=value pairs (Lattice="9 numbers", Properties=name:type:width:..., pbc="T T F", energy=, stress=,
// virial=, free keys), then one line per atom with the columns named by Properties.
//
// Units: positions A, forces eV/A, energy eV, stress and virial as given (eV/A^3 and eV), velocities A/fs.
// Velocities are read from `momenta` (ASE's units, amu*A per ASE time unit; see units.hpp) or from
// `velocities` (A/fs, nequip-md's own column); the writer writes `momenta`, so ASE reads the same velocities.
#include <cstddef>
#include <cstdio>
#include <fstream>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "engine/system.hpp"

namespace nqmd {

// A per-atom column that nequip-md does not interpret, kept verbatim so that a round trip loses nothing.
struct ExtxyzColumn {
  std::string name;
  char type = 'R';                  // R real, I integer, L logical, S string
  int width = 1;                    // numbers per atom
  std::vector<std::string> values;  // atoms * width entries, as written
};

struct Frame {
  System system;  // species, masses, positions, velocities (zero if absent), cell and pbc
  bool has_velocities = false;
  std::optional<double> energy;           // eV (info key `energy`)
  std::optional<Mat3> stress;             // eV/A^3, from 9 values or Voigt 6 (xx yy zz yz xz xy)
  std::optional<Mat3> virial;             // eV
  std::optional<std::vector<Vec3>> forces;    // eV/A (column `forces`)
  std::optional<std::vector<double>> energies;  // eV per atom (column `energies`)
  // Other info keys in file order, values unquoted as written (e.g. {"config_name", "bulk"}).
  std::vector<std::pair<std::string, std::string>> info;
  std::vector<ExtxyzColumn> extra_columns;

  // Value of a free info key, if present.
  const std::string* find_info(const std::string& key) const;
  // Numbers of a free info key (labels under other names, e.g. REF_energy), split and parsed as the reader parses
  // info values (non-finite values are returned as read); nothing if absent. InputError "WHERE: KEY: 'x' is not a
  // number".
  std::optional<std::vector<double>> info_numbers(const std::string& key, const std::string& where) const;
  // A kept per-atom column of 3 reals (e.g. REF_forces); nothing if absent. InputError naming `where` if it is not
  // 3 reals per atom.
  std::optional<std::vector<Vec3>> vector_column(const std::string& name, const std::string& where) const;
};

// The 3x3 matrix that a stress or virial info value stands for: 9 numbers in column-major order (as ASE reads and
// writes them) or, if `voigt_allowed`, Voigt 6 (xx yy zz yz xz xy); nothing for another count.
std::optional<Mat3> info_matrix(const std::vector<double>& values, bool voigt_allowed);

// Reads frames sequentially or by index; by index it scans line counts only up to the frame asked for.
// Errors are InputErrors that name file:line and what was expected.
class ExtxyzReader {
 public:
  explicit ExtxyzReader(std::string path);
  // Number of frames (scans the file once, then remembers).
  std::size_t count();
  // For trajectories a killed writer may have cut short: the number of complete frames, leaving out a final
  // frame that the file ends inside of (`truncated` tells whether it did); any other problem throws as count().
  std::size_t count_complete_frames(bool& truncated);
  // Frame by index; negative counts from the end (-1 is the last frame).
  Frame read(long index);
  // Next frame of a sequential read, or nothing at the end of the file.
  std::optional<Frame> next();
  const std::string& path() const { return path_; }

 private:
  std::string path_;
  std::ifstream stream_;
  std::size_t line_number_ = 0;          // lines consumed by the sequential reader
  std::vector<std::streampos> frame_offsets_;
  std::vector<std::size_t> frame_lines_;  // line number at which each indexed frame starts
  bool fully_indexed_ = false;
  bool ends_inside_frame_ = false;  // the scan found the file ending inside its last frame
  void index_up_to(std::size_t frame);
  Frame parse_frame_at(std::size_t frame);
};

std::vector<Frame> read_extxyz(const std::string& path);

// Writes frames in ASE's layout with full round-trip precision (shortest representation that reads back
// exactly). Info keys: Lattice (if the cell has one), Properties, energy, stress (9 values), virial, free keys,
// pbc. Columns: species, pos, masses (when they differ from the standard masses), momenta (when the frame has
// velocities), forces, energies, then extra columns.
void write_extxyz_frame(std::FILE* file, const Frame& frame);

class ExtxyzWriter {
 public:
  // Opens for writing (truncating) or appending; throws InputError naming the path if it cannot.
  ExtxyzWriter(const std::string& path, bool append = false);
  ~ExtxyzWriter();
  ExtxyzWriter(const ExtxyzWriter&) = delete;
  ExtxyzWriter& operator=(const ExtxyzWriter&) = delete;
  void write(const Frame& frame);
  void flush();  // throws InputError on a write error (e.g. disk full)

 private:
  std::string path_;
  std::FILE* file_ = nullptr;
};

}  // namespace nqmd
