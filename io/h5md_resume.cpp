// Resuming an H5MD trajectory: the frames kept are copied into a fresh file, which then replaces the old one.
//
// A run killed while HDF5 was flushing can leave a file whose free-space and chunk-index metadata no longer agree
// with what reached the disk. Such a file still reads (up to its last complete flush), but changing it in place,
// e.g. shrinking its datasets to the restart step, can fail or corrupt it (this happened in about one of 400
// kill-and-restart cycles). So the writer never changes a file it resumes: it reads the frames up to the restart
// step that are complete and copies them, with every group, dataset, attribute and hard link of the file, into
// NAME.tmp, which replace_file_atomically makes durable and renames over NAME.
#include <algorithm>
#include <array>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <map>
#include <optional>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

#include <fmt/format.h>

#include "io/atomic_file.hpp"
#include "io/h5md_internal.hpp"
#include "io/h5md_layout.hpp"

namespace nqmd::h5md {
namespace {

using hdf5::Handle;

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
std::vector<std::string> link_names(const hdf5::File& file, hid_t group, const std::string& path) {
  H5G_info_t info;
  if (H5Gget_info(group, &info) < 0) file.fail(fmt::format("cannot list group {}", path));
  std::vector<std::string> names;
  for (hsize_t k = 0; k < info.nlinks; ++k) {
    std::optional<std::string> name = hdf5::link_name(group, k);
    if (!name || name->empty()) file.fail(fmt::format("cannot read the name of link {} of group {}", k, path));
    names.push_back(std::move(*name));
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

void copy_attributes(const hdf5::File& from, hid_t source, const hdf5::File& to, hid_t target,
                     const std::string& path) {
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
  const hdf5::File& from;
  const hdf5::File& to;
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
  const hdf5::File& from = copy.from;
  const hdf5::File& to = copy.to;
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
    series.frame_bytes = H5Tget_size(series.memory_type.get()) * hdf5::product(series.item_dims);
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
  return hdf5::read_frames(series.source.get(), series.memory_type.get(), first, count, series.item_dims, data);
}

void append_frames(const hdf5::File& file, const SeriesCopy& series, hsize_t first, hsize_t count, const void* data) {
  std::vector<hsize_t> dims{first + count};
  dims.insert(dims.end(), series.item_dims.begin(), series.item_dims.end());
  if (H5Dset_extent(series.target.get(), dims.data()) < 0)
    file.fail(fmt::format("cannot resize {} to {} frames", series.path, first + count));
  if (!hdf5::write_frames(series.target.get(), series.memory_type.get(), first, count, series.item_dims, data))
    file.fail(fmt::format("cannot write frames {} to {} of {} (disk full?)", first, first + count - 1, series.path));
}

// Frames of `data` (`count` of them) that pass the series' check, counted from the first.
hsize_t complete_frames(const SeriesCopy& series, const std::vector<std::uint64_t>& data, hsize_t count,
                        std::int64_t last_step, std::optional<std::int64_t> previous_step) {
  const std::size_t items = hdf5::product(series.item_dims);
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

// The file being resumed, checked before anything is copied: H5MD, and with the fields this run writes if it has
// frames. Returns whether it has frames (a run stopped before its first frame has only the metadata).
bool check_can_continue(const hdf5::File& from, const H5mdWriterOptions& options) {
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
    check_field(kAtomEnergyElement, options.energies);
    check_field("image", options.images);
    if (!from.exists(kPositionStep)) from.fail("cannot append: the file has no position/step");
  }
  return has_frames;
}

// Copies everything in `from` into the new file `to`, the time series up to `last_step` (or, without frames, only
// the metadata); returns the frames kept.
hsize_t copy_up_to_step(const hdf5::File& from, const hdf5::File& to, bool has_frames, std::int64_t last_step) {
  const std::string particles = std::string("/") + kParticles;
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
  return copy_frames(copy, last_step);
}

}  // namespace

hsize_t rewrite_up_to_step(const std::string& path, std::int64_t last_step, const H5mdWriterOptions& options) {
  hsize_t kept = 0;
  replace_file_atomically(path, [&](const std::string& temporary) {
    const hdf5::File from(path, H5Fopen(path.c_str(), H5F_ACC_RDONLY, H5P_DEFAULT));
    const bool has_frames = check_can_continue(from, options);
    const hdf5::File to(temporary, H5Fcreate(temporary.c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT));
    kept = copy_up_to_step(from, to, has_frames, last_step);
    if (H5Fflush(to.id(), H5F_SCOPE_GLOBAL) < 0) to.fail("cannot flush to disk (disk full?)");
  });
  return kept;
}

}  // namespace nqmd::h5md
