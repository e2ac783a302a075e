#pragma once
// Trajectories in H5MD 1.1 (HDF5 for molecular data, https://www.nongnu.org/h5md/h5md.html): the writer, an
// Observer that appends a frame per observe(), and the reader behind read_trajectory for H5MD files.
//
// Layout written (N atoms, F frames; `unit` attributes are variable-length strings, as the H5MD units module and
// MDAnalysis expect):
//   /h5md                        +version = [1, 1]
//     author                     +name
//     creator                    +name = "nequip-md", +version
//   /particles/all
//     box                        +dimension = 3, +boundary = "periodic" or "none" per axis (fixed-length strings)
//       edges/                   (omitted for a system without any cell)
//         step, time             hard links to position/step and position/time (required by the spec)
//         value  float64[F][3][3] rows are the lattice vectors, +unit "Angstrom"
//     position/step              int64[F] (MD step)
//     position/time              float64[F], +unit "fs"
//     position/value             float64[F][N][3] as stored in the System (wrapped), +unit "Angstrom"
//     velocity/value             float64[F][N][3], +unit "Angstrom fs-1"      (optional)
//     force/value                float64[F][N][3], +unit "eV Angstrom-1"      (optional)
//     image/value                int32[F][N][3] periodic image counters       (optional)
//     species                    int32[N], index into +symbols (variable-length strings: chemical symbols)
//     mass                       float64[N], +unit "amu"
//   (velocity, force and image have step and time hard-linked to position's)
//   /observables/{potential_energy, kinetic_energy, total_energy, conserved_energy} (+unit "eV"),
//     temperature ("K"), pressure ("bar"), volume ("Angstrom+3"): step, time (hard links), value float64[F]
//
// Per-atom datasets have one frame per chunk and optional deflate compression; the small series (step, time,
// edges, observables) are uncompressed with many frames per chunk. The file is flushed (H5Fflush) every
// `flush_every` frames and on flush(), so a killed run leaves a file readable up to its last flush. Values never
// written read as the fill value, NaN (floats) or the lowest integer (step, image), so that frames a kill cut
// short inside a flush are recognised (read_h5md drops them) instead of reading as zeros.
//
// Note for MDAnalysis (2.4) users: its H5MD reader rejects any force unit outside its own table, which has no
// eV/A, so it only opens files written without forces.
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>

#include "engine/observer.hpp"
#include "io/trajectory.hpp"

namespace nqmd {

struct H5mdWriterOptions {
  std::string path;
  // Positions are always written; these are optional.
  bool velocities = true;
  bool forces = false;
  bool energies = false;  // per-atom potential energies: particles/all/potential_energy (eV), [frames][atoms]
  bool images = true;
  int compression_level = 0;    // deflate level of the per-atom datasets, 0 (none) to 9
  std::size_t flush_every = 1;  // frames between flushes to disk (>= 1)
  std::string author;           // /h5md/author name; empty: the USER environment variable
  bool overwrite = false;       // replace an existing file (without it, an existing file is an InputError)
  // Restart: continue the existing file (or create it if absent) after this step. The existing file is only read:
  // its complete frames up to this step, and all else in it, are copied into PATH.tmp, which is fsynced and
  // renamed over it before frames are appended (a file a kill left mid-flush is never changed in place). The
  // fields written must be those already in the file.
  std::optional<std::uint64_t> resume_after_step;
};

class H5mdWriter final : public Observer {
 public:
  // Creates (or, when resuming, reopens) the file; InputError naming the path on any problem.
  explicit H5mdWriter(H5mdWriterOptions options);
  ~H5mdWriter() override;
  H5mdWriter(const H5mdWriter&) = delete;
  H5mdWriter& operator=(const H5mdWriter&) = delete;

  // Appends a frame. InputError naming the path on a write error (e.g. disk full) or if the atoms differ from
  // those already in the file.
  void observe(const StepData& data) override;
  void flush() override;
  // Frames in the file (after a resume: the frames kept plus those appended).
  std::size_t frames() const;

 private:
  struct State;
  // Reopens the existing file, keeping its frames up to this step.
  void open_for_append(std::uint64_t resume_after_step);
  // Creates the particle and observable groups for the first frame written.
  void create_particles(const System& system);
  H5mdWriterOptions options_;
  std::unique_ptr<State> state_;
};

// True if the file exists and has the HDF5 signature.
bool is_hdf5_file(const std::string& path);

// Reads an H5MD file, nequip-md's or another program's: the particles group `all` (else the first with a
// position element); position (time-dependent, or a single time-independent frame); step and time stored
// explicitly or as fixed increments with offsets, or absent (steps count frames, times need
// options.frame_interval_fs); lengths and times converted to A and fs from their `unit` attributes (lengths
// "Angstrom", "Ang", "A" or SI "m" with a prefix; times SI "s" with a prefix or "AKMA"; no attribute: A and fs);
// box edges as a 3-vector (cuboid) or a 3x3 matrix, fixed or time-dependent; velocity and image if present;
// species as integers with a `symbols` attribute (nequip-md), as integers without one (atomic numbers, as
// ZnH5MD writes them), or as strings; mass if present, else standard masses. Trailing frames whose data is not
// all there (a writer killed while flushing) are left out. InputError naming the file if it is not H5MD or
// lacks positions or species.
Trajectory read_h5md(const std::string& path, const TrajectoryReadOptions& options = {});

}  // namespace nqmd
