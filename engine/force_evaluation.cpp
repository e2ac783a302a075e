#include "engine/force_evaluation.hpp"

#include <algorithm>

#include <fmt/format.h>

#include "engine/error.hpp"
#include "engine/stopwatch.hpp"

namespace nqmd {

ForceEvaluation::ForceEvaluation(std::unique_ptr<Potential> potential, double neighbor_skin)
    : potential_(std::move(potential)),
      neighbors_(potential_->cutoff(), neighbor_skin, potential_->neighbor_list_kind()) {}

const ForceResult& ForceEvaluation::compute(System& system) {
  Stopwatch clock;
  bool rebuild = rebuild_next_;
  if (!rebuild && step_ % schedule_.every == 0) {
    const bool moved_too_far = neighbors_.needs_rebuild(system);
    rebuild = moved_too_far || !schedule_.check;
    if (moved_too_far && !schedule_.check) ++dangerous_builds_;
  }
  if (rebuild) {
    check_positions_sane(system);
    // Rebuilds are where atoms are wrapped back into the cell; image counters keep the unwrapped path.
    system.wrap_into_cell();
    neighbors_.build(system);
    rebuild_next_ = false;
  }
  neighbor_seconds_ += clock.lap();
  potential_->compute(system, neighbors_, result_);
  potential_seconds_ += clock.lap();
  return result_;
}

void ForceEvaluation::restore_neighbor_list(const System& system, const std::vector<Vec3>& positions,
                                            const Mat3& lattice) {
  System as_built = system;
  as_built.positions = positions;
  as_built.cell = Cell(lattice, system.cell.pbc());
  neighbors_.build(as_built);
  rebuild_next_ = false;
}

void ForceEvaluation::check_positions_sane(const System& system) const {
  // An atom thousands of cells away (or at infinity) means the dynamics diverged; binning it would overflow.
  const double limit = 1e4 * std::max(1.0, system.cell.perpendicular_widths().maxCoeff()) + 1e6;
  for (std::size_t i = 0; i < system.size(); ++i)
    if (!system.positions[i].allFinite() || system.positions[i].cwiseAbs().maxCoeff() > limit)
      throw InputError(fmt::format("step {}: atom {} ({}) is at ({:.6g}, {:.6g}, {:.6g}) A, far outside the cell (the "
                                   "simulation blew up; try a smaller timestep or check the structure)",
                                   step_, i, system.symbol(i), system.positions[i].x(), system.positions[i].y(),
                                   system.positions[i].z()));
}

}  // namespace nqmd
