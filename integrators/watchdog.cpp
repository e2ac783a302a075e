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
       KeySpec("check_every", KeyType::integer, "steps between the force, displacement and temperature checks")
           .at_least(1)
           .defaults_to(std::int64_t{1}),
       KeySpec("distance_check_every", KeyType::integer, "steps between closest-pair checks (a pass over all pairs)")
           .at_least(1)
           .defaults_to(std::int64_t{10})}};
  return schema;
}

WatchdogLimits watchdog_limits(const ConfigSection& section) {
  WatchdogLimits limits;
  limits.max_force = section.real("max_force");
  limits.max_displacement = section.real("max_displacement");
  limits.min_distance = section.real("min_distance");
  limits.max_temperature = section.real("max_temperature");
  limits.check_every = static_cast<std::uint64_t>(section.integer("check_every"));
  limits.distance_check_every = static_cast<std::uint64_t>(section.integer("distance_check_every"));
  return limits;
}

void Watchdog::check(std::uint64_t step, const System& system, const std::vector<Vec3>& forces,
                     const std::vector<Vec3>& previous_positions, const std::vector<Vec3i>& previous_images,
                     const NeighborList& neighbors, double temperature) const {
  const std::size_t n = system.size();
  const bool per_atom_checks = step % limits_.check_every == 0;
  if (per_atom_checks && limits_.max_force > 0) {
    const double max_squared = limits_.max_force * limits_.max_force;
    for (std::size_t i = 0; i < n; ++i)
      if (forces[i].squaredNorm() > max_squared)
        throw InputError(fmt::format("step {}: watchdog: the force on atom {} ({}) is {:.6g} eV/A, above max_force = {} "
                                     "eV/A (the dynamics are diverging; [watchdog] sets the limits)",
                                     step, i, system.symbol(i), forces[i].norm(), limits_.max_force));
  }
  if (per_atom_checks && limits_.max_displacement > 0 && previous_positions.size() == n) {
    const double max_squared = limits_.max_displacement * limits_.max_displacement;
    for (std::size_t i = 0; i < n; ++i) {
      Vec3 step_vector = system.positions[i] - previous_positions[i];
      if (system.images[i] != previous_images[i])
        step_vector += system.cell.shift_vector(system.images[i] - previous_images[i]);
      if (step_vector.squaredNorm() <= max_squared) continue;
      const double moved = step_vector.norm();
      if (moved > limits_.max_displacement)
        throw InputError(fmt::format("step {}: watchdog: atom {} ({}) moved {:.6g} A in one step, above "
                                     "max_displacement = {} A (time step too large, or the dynamics diverge)",
                                     step, i, system.symbol(i), moved, limits_.max_displacement));
    }
  }
  if (step % limits_.distance_check_every == 0 && limits_.min_distance > 0) {
    const double min_squared = limits_.min_distance * limits_.min_distance;
    const Mat3 lattice_columns = system.cell.lattice().transpose();
    for (std::size_t i = 0; i < n; ++i) {
      for (std::size_t e = neighbors.offsets()[i]; e < neighbors.offsets()[i + 1]; ++e) {
        const int j = neighbors.neighbors()[e];
        Vec3 r = system.positions[j] - system.positions[i];
        if (neighbors.shifts()[e] != Vec3i::Zero()) r += lattice_columns * neighbors.shifts()[e].cast<double>();
        if (r.squaredNorm() < min_squared)
          throw InputError(fmt::format("step {}: watchdog: atoms {} ({}) and {} ({}) are {:.6g} A apart, below "
                                       "min_distance = {} A",
                                       step, i, system.symbol(i), j, system.symbol(j), r.norm(), limits_.min_distance));
      }
    }
  }
  if (per_atom_checks && limits_.max_temperature > 0 && temperature > limits_.max_temperature)
    throw InputError(fmt::format("step {}: watchdog: the temperature is {:.6g} K, above max_temperature = {} K", step,
                                 temperature, limits_.max_temperature));
}

}  // namespace nqmd
