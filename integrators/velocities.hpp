#pragma once
// Kinetic energy, kinetic temperature and Maxwell-Boltzmann initial velocities. Units: eV, K, A/fs, amu.
#include <cstddef>
#include <cstdint>

#include "engine/system.hpp"

namespace nqmd {

// Sum of m v^2 / 2 over the atoms (eV).
double kinetic_energy(const System& system);
// Total momentum sum m v (amu A/fs).
Vec3 total_momentum(const System& system);
// Degrees of freedom of the kinetic temperature: 3N - 3 when total momentum is conserved (or removed), else
// 3N; never below 1 for a non-empty system (a single atom keeps its 3).
std::size_t degrees_of_freedom(const System& system, bool momentum_conserved);
// 2 K / (Ndof k_B) (K); 0 for zero degrees of freedom.
double kinetic_temperature(const System& system, std::size_t degrees_of_freedom);
double kinetic_temperature(double kinetic_energy_ev, std::size_t degrees_of_freedom);

// Subtracts the centre-of-mass velocity, so that the total momentum is zero.
void remove_total_momentum(System& system);
// Multiplies all velocities by one factor so that the kinetic temperature with `degrees_of_freedom` is exactly
// `temperature_k`. Returns false (and changes nothing) if the kinetic energy is zero and the target is not.
bool rescale_to_temperature(System& system, double temperature_k, std::size_t degrees_of_freedom);

struct MaxwellBoltzmannOptions {
  double temperature_k = 0.0;
  std::uint64_t seed = 0;
  bool zero_momentum = true;       // subtract the centre-of-mass velocity (then Ndof = 3N - 3)
  bool exact_temperature = false;  // rescale so the kinetic temperature equals temperature_k exactly
};

// Draws every velocity component from the Maxwell-Boltzmann distribution, a Gaussian of variance k_B T / m,
// with RandomStream(seed) (the same numbers on every platform with the same standard library), atom by atom in
// x, y, z order. Then optionally removes the total momentum and rescales to the exact temperature.
void maxwell_boltzmann_velocities(System& system, const MaxwellBoltzmannOptions& options);

}  // namespace nqmd
