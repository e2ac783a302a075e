// Writing H5MD trajectories (H5mdWriter): the file's metadata, the particle and observable groups at the first
// frame, and a frame per observe(); resuming reopens the copy that h5md_resume.cpp made of the frames kept.
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/statvfs.h>

#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <limits>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include <fmt/format.h>

#include "engine/error.hpp"
#include "engine/log.hpp"
#include "io/h5md.hpp"
#include "io/h5md_internal.hpp"
#include "io/h5md_layout.hpp"
#include "io/trajectory_writer.hpp"

namespace nqmd {
namespace h5md {
namespace {

using hdf5::Handle;

// Bytes that can still be added to the file at `path` (of which `file_bytes` are in use): the free space of its
// file system and what the file-size limit (ulimit -f) leaves.
std::uintmax_t room_for(const std::string& path, std::uintmax_t file_bytes) {
  std::uintmax_t room = std::numeric_limits<std::uintmax_t>::max();
  struct statvfs filesystem {};
  if (::statvfs(path.c_str(), &filesystem) == 0)
    room = static_cast<std::uintmax_t>(filesystem.f_bavail) * static_cast<std::uintmax_t>(filesystem.f_frsize);
  rlimit limit{};
  if (::getrlimit(RLIMIT_FSIZE, &limit) == 0 && limit.rlim_cur != RLIM_INFINITY) {
    struct stat info {};
    if (::stat(path.c_str(), &info) == 0) file_bytes = std::max<std::uintmax_t>(file_bytes, info.st_size);
    const auto maximum = static_cast<std::uintmax_t>(limit.rlim_cur);
    room = std::min(room, maximum > file_bytes ? maximum - file_bytes : 0);
  }
  return room;
}

// Variable-length strings, as the H5MD units module's `unit` attributes are (h5py reads them as str, which
// MDAnalysis needs to recognise the units).
void write_unit(const hdf5::File& file, hid_t object, const std::string& unit) {
  hdf5::write_variable_strings_attribute(file, object, "unit", {unit}, true);
}

// -----------------------------------------------------------------------------------------------------------------
// Time series written frame by frame

struct Series {
  std::string name;  // for messages
  Handle dataset;
  std::vector<hsize_t> item_shape;  // shape of one frame
  hid_t memory_type = -1;

