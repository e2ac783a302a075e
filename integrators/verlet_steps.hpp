#pragma once
// The pieces of velocity Verlet shared by the integrators: kick (velocities by forces), drift (positions by
// velocities) and taking over the forces a ForceProvider computed.
#include "engine/units.hpp"
#include "integrators/integrator.hpp"

namespace nqmd {

// v += dt F / m (dt in fs; F/m in eV/(A amu) converted to A/fs^2).
inline void kick(System& system, const ForceResult& forces, double dt_fs) {
  for (std::size_t i = 0; i < system.size(); ++i)
    system.velocities[i] += (dt_fs * units::ev_per_a_amu_to_a_per_fs2 / system.masses[i]) * forces.forces[i];
}

// x += dt v.
inline void drift(System& system, double dt_fs) {
  for (std::size_t i = 0; i < system.size(); ++i) system.positions[i] += dt_fs * system.velocities[i];
}

inline void scale_velocities(System& system, double factor) {
  for (Vec3& velocity : system.velocities) velocity *= factor;
}

// Forces at the current positions into `forces` (the provider may hand back `forces` itself).
inline void update_forces(System& system, ForceProvider& provider, ForceResult& forces) {
  const ForceResult& computed = provider.compute(system);
  if (&computed != &forces) forces = computed;
}

// One velocity Verlet step (kick dt/2, drift dt, new forces, kick dt/2) between two thermostat half steps, the
// Trotter splitting of the NVT integrators: `thermostat_half_step(system)` acts on the velocities.
template <typename ThermostatHalfStep>
void thermostatted_verlet_step(System& system, ForceProvider& provider, ForceResult& forces, double dt_fs,
                               ThermostatHalfStep&& thermostat_half_step) {
  thermostat_half_step(system);
  kick(system, forces, 0.5 * dt_fs);
  drift(system, dt_fs);
  update_forces(system, provider, forces);
  kick(system, forces, 0.5 * dt_fs);
  thermostat_half_step(system);
}

}  // namespace nqmd
