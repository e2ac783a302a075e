#pragma once
// Velocity tools of the integrators: removing the total momentum, rescaling to a temperature, Maxwell-Boltzmann
// initial velocities. Units: K, A/fs, amu. (Kinetic energy and temperature: engine/thermo.hpp.)
#include <cstddef>
#include <cstdint>

#include "engine/system.hpp"
#include "engine/thermo.hpp"

namespace nqmd {

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