  bool valid() const { return dataset.valid(); }
};

Series create_series(const hdf5::File& file, hid_t group, const std::string& group_name, const char* name,
                     hid_t file_type, hid_t memory_type, std::vector<hsize_t> item_shape, bool per_atom,
                     int deflate_level) {
  const int rank = 1 + static_cast<int>(item_shape.size());
  std::vector<hsize_t> dims{0}, max_dims{H5S_UNLIMITED}, chunk{per_atom ? 1 : kSeriesFramesPerChunk};
  for (const hsize_t extent : item_shape) {
    dims.push_back(extent);
    max_dims.push_back(extent);
    chunk.push_back(extent);
  }
  Handle space(H5Screate_simple(rank, dims.data(), max_dims.data()), H5Sclose);
  Handle properties(H5Pcreate(H5P_DATASET_CREATE), H5Pclose);
  H5Pset_chunk(properties.get(), rank, chunk.data());
  // Only one-frame chunks are compressed: they are written once and never change size afterwards. A compressed
  // chunk rewritten as it fills could move in the file, and a crash could then leave the last flushed state
  // pointing at space reused since.
  if (per_atom && deflate_level > 0) {
    H5Pset_shuffle(properties.get());
    H5Pset_deflate(properties.get(), static_cast<unsigned>(deflate_level));
  }
  // Data never written reads as NaN or the lowest integer, never as plausible zeros: a writer killed while
  // flushing can leave a frame's extent on disk without all of its data, and readers must be able to tell.
  const double nan = std::numeric_limits<double>::quiet_NaN();
  const std::int64_t lowest_int64 = std::numeric_limits<std::int64_t>::min();
  const int lowest_int = std::numeric_limits<int>::min();
  const void* fill = memory_type == H5T_NATIVE_DOUBLE  ? static_cast<const void*>(&nan)
                     : memory_type == H5T_NATIVE_INT64 ? static_cast<const void*>(&lowest_int64)
                                                       : static_cast<const void*>(&lowest_int);
  H5Pset_fill_value(properties.get(), memory_type, fill);
  Series series;
  series.name = group_name + "/" + name;
  series.dataset =
      Handle(H5Dcreate2(group, name, file_type, space.get(), H5P_DEFAULT, properties.get(), H5P_DEFAULT), H5Dclose);
  if (!series.dataset.valid()) file.fail(fmt::format("cannot create dataset {}", series.name));
  series.item_shape = std::move(item_shape);
  series.memory_type = memory_type;
  return series;
}

Series open_series(const hdf5::File& file, const std::string& name, hid_t memory_type) {
  Series series;
  series.name = name;
  series.dataset = file.open_dataset(name);
  const std::vector<hsize_t> dims = hdf5::dataset_dims(series.dataset.get());
  if (dims.empty()) file.fail(fmt::format("{} is not a time series (no frame dimension)", name));
  series.item_shape.assign(dims.begin() + 1, dims.end());
  series.memory_type = memory_type;
  return series;
}

hsize_t series_frames(const Series& series) { return hdf5::dataset_dims(series.dataset.get()).front(); }

void resize_series(const hdf5::File& file, const Series& series, hsize_t frames) {
  std::vector<hsize_t> dims{frames};
  dims.insert(dims.end(), series.item_shape.begin(), series.item_shape.end());
  if (H5Dset_extent(series.dataset.get(), dims.data()) < 0)
    file.fail(fmt::format("cannot resize {} to {} frames", series.name, frames));
}

void append(const hdf5::File& file, const Series& series, hsize_t index, const void* data) {
  resize_series(file, series, index + 1);
  if (!hdf5::write_frames(series.dataset.get(), series.memory_type, index, 1, series.item_shape, data))
    file.fail(fmt::format("cannot write frame {} of {} (disk full?)", index, series.name));
}

Handle create_group(const hdf5::File& file, hid_t parent, const std::string& name) {
  const Handle links = hdf5::creating_intermediate_groups();
  Handle group(H5Gcreate2(parent, name.c_str(), links.get(), H5P_DEFAULT, H5P_DEFAULT), H5Gclose);
  if (!group.valid()) file.fail(fmt::format("cannot create group {}", name));
  return group;
}

// The spec asks elements sampled together to share step and time by hard links (box and image must).
void link_step_and_time(const hdf5::File& file, hid_t group, const std::string& group_name) {
  if (H5Lcreate_hard(file.id(), kPositionStep, group, "step", H5P_DEFAULT, H5P_DEFAULT) < 0 ||
      H5Lcreate_hard(file.id(), kPositionTime, group, "time", H5P_DEFAULT, H5P_DEFAULT) < 0)
    file.fail(fmt::format("cannot link {}/step and time to the positions'", group_name));
}

void write_metadata(const hdf5::File& file, const std::string& author_name) {
  Handle h5md = create_group(file, file.id(), "h5md");
  hdf5::write_ints_attribute(file, h5md.get(), "version", {1, 1});
  Handle author = create_group(file, h5md.get(), "author");
  hdf5::write_fixed_strings_attribute(file, author.get(), "name", {author_name});
  Handle creator = create_group(file, h5md.get(), "creator");
  hdf5::write_fixed_strings_attribute(file, creator.get(), "name", {"nequip-md"});
  hdf5::write_fixed_strings_attribute(file, creator.get(), "version", {NQMD_VERSION});
}

std::string default_author() {
  const char* user = std::getenv("USER");
  return user != nullptr && *user != '\0' ? user : "unknown";
}

}  // namespace
}  // namespace h5md

// The file layout and the helpers above.
using namespace h5md;

struct H5mdWriter::State {
  hdf5::File file;
  bool particles_ready = false;  // particle datasets exist (created at the first frame, or found when resuming)
  bool atoms_checked = false;    // the observed system was checked against the file's atoms
  std::size_t atoms = 0;
  std::vector<std::string> file_symbols;  // per atom, from the file being resumed
  std::vector<int> species;               // of the first system observed, to check the following ones
  std::vector<std::string> species_symbols;
  hsize_t frames = 0;
  std::size_t unflushed = 0;
  bool failed = false;                    // a write or flush failed: the destructor does not try again
  std::optional<std::int64_t> last_step;  // of the last frame written
  Series step, time, position, velocity, force, energy, image, edges;
  std::vector<Series> observables;

