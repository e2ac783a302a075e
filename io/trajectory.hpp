#pragma once
// A trajectory in memory, for analysis: the same atoms over many frames. Positions A (as stored: wrapped or
// not), velocities A/fs, times fs. Unwrapped positions come from image counters when the file has them,
// else from the minimum-image jump rule between consecutive frames (valid only while no atom moves more than
// half a cell width between two stored frames).
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "engine/cell.hpp"

namespace nqmd {

struct TrajectoryFrame {
  std::uint64_t step = 0;
  double time_fs = 0.0;
  Cell cell;
  std::vector<Vec3> positions;
  std::vector<Vec3> velocities;  // empty if the file has none
  std::vector<Vec3i> images;     // empty if the file has none
};

struct Trajectory {
  std::string source;                      // file it was read from
  std::vector<std::string> symbols;        // per atom, constant over frames
  std::vector<double> masses;              // per atom (amu)
  std::vector<TrajectoryFrame> frames;
  // False if the file records no times and no frame interval was given (TrajectoryReadOptions::require_times
  // off): the frames' time_fs are NaN, and only analyses of structure may use them.
  bool has_times = true;

  std::size_t atoms() const { return symbols.size(); }
  bool has_velocities() const { return !frames.empty() && !frames.front().velocities.empty(); }
  // Unwrapped positions of every frame (image counters, or the minimum-image jump rule); A.
  std::vector<std::vector<Vec3>> unwrapped_positions() const;
};

struct TrajectoryReadOptions {
  // Time between stored frames (fs) for files that do not record times (plain extxyz); 0: take the file's.
  double frame_interval_fs = 0.0;
  std::size_t first_frame = 0;
  std::optional<std::size_t> last_frame;  // inclusive
  std::size_t stride = 1;
  // Without times in the file or frame_interval_fs, an InputError; off: read with Trajectory::has_times false.
  bool require_times = true;
};

// Indices in the file of the frames that `options` selects among `count`: first_frame, then every stride-th up
// to last_frame (inclusive; clamped to the file's last frame). InputError naming `path` if the stride is 0, the
// file has no frames, or first_frame is beyond its last frame.
std::vector<std::size_t> selected_frames(const std::string& path, std::size_t count,
                                         const TrajectoryReadOptions& options);

// Reads an H5MD file (nequip-md's own or another program's) or a multi-frame extxyz file, by content.
// InputError (naming the file) if it is neither, if N or the species change between frames, or if times are
// missing and no frame interval is given.
Trajectory read_trajectory(const std::string& path, const TrajectoryReadOptions& options = {});

}  // namespace nqmd
