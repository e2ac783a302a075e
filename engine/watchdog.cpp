#include "engine/watchdog.hpp"

#include <cmath>

#include <fmt/format.h>

#include "engine/error.hpp"
#include "engine/log.hpp"

namespace nqmd {
namespace {

// How many warnings about atoms outside the training data a run prints before it only counts them.
constexpr int kExtrapolationWarnings = 10;

// A warning is printed when a pair is at least this much (A) deeper inside its trained distance than the last one
// said; a pair lingering just inside is counted only.
constexpr double kWarnDeeperBy = 0.025;

}  // namespace

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
           .defaults_to(std::int64_t{10}),
       KeySpec("model_extrapolation", KeyType::string,
               "atoms with a neighbour closer than any such pair in the model's training data: warn, stop or off")
           .one_of({"warn", "stop", "off"})
           .defaults_to("warn"),
       KeySpec("extrapolation_margin", KeyType::real,
               "count only pairs closer than the closest trained pair minus this (A)")
           .at_least(0.0)
           .defaults_to(0.0)}};
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
  const std::string extrapolation = section.string("model_extrapolation");
  limits.model_extrapolation = extrapolation == "stop"  ? WatchdogLimits::Extrapolation::stop
                               : extrapolation == "off" ? WatchdogLimits::Extrapolation::off
                                                        : WatchdogLimits::Extrapolation::warn;
  limits.extrapolation_margin = section.real("extrapolation_margin");
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
    for (std::size_t i = 0; i < n; ++i) {
      for (std::size_t e = neighbors.offsets()[i]; e < neighbors.offsets()[i + 1]; ++e) {
        const int j = neighbors.neighbors()[e];
        // Most edges join atoms in the same image: their vector needs no lattice product (this pass reads every
        // edge, every distance_check_every steps).
        const Vec3 r = neighbors.shifts()[e].isZero() ? Vec3(system.positions[j] - system.positions[i])
                                                      : neighbors.edge_vector(system, e);
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

void Watchdog::check_extrapolation(std::uint64_t step, const System& system,
                                   const std::vector<ExtrapolationEvent>& events) {
  if (limits_.model_extrapolation == WatchdogLimits::Extrapolation::off) return;
  ++tally_.steps_checked;
  std::size_t outside = 0;
  const ExtrapolationEvent* worst = nullptr;
  for (const ExtrapolationEvent& event : events) {
    if (!(event.depth() > limits_.extrapolation_margin)) continue;
    ++outside;
    if (worst == nullptr || event.depth() > worst->depth()) worst = &event;
  }
  if (outside == 0) return;
  if (tally_.steps_outside == 0) tally_.first_step = step;
  ++tally_.steps_outside;
  tally_.most_atoms = std::max(tally_.most_atoms, outside);
  const bool deepest = !tally_.worst || worst->depth() > tally_.worst->depth();
  const bool stop = limits_.model_extrapolation == WatchdogLimits::Extrapolation::stop;
  // Warn at the first step outside, then when a pair is kWarnDeeperBy deeper than the last warning said.
  const bool warn = !stop && tally_.warnings_printed < kExtrapolationWarnings &&
                    (tally_.warnings_printed == 0 || worst->depth() >= tally_.warned_depth + kWarnDeeperBy);
  if (!deepest && !stop && !warn) return;  // counted only: no text to format
  const std::string text = describe_extrapolation(*worst, system);
  if (deepest) {
    tally_.worst = *worst;
    tally_.worst_step = step;
    tally_.worst_text = text;
  }
  const std::string others = outside > 1 ? fmt::format(" ({} atoms outside in all)", outside) : "";
  if (stop)
    throw InputError(fmt::format("step {}: watchdog: model extrapolation: {}{} ([watchdog] model_extrapolation = "
                                 "\"warn\" lets the run continue)",
                                 step, text, others));
  if (warn) {
    tally_.warned_depth = worst->depth();
    ++tally_.warnings_printed;
    log::warn("step {}: model extrapolation: {}{}{}", step, text, others,
              tally_.warnings_printed == kExtrapolationWarnings ? "; further ones are counted, not printed" : "");
  }
}

std::string Watchdog::extrapolation_summary() const {
  if (limits_.model_extrapolation == WatchdogLimits::Extrapolation::off || tally_.steps_checked == 0) return "";
  if (tally_.steps_outside == 0)
    return fmt::format("model extrapolation: no atom outside the training data's closest pairs in {} force "
                       "evaluations",
                       tally_.steps_checked);
  return fmt::format("model extrapolation: {} of {} force evaluations had atoms outside the training data's closest "
                     "pairs (first at step {}, at most {} atoms at once); the deepest, at step {}: {}",
                     tally_.steps_outside, tally_.steps_checked, tally_.first_step, tally_.most_atoms,
                     tally_.worst_step, tally_.worst_text);
}

}  // namespace nqmd
