#pragma once
// The force evaluation an integrator calls (integrators/integrator.hpp, ForceProvider): it keeps the neighbour
// list valid on its schedule, wraps atoms back into the cell where it rebuilds, refuses positions that mean the
// dynamics diverged, calls the potential, and times the list and the potential separately.
#include <cstdint>
#include <memory>

#include "engine/neighbor_list.hpp"
#include "integrators/integrator.hpp"
#include "potential/potential.hpp"

namespace nqmd {

// When the neighbour list is rebuilt, as LAMMPS' neigh_modify every/check: on steps that are multiples of `every`,
// and then only if an atom has moved more than skin/2 since the last build when `check` (the default, every = 1
// and check = true, is the safe criterion). Without check the list is rebuilt on schedule whatever the atoms did;
// a rebuild at which an atom had moved more than skin/2 is counted as dangerous (pairs may have been missed
// before it), as LAMMPS counts "dangerous builds".
struct NeighborSchedule {
  std::uint64_t every = 1;
  bool check = true;
};

class ForceEvaluation final : public ForceProvider {
 public:
  ForceEvaluation(std::unique_ptr<Potential> potential, double neighbor_skin);

  void set_schedule(NeighborSchedule schedule) { schedule_ = schedule; }
  // The step whose forces the next compute() evaluates: the schedule counts steps, messages name it.
  void set_step(std::uint64_t step) { step_ = step; }
  // The next compute() rebuilds the neighbour list whatever the schedule says (a fresh start, a checkpoint).
  void rebuild_next() { rebuild_next_ = true; }
  bool rebuild_pending() const { return rebuild_next_; }
  // The list as it was built from `positions` in `lattice` (a checkpoint's), for the atoms and pbc of `system`;
  // nothing is wrapped, so the restarted run continues with the list and the positions the original run had.
  void restore_neighbor_list(const System& system, const std::vector<Vec3>& positions, const Mat3& lattice);

  // Forces at the current positions, into result() (which it returns). InputError "step N: atom i ..." if an
  // atom is at a non-finite position or thousands of cells away when the list is rebuilt.
  const ForceResult& compute(System& system) override;

  // The forces of the last evaluation; the run loop hands them to the integrator, restores them from checkpoints.
  ForceResult& result() { return result_; }
  const ForceResult& result() const { return result_; }
  const Potential& potential() const { return *potential_; }
  const NeighborList& neighbor_list() const { return neighbors_; }
  // Scheduled rebuilds (check = false) at which an atom had moved more than skin/2.
  std::uint64_t dangerous_builds() const { return dangerous_builds_; }
  // Wall seconds spent so far in neighbour-list checks and builds, and in the potential.
  double neighbor_seconds() const { return neighbor_seconds_; }
  double potential_seconds() const { return potential_seconds_; }

 private:
  void check_positions_sane(const System& system) const;

  std::unique_ptr<Potential> potential_;
  NeighborList neighbors_;
  NeighborSchedule schedule_;
  ForceResult result_;
  std::uint64_t step_ = 0;
  bool rebuild_next_ = true;
  std::uint64_t dangerous_builds_ = 0;
  double neighbor_seconds_ = 0.0, potential_seconds_ = 0.0;
};

}  // namespace nqmd
