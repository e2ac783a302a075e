#pragma once
// Trajectory formats, registered as the styles are (engine/registry.hpp): each writer registers its name, the file
// endings it writes and a factory in its own .cpp file, and a run picks the format that matches the name of
// [output] trajectory_file. A new format is one Observer class and one registration; nothing else changes.
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "engine/error.hpp"
#include "engine/observer.hpp"

namespace nqmd {

// What a run asks of its trajectory writer, whatever the format.
struct TrajectoryWriterOptions {
  std::string path;
  bool velocities = true;  // positions are always written
  bool forces = false;
  bool energies = false;   // per-atom potential energies (LAMMPS pe/atom, ASE get_potential_energies)
  bool images = true;
  int compression_level = 0;    // deflate level of formats that compress, 0 (none) to 9
  std::size_t flush_every = 1;  // frames between flushes to disk (>= 1)
  bool overwrite = false;       // replace an existing file (without it, an existing file is an InputError)
  // Restart: keep the existing file's frames up to this step and append (the file is created if absent).
  std::optional<std::uint64_t> resume_after_step;
};

struct TrajectoryFormat {
  std::string name;                  // e.g. "H5MD 1.1"
  std::vector<std::string> endings;  // file name endings, e.g. ".h5", ".h5md"
  bool writes_images = false;        // whether it can store image counters
  std::function<std::unique_ptr<Observer>(const TrajectoryWriterOptions&)> create;
};

// What a writer says when its file exists and it may neither replace nor continue it.
InputError existing_trajectory_error(const std::string& path);

class TrajectoryFormatRegistry {
 public:
  static TrajectoryFormatRegistry& instance();
  bool add(TrajectoryFormat format);
  // The format whose endings match `path`, or null.
  const TrajectoryFormat* for_path(const std::string& path) const;
  // Every ending, in the order of the formats' names: ".h5, .h5md, .extxyz or .xyz".
  std::string endings_text() const;

 private:
  std::vector<TrajectoryFormat> formats_;
};

}  // namespace nqmd
