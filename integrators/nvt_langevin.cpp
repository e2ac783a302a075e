#include "integrators/nvt_langevin.hpp"

#include <cmath>

#include "engine/units.hpp"
#include "integrators/stochastic_state.hpp"
#include "integrators/verlet_steps.hpp"

namespace nqmd {

LangevinBaoab::LangevinBaoab(const LangevinParameters& parameters)
    : parameters_(parameters), random_(parameters.seed) {}

void LangevinBaoab::setup(System& /*system*/, const ForceResult& /*forces*/) {}

void LangevinBaoab::thermostat_step(System& system) {
  const double decay = std::exp(-parameters_.friction_per_fs * parameters_.timestep_fs);  // c1
  const double noise = std::sqrt(1.0 - decay * decay);
  // kT/m in (A/fs)^2 per amu of mass.
  const double kt_per_mass = units::boltzmann_ev_per_k * parameters_.temperature_k * units::ev_per_a_amu_to_a_per_fs2;
  double kinetic_change = 0.0;  // amu (A/fs)^2, twice the kinetic energy change
  for (std::size_t i = 0; i < system.size(); ++i) {
    Vec3& velocity = system.velocities[i];
    const double mass = system.masses[i];
    const double before = velocity.squaredNorm();
    const double sigma = noise * std::sqrt(kt_per_mass / mass);
    for (int axis = 0; axis < 3; ++axis) velocity[axis] = decay * velocity[axis] + sigma * random_.gaussian();
    kinetic_change += mass * (velocity.squaredNorm() - before);
  }
  heat_removed_ev_ -= 0.5 * kinetic_change * units::amu_a2_per_fs2_to_ev;
}

void LangevinBaoab::step(System& system, ForceProvider& provider, ForceResult& forces) {
  const double half_step = 0.5 * parameters_.timestep_fs;
  kick(system, forces, half_step);
  drift(system, half_step);
  thermostat_step(system);
  drift(system, half_step);
  update_forces(system, provider, forces);
  kick(system, forces, half_step);
}

IntegratorState LangevinBaoab::save_state() const {
  IntegratorState state;
  save_stochastic_state(state, random_, heat_removed_ev_);
  return state;
}

void LangevinBaoab::load_state(const IntegratorState& state) {
  load_stochastic_state(state, random_, heat_removed_ev_);
}

namespace {

SectionSchema langevin_schema() {
  return {"nvt_langevin",
          "Langevin thermostat, BAOAB splitting (Leimkuhler & Matthews 2013).",
          {KeySpec("temperature", KeyType::real, "target temperature (K)").at_least(0.0).require(),
           KeySpec("friction", KeyType::real, "friction coefficient gamma (1/fs); 1/gamma is the damping time")
               .greater_than(0.0)
               .require(),
           KeySpec("seed", KeyType::integer, "seed of the random number generator (equal seeds, equal runs)")
               .at_least(0)
               .defaults_to(std::int64_t{1})}};
}

std::unique_ptr<Integrator> create_langevin(const ConfigSection& section) {
  LangevinParameters parameters;
  parameters.timestep_fs = section.real("timestep");
  parameters.temperature_k = section.real("temperature");
  parameters.friction_per_fs = section.real("friction");
  parameters.seed = static_cast<std::uint64_t>(section.integer("seed"));
  return std::make_unique<LangevinBaoab>(parameters);
}

const bool registered = IntegratorRegistry::instance().add({"nvt_langevin", langevin_schema(), create_langevin});

}  // namespace
}  // namespace nqmd
