#pragma once
// Checks and views of a Trajectory shared by the analyses: species and their atoms, constant atom counts,
// an even frame spacing.
#include <string>
#include <vector>

#include "io/trajectory.hpp"

namespace nqmd::analysis {

// Species of a trajectory in order of first appearance, and the atoms of each.
class SpeciesTable {
 public:
  explicit SpeciesTable(const std::vector<std::string>& symbols);

  std::size_t count() const { return names_.size(); }
  const std::vector<std::string>& names() const { return names_; }
  // InputError "species 'X' is not in the trajectory (it has A, B)".
  std::size_t index_of(const std::string& symbol) const;
  const std::vector<std::size_t>& atoms(std::size_t species) const { return atoms_[species]; }
  const std::vector<std::size_t>& atoms_of(const std::string& symbol) const { return atoms_[index_of(symbol)]; }
  std::size_t species_of_atom(std::size_t atom) const { return species_of_atom_[atom]; }
  // "A, B, C", for messages.
  std::string list() const;

 private:
  std::vector<std::string> names_;
  std::vector<std::vector<std::size_t>> atoms_;
  std::vector<std::size_t> species_of_atom_;
};

// InputError if a frame's atom count differs from the trajectory's, or if frames disagree on whether they
// hold velocities or image counters (each present array must have one entry per atom).
void check_frame(const Trajectory& trajectory, const TrajectoryFrame& frame, std::size_t frame_index);
// check_frame for every frame; InputError if there are no atoms.
void check_frames(const Trajectory& trajectory);

// Constant time between frames (fs). InputError naming `analysis` if there are fewer than two frames, or the
// times do not increase evenly (to 1e-3 of the interval: MSD and VACF assume a uniform time grid).
double uniform_frame_interval(const Trajectory& trajectory, const std::string& analysis);

// Mean cell volume over the frames (A^3; 0 for frames without a periodic cell).
double mean_volume(const Trajectory& trajectory);

}  // namespace nqmd::analysis
