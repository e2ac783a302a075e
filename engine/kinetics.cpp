#include "engine/kinetics.hpp"

#include "engine/units.hpp"

namespace nqmd {

double kinetic_energy(const System& system) {
  double twice = 0.0;
  for (std::size_t i = 0; i < system.size(); ++i) twice += system.masses[i] * system.velocities[i].squaredNorm();
  return 0.5 * twice * units::amu_a2_per_fs2_to_ev;
}

double degrees_of_freedom(const System& system, bool momentum_conserved) {
  const double all = 3.0 * static_cast<double>(system.size());
  return momentum_conserved && system.size() > 1 ? all - 3.0 : all;
}

double kinetic_temperature(double kinetic_energy_ev, double degrees_of_freedom) {
  if (degrees_of_freedom <= 0) return 0.0;
  return 2.0 * kinetic_energy_ev / (degrees_of_freedom * units::boltzmann_ev_per_k);
}

Mat3 kinetic_tensor(const System& system) {
  Mat3 tensor = Mat3::Zero();
  for (std::size_t i = 0; i < system.size(); ++i)
    tensor += system.masses[i] * system.velocities[i] * system.velocities[i].transpose();
  return tensor * units::amu_a2_per_fs2_to_ev;
}

}  // namespace nqmd
