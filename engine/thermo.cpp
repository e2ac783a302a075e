#include "engine/thermo.hpp"

#include "engine/units.hpp"

namespace nqmd {

double kinetic_energy(const System& system) {
  double twice_kinetic = 0.0;  // amu A^2/fs^2
  for (std::size_t i = 0; i < system.size(); ++i)
    twice_kinetic += system.masses[i] * system.velocities[i].squaredNorm();
  return 0.5 * twice_kinetic * units::amu_a2_per_fs2_to_ev;
}

Vec3 total_momentum(const System& system) {
  Vec3 momentum = Vec3::Zero();
  for (std::size_t i = 0; i < system.size(); ++i) momentum += system.masses[i] * system.velocities[i];
  return momentum;
}

std::size_t degrees_of_freedom(const System& system, bool momentum_conserved) {
  const std::size_t all = 3 * system.size();
  if (momentum_conserved && system.size() > 1) return all - 3;
  return all;
}

double kinetic_temperature(double kinetic_energy_ev, std::size_t degrees_of_freedom) {
  if (degrees_of_freedom == 0) return 0.0;
  return 2.0 * kinetic_energy_ev / (static_cast<double>(degrees_of_freedom) * units::boltzmann_ev_per_k);
}

double kinetic_temperature(const System& system, std::size_t degrees_of_freedom) {
  return kinetic_temperature(kinetic_energy(system), degrees_of_freedom);
}

double virial_pressure(double kinetic_energy_ev, const Mat3& virial, double volume) {
  return (2.0 * kinetic_energy_ev + virial.trace()) / (3.0 * volume);
}

Mat3 pressure_tensor(const System& system, const Mat3& virial, double volume) {
  Mat3 kinetic = Mat3::Zero();  // amu A^2/fs^2
  for (std::size_t i = 0; i < system.size(); ++i)
    kinetic += system.masses[i] * system.velocities[i] * system.velocities[i].transpose();
  return (kinetic * units::amu_a2_per_fs2_to_ev + virial) / volume;
}

}  // namespace nqmd
