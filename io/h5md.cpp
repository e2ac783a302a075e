#include "io/h5md.hpp"

#include <fmt/format.h>
#include <fcntl.h>
#include <hdf5.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <limits>
#include <map>
#include <string_view>
#include <tuple>
#include <utility>
#include <vector>

#include "engine/error.hpp"
#include "engine/log.hpp"
#include "engine/periodic_table.hpp"
#include "io/trajectory_writer.hpp"

namespace nqmd {
namespace {

// Per-atom vectors go to and from HDF5 as packed [N][3] arrays.
static_assert(sizeof(Vec3) == 3 * sizeof(double), "Vec3 must be three packed doubles");
static_assert(sizeof(Vec3i) == 3 * sizeof(int), "Vec3i must be three packed ints");

using RowMajorMat3 = Eigen::Matrix<double, 3, 3, Eigen::RowMajor>;

constexpr const char* kParticles = "particles/all";
constexpr const char* kPositionStep = "/particles/all/position/step";
constexpr const char* kPositionTime = "/particles/all/position/time";

// Frames per chunk of the small time series. Per-atom datasets have one frame per chunk.
constexpr hsize_t kSeriesFramesPerChunk = 256;

struct ObservableSpec {
  const char* name;
  const char* unit;
  double ThermoState::*member;
};
constexpr std::array<ObservableSpec, 7> kObservables{{
    {"potential_energy", "eV", &ThermoState::potential_energy},
    {"kinetic_energy", "eV", &ThermoState::kinetic_energy},
    {"total_energy", "eV", &ThermoState::total_energy},
    {"conserved_energy", "eV", &ThermoState::conserved_energy},
    {"temperature", "K", &ThermoState::temperature},
    {"pressure", "bar", &ThermoState::pressure_bar},
    {"volume", "Angstrom+3", &ThermoState::volume},
}};

void silence_hdf5_errors() { H5Eset_auto2(H5E_DEFAULT, nullptr, nullptr); }

// HDF5 closes the files still open at exit from an atexit handler, and in HDF5 1.10.8 that handler crashes on a
// file whose close failed (a full disk). Every file nequip-md opens is closed by its owner, so it is not needed.
[[maybe_unused]] const bool hdf5_atexit_disabled = H5dont_atexit() >= 0;

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

// An HDF5 identifier, closed when the handle goes out of scope.
class Handle {
 public:
  Handle() = default;
  Handle(hid_t id, herr_t (*close)(hid_t)) : id_(id), close_(close) {}
  Handle(Handle&& other) noexcept : id_(std::exchange(other.id_, -1)), close_(other.close_) {}
  Handle& operator=(Handle&& other) noexcept {
    if (this != &other) {
      reset();
      id_ = std::exchange(other.id_, -1);
      close_ = other.close_;
    }
    return *this;
  }
  Handle(const Handle&) = delete;
  Handle& operator=(const Handle&) = delete;
  ~Handle() { reset(); }

  hid_t get() const { return id_; }
  bool valid() const { return id_ >= 0; }
  void reset() {
    if (id_ >= 0 && close_ != nullptr) close_(id_);
    id_ = -1;
  }

 private:
  hid_t id_ = -1;
  herr_t (*close_)(hid_t) = nullptr;
};

// An open file and its path, for messages: every failure is an InputError "PATH: what".
class H5File {
 public:
  H5File(std::string path, hid_t id) : path_(std::move(path)), file_(id, H5Fclose) {
    if (!file_.valid()) throw InputError(fmt::format("{}: cannot open as HDF5", path_));
  }
  hid_t id() const { return file_.get(); }
  const std::string& path() const { return path_; }
  [[noreturn]] void fail(const std::string& what) const { throw InputError(fmt::format("{}: {}", path_, what)); }

  bool exists(const std::string& name) const { return H5Lexists(id(), name.c_str(), H5P_DEFAULT) > 0; }
  Handle open_group(const std::string& name) const {
    Handle group(H5Gopen2(id(), name.c_str(), H5P_DEFAULT), H5Gclose);
    if (!group.valid()) fail(fmt::format("cannot open group {}", name));
    return group;
  }
  Handle open_dataset(const std::string& name) const {
    Handle dataset(H5Dopen2(id(), name.c_str(), H5P_DEFAULT), H5Dclose);
    if (!dataset.valid()) fail(fmt::format("cannot open dataset {}", name));
    return dataset;
  }
  bool is_group(const std::string& name) const {
    Handle object(H5Oopen(id(), name.c_str(), H5P_DEFAULT), H5Oclose);
    return object.valid() && H5Iget_type(object.get()) == H5I_GROUP;
  }
  void close() { file_.reset(); }

