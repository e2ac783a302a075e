#include "engine/structure.hpp"

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <random>
#include <string>
#include <vector>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "engine/error.hpp"
#include "engine/memory_budget.hpp"
#include "engine/lattice.hpp"
#include "engine/periodic_table.hpp"
#include "io/checkpoint.hpp"

namespace nqmd {

const SectionSchema& structure_section_schema() {
  static const SectionSchema schema{
      "structure",
      "The initial atoms: `file` (extxyz, as ASE writes it), a built-in `lattice`, or the final state of another run "
      "(`checkpoint`, positions and velocities, starting a new run at step 0).",
      {KeySpec("file", KeyType::string, "extxyz file with the initial structure (relative to this input file)"),
       KeySpec("checkpoint", KeyType::string, "checkpoint (HDF5) of another run to start from, with its velocities"),
       KeySpec("frame", KeyType::integer, "frame of `file` to start from; negative counts from the end (-1 = last)")
           .defaults_to(std::int64_t{0}),
       KeySpec("lattice", KeyType::string, "built-in lattice instead of a file").one_of(lattice_kinds()),
       KeySpec("lattice_constant", KeyType::real, "lattice constant a (A)").greater_than(0.0),
       KeySpec("c", KeyType::real, "hcp c (A); default the ideal sqrt(8/3) a").greater_than(0.0),
       KeySpec("repeat", KeyType::integer_array, "copies of the conventional cell along a, b, c").length(3).at_least(1),
       KeySpec("replicate", KeyType::integer_array,
               "copies of a `file` or `checkpoint` structure along a, b, c (LAMMPS replicate), with its velocities "
               "and image counters")
           .length(3)
           .at_least(1),
       KeySpec("species", KeyType::string_array, "elements assigned to the lattice's basis sites in turn"),
       KeySpec("pbc", KeyType::boolean_array, "periodicity along a, b, c (default: the file's, or all true)").length(3),
       KeySpec("masses", KeyType::real_table, "mass per element overriding the standard mass (amu), e.g. { H = 2.014 }")
           .greater_than(0.0),
       KeySpec("random_displacement", KeyType::real,
               "standard deviation of Gaussian displacements added to every coordinate (A)")
           .at_least(0.0)
           .defaults_to(0.0),
       KeySpec("seed", KeyType::integer, "seed of the random displacements").defaults_to(std::int64_t{12345})}};
  return schema;
}

namespace {

// InputError naming `key` if a structure of `atoms` atoms is beyond kMostAtoms or the memory budget.
void check_atom_count(const ConfigSection& section, const char* key, double atoms) {
  if (atoms > kMostAtoms)
    section.fail(key, fmt::format("would make {:.4g} atoms; at most {:.0f} are allowed", atoms, kMostAtoms));
  const double bytes = atoms * kBytesPerAtom;
  if (bytes > memory_budget_bytes())
    section.fail(key, fmt::format("would make {:.4g} atoms, about {:.3g} GB at {:.0f} bytes an atom, more than the "
                                  "{:.3g} GB of memory here",
                                  atoms, bytes / 1e9, kBytesPerAtom, memory_budget_bytes() / 1e9));
}

Frame frame_from_lattice(const ConfigSection& section) {
  for (const char* key : {"lattice_constant", "species"})
    if (!section.has(key)) section.fail(key, "is required with `lattice`");
  LatticeSpec spec;
  spec.kind = section.string("lattice");
  spec.lattice_constant = section.real("lattice_constant");
  if (section.has("c")) {
    if (spec.kind != "hcp") section.fail("c", "applies only to lattice = \"hcp\"");
    spec.c = section.real("c");
  }
  if (section.has("repeat")) {
    // Counted from the 64-bit values, before they are narrowed to int for the builder.
    const auto repeat = section.integer_array("repeat");
    check_atom_count(section, "repeat",
                     static_cast<double>(lattice_basis_size(spec.kind)) * static_cast<double>(repeat[0]) *
                         static_cast<double>(repeat[1]) * static_cast<double>(repeat[2]));
    for (int axis = 0; axis < 3; ++axis) spec.repeat[axis] = static_cast<int>(repeat[axis]);
  }
  spec.species = section.string_array("species");
  if (spec.species.empty()) section.fail("species", "must name at least one element");
  for (const std::string& symbol : spec.species)
    if (!is_element_symbol(symbol)) section.fail("species", fmt::format("unknown element '{}'", symbol));
  Frame frame;
  try {
    frame.system = build_lattice(spec);
  } catch (const InputError& error) {  // what the keys checked above leave: a cell that cannot be (a = 1e300 A)
    section.fail("lattice_constant", error.what());
  }
  return frame;
}

// "X does not exist", and which input beside it writes X (checkpoint_file = "X"), as a hint of what to run first.
std::string missing_checkpoint_message(const std::string& path) {
  namespace fs = std::filesystem;
  const fs::path wanted(path);
  std::vector<std::string> writers;
  std::error_code error;
  const fs::path folder = wanted.has_parent_path() ? wanted.parent_path() : fs::path(".");
  for (const fs::directory_entry& entry : fs::directory_iterator(folder, error)) {
    if (entry.path().extension() != ".toml" || !entry.is_regular_file(error) || entry.file_size(error) > (1 << 20))
      continue;
    std::ifstream in(entry.path());
    const std::string needle = "\"" + wanted.filename().string() + "\"";
    for (std::string line; std::getline(in, line);)
      if (line.find("checkpoint_file") != std::string::npos && line.find(needle) != std::string::npos) {
        writers.push_back(entry.path().filename().string());
        break;
      }
  }
  std::sort(writers.begin(), writers.end());
  if (writers.empty())
    return fmt::format("{} does not exist (it is the checkpoint_file of another run: run that one first)", path);
  return fmt::format("{} does not exist yet: {} writes it ([run] checkpoint_file); run that first", path,
                     fmt::join(writers, " or "));
}

// The supercell `replicate` asks for, with the frame's velocities; labels of the original frame (energy, forces) do
// not describe it and are dropped.
Frame replicated_frame(const ConfigSection& section, const Frame& frame) {
  const auto counts = section.integer_array("replicate");
  const double atoms = static_cast<double>(frame.system.size()) * static_cast<double>(counts[0]) *
                       static_cast<double>(counts[1]) * static_cast<double>(counts[2]);
  check_atom_count(section, "replicate", atoms);
  Frame supercell;
  try {
    supercell.system = replicate(frame.system, {static_cast<int>(counts[0]), static_cast<int>(counts[1]),
                                                static_cast<int>(counts[2])});
  } catch (const InputError& error) {
    section.fail("replicate", error.what());
  }
  supercell.has_velocities = frame.has_velocities;
  return supercell;
}

}  // namespace

Frame load_structure(const ConfigSection& section) {
  const bool from_file = section.has("file");
  const bool from_lattice = section.has("lattice");
  const bool from_checkpoint = section.has("checkpoint");
  if (int(from_file) + int(from_lattice) + int(from_checkpoint) != 1)
    section.fail(from_file ? "file" : from_lattice ? "lattice" : "checkpoint",
                 "give exactly one of `file`, `lattice` and `checkpoint`");
  if (!from_lattice)
    for (const char* key : {"lattice_constant", "c", "repeat", "species"})
      if (section.has(key)) section.fail(key, "applies only to `lattice`");
  if (from_lattice && section.has("replicate"))
    section.fail("replicate", "applies to `file` and `checkpoint`; a `lattice` has `repeat`");
  if (from_checkpoint)
    for (const char* key : {"frame", "pbc", "random_displacement"})
      if (section.has(key)) section.fail(key, "does not apply to `checkpoint`");

  Frame frame;
  if (from_checkpoint) {
    const std::string path = section.path("checkpoint");
    if (!std::filesystem::exists(path)) section.fail("checkpoint", missing_checkpoint_message(path));
    frame.system = read_checkpoint(path).system;
    frame.has_velocities = true;
  } else if (from_file) {
    ExtxyzReader reader(section.path("file"));
    const long index = section.integer("frame");
    const std::size_t count = reader.count();
    if (index >= static_cast<long>(count) || index < -static_cast<long>(count))
      section.fail("frame", fmt::format("frame {} does not exist: {} has {} frame(s)", index, reader.path(), count));
    frame = reader.read(index);
  } else {
    frame = frame_from_lattice(section);
  }
  System& system = frame.system;

  if (section.has("pbc")) {
    const auto pbc = section.boolean_array("pbc");
    try {
      system.cell = Cell(system.cell.lattice(), {pbc[0], pbc[1], pbc[2]});
    } catch (const InputError& error) {
      section.fail("pbc", error.what());
    }
  }
  for (const auto& [symbol, mass] : section.real_table("masses")) {
    if (!is_element_symbol(symbol)) section.fail("masses", fmt::format("unknown element '{}'", symbol));
    for (std::size_t i = 0; i < system.size(); ++i)
      if (system.symbol(i) == symbol) system.masses[i] = mass;
  }
  if (section.has("replicate")) frame = replicated_frame(section, frame);
  const double sigma = section.real("random_displacement");
  if (sigma > 0) {
    std::mt19937_64 generator(static_cast<std::uint64_t>(section.integer("seed")));
    std::normal_distribution<double> gaussian(0.0, sigma);
    for (Vec3& position : system.positions)
      for (int axis = 0; axis < 3; ++axis) position[axis] += gaussian(generator);
  }
  if (system.size() == 0) section.fail(from_lattice ? "lattice" : from_file ? "file" : "checkpoint", "the structure has no atoms");
  system.validate();
  return frame;
}

}  // namespace nqmd
