#include "integrators/velocities.hpp"

#include <cmath>

#include "engine/units.hpp"
#include "integrators/random_stream.hpp"

namespace nqmd {

void remove_total_momentum(System& system) {
  double total_mass = 0.0;
  for (double mass : system.masses) total_mass += mass;
  if (total_mass <= 0.0) return;
  const Vec3 centre_of_mass_velocity = total_momentum(system) / total_mass;
  for (Vec3& velocity : system.velocities) velocity -= centre_of_mass_velocity;
}

bool rescale_to_temperature(System& system, double temperature_k, std::size_t degrees_of_freedom) {
  const double current = kinetic_temperature(system, degrees_of_freedom);
  if (current <= 0.0) return temperature_k == 0.0;
  const double factor = std::sqrt(temperature_k / current);
  for (Vec3& velocity : system.velocities) velocity *= factor;
  return true;
}

void maxwell_boltzmann_velocities(System& system, const MaxwellBoltzmannOptions& options) {
  RandomStream random(options.seed);
  const double kt = units::boltzmann_ev_per_k * options.temperature_k;
  for (std::size_t i = 0; i < system.size(); ++i) {
    // Standard deviation sqrt(kT/m): eV/amu converted to (A/fs)^2.
    const double sigma = std::sqrt(kt / system.masses[i] * units::ev_per_a_amu_to_a_per_fs2);
    for (int axis = 0; axis < 3; ++axis) system.velocities[i][axis] = sigma * random.gaussian();
  }
  if (options.zero_momentum) remove_total_momentum(system);
  if (options.exact_temperature)
    rescale_to_temperature(system, options.temperature_k, degrees_of_freedom(system, options.zero_momentum));
}

}  // namespace nqmd
