#include "integrators/watchdog.hpp"

#include <fmt/format.h>

#include "engine/error.hpp"

namespace nqmd {

const SectionSchema& watchdog_section_schema() {
  static const SectionSchema schema{
      "watchdog",
      "Limits that stop a diverging run early, keeping its last good step. 0 turns a check off.",
      {KeySpec("max_force", KeyType::real, "largest force on any atom (eV/A)").at_least(0.0).defaults_to(100.0),
       KeySpec("max_displacement", KeyType::real, "largest distance any atom moves in one step (A)")
           .at_least(0.0)
           .defaults_to(1.0),
       KeySpec("min_distance", KeyType::real, "closest allowed distance between two atoms (A)")
           .at_least(0.0)
           .defaults_to(0.3),
       KeySpec("max_temperature", KeyType::real, "highest allowed kinetic temperature (K)")
           .at_least(0.0)
           .defaults_to(1e5),
       KeySpec("check_every", KeyType::integer, "steps between checks").at_least(1).defaults_to(std::int64_t{1})}};
  return schema;
}

WatchdogLimits watchdog_limits(const ConfigSection& section) {
  WatchdogLimits limits;
  limits.max_force = section.real("max_force");
  limits.max_displacement = section.real("max_displacement");
  limits.min_distance = section.real("min_distance");
  limits.max_temperature = section.real("max_temperature");
  limits.check_every = static_cast<std::uint64_t>(section.integer("check_every"));
  return limits;
}

void Watchdog::check(std::uint64_t step, const System& system, const std::vector<Vec3>& forces,
                     const std::vector<Vec3>& previous_positions, const std::vector<Vec3i>& previous_images,
                     const NeighborList& neighbors, double temperature) const {
  const std::size_t n = system.size();
  if (limits_.max_force > 0) {
    for (std::size_t i = 0; i < n; ++i)
      if (forces[i].norm() > limits_.max_force)
        throw InputError(fmt::format("step {}: watchdog: the force on atom {} ({}) is {:.6g} eV/A, above max_force = {} "
                                     "eV/A (the dynamics are diverging; [watchdog] sets the limits)",
                                     step, i, system.symbol(i), forces[i].norm(), limits_.max_force));
  }
  if (limits_.max_displacement > 0 && previous_positions.size() == n) {
    for (std::size_t i = 0; i < n; ++i) {
      const double moved =
          (system.positions[i] - previous_positions[i] + system.cell.shift_vector(system.images[i] - previous_images[i]))
              .norm();
      if (moved > limits_.max_displacement)
        throw InputError(fmt::format("step {}: watchdog: atom {} ({}) moved {:.6g} A in one step, above "
                                     "max_displacement = {} A (time step too large, or the dynamics diverge)",
                                     step, i, system.symbol(i), moved, limits_.max_displacement));
    }
  }
  if (limits_.min_distance > 0) {
    const double min_squared = limits_.min_distance * limits_.min_distance;
    for (std::size_t e = 0; e < neighbors.num_edges(); ++e) {
      const int i = neighbors.centers()[e], j = neighbors.neighbors()[e];
      const Vec3 r = system.positions[j] - system.positions[i] + system.cell.shift_vector(neighbors.shifts()[e]);
      if (r.squaredNorm() < min_squared)
        throw InputError(fmt::format("step {}: watchdog: atoms {} ({}) and {} ({}) are {:.6g} A apart, below "
                                     "min_distance = {} A",
                                     step, i, system.symbol(i), j, system.symbol(j), r.norm(), limits_.min_distance));
    }
  }
  if (limits_.max_temperature > 0 && temperature > limits_.max_temperature)
    throw InputError(fmt::format("step {}: watchdog: the temperature is {:.6g} K, above max_temperature = {} K", step,
                                 temperature, limits_.max_temperature));
}

}  // namespace nqmd