 private:
  std::string path_;
  Handle file_;
};

std::vector<hsize_t> dataset_dims(hid_t dataset) {
  Handle space(H5Dget_space(dataset), H5Sclose);
  const int rank = H5Sget_simple_extent_ndims(space.get());
  std::vector<hsize_t> dims(static_cast<std::size_t>(std::max(rank, 0)));
  if (rank > 0) H5Sget_simple_extent_dims(space.get(), dims.data(), nullptr);
  return dims;
}

hsize_t product(const std::vector<hsize_t>& dims, std::size_t from = 0) {
  hsize_t count = 1;
  for (std::size_t k = from; k < dims.size(); ++k) count *= dims[k];
  return count;
}

// -----------------------------------------------------------------------------------------------------------------
// Attributes

void write_attribute(const H5File& file, hid_t object, const char* name, hid_t type, hid_t space, const void* data) {
  Handle attribute(H5Acreate2(object, name, type, space, H5P_DEFAULT, H5P_DEFAULT), H5Aclose);
  if (!attribute.valid() || H5Awrite(attribute.get(), type, data) < 0)
    file.fail(fmt::format("cannot write attribute {}", name));
}

void write_int_attribute(const H5File& file, hid_t object, const char* name, const std::vector<int>& values) {
  const hsize_t size = values.size();
  Handle space(size == 1 ? H5Screate(H5S_SCALAR) : H5Screate_simple(1, &size, nullptr), H5Sclose);
  write_attribute(file, object, name, H5T_NATIVE_INT, space.get(), values.data());
}

// Fixed-length strings, as the H5MD spec asks for its metadata and box/boundary; scalar if there is one value.
void write_fixed_strings_attribute(const H5File& file, hid_t object, const char* name,
                                   const std::vector<std::string>& values) {
  std::size_t width = 1;
  for (const std::string& value : values) width = std::max(width, value.size() + 1);
  std::string buffer(values.size() * width, '\0');
  for (std::size_t k = 0; k < values.size(); ++k) values[k].copy(&buffer[k * width], values[k].size());
  Handle type(H5Tcopy(H5T_C_S1), H5Tclose);
  H5Tset_size(type.get(), width);
  const hsize_t size = values.size();
  Handle space(size == 1 ? H5Screate(H5S_SCALAR) : H5Screate_simple(1, &size, nullptr), H5Sclose);
  write_attribute(file, object, name, type.get(), space.get(), buffer.data());
}

// Variable-length strings: the H5MD units module's `unit` attributes (h5py reads them as str, which MDAnalysis
// needs to recognise the units) and our species symbols.
void write_variable_strings_attribute(const H5File& file, hid_t object, const char* name,
                                      const std::vector<std::string>& values, bool scalar) {
  std::vector<const char*> pointers;
  for (const std::string& value : values) pointers.push_back(value.c_str());
  Handle type(H5Tcopy(H5T_C_S1), H5Tclose);
  H5Tset_size(type.get(), H5T_VARIABLE);
  const hsize_t size = values.size();
  Handle space(scalar ? H5Screate(H5S_SCALAR) : H5Screate_simple(1, &size, nullptr), H5Sclose);
  write_attribute(file, object, name, type.get(), space.get(), pointers.data());
}

void write_unit(const H5File& file, hid_t object, const std::string& unit) {
  write_variable_strings_attribute(file, object, "unit", {unit}, true);
}

// Strings of an attribute or a dataset, fixed- or variable-length, without trailing padding.
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

// True if the attribute holds exactly one number (so that reading it into one variable cannot overrun it).
bool single_number(hid_t attribute) {
  Handle space(H5Aget_space(attribute), H5Sclose);
  Handle type(H5Aget_type(attribute), H5Tclose);
  const H5T_class_t type_class = type.valid() ? H5Tget_class(type.get()) : H5T_NO_CLASS;
  return space.valid() && H5Sget_simple_extent_npoints(space.get()) == 1 &&
         (type_class == H5T_INTEGER || type_class == H5T_FLOAT);
}

// A string attribute of an object (first value), or nothing if absent.
std::optional<std::string> string_attribute(hid_t object, const char* name) {
  if (H5Aexists(object, name) <= 0) return std::nullopt;
  Handle attribute(H5Aopen(object, name, H5P_DEFAULT), H5Aclose);
  const std::vector<std::string> values = read_strings(attribute.get(), true);
  if (values.empty()) return std::nullopt;
  return values.front();
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

Series create_series(const H5File& file, hid_t group, const std::string& group_name, const char* name, hid_t file_type,
                     hid_t memory_type, std::vector<hsize_t> item_shape, bool per_atom, int deflate_level) {
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

Series open_series(const H5File& file, const std::string& name, hid_t memory_type) {
  Series series;
  series.name = name;
  series.dataset = file.open_dataset(name);
  const std::vector<hsize_t> dims = dataset_dims(series.dataset.get());
  if (dims.empty()) file.fail(fmt::format("{} is not a time series (no frame dimension)", name));
  series.item_shape.assign(dims.begin() + 1, dims.end());
  series.memory_type = memory_type;
  return series;
}

hsize_t series_frames(const Series& series) { return dataset_dims(series.dataset.get()).front(); }

void resize_series(const H5File& file, const Series& series, hsize_t frames) {
  std::vector<hsize_t> dims{frames};
  dims.insert(dims.end(), series.item_shape.begin(), series.item_shape.end());
  if (H5Dset_extent(series.dataset.get(), dims.data()) < 0)
    file.fail(fmt::format("cannot resize {} to {} frames", series.name, frames));
}

void append(const H5File& file, const Series& series, hsize_t index, const void* data) {
  resize_series(file, series, index + 1);
  const int rank = 1 + static_cast<int>(series.item_shape.size());
  std::vector<hsize_t> start(static_cast<std::size_t>(rank), 0), count{1};
  start[0] = index;
  count.insert(count.end(), series.item_shape.begin(), series.item_shape.end());
  Handle file_space(H5Dget_space(series.dataset.get()), H5Sclose);
  Handle memory_space(H5Screate_simple(rank, count.data(), nullptr), H5Sclose);
  if (H5Sselect_hyperslab(file_space.get(), H5S_SELECT_SET, start.data(), nullptr, count.data(), nullptr) < 0 ||
      H5Dwrite(series.dataset.get(), series.memory_type, memory_space.get(), file_space.get(), H5P_DEFAULT, data) < 0)
    file.fail(fmt::format("cannot write frame {} of {} (disk full?)", index, series.name));
}

Handle create_group(const H5File& file, hid_t parent, const std::string& name) {
  Handle links(H5Pcreate(H5P_LINK_CREATE), H5Pclose);
  H5Pset_create_intermediate_group(links.get(), 1);
  Handle group(H5Gcreate2(parent, name.c_str(), links.get(), H5P_DEFAULT, H5P_DEFAULT), H5Gclose);
  if (!group.valid()) file.fail(fmt::format("cannot create group {}", name));
  return group;
}

// The spec asks elements sampled together to share step and time by hard links (box and image must).
void link_step_and_time(const H5File& file, hid_t group, const std::string& group_name) {
  if (H5Lcreate_hard(file.id(), kPositionStep, group, "step", H5P_DEFAULT, H5P_DEFAULT) < 0 ||
      H5Lcreate_hard(file.id(), kPositionTime, group, "time", H5P_DEFAULT, H5P_DEFAULT) < 0)
    file.fail(fmt::format("cannot link {}/step and time to the positions'", group_name));
}

std::vector<std::string> per_atom_symbols(const System& system) {
  std::vector<std::string> symbols;
  symbols.reserve(system.size());
  for (std::size_t i = 0; i < system.size(); ++i) symbols.push_back(system.symbol(i));
  return symbols;
}

// -----------------------------------------------------------------------------------------------------------------
// Units of files read: a `unit` string is space-separated factors, an optional leading number, then symbols each
// with an optional signed power (H5MD units module, e.g. "nm ps-1"). Lengths and times only.

struct UnitSymbol {
  int decimal_exponent;  // value in A or fs is 10^decimal_exponent (times `scale`)
  double scale;
  int length;
  int time;
};

std::optional<UnitSymbol> unit_symbol(std::string_view symbol) {
  if (symbol == "Angstrom" || symbol == "angstrom" || symbol == "Ang" || symbol == "A") return UnitSymbol{0, 1.0, 1, 0};
  if (symbol == "second" || symbol == "sec") return UnitSymbol{15, 1.0, 0, 1};
  if (symbol == "AKMA") return UnitSymbol{0, 48.88821, 0, 1};  // CHARMM's time unit, as MDAnalysis defines it
  static constexpr std::array<std::pair<std::string_view, int>, 17> kPrefixes{{{"", 0},
                                                                               {"E", 18},
                                                                               {"P", 15},
                                                                               {"T", 12},
                                                                               {"G", 9},
                                                                               {"M", 6},
                                                                               {"k", 3},
                                                                               {"h", 2},
                                                                               {"da", 1},
                                                                               {"d", -1},
                                                                               {"c", -2},
                                                                               {"m", -3},
                                                                               {"u", -6},
                                                                               {"n", -9},
                                                                               {"p", -12},
                                                                               {"f", -15},
                                                                               {"a", -18}}};
  if (symbol.empty() || (symbol.back() != 'm' && symbol.back() != 's')) return std::nullopt;
  const bool metre = symbol.back() == 'm';
  const std::string_view prefix = symbol.substr(0, symbol.size() - 1);
  for (const auto& [name, exponent] : kPrefixes)
    if (name == prefix) return metre ? UnitSymbol{exponent + 10, 1.0, 1, 0} : UnitSymbol{exponent + 15, 1.0, 0, 1};
  return std::nullopt;
}

// Factor converting values in `unit` to A^length fs^time; InputError if the unit is unknown or of another kind.
double unit_factor(const H5File& file, const std::string& where, const std::string& unit, int length, int time) {
  const auto message = [&](const std::string& why) { return fmt::format("{}: unit '{}' {}", where, unit, why); };
  double factor = 1.0;
  int decimal_exponent = 0, found_length = 0, found_time = 0;
  std::size_t position = 0;
  bool first = true;
  while (position < unit.size()) {
    if (std::isspace(static_cast<unsigned char>(unit[position]))) {
      ++position;
      continue;
    }
    std::size_t end = position;
    while (end < unit.size() && !std::isspace(static_cast<unsigned char>(unit[end]))) ++end;
    const std::string token = unit.substr(position, end - position);
    position = end;
    std::string power_text;
    if (std::isdigit(static_cast<unsigned char>(token[0])) || token[0] == '.') {
      if (!first) file.fail(message("has a number after the first factor"));
      char* rest = nullptr;
      const double number = std::strtod(token.c_str(), &rest);
      power_text = rest;
      factor *= std::pow(number, power_text.empty() ? 1 : std::atoi(power_text.c_str()));
    } else {
      const std::size_t split = token.find_first_of("+-0123456789");
      const std::string symbol = token.substr(0, split);
      if (split != std::string::npos) power_text = token.substr(split);
      const int power = power_text.empty() ? 1 : std::atoi(power_text.c_str());
      const std::optional<UnitSymbol> known = unit_symbol(symbol);
      if (!known || power == 0) file.fail(message("is not a length or time unit nequip-md knows"));
      decimal_exponent += known->decimal_exponent * power;
      factor *= std::pow(known->scale, power);
      found_length += known->length * power;
      found_time += known->time * power;
    }
    first = false;
  }
  if (found_length != length || found_time != time)
    file.fail(message(fmt::format("has the wrong dimension (expected length^{} time^{})", length, time)));
  return factor * std::pow(10.0, decimal_exponent);
}

// -----------------------------------------------------------------------------------------------------------------
// Elements of files read

// An H5MD element: a time-dependent group (step, time, value) or a time-independent dataset.
struct H5mdElement {
  std::string name;  // path in the file, for messages
  Handle value;
  bool time_dependent = false;
  std::vector<hsize_t> item_dims;  // shape of one frame's data
  hsize_t frames = 1;              // stored frames (1 for time-independent data)
};

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

std::optional<H5mdElement> open_element(const H5File& file, const std::string& name) {
  if (!file.exists(name)) return std::nullopt;
  H5mdElement element;
  element.name = name;
  element.time_dependent = file.is_group(name);
  element.value = file.open_dataset(element.time_dependent ? name + "/value" : name);
  std::vector<hsize_t> dims = dataset_dims(element.value.get());
  if (element.time_dependent) {
    if (dims.empty()) file.fail(fmt::format("{}/value has no frame dimension", name));
    element.frames = frames_with_storage(element.value.get(), dims);
    dims.erase(dims.begin());
  }
  element.item_dims = std::move(dims);
  return element;
}

std::optional<std::string> unit_of(const H5mdElement& element) { return string_attribute(element.value.get(), "unit"); }

// One frame of an element (the whole dataset if time-independent), converted to `memory_type`; false if HDF5
// cannot read it.
bool try_read_item(const H5mdElement& element, hsize_t frame, hid_t memory_type, void* data) {
  const hsize_t items = product(element.item_dims);
  Handle file_space(H5Dget_space(element.value.get()), H5Sclose);
  Handle memory_space(H5Screate_simple(1, &items, nullptr), H5Sclose);
  if (element.time_dependent) {
    std::vector<hsize_t> start(element.item_dims.size() + 1, 0), count{1};
    start[0] = frame;
    count.insert(count.end(), element.item_dims.begin(), element.item_dims.end());
    H5Sselect_hyperslab(file_space.get(), H5S_SELECT_SET, start.data(), nullptr, count.data(), nullptr);
  }
  return items == 0 ||
         H5Dread(element.value.get(), memory_type, memory_space.get(), file_space.get(), H5P_DEFAULT, data) >= 0;
}

void read_item(const H5File& file, const H5mdElement& element, hsize_t frame, hid_t memory_type, void* data) {
  if (!try_read_item(element, frame, memory_type, data))
    file.fail(fmt::format("cannot read frame {} of {}", frame, element.name));
}

// Step and time of a time-dependent element, stored explicitly ([frames] datasets) or as a fixed increment with
// an `offset` attribute (scalar datasets: value(i) = i * increment + offset).
template <typename T>
std::optional<std::vector<T>> read_sampling(const H5File& file, const std::string& name, hsize_t frames,
                                            hid_t memory_type) {
  if (!file.exists(name)) return std::nullopt;
  Handle dataset = file.open_dataset(name);
  const std::vector<hsize_t> dims = dataset_dims(dataset.get());
  std::vector<T> values;
  if (dims.empty()) {
    T increment{}, offset{};
    if (H5Dread(dataset.get(), memory_type, H5S_ALL, H5S_ALL, H5P_DEFAULT, &increment) < 0)
      file.fail(fmt::format("cannot read {}", name));
    if (H5Aexists(dataset.get(), "offset") > 0) {
      Handle attribute(H5Aopen(dataset.get(), "offset", H5P_DEFAULT), H5Aclose);
      if (!single_number(attribute.get()) || H5Aread(attribute.get(), memory_type, &offset) < 0)
        file.fail(fmt::format("cannot read {} offset", name));
    }
    for (hsize_t i = 0; i < frames; ++i) values.push_back(static_cast<T>(i) * increment + offset);
  } else {
    if (dims.size() != 1) file.fail(fmt::format("{} is not one-dimensional", name));
    // Only the values of the element's frames (a damaged file may claim more, without storage).
    const hsize_t count = std::min({dims.front(), frames, frames_with_storage(dataset.get(), dims)});
    values.resize(count);
    if (count > 0) {
      const hsize_t start = 0;
      Handle file_space(H5Dget_space(dataset.get()), H5Sclose);
      Handle memory_space(H5Screate_simple(1, &count, nullptr), H5Sclose);
      if (H5Sselect_hyperslab(file_space.get(), H5S_SELECT_SET, &start, nullptr, &count, nullptr) < 0 ||
          H5Dread(dataset.get(), memory_type, memory_space.get(), file_space.get(), H5P_DEFAULT, values.data()) < 0)
        file.fail(fmt::format("cannot read {}", name));
    }
  }
  return values;
}

std::optional<std::vector<std::int64_t>> read_steps(const H5File& file, const H5mdElement& element) {
  if (!element.time_dependent) return std::nullopt;
  return read_sampling<std::int64_t>(file, element.name + "/step", element.frames, H5T_NATIVE_INT64);
}

// The particles group: `all` (nequip-md's), else the first whose position element exists.
std::string particles_group(const H5File& file) {
  if (file.exists(std::string(kParticles) + "/position")) return kParticles;
  if (file.exists("particles")) {
    Handle group = file.open_group("particles");
    H5G_info_t info;
    if (H5Gget_info(group.get(), &info) >= 0) {
      for (hsize_t k = 0; k < info.nlinks; ++k) {
        const ssize_t length =
            H5Lget_name_by_idx(group.get(), ".", H5_INDEX_NAME, H5_ITER_INC, k, nullptr, 0, H5P_DEFAULT);
        if (length <= 0) continue;
        std::string name(static_cast<std::size_t>(length), '\0');
        H5Lget_name_by_idx(group.get(), ".", H5_INDEX_NAME, H5_ITER_INC, k, name.data(), name.size() + 1, H5P_DEFAULT);
        if (file.exists("particles/" + name + "/position")) return "particles/" + name;
      }
    }
  }
  file.fail("H5MD file without particle positions (no /particles/<group>/position)");
}

// Chemical symbol of every atom in one frame of the species element.
std::vector<std::string> read_species(const H5File& file, const H5mdElement& species, hsize_t frame,
                                      std::size_t atoms) {
  if (product(species.item_dims) != atoms || species.item_dims.size() != 1)
    file.fail(fmt::format("{} has shape incompatible with {} atoms", species.name, atoms));
  Handle type(H5Dget_type(species.value.get()), H5Tclose);
  const H5T_class_t type_class = H5Tget_class(type.get());
  std::vector<std::string> symbols;
  if (type_class == H5T_STRING) {
    if (species.time_dependent)
      file.fail(fmt::format("{}: time-dependent species as strings are not supported", species.name));
    symbols = read_strings(species.value.get(), false);
    if (symbols.size() != atoms) file.fail(fmt::format("cannot read {}", species.name));
  } else if (type_class == H5T_INTEGER) {
    std::vector<int> indices(atoms);
    read_item(file, species, frame, H5T_NATIVE_INT, indices.data());
    std::vector<std::string> names;
    if (H5Aexists(species.value.get(), "symbols") > 0) {
      Handle attribute(H5Aopen(species.value.get(), "symbols", H5P_DEFAULT), H5Aclose);
      names = read_strings(attribute.get(), true);
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

// Vectors in an [N][3] frame, converted by `factor`.
std::vector<Vec3> read_vectors(const H5File& file, const H5mdElement& element, hsize_t frame, std::size_t atoms,
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
// Resuming a trajectory: the frames kept are copied into a fresh file, which then replaces the old one.
//
// A run killed while HDF5 was flushing can leave a file whose free-space and chunk-index metadata no longer agree
// with what reached the disk. Such a file still reads (up to its last complete flush), but changing it in place,
// e.g. shrinking its datasets to the restart step, can fail or corrupt it (this happened in about one of 400
// kill-and-restart cycles). So the writer never changes a file it resumes: it reads the frames up to the restart
// step that are complete and copies them, with every group, dataset, attribute and hard link of the file, into
// NAME.tmp, which is fsynced and renamed over NAME.

// An object's identity in its file (its address), so that a second hard link to it is copied as a link.
struct ObjectId {
  std::string key;
  H5O_type_t type = H5O_TYPE_UNKNOWN;
};

std::optional<ObjectId> object_id(hid_t location, const std::string& name) {
#if H5_VERSION_GE(1, 12, 0)
  H5O_info2_t info;
  if (H5Oget_info_by_name3(location, name.c_str(), &info, H5O_INFO_BASIC, H5P_DEFAULT) < 0) return std::nullopt;
  return ObjectId{std::string(reinterpret_cast<const char*>(&info.token), sizeof info.token), info.type};
#else
  H5O_info_t info;
  if (H5Oget_info_by_name2(location, name.c_str(), &info, H5O_INFO_BASIC, H5P_DEFAULT) < 0) return std::nullopt;
  return ObjectId{std::string(reinterpret_cast<const char*>(&info.addr), sizeof info.addr), info.type};
#endif
}

// Names of the links in a group, in name order.
std::vector<std::string> link_names(const H5File& file, hid_t group, const std::string& path) {
  H5G_info_t info;
  if (H5Gget_info(group, &info) < 0) file.fail(fmt::format("cannot list group {}", path));
  std::vector<std::string> names;
  for (hsize_t k = 0; k < info.nlinks; ++k) {
    const ssize_t length = H5Lget_name_by_idx(group, ".", H5_INDEX_NAME, H5_ITER_INC, k, nullptr, 0, H5P_DEFAULT);
    std::string name(static_cast<std::size_t>(std::max<ssize_t>(length, 0)), '\0');
    if (length <= 0 || H5Lget_name_by_idx(group, ".", H5_INDEX_NAME, H5_ITER_INC, k, name.data(), name.size() + 1,
                                          H5P_DEFAULT) != length)
      file.fail(fmt::format("cannot read the name of link {} of group {}", k, path));
    names.push_back(std::move(name));
  }
  return names;
}

// The type values of `type` are read into and written from: native numbers, strings as they are.
Handle memory_type_of(hid_t type) {
  return Handle(H5Tget_class(type) == H5T_STRING ? H5Tcopy(type) : H5Tget_native_type(type, H5T_DIR_ASCEND), H5Tclose);
}

bool has_variable_length(hid_t memory_type) {
  return H5Tis_variable_str(memory_type) > 0 || H5Tdetect_class(memory_type, H5T_VLEN) > 0;
}

// A buffer of `bytes` bytes aligned for any number type.
std::vector<std::uint64_t> aligned_buffer(std::size_t bytes) { return std::vector<std::uint64_t>(bytes / 8 + 1); }

void copy_attributes(const H5File& from, hid_t source, const H5File& to, hid_t target, const std::string& path) {
  std::vector<std::string> names;
  hsize_t index = 0;
  const auto collect = [](hid_t, const char* name, const H5A_info_t*, void* data) -> herr_t {
    static_cast<std::vector<std::string>*>(data)->emplace_back(name);
    return 0;
  };
  if (H5Aiterate2(source, H5_INDEX_NAME, H5_ITER_INC, &index, collect, &names) < 0)
    from.fail(fmt::format("cannot list the attributes of {}", path));
  for (const std::string& name : names) {
    Handle attribute(H5Aopen(source, name.c_str(), H5P_DEFAULT), H5Aclose);
    Handle type(H5Aget_type(attribute.get()), H5Tclose);
    Handle space(H5Aget_space(attribute.get()), H5Sclose);
    const Handle memory = memory_type_of(type.get());
    const hssize_t points = H5Sget_simple_extent_npoints(space.get());
    const std::size_t size = memory.valid() ? H5Tget_size(memory.get()) : 0;
    // Attributes are small (HDF5 keeps them in the object header, at most 64 KiB unless dense).
    if (points < 0 || size == 0 || static_cast<std::uint64_t>(points) * size > (1u << 20))
      from.fail(fmt::format("cannot read attribute {} of {}", name, path));
    std::vector<std::uint64_t> buffer = aligned_buffer(static_cast<std::size_t>(points) * size);
    if (H5Aread(attribute.get(), memory.get(), buffer.data()) < 0)
      from.fail(fmt::format("cannot read attribute {} of {}", name, path));
    Handle copy(H5Acreate2(target, name.c_str(), type.get(), space.get(), H5P_DEFAULT, H5P_DEFAULT), H5Aclose);
    const bool written = copy.valid() && H5Awrite(copy.get(), memory.get(), buffer.data()) >= 0;
    if (has_variable_length(memory.get())) H5Dvlen_reclaim(memory.get(), space.get(), H5P_DEFAULT, buffer.data());
    if (!written) to.fail(fmt::format("cannot write attribute {} of {}", name, path));
  }
}

// What makes a frame of a time series complete. Data never written reads as the fill value (NaN, the lowest
// integer), and steps must increase up to the restart step. These are the checks of read_h5md.
enum class FrameCheck { none, step, finite, no_lowest_int };

// A time series being copied frame by frame.
struct SeriesCopy {
  std::string path;
  Handle source, target;
  Handle memory_type;
  std::vector<hsize_t> item_dims;
  std::size_t frame_bytes = 0;  // in memory
  hsize_t source_frames = 0;
  FrameCheck check = FrameCheck::none;
};

struct FileCopy {
  const H5File& from;
  const H5File& to;
  std::map<std::string, std::string> copied;                          // object key -> its path in `to`
  std::map<std::string, std::pair<FrameCheck, hid_t>> frame_checks;  // object key -> check and memory type
  std::vector<SeriesCopy> series;
};

void copy_object(FileCopy& copy, hid_t source_group, hid_t target_group, const std::string& parent,
                 const std::string& name);

void copy_group(FileCopy& copy, hid_t source, hid_t target, const std::string& path) {
  copy_attributes(copy.from, source, copy.to, target, path);
  for (const std::string& name : link_names(copy.from, source, path)) copy_object(copy, source, target, path, name);
}

void copy_dataset(FileCopy& copy, hid_t source_group, hid_t target_group, const std::string& path,
                  const std::string& name, const ObjectId& id) {
  const H5File& from = copy.from;
  const H5File& to = copy.to;
  Handle dataset(H5Dopen2(source_group, name.c_str(), H5P_DEFAULT), H5Dclose);
  if (!dataset.valid()) from.fail(fmt::format("cannot open dataset {}", path));
  Handle type(H5Dget_type(dataset.get()), H5Tclose);
  Handle space(H5Dget_space(dataset.get()), H5Sclose);
  Handle properties(H5Dget_create_plist(dataset.get()), H5Pclose);
  const int rank = H5Sget_simple_extent_ndims(space.get());
  if (!type.valid() || !properties.valid() || rank < 0) from.fail(fmt::format("cannot read dataset {}", path));
  std::vector<hsize_t> dims(static_cast<std::size_t>(rank)), max_dims(static_cast<std::size_t>(rank));
  if (rank > 0) H5Sget_simple_extent_dims(space.get(), dims.data(), max_dims.data());

  if (rank > 0 && max_dims.front() == H5S_UNLIMITED) {
    // A time series: created empty with the same type, chunks, filters and fill value; frames follow.
    SeriesCopy series;
    series.path = path;
    series.source_frames = dims.front();
    series.item_dims.assign(dims.begin() + 1, dims.end());
    std::vector<hsize_t> empty = dims;
    empty.front() = 0;
    Handle empty_space(H5Screate_simple(rank, empty.data(), max_dims.data()), H5Sclose);
    series.target = Handle(H5Dcreate2(target_group, name.c_str(), type.get(), empty_space.get(), H5P_DEFAULT,
                                      properties.get(), H5P_DEFAULT),
                           H5Dclose);
    if (!series.target.valid()) to.fail(fmt::format("cannot create dataset {}", path));
    copy_attributes(from, dataset.get(), to, series.target.get(), path);
    const auto check = copy.frame_checks.find(id.key);
    if (check != copy.frame_checks.end()) {
      series.check = check->second.first;
      series.memory_type = Handle(H5Tcopy(check->second.second), H5Tclose);
    } else {
      series.memory_type = memory_type_of(type.get());
    }
    if (!series.memory_type.valid() || has_variable_length(series.memory_type.get()))
      from.fail(fmt::format("{}: cannot copy a time series of this type", path));
    series.frame_bytes = H5Tget_size(series.memory_type.get()) * product(series.item_dims);
    series.source = std::move(dataset);
    copy.series.push_back(std::move(series));
    return;
  }

  // Time-independent data (species, mass): copied whole. It must be stored in full, so that a damaged size
  // cannot make the copy allocate more than the file holds.
  const Handle memory = memory_type_of(type.get());
  const hssize_t points = H5Sget_simple_extent_npoints(space.get());
  const std::size_t size = memory.valid() ? H5Tget_size(memory.get()) : 0;
  const bool variable = memory.valid() && has_variable_length(memory.get());
  if (points < 0 || size == 0 ||
      (!variable && static_cast<std::uint64_t>(points) * H5Tget_size(type.get()) > H5Dget_storage_size(dataset.get())))
    from.fail(fmt::format("cannot read dataset {} (not stored in full)", path));
  Handle created(
      H5Dcreate2(target_group, name.c_str(), type.get(), space.get(), H5P_DEFAULT, properties.get(), H5P_DEFAULT),
      H5Dclose);
  if (!created.valid()) to.fail(fmt::format("cannot create dataset {}", path));
  if (points > 0) {
    std::vector<std::uint64_t> buffer = aligned_buffer(static_cast<std::size_t>(points) * size);
    if (H5Dread(dataset.get(), memory.get(), H5S_ALL, H5S_ALL, H5P_DEFAULT, buffer.data()) < 0)
      from.fail(fmt::format("cannot read dataset {}", path));
    const bool written = H5Dwrite(created.get(), memory.get(), H5S_ALL, H5S_ALL, H5P_DEFAULT, buffer.data()) >= 0;
    if (variable) H5Dvlen_reclaim(memory.get(), space.get(), H5P_DEFAULT, buffer.data());
    if (!written) to.fail(fmt::format("cannot write dataset {}", path));
  }
  copy_attributes(from, dataset.get(), to, created.get(), path);
}

void copy_object(FileCopy& copy, hid_t source_group, hid_t target_group, const std::string& parent,
                 const std::string& name) {
  const std::string path = (parent == "/" ? "/" : parent + "/") + name;
  const std::optional<ObjectId> id = object_id(source_group, name);
  if (!id) copy.from.fail(fmt::format("cannot open {}", path));
  if (const auto first = copy.copied.find(id->key); first != copy.copied.end()) {
    // Another name of an object already copied (step and time are shared by hard links).
    if (H5Lcreate_hard(copy.to.id(), first->second.c_str(), target_group, name.c_str(), H5P_DEFAULT, H5P_DEFAULT) < 0)
      copy.to.fail(fmt::format("cannot link {} to {}", path, first->second));
    return;
  }
  copy.copied.emplace(id->key, path);
  if (id->type == H5O_TYPE_GROUP) {
    Handle source(H5Gopen2(source_group, name.c_str(), H5P_DEFAULT), H5Gclose);
    if (!source.valid()) copy.from.fail(fmt::format("cannot open group {}", path));
    Handle target(H5Gcreate2(target_group, name.c_str(), H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT), H5Gclose);
    if (!target.valid()) copy.to.fail(fmt::format("cannot create group {}", path));
    copy_group(copy, source.get(), target.get(), path);
  } else if (id->type == H5O_TYPE_DATASET) {
    copy_dataset(copy, source_group, target_group, path, name, *id);
  } else {
    copy.from.fail(fmt::format("{} is neither a group nor a dataset", path));
  }
}

// Reads `count` frames from `first` of a series into `data`; false if HDF5 cannot (a frame cut short by a kill).
bool read_frames(const SeriesCopy& series, hsize_t first, hsize_t count, void* data) {
  std::vector<hsize_t> start(series.item_dims.size() + 1, 0), block{count};
  start.front() = first;
  block.insert(block.end(), series.item_dims.begin(), series.item_dims.end());
  Handle file_space(H5Dget_space(series.source.get()), H5Sclose);
  Handle memory_space(H5Screate_simple(static_cast<int>(block.size()), block.data(), nullptr), H5Sclose);
  return H5Sselect_hyperslab(file_space.get(), H5S_SELECT_SET, start.data(), nullptr, block.data(), nullptr) >= 0 &&
         H5Dread(series.source.get(), series.memory_type.get(), memory_space.get(), file_space.get(), H5P_DEFAULT,
                 data) >= 0;
}

void append_frames(const H5File& file, const SeriesCopy& series, hsize_t first, hsize_t count, const void* data) {
  std::vector<hsize_t> start(series.item_dims.size() + 1, 0), block{count}, dims{first + count};
  start.front() = first;
  block.insert(block.end(), series.item_dims.begin(), series.item_dims.end());
  dims.insert(dims.end(), series.item_dims.begin(), series.item_dims.end());
  if (H5Dset_extent(series.target.get(), dims.data()) < 0)
    file.fail(fmt::format("cannot resize {} to {} frames", series.path, first + count));
  Handle file_space(H5Dget_space(series.target.get()), H5Sclose);
  Handle memory_space(H5Screate_simple(static_cast<int>(block.size()), block.data(), nullptr), H5Sclose);
  if (H5Sselect_hyperslab(file_space.get(), H5S_SELECT_SET, start.data(), nullptr, block.data(), nullptr) < 0 ||
      H5Dwrite(series.target.get(), series.memory_type.get(), memory_space.get(), file_space.get(), H5P_DEFAULT,
               data) < 0)
    file.fail(fmt::format("cannot write frames {} to {} of {} (disk full?)", first, first + count - 1, series.path));
}

// Frames of `data` (`count` of them) that pass the series' check, counted from the first.
hsize_t complete_frames(const SeriesCopy& series, const std::vector<std::uint64_t>& data, hsize_t count,
                        std::int64_t last_step, std::optional<std::int64_t> previous_step) {
  const std::size_t items = product(series.item_dims);
  for (hsize_t frame = 0; frame < count; ++frame) {
    const auto* bytes = reinterpret_cast<const unsigned char*>(data.data()) + frame * series.frame_bytes;
    for (std::size_t k = 0; k < items; ++k) {
      bool complete = true;
      if (series.check == FrameCheck::step) {
        std::int64_t step = 0;
        std::memcpy(&step, bytes + k * sizeof step, sizeof step);
        complete = step >= 0 && step <= last_step && (!previous_step || step > *previous_step);
        previous_step = step;
      } else if (series.check == FrameCheck::finite) {
        double value = 0.0;
        std::memcpy(&value, bytes + k * sizeof value, sizeof value);
        complete = std::isfinite(value);
      } else if (series.check == FrameCheck::no_lowest_int) {
        int value = 0;
        std::memcpy(&value, bytes + k * sizeof value, sizeof value);
        complete = value != std::numeric_limits<int>::min();
      }
      if (!complete) return frame;
    }
  }
  return count;
}

// Copies the leading frames of every time series that are complete and at most `last_step` (the step series
// decides), in blocks of frames; returns how many.
hsize_t copy_frames(FileCopy& copy, std::int64_t last_step) {
  if (copy.series.empty()) return 0;
  hsize_t frames = std::numeric_limits<hsize_t>::max();
  std::size_t frame_bytes = 0;
  const SeriesCopy* steps = nullptr;
  for (const SeriesCopy& series : copy.series) {
    frames = std::min(frames, series.source_frames);
    frame_bytes += series.frame_bytes;
    if (series.check == FrameCheck::step) steps = &series;
  }
  if (steps == nullptr || steps->item_dims.size() != 0) copy.from.fail("cannot append: position/step is missing");
  const hsize_t block = std::clamp<hsize_t>((64u << 20) / std::max<std::size_t>(frame_bytes, 1), 1, 4096);
  std::vector<std::vector<std::uint64_t>> buffers(copy.series.size());
  std::optional<std::int64_t> previous_step;
  hsize_t kept = 0;
  while (kept < frames) {
    const hsize_t count = std::min(block, frames - kept);
    hsize_t complete = count;
    for (std::size_t s = 0; s < copy.series.size() && complete > 0; ++s) {
      const SeriesCopy& series = copy.series[s];
      std::vector<std::uint64_t>& buffer = buffers[s];
      buffer.assign(count * series.frame_bytes / 8 + 1, 0);
      if (!read_frames(series, kept, complete, buffer.data())) {
        // Some frame cannot be read: the readable ones before it.
        hsize_t readable = 0;
        auto* bytes = reinterpret_cast<unsigned char*>(buffer.data());
        while (readable < complete && read_frames(series, kept + readable, 1, bytes + readable * series.frame_bytes))
          ++readable;
        complete = readable;
      }
      complete = std::min(complete, complete_frames(series, buffer, complete, last_step, previous_step));
    }
    if (complete == 0) break;
    for (std::size_t s = 0; s < copy.series.size(); ++s)
      append_frames(copy.to, copy.series[s], kept, complete, buffers[s].data());
    std::int64_t step = 0;
    const auto* step_bytes = reinterpret_cast<const unsigned char*>(buffers[steps - copy.series.data()].data());
    std::memcpy(&step, step_bytes + (complete - 1) * sizeof step, sizeof step);
    previous_step = step;
    kept += complete;
    if (complete < count) break;
  }
  return kept;
}

// Writes the frames of the H5MD file at `path` up to `last_step` (and every other group, dataset and attribute)
// into PATH.tmp, fsyncs it and renames it over `path`; returns the frames kept. The file at `path` is only read:
// on any error it is left as it was (and PATH.tmp is removed).
hsize_t rewrite_up_to_step(const std::string& path, std::int64_t last_step, const H5mdWriterOptions& options) {
  const std::string temporary = path + ".tmp";
  hsize_t kept = 0;
  try {
    const H5File from(path, H5Fopen(path.c_str(), H5F_ACC_RDONLY, H5P_DEFAULT));
    if (!from.exists("h5md")) from.fail("not an H5MD file; cannot append frames to it");
    const std::string particles = std::string("/") + kParticles;
    const bool has_frames = from.exists(particles + "/position");
    if (has_frames) {
      const auto check_field = [&](const char* name, bool wanted) {
        if (from.exists(particles + "/" + name) != wanted)
          from.fail(fmt::format("cannot append: the file was written {} {} but this run {} them",
                                wanted ? "without" : "with", name, wanted ? "writes" : "does not write"));
      };
      check_field("velocity", options.velocities);
      check_field("force", options.forces);
      check_field("image", options.images);
      if (!from.exists(kPositionStep)) from.fail("cannot append: the file has no position/step");
    }
    H5File to(temporary, H5Fcreate(temporary.c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT));
    {
      FileCopy copy{from, to, {}, {}, {}};
      const std::array<std::tuple<std::string, FrameCheck, hid_t>, 6> checks{{
          {kPositionStep, FrameCheck::step, H5T_NATIVE_INT64},
          {kPositionTime, FrameCheck::finite, H5T_NATIVE_DOUBLE},
          {particles + "/position/value", FrameCheck::finite, H5T_NATIVE_DOUBLE},
          {particles + "/velocity/value", FrameCheck::finite, H5T_NATIVE_DOUBLE},
          {particles + "/box/edges/value", FrameCheck::finite, H5T_NATIVE_DOUBLE},
          {particles + "/image/value", FrameCheck::no_lowest_int, H5T_NATIVE_INT},
      }};
      for (const auto& [name, check, memory_type] : checks) {
        if (!has_frames || !from.exists(name)) continue;
        const std::optional<ObjectId> id = object_id(from.id(), name);
        if (!id) from.fail(fmt::format("cannot open {}", name));
        copy.frame_checks[id->key] = {check, memory_type};
      }
      Handle source_root(H5Gopen2(from.id(), "/", H5P_DEFAULT), H5Gclose);
      Handle target_root(H5Gopen2(to.id(), "/", H5P_DEFAULT), H5Gclose);
      if (!source_root.valid() || !target_root.valid()) from.fail("cannot open the root group");
      if (has_frames) {
        copy_group(copy, source_root.get(), target_root.get(), "/");
      } else {
        // The previous run wrote no frame: only its metadata is kept (particle groups a kill may have left
        // half-made are dropped; the first frame creates them).
        copy_attributes(from, source_root.get(), to, target_root.get(), "/");
        copy_object(copy, source_root.get(), target_root.get(), "/", "h5md");
      }
      kept = copy_frames(copy, last_step);
    }
    if (H5Fflush(to.id(), H5F_SCOPE_GLOBAL) < 0) to.fail("cannot flush to disk (disk full?)");
  } catch (const InputError&) {
    std::remove(temporary.c_str());
    throw;
  }
  // The copy reaches the disk before it replaces the file, so that a crash leaves one of the two whole.
  const int descriptor = ::open(temporary.c_str(), O_RDONLY);
  const bool synced = descriptor >= 0 && ::fsync(descriptor) == 0;
  if (descriptor >= 0) ::close(descriptor);
  if (!synced || std::rename(temporary.c_str(), path.c_str()) != 0) {
    std::remove(temporary.c_str());
    throw InputError(fmt::format("{}: cannot {} the copy of the frames kept for the restart ({})", path,
                                 synced ? "rename" : "sync", temporary));
  }
  return kept;
}
}  // namespace

// -------------------------------------------------------------------------------------------------------------------
// Writer

struct H5mdWriter::State {
  H5File file;
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
  Series step, time, position, velocity, force, image, edges;
  std::vector<Series> observables;

  explicit State(H5File opened) : file(std::move(opened)) {}
  std::vector<Series*> all_series() {
    std::vector<Series*> series{&step, &time, &position, &velocity, &force, &image, &edges};
    for (Series& observable : observables) series.push_back(&observable);
    series.erase(std::remove_if(series.begin(), series.end(), [](const Series* s) { return !s->valid(); }),
                 series.end());
    return series;
  }
};

namespace {

void write_metadata(const H5File& file, const std::string& author_name) {
  Handle h5md = create_group(file, file.id(), "h5md");
  write_int_attribute(file, h5md.get(), "version", {1, 1});
  Handle author = create_group(file, h5md.get(), "author");
  write_fixed_strings_attribute(file, author.get(), "name", {author_name});
  Handle creator = create_group(file, h5md.get(), "creator");
  write_fixed_strings_attribute(file, creator.get(), "name", {"nequip-md"});
  write_fixed_strings_attribute(file, creator.get(), "version", {NQMD_VERSION});
}

std::string default_author() {
  const char* user = std::getenv("USER");
  return user != nullptr && *user != '\0' ? user : "unknown";
}

}  // namespace

H5mdWriter::H5mdWriter(H5mdWriterOptions options) : options_(std::move(options)) {
  silence_hdf5_errors();
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
    throw InputError(
        fmt::format("{}: already exists; refusing to overwrite it (remove it, allow overwriting, or "
                    "restart from a checkpoint to append)",
                    path));
  state_ = std::make_unique<State>(H5File(path, H5Fcreate(path.c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT)));
  write_metadata(state_->file, options_.author.empty() ? default_author() : options_.author);
  flush();
}

void H5mdWriter::open_for_append(std::uint64_t resume_after_step) {
  const std::string& path = options_.path;
  if (!is_hdf5_file(path)) throw InputError(fmt::format("{}: not an HDF5 file; cannot append frames to it", path));
  // The frames up to the restart step go into a fresh file that replaces this one (see rewrite_up_to_step);
  // frames after that step, and frames a kill cut short, are left out.
  const hsize_t kept = rewrite_up_to_step(path, static_cast<std::int64_t>(resume_after_step), options_);
  state_ = std::make_unique<State>(H5File(path, H5Fopen(path.c_str(), H5F_ACC_RDWR, H5P_DEFAULT)));
  State& state = *state_;
  const H5File& file = state.file;
  const std::string particles = kParticles;
  if (!file.exists(particles + "/position")) return;  // the previous run wrote no frame: start with the first one

  state.step = open_series(file, kPositionStep, H5T_NATIVE_INT64);
  state.time = open_series(file, kPositionTime, H5T_NATIVE_DOUBLE);
  state.position = open_series(file, particles + "/position/value", H5T_NATIVE_DOUBLE);
  if (options_.velocities) state.velocity = open_series(file, particles + "/velocity/value", H5T_NATIVE_DOUBLE);
  if (options_.forces) state.force = open_series(file, particles + "/force/value", H5T_NATIVE_DOUBLE);
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
  const H5File& file = state.file;
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
  write_unit(file, state.time.dataset.get(), "fs");
  state.position = create_series(file, position.get(), particles + "/position", "value", H5T_IEEE_F64LE,
                                 H5T_NATIVE_DOUBLE, vectors, true, level);
  write_unit(file, state.position.dataset.get(), "Angstrom");

  const auto vector_element = [&](const char* name, hid_t file_type, hid_t memory_type, const char* unit) {
    Handle group = create_group(file, all.get(), name);
    link_step_and_time(file, group.get(), particles + "/" + name);
    Series series =
        create_series(file, group.get(), particles + "/" + name, "value", file_type, memory_type, vectors, true, level);
    if (unit != nullptr) write_unit(file, series.dataset.get(), unit);
    return series;
  };
  if (options_.velocities)
    state.velocity = vector_element("velocity", H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, "Angstrom fs-1");
  if (options_.forces) state.force = vector_element("force", H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, "eV Angstrom-1");
  if (options_.images) state.image = vector_element("image", H5T_STD_I32LE, H5T_NATIVE_INT, nullptr);

  // Box: boundary per axis; edges (rows = lattice vectors) unless there is no cell at all, which the spec allows
  // when every boundary is "none".
  Handle box = create_group(file, all.get(), "box");
  write_int_attribute(file, box.get(), "dimension", {3});
  write_fixed_strings_attribute(file, box.get(), "boundary", boundary);
  if (system.cell.any_periodic() || !system.cell.lattice().isZero(0.0)) {
    Handle edges = create_group(file, box.get(), "edges");
    link_step_and_time(file, edges.get(), particles + "/box/edges");
    state.edges = create_series(file, edges.get(), particles + "/box/edges", "value", H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE,
                                {3, 3}, false, 0);
    write_unit(file, state.edges.dataset.get(), "Angstrom");
  }

  // Species and masses do not change: time-independent datasets.
  const hsize_t count = atoms;
  Handle space(H5Screate_simple(1, &count, nullptr), H5Sclose);
  Handle species(H5Dcreate2(all.get(), "species", H5T_STD_I32LE, space.get(), H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT),
                 H5Dclose);
  if (!species.valid() ||
      H5Dwrite(species.get(), H5T_NATIVE_INT, H5S_ALL, H5S_ALL, H5P_DEFAULT, system.species.data()) < 0)
    file.fail("cannot write particles/all/species");
  write_variable_strings_attribute(file, species.get(), "symbols", system.species_symbols, false);
  Handle mass(H5Dcreate2(all.get(), "mass", H5T_IEEE_F64LE, space.get(), H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT),
              H5Dclose);
  if (!mass.valid() || H5Dwrite(mass.get(), H5T_NATIVE_DOUBLE, H5S_ALL, H5S_ALL, H5P_DEFAULT, system.masses.data()) < 0)
    file.fail("cannot write particles/all/mass");
  write_unit(file, mass.get(), "amu");

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
  const H5File& file = state.file;
  const System& system = data.system;
  const std::size_t atoms = system.size();

  if (!state.atoms_checked) {
    if (atoms == 0) file.fail("cannot write a trajectory of a system without atoms");
    if (state.particles_ready && (atoms != state.atoms || per_atom_symbols(system) != state.file_symbols))
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

  if (!state.particles_ready) create_particles(system);

  const hsize_t frame = state.frames;
  const auto step = static_cast<std::int64_t>(data.thermo.step);
  // A write that fails for want of space can leave an HDF5 file that no longer opens (its superblock already
  // counts blocks that never reached the disk). So a frame is written only if the disk and the file-size limit
  // have room for it and the frames not yet flushed, twice over, plus the metadata and series chunks it may
  // allocate; otherwise the file is flushed as it is and the run stops.
  const std::uintmax_t frame_bytes =
      atoms * (3 * sizeof(double) * (1 + state.velocity.valid() + state.force.valid()) +
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

// -------------------------------------------------------------------------------------------------------------------
// Reader

bool is_hdf5_file(const std::string& path) {
  silence_hdf5_errors();
  std::error_code error;
  return std::filesystem::is_regular_file(path, error) && H5Fis_hdf5(path.c_str()) > 0;
}

Trajectory read_h5md(const std::string& path, const TrajectoryReadOptions& options) {
  if (!is_hdf5_file(path)) throw InputError(fmt::format("{}: not an HDF5 file (expected H5MD)", path));
  const H5File file(path, H5Fopen(path.c_str(), H5F_ACC_RDONLY, H5P_DEFAULT));
  if (!file.exists("h5md")) file.fail("an HDF5 file but not H5MD (no /h5md group)");
  const std::string group = particles_group(file);

  const std::optional<H5mdElement> position = open_element(file, group + "/position");
  const std::size_t atoms = position->item_dims.empty() ? 0 : position->item_dims.front();
  if (position->item_dims.size() != 2 || position->item_dims[1] != 3)
    file.fail(fmt::format("{} is not an array of three-dimensional positions", position->name));
  const std::optional<H5mdElement> velocity = open_element(file, group + "/velocity");
  const std::optional<H5mdElement> image = open_element(file, group + "/image");
  const std::optional<H5mdElement> species = open_element(file, group + "/species");
  const std::optional<H5mdElement> mass = open_element(file, group + "/mass");
  const std::optional<H5mdElement> edges = open_element(file, group + "/box/edges");
  if (!species) file.fail(fmt::format("{} has no species; nequip-md needs the chemical species of the atoms", group));

  // Frames stored completely in every time-dependent element (a killed writer may leave some ahead).
  const std::optional<std::vector<std::int64_t>> steps = read_steps(file, *position);
  std::optional<std::vector<double>> times;
  double time_factor = 1.0;
  if (position->time_dependent && file.exists(position->name + "/time")) {
    times = read_sampling<double>(file, position->name + "/time", position->frames, H5T_NATIVE_DOUBLE);
    const Handle time = file.open_dataset(position->name + "/time");
    if (const std::optional<std::string> unit = string_attribute(time.get(), "unit"))
      time_factor = unit_factor(file, position->name + "/time", *unit, 0, 1);
  }
  hsize_t frames = position->frames;
  if (steps) frames = std::min<hsize_t>(frames, steps->size());
  if (times) frames = std::min<hsize_t>(frames, times->size());
  for (const std::optional<H5mdElement>* element : {&velocity, &image, &species, &mass, &edges}) {
    if (!*element || !(*element)->time_dependent) continue;
    frames = std::min(frames, (*element)->frames);
    // Elements sampled at other steps than the positions cannot be paired with them frame by frame.
    const std::optional<std::vector<std::int64_t>> element_steps = read_steps(file, **element);
    if (steps && element_steps &&
        !std::equal(steps->begin(),
                    steps->begin() + static_cast<std::ptrdiff_t>(std::min<hsize_t>(frames, element_steps->size())),
                    element_steps->begin()))
      file.fail(fmt::format("{} is sampled at other steps than {}; nequip-md reads them only together",
                            (*element)->name, position->name));
  }
  if (!times && options.frame_interval_fs <= 0.0 && frames > 1)
    file.fail(fmt::format("{} has no time; give the time between frames (frame interval, fs)", position->name));

  // A writer killed while flushing may leave its last frames on disk without all of their data (nequip-md's
  // files then read NaN or the lowest integer there, or HDF5 cannot read them): such trailing frames are not
  // part of the trajectory.
  const auto complete = [&](hsize_t frame) {
    if ((steps && (*steps)[frame] < 0) || (times && !std::isfinite((*times)[frame]))) return false;
    for (const std::optional<H5mdElement>* element : {&position, &velocity, &edges}) {
      if (!*element || !(*element)->time_dependent) continue;
      std::vector<double> values(product((*element)->item_dims));
      if (!try_read_item(**element, frame, H5T_NATIVE_DOUBLE, values.data()) ||
          !std::all_of(values.begin(), values.end(), [](double value) { return std::isfinite(value); }))
        return false;
    }
    if (image && image->time_dependent) {
      std::vector<int> values(product(image->item_dims));
      if (!try_read_item(*image, frame, H5T_NATIVE_INT, values.data()) ||
          std::find(values.begin(), values.end(), std::numeric_limits<int>::min()) != values.end())
        return false;
    }
    return true;
  };
  while (frames > 0 && !complete(frames - 1)) --frames;
  if (frames == 0) file.fail("H5MD file without any (complete) frame");
  const double length_factor = unit_factor(file, position->name, unit_of(*position).value_or("Angstrom"), 1, 0);
  const double velocity_factor =
      velocity ? unit_factor(file, velocity->name, unit_of(*velocity).value_or("Angstrom fs-1"), 1, -1) : 1.0;
  double edges_factor = length_factor;
  if (edges) {
    if (const std::optional<std::string> unit = unit_of(*edges))
      edges_factor = unit_factor(file, edges->name, *unit, 1, 0);
    const std::vector<hsize_t>& dims = edges->item_dims;
    if (dims != std::vector<hsize_t>{3} && dims != std::vector<hsize_t>{3, 3})
      file.fail(fmt::format("{} is neither a 3-vector nor a 3x3 matrix", edges->name));
  }

  // Box: dimension and boundary attributes (no boundary attribute: periodic if there are edges).
  std::array<bool, 3> pbc{};
  pbc.fill(edges.has_value());
  if (file.exists(group + "/box")) {
    const Handle box = file.open_group(group + "/box");
    if (H5Aexists(box.get(), "dimension") > 0) {
      int dimension = 0;
      Handle attribute(H5Aopen(box.get(), "dimension", H5P_DEFAULT), H5Aclose);
      if (!single_number(attribute.get()) || H5Aread(attribute.get(), H5T_NATIVE_INT, &dimension) < 0 ||
          dimension != 3)
        file.fail(fmt::format("{}/box: dimension {} is not 3", group, dimension));
    }
    if (H5Aexists(box.get(), "boundary") > 0) {
      Handle attribute(H5Aopen(box.get(), "boundary", H5P_DEFAULT), H5Aclose);
      const std::vector<std::string> boundary = read_strings(attribute.get(), true);
      if (boundary.size() != 3) file.fail(fmt::format("{}/box: boundary does not have 3 entries", group));
      for (int axis = 0; axis < 3; ++axis) {
        if (boundary[axis] != "periodic" && boundary[axis] != "none")
          file.fail(fmt::format("{}/box: boundary '{}' is neither periodic nor none", group, boundary[axis]));
        pbc[axis] = boundary[axis] == "periodic";
      }
    }
  }
  if (!edges && (pbc[0] || pbc[1] || pbc[2])) file.fail(fmt::format("{}/box is periodic but has no edges", group));

  Trajectory trajectory;
  trajectory.source = path;
  const std::vector<std::size_t> selected = selected_frames(path, frames, options);
  trajectory.symbols = read_species(file, *species, selected.front(), atoms);
  if (mass) {
    if (mass->item_dims != std::vector<hsize_t>{atoms})
      file.fail(fmt::format("{} does not hold {} masses", mass->name, atoms));
    const std::string unit = unit_of(*mass).value_or("amu");
    if (unit != "amu" && unit != "u" && unit != "Da")
      file.fail(fmt::format("{}: mass unit '{}' is not amu (u, Da)", mass->name, unit));
    trajectory.masses.resize(atoms);
    read_item(file, *mass, selected.front(), H5T_NATIVE_DOUBLE, trajectory.masses.data());
  } else {
    for (const std::string& symbol : trajectory.symbols)
      trajectory.masses.push_back(element_by_symbol(symbol).standard_mass_amu);
  }

  for (const std::size_t index : selected) {
    const auto frame = static_cast<hsize_t>(index);
    TrajectoryFrame out;
    if (steps) {
      if ((*steps)[index] < 0) file.fail(fmt::format("{}: negative step at frame {}", position->name, index));
      out.step = static_cast<std::uint64_t>((*steps)[index]);
    } else {
      out.step = index;
    }
    out.time_fs = times ? (*times)[index] * time_factor : static_cast<double>(index) * options.frame_interval_fs;
    if (species->time_dependent && read_species(file, *species, frame, atoms) != trajectory.symbols)
      file.fail(
          fmt::format("the species change at frame {} (counting from 0); a trajectory needs the same atoms in "
                      "every frame",
                      index));
    out.positions = read_vectors(file, *position, frame, atoms, length_factor);
    if (velocity) out.velocities = read_vectors(file, *velocity, frame, atoms, velocity_factor);
    const auto finite = [](const std::vector<Vec3>& vectors) {
      return std::all_of(vectors.begin(), vectors.end(), [](const Vec3& v) { return v.allFinite(); });
    };
    if (!std::isfinite(out.time_fs) || !finite(out.positions) || !finite(out.velocities))
      file.fail(fmt::format("frame {} (counting from 0) has missing or non-finite data", index));
    if (image) {
      if (image->item_dims != std::vector<hsize_t>{atoms, 3})
        file.fail(fmt::format("{} does not hold {} image vectors per frame", image->name, atoms));
      out.images.resize(atoms);
      read_item(file, *image, frame, H5T_NATIVE_INT, out.images.data());
    }
    Mat3 lattice = Mat3::Zero();
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
      if (edges_factor != 1.0) lattice *= edges_factor;
    }
    try {
      out.cell = Cell(lattice, pbc);
    } catch (const InputError& error) {
      file.fail(fmt::format("box of frame {}: {}", index, error.what()));
    }
    trajectory.frames.push_back(std::move(out));
  }
  return trajectory;
}

namespace {

std::unique_ptr<Observer> create_h5md_trajectory(const TrajectoryWriterOptions& request) {
  H5mdWriterOptions options;
  options.path = request.path;
  options.velocities = request.velocities;
  options.forces = request.forces;
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
