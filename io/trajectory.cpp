#include "io/trajectory.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <limits>
#include <optional>
#include <type_traits>

#include "engine/error.hpp"
#include "engine/log.hpp"
#include "io/extxyz.hpp"
#include "io/h5md.hpp"

namespace nqmd {
namespace {

// Value of an info key written by nequip-md's trajectory writer (step, time_fs), if the frame has it.
template <typename T>
std::optional<T> info_number(const std::string& path, const Frame& frame, std::size_t index, const char* key) {
  const std::string* text = frame.find_info(key);
  if (text == nullptr) return std::nullopt;
  T value{};
  if constexpr (std::is_floating_point_v<T>) {
    char* end = nullptr;
    value = std::strtod(text->c_str(), &end);
    if (text->empty() || *end != '\0' || !std::isfinite(value))
      throw InputError(fmt::format("{}: frame {} (counting from 0): {}={} is not a number", path, index, key, *text));
  } else {
    const auto [end, error] = std::from_chars(text->data(), text->data() + text->size(), value);
    if (error != std::errc() || end != text->data() + text->size())
      throw InputError(
          fmt::format("{}: frame {} (counting from 0): {}={} is not a non-negative integer", path, index, key, *text));
  }
  return value;
}

Trajectory read_extxyz_trajectory(const std::string& path, const TrajectoryReadOptions& options) {
  ExtxyzReader reader(path);
  std::size_t count = 0;
  bool truncated = false;
  try {
    count = reader.count_complete_frames(truncated);
  } catch (const InputError& error) {
    throw InputError(fmt::format("{}: neither H5MD nor a readable extended XYZ trajectory ({})", path, error.what()));
  }
  // A writer killed inside a frame leaves it incomplete; the frames before it are what was written.
  if (truncated) log::warn("{}: the last frame is incomplete (a killed writer?); reading the {} complete ones", path, count);
  if (count == 0) throw InputError(fmt::format("{}: no frames (expected an H5MD or extended XYZ trajectory)", path));

  Trajectory trajectory;
  trajectory.source = path;
  bool velocities = false;
  for (const std::size_t index : selected_frames(path, count, options)) {
    const Frame frame = reader.read(static_cast<long>(index));
    const System& system = frame.system;
    const std::string where = fmt::format("{}: frame {} (counting from 0)", path, index);
    if (trajectory.frames.empty()) {
      trajectory.symbols = system.symbols();
      trajectory.masses = system.masses;
      velocities = frame.has_velocities;
    } else {
      if (system.size() != trajectory.atoms())
        throw InputError(
            fmt::format("{} has {} atoms but the first frame read has {}; a trajectory needs the same "
                        "atoms in every frame",
                        where, system.size(), trajectory.atoms()));
      if (system.symbols() != trajectory.symbols)
        throw InputError(
            fmt::format("{}: the species differ from the first frame read; a trajectory needs the same "
                        "atoms in every frame",
                        where));
      if (frame.has_velocities != velocities)
        throw InputError(fmt::format("{} {} velocities but the first frame read {}", where,
                                     frame.has_velocities ? "has" : "has no", velocities ? "has" : "has none"));
    }
    TrajectoryFrame out;
    out.step = info_number<std::uint64_t>(path, frame, index, "step").value_or(index);
    if (const std::optional<double> time = info_number<double>(path, frame, index, "time_fs")) {
      out.time_fs = *time;
    } else if (options.frame_interval_fs > 0.0) {
      out.time_fs = static_cast<double>(index) * options.frame_interval_fs;
    } else if (!options.require_times) {
      out.time_fs = std::numeric_limits<double>::quiet_NaN();
      trajectory.has_times = false;
    } else {
      throw InputError(
          fmt::format("{} has no time_fs info key; give the time between frames (frame interval, fs)", where));
    }
    out.cell = system.cell;
    out.positions = system.positions;
    if (velocities) out.velocities = system.velocities;
    trajectory.frames.push_back(std::move(out));
  }
  return trajectory;
}

}  // namespace

std::vector<std::size_t> selected_frames(const std::string& path, std::size_t count,
                                         const TrajectoryReadOptions& options) {
  if (options.stride == 0) throw InputError(fmt::format("{}: frame stride must be at least 1", path));
  if (count == 0) throw InputError(fmt::format("{}: the trajectory has no frames", path));
  if (options.first_frame >= count)
    throw InputError(fmt::format("{}: first frame {} is beyond the last frame; the trajectory has {} frames", path,
                                 options.first_frame, count));
  const std::size_t last = std::min(options.last_frame.value_or(count - 1), count - 1);
  if (last < options.first_frame)
    throw InputError(fmt::format("{}: last frame {} is before the first frame {}", path, last, options.first_frame));
  std::vector<std::size_t> frames;
  for (std::size_t frame = options.first_frame; frame <= last; frame += options.stride) frames.push_back(frame);
  return frames;
}

Trajectory read_trajectory(const std::string& path, const TrajectoryReadOptions& options) {
  std::error_code error;
  if (!std::filesystem::exists(path, error)) throw InputError(fmt::format("{}: trajectory file not found", path));
  if (is_hdf5_file(path)) return read_h5md(path, options);
  return read_extxyz_trajectory(path, options);
}

std::vector<std::vector<Vec3>> Trajectory::unwrapped_positions() const {
  std::vector<std::vector<Vec3>> unwrapped(frames.size());
  const std::size_t n = atoms();
  const bool have_images =
      std::all_of(frames.begin(), frames.end(), [n](const TrajectoryFrame& frame) { return frame.images.size() == n; });
  // Image counts along non-periodic axes carry no meaning (H5MD stores zeros there); they never shift a position.
  const auto periodic_part = [](const Cell& cell, Vec3i image) {
    for (int axis = 0; axis < 3; ++axis)
      if (!cell.periodic(axis)) image[axis] = 0;
    return image;
  };
  std::vector<Vec3i> counters(n, Vec3i::Zero());
  std::vector<Vec3> previous_fractional(n);
  for (std::size_t f = 0; f < frames.size(); ++f) {
    const TrajectoryFrame& frame = frames[f];
    const Cell& cell = frame.cell;
    unwrapped[f].resize(n);
    for (std::size_t i = 0; i < n; ++i) {
      if (have_images) {
        unwrapped[f][i] = frame.positions[i] + cell.shift_vector(periodic_part(cell, frame.images[i]));
        continue;
      }
      // Jump rule: a change of a fractional coordinate by about +-1 between frames is a wrap, undone by an
      // image counter. Fractional coordinates of each frame's own cell keep this right in triclinic and
      // fluctuating cells.
      const Vec3 fractional = cell.to_fractional(frame.positions[i]);
      if (f > 0) {
        for (int axis = 0; axis < 3; ++axis)
          if (cell.periodic(axis))
            counters[i][axis] -= static_cast<int>(std::lround(fractional[axis] - previous_fractional[i][axis]));
      }
      previous_fractional[i] = fractional;
      unwrapped[f][i] = frame.positions[i] + cell.shift_vector(counters[i]);
    }
  }
  return unwrapped;
}

}  // namespace nqmd
