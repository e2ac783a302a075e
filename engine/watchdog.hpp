#pragma once
// [watchdog]: limits that stop a run before a blow-up turns into NaN: the largest force, the largest
// displacement in one step, the closest pair and the temperature. On a violation the run stops with the
// step, the atom(s) and the value, after keeping the last good step (checkpoint, flushed outputs).
//
// Model extrapolation: potentials that know their training domain (NequIP models trained by nequip-md, or given
// their training data) list the atoms with a neighbour closer than any pair of the same species in the training
// data (ForceResult::extrapolation). The watchdog warns about them (the first steps in full, then a count at the
// end of the run), stops the run like a violated limit, or ignores them.
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "engine/config.hpp"
#include "engine/neighbor_list.hpp"
#include "engine/system.hpp"
#include "potential/potential.hpp"

namespace nqmd {

struct WatchdogLimits {
  double max_force = 0.0;         // eV/A; 0: off
  double max_displacement = 0.0;  // A per step; 0: off
  double min_distance = 0.0;      // A; 0: off
  double max_temperature = 0.0;   // K; 0: off
  std::uint64_t check_every = 1;            // steps between the per-atom checks (force, displacement, T)
  std::uint64_t distance_check_every = 10;  // steps between closest-pair checks (a pass over all edges)
  enum class Extrapolation { off, warn, stop };
  Extrapolation model_extrapolation = Extrapolation::warn;
  double extrapolation_margin = 0.0;  // A: only pairs closer than the closest trained pair minus this count
};

// What the extrapolation check saw in a run (this invocation; a restarted run counts afresh).
struct ExtrapolationTally {
  std::uint64_t steps_checked = 0, steps_outside = 0, first_step = 0;
  std::size_t most_atoms = 0;  // the most atoms outside in one step
  std::optional<ExtrapolationEvent> worst;  // the deepest pair (ExtrapolationEvent::depth())
  std::uint64_t worst_step = 0;
  std::string worst_text;  // the worst event, described
  int warnings_printed = 0;
  double warned_depth = 0.0;  // depth (A) of the pair of the last warning printed
};

const SectionSchema& watchdog_section_schema();
WatchdogLimits watchdog_limits(const ConfigSection& section);

class Watchdog {
 public:
  explicit Watchdog(WatchdogLimits limits) : limits_(limits) {}
  bool due(std::uint64_t step) const {
    return step % limits_.check_every == 0 || step % limits_.distance_check_every == 0;
  }
  // Throws InputError "step N: ..." naming the atom(s) and value on a violation. `previous_positions` and
  // `previous_images` are the atoms of the previous step (for the displacement across wraps).
  void check(std::uint64_t step, const System& system, const std::vector<Vec3>& forces,
             const std::vector<Vec3>& previous_positions, const std::vector<Vec3i>& previous_images,
             const NeighborList& neighbors, double temperature) const;
  // The extrapolation check of one step's force evaluation (every step, step 0 included): counts and warns, or
  // throws InputError "step N: ..." when model_extrapolation = "stop".
  void check_extrapolation(std::uint64_t step, const System& system, const std::vector<ExtrapolationEvent>& events);
  const ExtrapolationTally& extrapolation_tally() const { return tally_; }
  bool checks_extrapolation() const { return limits_.model_extrapolation != WatchdogLimits::Extrapolation::off; }
  // One line for the end of a run ("" if the check is off or the potential has no training domain).
  std::string extrapolation_summary() const;

 private:
  WatchdogLimits limits_;
  ExtrapolationTally tally_;
};

}  // namespace nqmd