  explicit State(hdf5::File opened) : file(std::move(opened)) {}
  std::vector<Series*> all_series() {
    std::vector<Series*> series{&step, &time, &position, &velocity, &force, &energy, &image, &edges};
    for (Series& observable : observables) series.push_back(&observable);
    series.erase(std::remove_if(series.begin(), series.end(), [](const Series* s) { return !s->valid(); }),
                 series.end());
    return series;
  }
};

H5mdWriter::H5mdWriter(H5mdWriterOptions options) : options_(std::move(options)) {
  hdf5::silence_errors();
  const std::string& path = options_.path;
  if (options_.flush_every == 0) throw InputError(fmt::format("{}: flush_every must be at least 1", path));
  if (options_.compression_level < 0 || options_.compression_level > 9)
    throw InputError(fmt::format("{}: compression level {} is not in 0..9", path, options_.compression_level));
  std::error_code error;
  const bool exists = std::filesystem::exists(path, error);
  if (exists && options_.resume_after_step) {
    open_for_append(*options_.resume_after_step);
    return;
  }
  if (exists && !options_.overwrite)
    throw existing_trajectory_error(path);
  state_ = std::make_unique<State>(hdf5::File(path, H5Fcreate(path.c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT)));
  write_metadata(state_->file, options_.author.empty() ? default_author() : options_.author);
  flush();
}

void H5mdWriter::open_for_append(std::uint64_t resume_after_step) {
  const std::string& path = options_.path;
  if (!is_hdf5_file(path)) throw InputError(fmt::format("{}: not an HDF5 file; cannot append frames to it", path));
  // The frames up to the restart step go into a fresh file that replaces this one (see rewrite_up_to_step);
  // frames after that step, and frames a kill cut short, are left out.
  const hsize_t kept = rewrite_up_to_step(path, static_cast<std::int64_t>(resume_after_step), options_);
  state_ = std::make_unique<State>(hdf5::File(path, H5Fopen(path.c_str(), H5F_ACC_RDWR, H5P_DEFAULT)));
  State& state = *state_;
  const hdf5::File& file = state.file;
  const std::string particles = kParticles;
  if (!file.exists(particles + "/position")) return;  // the previous run wrote no frame: start with the first one

  state.step = open_series(file, kPositionStep, H5T_NATIVE_INT64);
  state.time = open_series(file, kPositionTime, H5T_NATIVE_DOUBLE);
  state.position = open_series(file, particles + "/position/value", H5T_NATIVE_DOUBLE);
  if (options_.velocities) state.velocity = open_series(file, particles + "/velocity/value", H5T_NATIVE_DOUBLE);
  if (options_.forces) state.force = open_series(file, particles + "/force/value", H5T_NATIVE_DOUBLE);
  if (options_.energies)
    state.energy = open_series(file, particles + "/" + kAtomEnergyElement + "/value", H5T_NATIVE_DOUBLE);
  if (options_.images) state.image = open_series(file, particles + "/image/value", H5T_NATIVE_INT);
  if (file.exists(particles + "/box/edges"))
    state.edges = open_series(file, particles + "/box/edges/value", H5T_NATIVE_DOUBLE);
  for (const ObservableSpec& observable : kObservables)
    state.observables.push_back(
        open_series(file, fmt::format("observables/{}/value", observable.name), H5T_NATIVE_DOUBLE));
  if (state.position.item_shape.size() != 2) file.fail("position/value is not [frames][atoms][3]");
  state.atoms = state.position.item_shape[0];
  const std::optional<H5mdElement> species = open_element(file, particles + "/species");
  if (!species) file.fail("cannot append: the file has no species");
  state.file_symbols = read_species(file, *species, 0, state.atoms);
  for (Series* series : state.all_series())
    if (series_frames(*series) != kept)
      file.fail(fmt::format("{} does not have the {} frames copied", series->name, kept));
  state.frames = kept;
  log::detail("{}: continuing after its first {} frames (up to step {})", path, kept, resume_after_step);
  state.particles_ready = true;
}

H5mdWriter::~H5mdWriter() {
  if (state_->failed) return;
  try {
    flush();
  } catch (const InputError& error) {
    log::warn("{}", error.what());
  }
}

std::size_t H5mdWriter::frames() const { return static_cast<std::size_t>(state_->frames); }

void H5mdWriter::flush() {
  state_->unflushed = 0;
  if (H5Fflush(state_->file.id(), H5F_SCOPE_GLOBAL) < 0) {
    state_->failed = true;
    state_->file.fail("cannot flush to disk (disk full?)");
  }
}

void H5mdWriter::create_particles(const System& system) {
  State& state = *state_;
  const hdf5::File& file = state.file;
  const std::size_t atoms = system.size();
  const std::string particles = kParticles;
  const int level = options_.compression_level;
  const std::vector<hsize_t> vectors{atoms, 3};
  const std::vector<std::string> boundary{system.cell.periodic(0) ? "periodic" : "none",
                                          system.cell.periodic(1) ? "periodic" : "none",
                                          system.cell.periodic(2) ? "periodic" : "none"};
  Handle all = create_group(file, file.id(), particles);

  Handle position = create_group(file, all.get(), "position");
  state.step = create_series(file, position.get(), particles + "/position", "step", H5T_STD_I64LE, H5T_NATIVE_INT64, {},
                             false, 0);
  state.time = create_series(file, position.get(), particles + "/position", "time", H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE,
                             {}, false, 0);
  write_unit(file, state.time.dataset.get(), kTimeUnit);
  state.position = create_series(file, position.get(), particles + "/position", "value", H5T_IEEE_F64LE,
                                 H5T_NATIVE_DOUBLE, vectors, true, level);
  write_unit(file, state.position.dataset.get(), kLengthUnit);

  const auto vector_element = [&](const char* name, hid_t file_type, hid_t memory_type, const char* unit) {
    Handle group = create_group(file, all.get(), name);
    link_step_and_time(file, group.get(), particles + "/" + name);
    Series series =
        create_series(file, group.get(), particles + "/" + name, "value", file_type, memory_type, vectors, true, level);
    if (unit != nullptr) write_unit(file, series.dataset.get(), unit);
    return series;
  };
  if (options_.velocities)
    state.velocity = vector_element("velocity", H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, kVelocityUnit);
  if (options_.forces) state.force = vector_element("force", H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, kForceUnit);
  if (options_.energies) {
    Handle group = create_group(file, all.get(), kAtomEnergyElement);
    link_step_and_time(file, group.get(), particles + "/" + kAtomEnergyElement);
    state.energy = create_series(file, group.get(), particles + "/" + kAtomEnergyElement, "value", H5T_IEEE_F64LE,
                                 H5T_NATIVE_DOUBLE, {atoms}, true, level);
    write_unit(file, state.energy.dataset.get(), kEnergyUnit);
  }
  if (options_.images) state.image = vector_element("image", H5T_STD_I32LE, H5T_NATIVE_INT, nullptr);

  // Box: boundary per axis; edges (rows = lattice vectors) unless there is no cell at all, which the spec allows
  // when every boundary is "none".
  Handle box = create_group(file, all.get(), "box");
  hdf5::write_ints_attribute(file, box.get(), "dimension", {3});
  hdf5::write_fixed_strings_attribute(file, box.get(), "boundary", boundary);
  if (system.cell.any_periodic() || !system.cell.lattice().isZero(0.0)) {
    Handle edges = create_group(file, box.get(), "edges");
    link_step_and_time(file, edges.get(), particles + "/box/edges");
    state.edges = create_series(file, edges.get(), particles + "/box/edges", "value", H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE,
                                {3, 3}, false, 0);
    write_unit(file, state.edges.dataset.get(), kLengthUnit);
  }

  // Species and masses do not change: time-independent datasets.
  const hsize_t count = atoms;
  Handle space(H5Screate_simple(1, &count, nullptr), H5Sclose);
  Handle species(H5Dcreate2(all.get(), "species", H5T_STD_I32LE, space.get(), H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT),
                 H5Dclose);
  if (!species.valid() ||
      H5Dwrite(species.get(), H5T_NATIVE_INT, H5S_ALL, H5S_ALL, H5P_DEFAULT, system.species.data()) < 0)
    file.fail("cannot write particles/all/species");
  hdf5::write_variable_strings_attribute(file, species.get(), "symbols", system.species_symbols, false);
  Handle mass(H5Dcreate2(all.get(), "mass", H5T_IEEE_F64LE, space.get(), H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT),
              H5Dclose);
  if (!mass.valid() || H5Dwrite(mass.get(), H5T_NATIVE_DOUBLE, H5S_ALL, H5S_ALL, H5P_DEFAULT, system.masses.data()) < 0)
    file.fail("cannot write particles/all/mass");
  write_unit(file, mass.get(), kMassUnit);

  for (const ObservableSpec& spec : kObservables) {
    const std::string name = std::string("observables/") + spec.name;
    Handle group = create_group(file, file.id(), name);
    link_step_and_time(file, group.get(), name);
    state.observables.push_back(
        create_series(file, group.get(), name, "value", H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, {}, false, 0));
    write_unit(file, state.observables.back().dataset.get(), spec.unit);
  }
  state.particles_ready = true;
}

void H5mdWriter::observe(const StepData& data) {
  State& state = *state_;
  const hdf5::File& file = state.file;
  const System& system = data.system;
  const std::size_t atoms = system.size();

  if (!state.atoms_checked) {
    if (atoms == 0) file.fail("cannot write a trajectory of a system without atoms");
    if (state.particles_ready && (atoms != state.atoms || system.symbols() != state.file_symbols))
      file.fail(fmt::format("cannot append: its {} atoms are not the {} atoms simulated (other numbers or species)",
                            state.atoms, atoms));
    state.species = system.species;
    state.species_symbols = system.species_symbols;
    state.atoms = atoms;
    state.atoms_checked = true;
  } else if (atoms != state.atoms || system.species != state.species ||
             system.species_symbols != state.species_symbols) {
    throw std::logic_error(fmt::format("{}: the atoms changed during the run", file.path()));
  }
  if (data.forces.size() != atoms) throw std::logic_error("H5MD writer: forces do not match the system");
  if (options_.energies && (data.atom_energies == nullptr || data.atom_energies->size() != atoms))
    throw std::logic_error("H5MD writer: per-atom energies do not match the system");

  if (!state.particles_ready) create_particles(system);

  const hsize_t frame = state.frames;
  const auto step = static_cast<std::int64_t>(data.thermo.step);
  // A write that fails for want of space can leave an HDF5 file that no longer opens (its superblock already
  // counts blocks that never reached the disk). So a frame is written only if the disk and the file-size limit
  // have room for it and the frames not yet flushed, twice over, plus the metadata and series chunks it may
  // allocate; otherwise the file is flushed as it is and the run stops.
  const std::uintmax_t frame_bytes =
      atoms * (3 * sizeof(double) * (1 + state.velocity.valid() + state.force.valid()) +
               sizeof(double) * state.energy.valid() +
               (state.image.valid() ? 3 * sizeof(int) : 0)) +
      (2 + 9 + kObservables.size()) * sizeof(double);
  const std::uintmax_t needed = 2 * (state.unflushed + 1) * frame_bytes + (256u << 10);
  haddr_t end_of_file = 0;
  if (H5Fget_eoa(file.id(), &end_of_file) < 0) end_of_file = 0;
  if (const std::uintmax_t room = room_for(file.path(), end_of_file); room < needed) {
    flush();
    state.failed = true;
    file.fail(fmt::format("disk full: {} bytes left (file system or file-size limit), a frame needs about {}; "
                          "stopped before step {}, the file keeps its {} frames{}",
                          room, needed, step, state.frames,
                          state.last_step ? fmt::format(" (up to step {})", *state.last_step) : ""));
  }
  state.failed = true;  // until the whole frame is written
  append(file, state.step, frame, &step);
  append(file, state.time, frame, &data.thermo.time_fs);
  append(file, state.position, frame, system.positions.data());
  if (state.velocity.valid()) append(file, state.velocity, frame, system.velocities.data());
  if (state.force.valid()) append(file, state.force, frame, data.forces.data());
  if (state.energy.valid()) append(file, state.energy, frame, data.atom_energies->data());
  if (state.image.valid()) append(file, state.image, frame, system.images.data());
  if (state.edges.valid()) {
    const RowMajorMat3 lattice = system.cell.lattice();
    append(file, state.edges, frame, lattice.data());
  }
  for (std::size_t k = 0; k < kObservables.size(); ++k)
    append(file, state.observables[k], frame, &(data.thermo.*kObservables[k].member));
  state.frames = frame + 1;
  state.last_step = step;
  state.failed = false;
  if (++state.unflushed >= options_.flush_every) flush();
}

namespace {

std::unique_ptr<Observer> create_h5md_trajectory(const TrajectoryWriterOptions& request) {
  H5mdWriterOptions options;
  options.path = request.path;
  options.velocities = request.velocities;
  options.forces = request.forces;
  options.energies = request.energies;
  options.images = request.images;
  options.compression_level = request.compression_level;
  options.flush_every = request.flush_every;
  options.overwrite = request.overwrite;
  options.resume_after_step = request.resume_after_step;
  return std::make_unique<H5mdWriter>(options);
}

const bool registered =
    TrajectoryFormatRegistry::instance().add({"H5MD 1.1", {".h5", ".h5md"}, true, create_h5md_trajectory});

}  // namespace

}  // namespace nqmd
