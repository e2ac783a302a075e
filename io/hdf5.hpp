#pragma once
// The one HDF5 layer under nequip-md's HDF5 formats (H5MD trajectories, checkpoints): handles that close what they
// own, a file that names its path in every error (InputError "PATH: what"), and the attribute, string and dataset
// helpers the formats share. Only io/ includes it.
#include <hdf5.h>

#include <cstddef>
#include <optional>
#include <string>
#include <vector>

namespace nqmd::hdf5 {

// HDF5 prints its error stack on every failed call by default; nequip-md reports failures as InputError instead.
void silence_errors();

// An HDF5 identifier, closed (by the function it was made with) when the handle goes out of scope.
class Handle {
 public:
  Handle() = default;
  Handle(hid_t id, herr_t (*close)(hid_t)) : id_(id), close_(close) {}
  Handle(Handle&& other) noexcept;
  Handle& operator=(Handle&& other) noexcept;
  Handle(const Handle&) = delete;
  Handle& operator=(const Handle&) = delete;
  ~Handle() { reset(); }

  hid_t get() const { return id_; }
  bool valid() const { return id_ >= 0; }
  void reset();

 private:
  hid_t id_ = -1;
  herr_t (*close_)(hid_t) = nullptr;
};

// An open file and its path, for messages: every failure is an InputError "PATH: what".
class File {
 public:
  // Takes the result of H5Fcreate or H5Fopen; InputError "PATH: cannot open as HDF5" if that failed.
  File(std::string path, hid_t id);

  hid_t id() const { return file_.get(); }
  const std::string& path() const { return path_; }
  [[noreturn]] void fail(const std::string& what) const;

  bool exists(const std::string& name) const;
  bool is_group(const std::string& name) const;
  Handle open_group(const std::string& name) const;
  Handle open_dataset(const std::string& name) const;

 private:
  std::string path_;
  Handle file_;
};

// A link-creation property list that also creates the missing groups of a path ("a/b/c" without "a/b").
Handle creating_intermediate_groups();

// The extent of each dimension of a dataset (empty for a scalar).
std::vector<hsize_t> dataset_dims(hid_t dataset);
// The number of values in an array of these dimensions.
hsize_t product(const std::vector<hsize_t>& dims);

// The name of link `index` of a group in name order; nothing if HDF5 cannot read it.
std::optional<std::string> link_name(hid_t group, hsize_t index);

// True if the attribute holds exactly one number (so that reading it into one variable cannot overrun it).
bool is_single_number(hid_t attribute);

// Attributes written; InputError "PATH: cannot write attribute NAME" on failure.
void write_attribute(const File& file, hid_t object, const char* name, hid_t type, hid_t space, const void* data);
// Integers (stored as native int); a scalar if there is one value.
void write_ints_attribute(const File& file, hid_t object, const char* name, const std::vector<int>& values);
// Fixed-length strings (NUL-terminated, all as wide as the longest); a scalar if there is one value.
void write_fixed_strings_attribute(const File& file, hid_t object, const char* name,
                                   const std::vector<std::string>& values);
// Variable-length strings, a scalar or a one-dimensional array.
void write_variable_strings_attribute(const File& file, hid_t object, const char* name,
                                      const std::vector<std::string>& values, bool scalar);

// Strings of an attribute or a dataset, fixed- or variable-length, without trailing padding; empty if the object
// does not hold strings or HDF5 cannot read them.
std::vector<std::string> read_strings(hid_t object, bool is_attribute);
// A string attribute of an object (its first value), or nothing if absent or not strings.
std::optional<std::string> string_attribute(hid_t object, const char* name);

// Frames [first, first + count) of a dataset whose first dimension counts frames (each frame_dims in shape), read
// into or written from `data` as `memory_type`; false if HDF5 cannot.
bool read_frames(hid_t dataset, hid_t memory_type, hsize_t first, hsize_t count,
                 const std::vector<hsize_t>& frame_dims, void* data);
bool write_frames(hid_t dataset, hid_t memory_type, hsize_t first, hsize_t count,
                  const std::vector<hsize_t>& frame_dims, const void* data);

}  // namespace nqmd::hdf5
