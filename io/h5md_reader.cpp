// Reading H5MD files, nequip-md's and other programs' (read_h5md): the particles group and its elements, their
// sampling, the frames stored completely, units and box, then the frames selected.
#include <algorithm>
#include <array>
#include <cmath>
#include <cstdint>
#include <filesystem>
#include <limits>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include <fmt/format.h>

#include "engine/file_checks.hpp"
#include "engine/error.hpp"
#include "engine/periodic_table.hpp"
#include "io/h5md.hpp"
#include "io/h5md_internal.hpp"
#include "io/h5md_layout.hpp"

namespace nqmd {
namespace h5md {
namespace {

using hdf5::Handle;

// Frames (first dimension) of a time-dependent dataset that have storage in the file. The dataspace of a damaged
// file may claim far more frames (or atoms) than were ever written; those read as fill values, never as a complete
// frame, and must not be allocated or scanned. Chunked: up to the end of the last allocated chunk, and no more than
// the allocated chunks can hold; contiguous: as many frames as the allocated bytes hold; compact: all of them.
hsize_t frames_with_storage(hid_t dataset, const std::vector<hsize_t>& dims) {
  if (dims.empty() || dims.front() == 0) return 0;
  const hsize_t frames = dims.front();
  Handle properties(H5Dget_create_plist(dataset), H5Pclose);
  const H5D_layout_t layout = H5Pget_layout(properties.get());
  if (layout == H5D_CHUNKED) {
    std::vector<hsize_t> chunk(dims.size()), offset(dims.size());
    hsize_t chunks = 0;
    Handle space(H5Dget_space(dataset), H5Sclose);  // (HDF5 1.10.8 does not take H5S_ALL here)
    const int rank = static_cast<int>(chunk.size());
    if (H5Pget_chunk(properties.get(), rank, chunk.data()) != rank ||
        H5Dget_num_chunks(dataset, space.get(), &chunks) < 0 || chunks == 0)
      return 0;
    // Chunks one frame's data needs: a frame is complete only if all of them are allocated.
    hsize_t chunks_per_frame = 1;
    for (std::size_t k = 1; k < dims.size(); ++k) {
      if (chunk[k] == 0 || dims[k] == 0) return 0;  // a damaged layout, or frames without data
      chunks_per_frame *= (dims[k] + chunk[k] - 1) / chunk[k];
      if (chunks_per_frame > chunks) return 0;
    }
    unsigned filter_mask = 0;
    haddr_t address = 0;
    hsize_t bytes = 0;
    // Chunks are indexed in the order of their offsets: the last one ends the stored frames.
    if (H5Dget_chunk_info(dataset, space.get(), chunks - 1, offset.data(), &filter_mask, &address, &bytes) < 0)
      return 0;
    const hsize_t frame_chunks = chunks / chunks_per_frame;
    return std::min({frames, offset.front() + chunk.front(), frame_chunks * chunk.front()});
  }
  if (layout == H5D_CONTIGUOUS) {
    Handle type(H5Dget_type(dataset), H5Tclose);
    const hsize_t stored = H5Dget_storage_size(dataset);
    hsize_t frame_bytes = H5Tget_size(type.get());
    for (std::size_t k = 1; k < dims.size() && frame_bytes > 0; ++k) {
      if (dims[k] > stored) return 0;  // not even one frame is stored (and the product could overflow)
      frame_bytes *= dims[k];
      if (frame_bytes > stored) return 0;
    }
    return frame_bytes == 0 ? frames : std::min(frames, stored / frame_bytes);
  }
  return frames;
}

// One frame of an element (the whole dataset if time-independent), converted to `memory_type`; false if HDF5
// cannot read it.
bool try_read_item(const H5mdElement& element, hsize_t frame, hid_t memory_type, void* data) {
  const hsize_t items = hdf5::product(element.item_dims);
  if (items == 0) return true;
  if (element.time_dependent)
    return hdf5::read_frames(element.value.get(), memory_type, frame, 1, element.item_dims, data);
  Handle memory_space(H5Screate_simple(1, &items, nullptr), H5Sclose);
  return H5Dread(element.value.get(), memory_type, memory_space.get(), H5S_ALL, H5P_DEFAULT, data) >= 0;
}

void read_item(const hdf5::File& file, const H5mdElement& element, hsize_t frame, hid_t memory_type, void* data) {
  if (!try_read_item(element, frame, memory_type, data))
    file.fail(fmt::format("cannot read frame {} of {}", frame, element.name));
}

std::optional<std::string> unit_of(const H5mdElement& element) {
  return hdf5::string_attribute(element.value.get(), "unit");
}

}  // namespace

std::optional<H5mdElement> open_element(const hdf5::File& file, const std::string& name) {
  if (!file.exists(name)) return std::nullopt;
  H5mdElement element;
  element.name = name;
  element.time_dependent = file.is_group(name);
  element.value = file.open_dataset(element.time_dependent ? name + "/value" : name);
  std::vector<hsize_t> dims = hdf5::dataset_dims(element.value.get());
  if (element.time_dependent) {
    if (dims.empty()) file.fail(fmt::format("{}/value has no frame dimension", name));
    element.frames = frames_with_storage(element.value.get(), dims);
    dims.erase(dims.begin());
  }
  element.item_dims = std::move(dims);
  return element;
}

std::vector<std::string> read_species(const hdf5::File& file, const H5mdElement& species, hsize_t frame,
                                      std::size_t atoms) {
  if (hdf5::product(species.item_dims) != atoms || species.item_dims.size() != 1)
    file.fail(fmt::format("{} has shape incompatible with {} atoms", species.name, atoms));
  Handle type(H5Dget_type(species.value.get()), H5Tclose);
  const H5T_class_t type_class = H5Tget_class(type.get());
  std::vector<std::string> symbols;
  if (type_class == H5T_STRING) {
    if (species.time_dependent)
      file.fail(fmt::format("{}: time-dependent species as strings are not supported", species.name));
    symbols = hdf5::read_strings(species.value.get(), false);
    if (symbols.size() != atoms) file.fail(fmt::format("cannot read {}", species.name));
  } else if (type_class == H5T_INTEGER) {
    std::vector<int> indices(atoms);
    read_item(file, species, frame, H5T_NATIVE_INT, indices.data());
    std::vector<std::string> names;
    if (H5Aexists(species.value.get(), "symbols") > 0) {
      Handle attribute(H5Aopen(species.value.get(), "symbols", H5P_DEFAULT), H5Aclose);
      names = hdf5::read_strings(attribute.get(), true);
      if (names.empty()) file.fail(fmt::format("{}: cannot read the symbols attribute", species.name));
    }
    for (const int index : indices) {
      if (!names.empty()) {
        if (index < 0 || static_cast<std::size_t>(index) >= names.size())
          file.fail(fmt::format("{}: species index {} has no entry in its symbols attribute", species.name, index));
        symbols.push_back(names[static_cast<std::size_t>(index)]);
      } else {
        // Without a symbols attribute the integers are atomic numbers (as ZnH5MD writes them).
        if (index < 1 || index > 118)
          file.fail(fmt::format("{}: species {} is not an atomic number and the element has no symbols attribute",
                                species.name, index));
        symbols.emplace_back(element_by_number(index).symbol);
      }
    }
  } else {
    file.fail(fmt::format("{}: species must be integers or strings", species.name));
  }
  for (const std::string& symbol : symbols)
    if (!is_element_symbol(symbol)) file.fail(fmt::format("{}: '{}' is not a chemical symbol", species.name, symbol));
  return symbols;
}

namespace {

// Step and time of a time-dependent element, stored explicitly ([frames] datasets) or as a fixed increment with
// an `offset` attribute (scalar datasets: value(i) = i * increment + offset).
template <typename T>
std::optional<std::vector<T>> read_sampled_values(const hdf5::File& file, const std::string& name, hsize_t frames,
                                                 hid_t memory_type) {
  if (!file.exists(name)) return std::nullopt;
  Handle dataset = file.open_dataset(name);
  const std::vector<hsize_t> dims = hdf5::dataset_dims(dataset.get());
  std::vector<T> values;
  if (dims.empty()) {
    T increment{}, offset{};
    if (H5Dread(dataset.get(), memory_type, H5S_ALL, H5S_ALL, H5P_DEFAULT, &increment) < 0)
      file.fail(fmt::format("cannot read {}", name));
    if (H5Aexists(dataset.get(), "offset") > 0) {
      Handle attribute(H5Aopen(dataset.get(), "offset", H5P_DEFAULT), H5Aclose);
      if (!hdf5::is_single_number(attribute.get()) || H5Aread(attribute.get(), memory_type, &offset) < 0)
        file.fail(fmt::format("cannot read {} offset", name));
    }
    for (hsize_t i = 0; i < frames; ++i) values.push_back(static_cast<T>(i) * increment + offset);
  } else {
    if (dims.size() != 1) file.fail(fmt::format("{} is not one-dimensional", name));
    // Only the values of the element's frames (a damaged file may claim more, without storage).
    const hsize_t count = std::min({dims.front(), frames, frames_with_storage(dataset.get(), dims)});
    values.resize(count);
    if (count > 0 && !hdf5::read_frames(dataset.get(), memory_type, 0, count, {}, values.data()))
      file.fail(fmt::format("cannot read {}", name));
  }
  return values;
}

std::optional<std::vector<std::int64_t>> read_steps(const hdf5::File& file, const H5mdElement& element) {
  if (!element.time_dependent) return std::nullopt;
  return read_sampled_values<std::int64_t>(file, element.name + "/step", element.frames, H5T_NATIVE_INT64);
}

// The particles group: `all` (nequip-md's), else the first whose position element exists.
std::string particles_group(const hdf5::File& file) {
  if (file.exists(std::string(kParticles) + "/position")) return kParticles;
  if (file.exists("particles")) {
    Handle group = file.open_group("particles");
    H5G_info_t info;
    if (H5Gget_info(group.get(), &info) >= 0) {
      for (hsize_t k = 0; k < info.nlinks; ++k) {
        const std::optional<std::string> name = hdf5::link_name(group.get(), k);
        if (name && !name->empty() && file.exists("particles/" + *name + "/position")) return "particles/" + *name;
      }
    }
  }
  file.fail("H5MD file without particle positions (no /particles/<group>/position)");
}

// Vectors in an [N][3] frame, converted by `factor`.
std::vector<Vec3> read_vectors(const hdf5::File& file, const H5mdElement& element, hsize_t frame, std::size_t atoms,
                               double factor) {
  if (element.item_dims != std::vector<hsize_t>{atoms, 3})
    file.fail(fmt::format("{} does not hold {} three-dimensional vectors per frame", element.name, atoms));
  std::vector<Vec3> vectors(atoms);
  read_item(file, element, frame, H5T_NATIVE_DOUBLE, vectors.data());
  if (factor != 1.0)
    for (Vec3& vector : vectors) vector *= factor;
  return vectors;
}

// -----------------------------------------------------------------------------------------------------------------
// The steps of read_h5md, in the order it takes them

// The elements of the particles group that a trajectory is read from.
struct ParticleElements {
  std::string group;
  H5mdElement position;
  std::optional<H5mdElement> velocity, image, species, mass, edges;
  std::size_t atoms = 0;
};

// Opens the particles group's elements; InputError if the file is not H5MD or lacks positions or species.
ParticleElements open_particles(const hdf5::File& file) {
  if (!file.exists("h5md")) file.fail("an HDF5 file but not H5MD (no /h5md group)");
  ParticleElements elements;
  elements.group = particles_group(file);
  const std::string& group = elements.group;
  elements.position = std::move(*open_element(file, group + "/position"));  // particles_group found it
  const H5mdElement& position = elements.position;
  elements.atoms = position.item_dims.empty() ? 0 : position.item_dims.front();
  if (position.item_dims.size() != 2 || position.item_dims[1] != 3)
    file.fail(fmt::format("{} is not an array of three-dimensional positions", position.name));
  elements.velocity = open_element(file, group + "/velocity");
  elements.image = open_element(file, group + "/image");
  elements.species = open_element(file, group + "/species");
  elements.mass = open_element(file, group + "/mass");
  elements.edges = open_element(file, group + "/box/edges");
  if (!elements.species)
    file.fail(fmt::format("{} has no species; nequip-md needs the chemical species of the atoms", group));
  return elements;
}

// When the frames were taken: the positions' steps and times (each stored, as increments, or absent).
struct Sampling {
  std::optional<std::vector<std::int64_t>> steps;
  std::optional<std::vector<double>> times;  // in the file's unit
  double time_factor = 1.0;                  // from the file's time unit to fs
  double frame_interval_fs = 0.0;            // the times if the file has none
  hsize_t frames = 0;                        // frames stored in every time-dependent element
};

// The positions' steps and times, and the frames stored in every time-dependent element (a killed writer may leave
// some ahead); InputError if an element is sampled at other steps than the positions, or times are missing
// (without frame_interval_fs) and required.
Sampling read_sampling(const hdf5::File& file, const ParticleElements& elements, double frame_interval_fs,
                       bool require_times) {
  const H5mdElement& position = elements.position;
  Sampling sampling;
  sampling.frame_interval_fs = frame_interval_fs;
  sampling.steps = read_steps(file, position);
  if (position.time_dependent && file.exists(position.name + "/time")) {
    sampling.times = read_sampled_values<double>(file, position.name + "/time", position.frames, H5T_NATIVE_DOUBLE);
    const Handle time = file.open_dataset(position.name + "/time");
    if (const std::optional<std::string> unit = hdf5::string_attribute(time.get(), "unit"))
      sampling.time_factor = unit_factor(file, position.name + "/time", *unit, 0, 1);
  }
  const std::optional<std::vector<std::int64_t>>& steps = sampling.steps;
  hsize_t& frames = sampling.frames;
  frames = position.frames;
  if (steps) frames = std::min<hsize_t>(frames, steps->size());
  if (sampling.times) frames = std::min<hsize_t>(frames, sampling.times->size());
  for (const std::optional<H5mdElement>* element :
       {&elements.velocity, &elements.image, &elements.species, &elements.mass, &elements.edges}) {
    if (!*element || !(*element)->time_dependent) continue;
    frames = std::min(frames, (*element)->frames);
    // Elements sampled at other steps than the positions cannot be paired with them frame by frame.
    const std::optional<std::vector<std::int64_t>> element_steps = read_steps(file, **element);
    if (steps && element_steps &&
        !std::equal(steps->begin(),
                    steps->begin() + static_cast<std::ptrdiff_t>(std::min<hsize_t>(frames, element_steps->size())),
                    element_steps->begin()))
      file.fail(fmt::format("{} is sampled at other steps than {}; nequip-md reads them only together",
                            (*element)->name, position.name));
  }
  if (!sampling.times && frame_interval_fs <= 0.0 && frames > 1 && require_times)
    file.fail(fmt::format("{} has no time; give the time between frames (frame interval, fs)", position.name));
  return sampling;
}

// A writer killed while flushing may leave its last frames on disk without all of their data (nequip-md's files
// then read NaN or the lowest integer there, or HDF5 cannot read them): such a frame is not complete.
bool is_complete(const ParticleElements& elements, const Sampling& sampling, hsize_t frame) {
  if ((sampling.steps && (*sampling.steps)[frame] < 0) || (sampling.times && !std::isfinite((*sampling.times)[frame])))
    return false;
  for (const H5mdElement* element : {&elements.position, elements.velocity ? &*elements.velocity : nullptr,
                                     elements.edges ? &*elements.edges : nullptr}) {
    if (element == nullptr || !element->time_dependent) continue;
    std::vector<double> values(hdf5::product(element->item_dims));
    if (!try_read_item(*element, frame, H5T_NATIVE_DOUBLE, values.data()) ||
        !std::all_of(values.begin(), values.end(), [](double value) { return std::isfinite(value); }))
      return false;
  }
  const std::optional<H5mdElement>& image = elements.image;
  if (image && image->time_dependent) {
    std::vector<int> values(hdf5::product(image->item_dims));
    if (!try_read_item(*image, frame, H5T_NATIVE_INT, values.data()) ||
        std::find(values.begin(), values.end(), std::numeric_limits<int>::min()) != values.end())
      return false;
  }
  return true;
}

// How the stored frames become the trajectory's: factors to A and A/fs, and the periodic axes of the box.
struct FrameConversion {
  double length = 1.0, velocity = 1.0, edges = 1.0;
  std::array<bool, 3> pbc{};
};

// The units of positions, velocities and box edges (absent: A and A/fs; the edges default to the positions').
FrameConversion read_units(const hdf5::File& file, const ParticleElements& elements) {
  FrameConversion conversion;
  const H5mdElement& position = elements.position;
  const std::optional<H5mdElement>& velocity = elements.velocity;
  const std::optional<H5mdElement>& edges = elements.edges;
  conversion.length = unit_factor(file, position.name, unit_of(position).value_or(kLengthUnit), 1, 0);
  conversion.velocity =
      velocity ? unit_factor(file, velocity->name, unit_of(*velocity).value_or(kVelocityUnit), 1, -1) : 1.0;
  conversion.edges = conversion.length;
  if (edges) {
    if (const std::optional<std::string> unit = unit_of(*edges))
      conversion.edges = unit_factor(file, edges->name, *unit, 1, 0);
    const std::vector<hsize_t>& dims = edges->item_dims;
    if (dims != std::vector<hsize_t>{3} && dims != std::vector<hsize_t>{3, 3})
      file.fail(fmt::format("{} is neither a 3-vector nor a 3x3 matrix", edges->name));
  }
  return conversion;
}

// The box's dimension and boundary attributes (no boundary attribute: periodic if there are edges).
std::array<bool, 3> read_boundary(const hdf5::File& file, const ParticleElements& elements) {
  const std::string& group = elements.group;
  std::array<bool, 3> pbc{};
  pbc.fill(elements.edges.has_value());
  if (file.exists(group + "/box")) {
    const Handle box = file.open_group(group + "/box");
    if (H5Aexists(box.get(), "dimension") > 0) {
      int dimension = 0;
      Handle attribute(H5Aopen(box.get(), "dimension", H5P_DEFAULT), H5Aclose);
      if (!hdf5::is_single_number(attribute.get()) || H5Aread(attribute.get(), H5T_NATIVE_INT, &dimension) < 0 ||
          dimension != 3)
        file.fail(fmt::format("{}/box: dimension {} is not 3", group, dimension));
    }
    if (H5Aexists(box.get(), "boundary") > 0) {
      Handle attribute(H5Aopen(box.get(), "boundary", H5P_DEFAULT), H5Aclose);
      const std::vector<std::string> boundary = hdf5::read_strings(attribute.get(), true);
      if (boundary.size() != 3) file.fail(fmt::format("{}/box: boundary does not have 3 entries", group));
      for (int axis = 0; axis < 3; ++axis) {
        if (boundary[axis] != "periodic" && boundary[axis] != "none")
          file.fail(fmt::format("{}/box: boundary '{}' is neither periodic nor none", group, boundary[axis]));
        pbc[axis] = boundary[axis] == "periodic";
      }
    }
  }
  if (!elements.edges && (pbc[0] || pbc[1] || pbc[2]))
    file.fail(fmt::format("{}/box is periodic but has no edges", group));
  return pbc;
}

// The masses in the file (in amu), else the standard masses of the atoms' elements.
std::vector<double> read_masses(const hdf5::File& file, const ParticleElements& elements, hsize_t frame,
                                const std::vector<std::string>& symbols) {
  const std::optional<H5mdElement>& mass = elements.mass;
  std::vector<double> masses;
  if (mass) {
    if (mass->item_dims != std::vector<hsize_t>{elements.atoms})
      file.fail(fmt::format("{} does not hold {} masses", mass->name, elements.atoms));
    const std::string unit = unit_of(*mass).value_or(kMassUnit);
    if (unit != "amu" && unit != "u" && unit != "Da")
      file.fail(fmt::format("{}: mass unit '{}' is not amu (u, Da)", mass->name, unit));
    masses.resize(elements.atoms);
    read_item(file, *mass, frame, H5T_NATIVE_DOUBLE, masses.data());
  } else {
    for (const std::string& symbol : symbols) masses.push_back(element_by_symbol(symbol).standard_mass_amu);
  }
  return masses;
}

// The cell of one frame: edges as a 3-vector (a cuboid) or as rows of lattice vectors; none without edges.
Mat3 read_lattice(const hdf5::File& file, const ParticleElements& elements, const FrameConversion& conversion,
                  hsize_t frame) {
  Mat3 lattice = Mat3::Zero();
  const std::optional<H5mdElement>& edges = elements.edges;
  if (edges) {
    if (edges->item_dims.size() == 1) {
      Vec3 lengths;
      read_item(file, *edges, frame, H5T_NATIVE_DOUBLE, lengths.data());
      lattice = lengths.asDiagonal();
    } else {
      RowMajorMat3 rows;
      read_item(file, *edges, frame, H5T_NATIVE_DOUBLE, rows.data());
      lattice = rows;
    }
    if (conversion.edges != 1.0) lattice *= conversion.edges;
  }
  return lattice;
}

// Frame `index` of the file, in A, A/fs and fs; InputError if its atoms are not `symbols` or its data is missing.
TrajectoryFrame read_frame(const hdf5::File& file, const ParticleElements& elements, const Sampling& sampling,
                           const FrameConversion& conversion, const std::vector<std::string>& symbols,
                           std::size_t index) {
  const auto frame = static_cast<hsize_t>(index);
  const H5mdElement& position = elements.position;
  const std::size_t atoms = elements.atoms;
  TrajectoryFrame out;
  if (sampling.steps) {
    if ((*sampling.steps)[index] < 0) file.fail(fmt::format("{}: negative step at frame {}", position.name, index));
    out.step = static_cast<std::uint64_t>((*sampling.steps)[index]);
  } else {
    out.step = index;
  }
  if (sampling.times)
    out.time_fs = (*sampling.times)[index] * sampling.time_factor;
  else if (sampling.frame_interval_fs > 0.0)
    out.time_fs = static_cast<double>(index) * sampling.frame_interval_fs;
  else
    out.time_fs = std::numeric_limits<double>::quiet_NaN();
  if (elements.species->time_dependent && read_species(file, *elements.species, frame, atoms) != symbols)
    file.fail(
        fmt::format("the species change at frame {} (counting from 0); a trajectory needs the same atoms in "
                    "every frame",
                    index));
  out.positions = read_vectors(file, position, frame, atoms, conversion.length);
  if (elements.velocity) out.velocities = read_vectors(file, *elements.velocity, frame, atoms, conversion.velocity);
  const auto finite = [](const std::vector<Vec3>& vectors) {
    return std::all_of(vectors.begin(), vectors.end(), [](const Vec3& v) { return v.allFinite(); });
  };
  if (!std::isfinite(out.time_fs) || !finite(out.positions) || !finite(out.velocities))
    file.fail(fmt::format("frame {} (counting from 0) has missing or non-finite data", index));
  const std::optional<H5mdElement>& image = elements.image;
  if (image) {
    if (image->item_dims != std::vector<hsize_t>{atoms, 3})
      file.fail(fmt::format("{} does not hold {} image vectors per frame", image->name, atoms));
    out.images.resize(atoms);
    read_item(file, *image, frame, H5T_NATIVE_INT, out.images.data());
  }
  const Mat3 lattice = read_lattice(file, elements, conversion, frame);
  try {
    out.cell = Cell(lattice, conversion.pbc);
  } catch (const InputError& error) {
    file.fail(fmt::format("box of frame {}: {}", index, error.what()));
  }
  return out;
}

}  // namespace
}  // namespace h5md

bool is_hdf5_file(const std::string& path) {
  hdf5::silence_errors();
  std::error_code error;
  return std::filesystem::is_regular_file(path, error) && H5Fis_hdf5(path.c_str()) > 0;
}

Trajectory read_h5md(const std::string& path, const TrajectoryReadOptions& options) {
  require_regular_file(path, "an H5MD trajectory");
  if (!is_hdf5_file(path)) throw InputError(fmt::format("{}: not an HDF5 file (expected H5MD)", path));
  const hdf5::File file(path, H5Fopen(path.c_str(), H5F_ACC_RDONLY, H5P_DEFAULT));
  const h5md::ParticleElements elements = h5md::open_particles(file);
  const h5md::Sampling sampling =
      h5md::read_sampling(file, elements, options.frame_interval_fs, options.require_times);
  hsize_t frames = sampling.frames;
  while (frames > 0 && !h5md::is_complete(elements, sampling, frames - 1)) --frames;
  if (frames == 0) file.fail("H5MD file without any (complete) frame");
  h5md::FrameConversion conversion = h5md::read_units(file, elements);
  conversion.pbc = h5md::read_boundary(file, elements);

  Trajectory trajectory;
  trajectory.source = path;
  trajectory.has_times = sampling.times || options.frame_interval_fs > 0.0;
  const std::vector<std::size_t> selected = selected_frames(path, frames, options);
  trajectory.symbols = h5md::read_species(file, *elements.species, selected.front(), elements.atoms);
  trajectory.masses = h5md::read_masses(file, elements, selected.front(), trajectory.symbols);
  for (const std::size_t index : selected)
    trajectory.frames.push_back(h5md::read_frame(file, elements, sampling, conversion, trajectory.symbols, index));
  return trajectory;
}

}  // namespace nqmd
