#include "io/hdf5.hpp"

#include <algorithm>
#include <utility>

#include <fmt/format.h>

#include "engine/error.hpp"

namespace nqmd::hdf5 {
namespace {

// HDF5 closes the files still open at exit from an atexit handler, and in HDF5 1.10.8 that handler crashes on a
// file whose close failed (a full disk). Every file nequip-md opens is closed by its owner, so it is not needed.
[[maybe_unused]] const bool hdf5_atexit_disabled = H5dont_atexit() >= 0;

// A dataspace: a scalar, or one dimension of `size`.
Handle vector_or_scalar_space(hsize_t size, bool scalar) {
  return Handle(scalar ? H5Screate(H5S_SCALAR) : H5Screate_simple(1, &size, nullptr), H5Sclose);
}

// The file dataspace of `dataset` with frames [first, first + count) selected, and memory for them; the memory
// space is invalid if the selection fails.
std::pair<Handle, Handle> select_frames(hid_t dataset, hsize_t first, hsize_t count,
                                        const std::vector<hsize_t>& frame_dims) {
  std::vector<hsize_t> start(frame_dims.size() + 1, 0), block{count};
  start.front() = first;
  block.insert(block.end(), frame_dims.begin(), frame_dims.end());
  Handle file_space(H5Dget_space(dataset), H5Sclose);
  if (H5Sselect_hyperslab(file_space.get(), H5S_SELECT_SET, start.data(), nullptr, block.data(), nullptr) < 0)
    return {std::move(file_space), Handle()};
  Handle memory_space(H5Screate_simple(static_cast<int>(block.size()), block.data(), nullptr), H5Sclose);
  return {std::move(file_space), std::move(memory_space)};
}

}  // namespace

void silence_errors() { H5Eset_auto2(H5E_DEFAULT, nullptr, nullptr); }

Handle::Handle(Handle&& other) noexcept : id_(std::exchange(other.id_, -1)), close_(other.close_) {}

Handle& Handle::operator=(Handle&& other) noexcept {
  if (this != &other) {
    reset();
    id_ = std::exchange(other.id_, -1);
    close_ = other.close_;
  }
  return *this;
}

void Handle::reset() {
  if (id_ >= 0 && close_ != nullptr) close_(id_);
  id_ = -1;
}

File::File(std::string path, hid_t id) : path_(std::move(path)), file_(id, H5Fclose) {
  if (!file_.valid()) throw InputError(fmt::format("{}: cannot open as HDF5", path_));
}

void File::fail(const std::string& what) const { throw InputError(fmt::format("{}: {}", path_, what)); }

bool File::exists(const std::string& name) const { return H5Lexists(id(), name.c_str(), H5P_DEFAULT) > 0; }

bool File::is_group(const std::string& name) const {
  Handle object(H5Oopen(id(), name.c_str(), H5P_DEFAULT), H5Oclose);
  return object.valid() && H5Iget_type(object.get()) == H5I_GROUP;
}

Handle File::open_group(const std::string& name) const {
  Handle group(H5Gopen2(id(), name.c_str(), H5P_DEFAULT), H5Gclose);
  if (!group.valid()) fail(fmt::format("cannot open group {}", name));
  return group;
}

Handle File::open_dataset(const std::string& name) const {
  Handle dataset(H5Dopen2(id(), name.c_str(), H5P_DEFAULT), H5Dclose);
  if (!dataset.valid()) fail(fmt::format("cannot open dataset {}", name));
  return dataset;
}

Handle creating_intermediate_groups() {
  Handle links(H5Pcreate(H5P_LINK_CREATE), H5Pclose);
  H5Pset_create_intermediate_group(links.get(), 1);
  return links;
}

std::vector<hsize_t> dataset_dims(hid_t dataset) {
  Handle space(H5Dget_space(dataset), H5Sclose);
  const int rank = H5Sget_simple_extent_ndims(space.get());
  std::vector<hsize_t> dims(static_cast<std::size_t>(std::max(rank, 0)));
  if (rank > 0) H5Sget_simple_extent_dims(space.get(), dims.data(), nullptr);
  return dims;
}

hsize_t product(const std::vector<hsize_t>& dims) {
  hsize_t count = 1;
  for (const hsize_t extent : dims) count *= extent;
  return count;
}

std::optional<std::string> link_name(hid_t group, hsize_t index) {
  // Asked twice: first for the length, then for the name.
  const ssize_t length = H5Lget_name_by_idx(group, ".", H5_INDEX_NAME, H5_ITER_INC, index, nullptr, 0, H5P_DEFAULT);
  if (length < 0) return std::nullopt;
  std::string name(static_cast<std::size_t>(length), '\0');
  if (H5Lget_name_by_idx(group, ".", H5_INDEX_NAME, H5_ITER_INC, index, name.data(), name.size() + 1, H5P_DEFAULT) !=
      length)
    return std::nullopt;
  return name;
}

bool is_single_number(hid_t attribute) {
  Handle space(H5Aget_space(attribute), H5Sclose);
  Handle type(H5Aget_type(attribute), H5Tclose);
  const H5T_class_t type_class = type.valid() ? H5Tget_class(type.get()) : H5T_NO_CLASS;
  return space.valid() && H5Sget_simple_extent_npoints(space.get()) == 1 &&
         (type_class == H5T_INTEGER || type_class == H5T_FLOAT);
}

void write_attribute(const File& file, hid_t object, const char* name, hid_t type, hid_t space, const void* data) {
  Handle attribute(H5Acreate2(object, name, type, space, H5P_DEFAULT, H5P_DEFAULT), H5Aclose);
  if (!attribute.valid() || H5Awrite(attribute.get(), type, data) < 0)
    file.fail(fmt::format("cannot write attribute {}", name));
}

void write_ints_attribute(const File& file, hid_t object, const char* name, const std::vector<int>& values) {
  const Handle space = vector_or_scalar_space(values.size(), values.size() == 1);
  write_attribute(file, object, name, H5T_NATIVE_INT, space.get(), values.data());
}

void write_fixed_strings_attribute(const File& file, hid_t object, const char* name,
                                   const std::vector<std::string>& values) {
  std::size_t width = 1;
  for (const std::string& value : values) width = std::max(width, value.size() + 1);
  std::string buffer(values.size() * width, '\0');
  for (std::size_t k = 0; k < values.size(); ++k) values[k].copy(&buffer[k * width], values[k].size());
  Handle type(H5Tcopy(H5T_C_S1), H5Tclose);
  H5Tset_size(type.get(), width);
  const Handle space = vector_or_scalar_space(values.size(), values.size() == 1);
  write_attribute(file, object, name, type.get(), space.get(), buffer.data());
}

void write_variable_strings_attribute(const File& file, hid_t object, const char* name,
                                      const std::vector<std::string>& values, bool scalar) {
  std::vector<const char*> pointers;
  for (const std::string& value : values) pointers.push_back(value.c_str());
  Handle type(H5Tcopy(H5T_C_S1), H5Tclose);
  H5Tset_size(type.get(), H5T_VARIABLE);
  const Handle space = vector_or_scalar_space(values.size(), scalar);
  write_attribute(file, object, name, type.get(), space.get(), pointers.data());
}

std::vector<std::string> read_strings(hid_t object, bool is_attribute) {
  Handle type(is_attribute ? H5Aget_type(object) : H5Dget_type(object), H5Tclose);
  Handle space(is_attribute ? H5Aget_space(object) : H5Dget_space(object), H5Sclose);
  if (!type.valid() || H5Tget_class(type.get()) != H5T_STRING) return {};
  const hssize_t points = H5Sget_simple_extent_npoints(space.get());
  const std::size_t count = points > 0 ? static_cast<std::size_t>(points) : 0;
  std::vector<std::string> values;
  const auto read = [&](void* buffer) {
    return is_attribute ? H5Aread(object, type.get(), buffer)
                        : H5Dread(object, type.get(), H5S_ALL, H5S_ALL, H5P_DEFAULT, buffer);
  };
  if (H5Tis_variable_str(type.get()) > 0) {
    std::vector<char*> pointers(count, nullptr);
    if (count > 0 && read(pointers.data()) < 0) {
      for (char* pointer : pointers)
        if (pointer != nullptr) H5free_memory(pointer);  // strings converted before the failure
      return {};
    }
    for (char* pointer : pointers) {
      values.emplace_back(pointer != nullptr ? pointer : "");
      if (pointer != nullptr) H5free_memory(pointer);
    }
  } else {
    const std::size_t width = H5Tget_size(type.get());
    std::string buffer(count * width, '\0');
    if (count > 0 && read(buffer.data()) < 0) return {};
    for (std::size_t k = 0; k < count; ++k) {
      std::string value = buffer.substr(k * width, width);
      value = value.substr(0, value.find('\0'));
      while (!value.empty() && value.back() == ' ') value.pop_back();
      values.push_back(value);
    }
  }
  return values;
}

std::optional<std::string> string_attribute(hid_t object, const char* name) {
  if (H5Aexists(object, name) <= 0) return std::nullopt;
  Handle attribute(H5Aopen(object, name, H5P_DEFAULT), H5Aclose);
  const std::vector<std::string> values = read_strings(attribute.get(), true);
  if (values.empty()) return std::nullopt;
  return values.front();
}

bool read_frames(hid_t dataset, hid_t memory_type, hsize_t first, hsize_t count,
                 const std::vector<hsize_t>& frame_dims, void* data) {
  const auto [file_space, memory_space] = select_frames(dataset, first, count, frame_dims);
  return memory_space.valid() &&
         H5Dread(dataset, memory_type, memory_space.get(), file_space.get(), H5P_DEFAULT, data) >= 0;
}

bool write_frames(hid_t dataset, hid_t memory_type, hsize_t first, hsize_t count,
                  const std::vector<hsize_t>& frame_dims, const void* data) {
  const auto [file_space, memory_space] = select_frames(dataset, first, count, frame_dims);
  return memory_space.valid() &&
         H5Dwrite(dataset, memory_type, memory_space.get(), file_space.get(), H5P_DEFAULT, data) >= 0;
}

}  // namespace nqmd::hdf5
