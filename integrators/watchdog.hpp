#pragma once
// [watchdog]: limits that stop a run before a blow-up turns into NaN: the largest force, the largest
// displacement in one step, the closest pair and the temperature. On a violation the run stops with the
// step, the atom(s) and the value, after keeping the last good step (checkpoint, flushed outputs).
#include <cstdint>
#include <vector>

#include "engine/config.hpp"
#include "engine/neighbor_list.hpp"
#include "engine/system.hpp"

namespace nqmd {

struct WatchdogLimits {
  double max_force = 0.0;         // eV/A; 0: off
  double max_displacement = 0.0;  // A per step; 0: off
  double min_distance = 0.0;      // A; 0: off
  double max_temperature = 0.0;   // K; 0: off
  std::uint64_t check_every = 1;            // steps between the per-atom checks (force, displacement, T)
  std::uint64_t distance_check_every = 10;  // steps between closest-pair checks (a pass over all edges)
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

 private:
  WatchdogLimits limits_;
};

}  // namespace nqmd
