#include "io/checkpoint.hpp"

#include <unistd.h>

#include <cstdio>
#include <optional>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include <fmt/format.h>

#include "engine/file_checks.hpp"
#include "engine/error.hpp"
#include "io/atomic_file.hpp"
#include "io/hdf5.hpp"

namespace nqmd {
namespace {

using hdf5::Handle;

constexpr const char* kFormatName = "nequip-md checkpoint";
constexpr std::int64_t kFormatVersion = 1;

// A checkpoint file: its datasets and attributes, with messages that say what a checkpoint lacks.
class CheckpointFile : public hdf5::File {
 public:
  using File::File;

  void write(const std::string& name, hid_t type, int rank, const hsize_t* dims, const void* data) const {
    Handle space(H5Screate_simple(rank, dims, nullptr), H5Sclose);
    const Handle links = hdf5::creating_intermediate_groups();
    Handle set(H5Dcreate2(id(), name.c_str(), type, space.get(), links.get(), H5P_DEFAULT, H5P_DEFAULT), H5Dclose);
    if (!set.valid() || H5Dwrite(set.get(), type, H5S_ALL, H5S_ALL, H5P_DEFAULT, data) < 0)
      fail(fmt::format("cannot write dataset {}", name));
  }
  // Reads a dataset of `count` elements (checks the total size).
  void read(const std::string& name, hid_t type, std::size_t count, void* data) const {
    if (!exists(name)) fail(fmt::format("missing dataset {} (not a complete checkpoint)", name));
    Handle set(H5Dopen2(id(), name.c_str(), H5P_DEFAULT), H5Dclose);
    Handle space(H5Dget_space(set.get()), H5Sclose);
    const hssize_t points = H5Sget_simple_extent_npoints(space.get());
    if (points != static_cast<hssize_t>(count))
      fail(fmt::format("dataset {} has {} values, expected {}", name, points, count));
    // Checkpoints are written contiguous (or compact) with numbers of at most 8 bytes; a damaged file may claim
    // another layout or element size, for which HDF5 itself would allocate whatever the damage says.
    Handle creation(H5Dget_create_plist(set.get()), H5Pclose);
    Handle stored(H5Dget_type(set.get()), H5Tclose);
    const H5D_layout_t layout = creation.valid() ? H5Pget_layout(creation.get()) : H5D_LAYOUT_ERROR;
    const std::size_t stored_size = stored.valid() ? H5Tget_size(stored.get()) : 0;
    if ((layout != H5D_CONTIGUOUS && layout != H5D_COMPACT) || stored_size == 0 || stored_size > 8)
      fail(fmt::format("dataset {} is not stored as nequip-md writes checkpoints (damaged file?)", name));
    if (count > 0 && H5Dread(set.get(), type, H5S_ALL, H5S_ALL, H5P_DEFAULT, data) < 0)
      fail(fmt::format("cannot read dataset {}", name));
  }
  // Values in a dataset, checked to be all stored in the file (a damaged file may claim any size; a checkpoint's
  // datasets are written whole).
  std::size_t size_of(const std::string& name) const {
    if (!exists(name))
      fail(fmt::format("missing dataset {} (not a complete checkpoint)", name));
    const Handle set = open_dataset(name);
    Handle space(H5Dget_space(set.get()), H5Sclose);
    Handle type(H5Dget_type(set.get()), H5Tclose);
    const hssize_t points = H5Sget_simple_extent_npoints(space.get());
    const std::size_t value_size = type.valid() ? H5Tget_size(type.get()) : 0;
    if (points < 0 || value_size == 0) fail(fmt::format("cannot read dataset {}", name));
    if (H5Dget_storage_size(set.get()) / value_size < static_cast<hsize_t>(points))
      fail(fmt::format("dataset {} is incomplete (not a complete checkpoint)", name));
    return static_cast<std::size_t>(points);
  }
  std::vector<std::string> members(const std::string& group) const {
    std::vector<std::string> names;
    if (!exists(group)) return names;
    Handle handle(H5Gopen2(id(), group.c_str(), H5P_DEFAULT), H5Gclose);
    H5G_info_t info{};
    if (!handle.valid() || H5Gget_info(handle.get(), &info) < 0) fail(fmt::format("cannot read group {}", group));
    for (hsize_t k = 0; k < info.nlinks; ++k) {
      std::optional<std::string> name = hdf5::link_name(handle.get(), k);
      if (!name) fail(fmt::format("cannot read the names in {}", group));
      names.push_back(std::move(*name));
    }
    return names;
  }

