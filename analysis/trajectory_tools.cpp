#include "analysis/trajectory_tools.hpp"

#include <cmath>

#include <fmt/format.h>

#include "engine/error.hpp"

namespace nqmd::analysis {
namespace {

// Relative tolerance on the spacing of frame times (times may have been stored in single precision).
constexpr double kFrameSpacingTolerance = 1e-3;

}  // namespace

SpeciesTable::SpeciesTable(const std::vector<std::string>& symbols) : species_of_atom_(symbols.size()) {
  for (std::size_t atom = 0; atom < symbols.size(); ++atom) {
    std::size_t species = 0;
    while (species < names_.size() && names_[species] != symbols[atom]) ++species;
    if (species == names_.size()) {
      names_.push_back(symbols[atom]);
      atoms_.emplace_back();
    }
    atoms_[species].push_back(atom);
    species_of_atom_[atom] = species;
  }
}

std::size_t SpeciesTable::index_of(const std::string& symbol) const {
  for (std::size_t species = 0; species < names_.size(); ++species)
    if (names_[species] == symbol) return species;
  throw InputError(fmt::format("species '{}' is not in the trajectory (it has {})", symbol, list()));
}

std::string SpeciesTable::list() const { return fmt::format("{}", fmt::join(names_, ", ")); }

void check_frame(const Trajectory& trajectory, const TrajectoryFrame& frame, std::size_t frame_index) {
  const std::size_t atoms = trajectory.atoms();
  if (frame.positions.size() != atoms)
    throw InputError(fmt::format(
        "{}: frame {} has {} atoms but the trajectory has {}: the atom count must not "
        "change between frames",
        trajectory.source.empty() ? "trajectory" : trajectory.source, frame_index, frame.positions.size(), atoms));
  const TrajectoryFrame* first = trajectory.frames.empty() ? &frame : &trajectory.frames.front();
  const bool velocities_expected = !first->velocities.empty();
  if (frame.velocities.size() != (velocities_expected ? atoms : 0))
    throw InputError(
        fmt::format("frame {} has {} velocities but {} were expected (every frame or none must have "
                    "one per atom)",
                    frame_index, frame.velocities.size(), velocities_expected ? atoms : 0));
  const bool images_expected = !first->images.empty();
  if (frame.images.size() != (images_expected ? atoms : 0))
    throw InputError(
        fmt::format("frame {} has {} image counters but {} were expected (every frame or none must "
                    "have one per atom)",
                    frame_index, frame.images.size(), images_expected ? atoms : 0));
}

void check_frames(const Trajectory& trajectory) {
  if (trajectory.atoms() == 0) throw InputError("the trajectory has no atoms");
  for (std::size_t k = 0; k < trajectory.frames.size(); ++k) check_frame(trajectory, trajectory.frames[k], k);
}

double mean_volume(const Trajectory& trajectory) {
  double volume = 0.0;
  for (const TrajectoryFrame& frame : trajectory.frames) volume += frame.cell.volume();
  return volume / static_cast<double>(trajectory.frames.size());
}

double uniform_frame_interval(const Trajectory& trajectory, const std::string& analysis) {
  const std::vector<TrajectoryFrame>& frames = trajectory.frames;
  if (!trajectory.has_times)
    throw InputError(fmt::format("{} needs the frames' times, but {} records none (give its frame_interval, fs)",
                                 analysis, trajectory.source));
  if (frames.size() < 2)
    throw InputError(
        fmt::format("not enough frames for {}: the trajectory has {}, at least 2 are needed", analysis, frames.size()));
  const double interval = (frames.back().time_fs - frames.front().time_fs) / static_cast<double>(frames.size() - 1);
  if (!(interval > 0.0))
    throw InputError(
        fmt::format("{} needs increasing frame times, but the first frame is at {} fs and the last at "
                    "{} fs",
                    analysis, frames.front().time_fs, frames.back().time_fs));
  for (std::size_t k = 1; k < frames.size(); ++k) {
    const double expected = frames.front().time_fs + static_cast<double>(k) * interval;
    if (std::abs(frames[k].time_fs - expected) > kFrameSpacingTolerance * interval)
      throw InputError(
          fmt::format("{} needs evenly spaced frames, but frame {} is at {} fs instead of {} fs "
                      "(interval {} fs)",
                      analysis, k, frames[k].time_fs, expected, interval));
  }
  return interval;
}

}  // namespace nqmd::analysis