  void write_attribute(const std::string& name, hid_t type, const void* value) const {
    Handle space(H5Screate(H5S_SCALAR), H5Sclose);
    hdf5::write_attribute(*this, id(), name.c_str(), type, space.get(), value);
  }
  void write_string_attribute(const std::string& name, const std::string& value) const {
    hdf5::write_fixed_strings_attribute(*this, id(), name.c_str(), {value});
  }
  // An attribute of the root group, which must be there.
  Handle open_attribute(const std::string& name) const {
    if (H5Aexists(id(), name.c_str()) <= 0)
      fail(fmt::format("missing attribute {} (not a nequip-md checkpoint)", name));
    return Handle(H5Aopen(id(), name.c_str(), H5P_DEFAULT), H5Aclose);
  }
  void read_attribute(const std::string& name, hid_t type, void* value) const {
    const Handle attribute = open_attribute(name);
    // One value, into one variable: an array or a string stored under this name would overrun it.
    if (!hdf5::is_single_number(attribute.get())) fail(fmt::format("attribute {} is not a single number", name));
    if (H5Aread(attribute.get(), type, value) < 0) fail(fmt::format("cannot read attribute {}", name));
  }
  std::string read_string_attribute(const std::string& name) const {
    const Handle attribute = open_attribute(name);
    Handle stored(H5Aget_type(attribute.get()), H5Tclose);
    Handle space(H5Aget_space(attribute.get()), H5Sclose);
    if (H5Tget_class(stored.get()) != H5T_STRING || H5Tis_variable_str(stored.get()) != 0 ||
        H5Sget_simple_extent_npoints(space.get()) != 1)
      fail(fmt::format("attribute {} is not a string", name));
    const std::size_t size = H5Tget_size(stored.get());
    std::string value(size, '\0');
    Handle type(H5Tcopy(H5T_C_S1), H5Tclose);
    H5Tset_size(type.get(), size);
    if (H5Aread(attribute.get(), type.get(), value.data()) < 0) fail(fmt::format("cannot read attribute {}", name));
    return value.substr(0, value.find('\0'));
  }
};

}  // namespace

void write_checkpoint(const std::string& path, const Checkpoint& checkpoint) {
  hdf5::silence_errors();
  const System& system = checkpoint.system;
  replace_file_atomically(path, [&](const std::string& temporary) {
    CheckpointFile file(temporary, H5Fcreate(temporary.c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT));
    file.write_string_attribute("format", kFormatName);
    file.write_attribute("format_version", H5T_NATIVE_INT64, &kFormatVersion);
    file.write_attribute("step", H5T_NATIVE_UINT64, &checkpoint.step);
    file.write_attribute("time_fs", H5T_NATIVE_DOUBLE, &checkpoint.time_fs);
    const std::uint64_t atoms = system.size();
    file.write_attribute("atoms", H5T_NATIVE_UINT64, &atoms);
    std::string symbols;
    for (const std::string& symbol : system.species_symbols) symbols += (symbols.empty() ? "" : " ") + symbol;
    file.write_string_attribute("species_symbols", symbols);

    const hsize_t vectors[2] = {atoms, 3}, scalars[1] = {atoms}, matrix[2] = {3, 3}, three[1] = {3};
    file.write("system/positions", H5T_NATIVE_DOUBLE, 2, vectors, system.positions.data());
    file.write("system/velocities", H5T_NATIVE_DOUBLE, 2, vectors, system.velocities.data());
    file.write("system/images", H5T_NATIVE_INT, 2, vectors, system.images.data());
    file.write("system/masses", H5T_NATIVE_DOUBLE, 1, scalars, system.masses.data());
    file.write("system/species", H5T_NATIVE_INT, 1, scalars, system.species.data());
    const Eigen::Matrix<double, 3, 3, Eigen::RowMajor> cell = system.cell.lattice();
    file.write("system/cell", H5T_NATIVE_DOUBLE, 2, matrix, cell.data());
    const int pbc[3] = {system.cell.pbc()[0], system.cell.pbc()[1], system.cell.pbc()[2]};
    file.write("system/pbc", H5T_NATIVE_INT, 1, three, pbc);

    if (checkpoint.forces.size() != atoms || checkpoint.atom_energies.size() != atoms)
      throw std::logic_error("checkpoint forces do not match the system");
    file.write("forces/forces", H5T_NATIVE_DOUBLE, 2, vectors, checkpoint.forces.data());
    file.write("forces/atom_energies", H5T_NATIVE_DOUBLE, 1, scalars, checkpoint.atom_energies.data());
    const Eigen::Matrix<double, 3, 3, Eigen::RowMajor> virial = checkpoint.virial;
    file.write("forces/virial", H5T_NATIVE_DOUBLE, 2, matrix, virial.data());
    file.write_attribute("energy", H5T_NATIVE_DOUBLE, &checkpoint.energy);

    for (const auto& [name, values] : checkpoint.integrator.reals) {
      const hsize_t size[1] = {values.size()};
      file.write("integrator/reals/" + name, H5T_NATIVE_DOUBLE, 1, size, values.data());
    }
    for (const auto& [name, values] : checkpoint.integrator.integers) {
      const hsize_t size[1] = {values.size()};
      file.write("integrator/integers/" + name, H5T_NATIVE_UINT64, 1, size, values.data());
    }
    if (!checkpoint.neighbor_list_positions.empty()) {
      if (checkpoint.neighbor_list_positions.size() != atoms)
        throw std::logic_error("checkpoint neighbour-list positions do not match the system");
      file.write("neighbor_list/positions", H5T_NATIVE_DOUBLE, 2, vectors, checkpoint.neighbor_list_positions.data());
      const Eigen::Matrix<double, 3, 3, Eigen::RowMajor> built_cell = checkpoint.neighbor_list_cell;
      file.write("neighbor_list/cell", H5T_NATIVE_DOUBLE, 2, matrix, built_cell.data());
    }
    if (H5Fflush(file.id(), H5F_SCOPE_GLOBAL) < 0) file.fail("cannot flush (disk full?)");
  });
}

Checkpoint read_checkpoint(const std::string& path) {
  hdf5::silence_errors();
  require_regular_file(path, "a nequip-md checkpoint (HDF5)");
  if (::access(path.c_str(), R_OK) != 0)
    throw InputError(fmt::format("{}: checkpoint file not found or unreadable", path));
  if (H5Fis_hdf5(path.c_str()) <= 0)
    throw InputError(fmt::format("{}: not an HDF5 file (not a nequip-md checkpoint)", path));
  CheckpointFile file(path, H5Fopen(path.c_str(), H5F_ACC_RDONLY, H5P_DEFAULT));
  if (file.read_string_attribute("format") != kFormatName) file.fail("not a nequip-md checkpoint");
  std::int64_t version = 0;
  file.read_attribute("format_version", H5T_NATIVE_INT64, &version);
  if (version != kFormatVersion)
    file.fail(fmt::format("checkpoint format version {} is not supported (this nequip-md reads {})", version,
                          kFormatVersion));

  Checkpoint checkpoint;
  file.read_attribute("step", H5T_NATIVE_UINT64, &checkpoint.step);
  file.read_attribute("time_fs", H5T_NATIVE_DOUBLE, &checkpoint.time_fs);
  std::uint64_t atoms = 0;
  file.read_attribute("atoms", H5T_NATIVE_UINT64, &atoms);
  // The atom count must agree with the stored positions before anything is allocated for it.
  if (atoms != file.size_of("system/positions") / 3)
    file.fail(fmt::format("attribute atoms = {} does not match system/positions", atoms));
  System& system = checkpoint.system;
  std::istringstream symbols(file.read_string_attribute("species_symbols"));
  for (std::string symbol; symbols >> symbol;) system.species_symbols.push_back(symbol);

  system.positions.resize(atoms);
  system.velocities.resize(atoms);
  system.images.resize(atoms);
  system.masses.resize(atoms);
  system.species.resize(atoms);
  file.read("system/positions", H5T_NATIVE_DOUBLE, 3 * atoms, system.positions.data());
  file.read("system/velocities", H5T_NATIVE_DOUBLE, 3 * atoms, system.velocities.data());
  file.read("system/images", H5T_NATIVE_INT, 3 * atoms, system.images.data());
  file.read("system/masses", H5T_NATIVE_DOUBLE, atoms, system.masses.data());
  file.read("system/species", H5T_NATIVE_INT, atoms, system.species.data());
  Eigen::Matrix<double, 3, 3, Eigen::RowMajor> cell;
  file.read("system/cell", H5T_NATIVE_DOUBLE, 9, cell.data());
  int pbc[3];
  file.read("system/pbc", H5T_NATIVE_INT, 3, pbc);
  system.cell = Cell(cell, {pbc[0] != 0, pbc[1] != 0, pbc[2] != 0});
  system.validate();

  checkpoint.forces.resize(atoms);
  checkpoint.atom_energies.resize(atoms);
  file.read("forces/forces", H5T_NATIVE_DOUBLE, 3 * atoms, checkpoint.forces.data());
  file.read("forces/atom_energies", H5T_NATIVE_DOUBLE, atoms, checkpoint.atom_energies.data());
  Eigen::Matrix<double, 3, 3, Eigen::RowMajor> virial;
  file.read("forces/virial", H5T_NATIVE_DOUBLE, 9, virial.data());
  checkpoint.virial = virial;
  file.read_attribute("energy", H5T_NATIVE_DOUBLE, &checkpoint.energy);

  for (const std::string& name : file.members("integrator/reals")) {
    std::vector<double>& values = checkpoint.integrator.reals[name];
    values.resize(file.size_of("integrator/reals/" + name));
    file.read("integrator/reals/" + name, H5T_NATIVE_DOUBLE, values.size(), values.data());
  }
  for (const std::string& name : file.members("integrator/integers")) {
    std::vector<std::uint64_t>& values = checkpoint.integrator.integers[name];
    values.resize(file.size_of("integrator/integers/" + name));
    file.read("integrator/integers/" + name, H5T_NATIVE_UINT64, values.size(), values.data());
  }
  if (file.exists("neighbor_list/positions")) {
    checkpoint.neighbor_list_positions.resize(atoms);
    file.read("neighbor_list/positions", H5T_NATIVE_DOUBLE, 3 * atoms, checkpoint.neighbor_list_positions.data());
    Eigen::Matrix<double, 3, 3, Eigen::RowMajor> built_cell;
    file.read("neighbor_list/cell", H5T_NATIVE_DOUBLE, 9, built_cell.data());
    checkpoint.neighbor_list_cell = built_cell;
    for (const Vec3& position : checkpoint.neighbor_list_positions)
      if (!position.allFinite()) file.fail("neighbor_list/positions holds a non-finite value (damaged file?)");
    if (!checkpoint.neighbor_list_cell.allFinite()) file.fail("neighbor_list/cell holds a non-finite value");
  }
  return checkpoint;
}

}  // namespace nqmd
