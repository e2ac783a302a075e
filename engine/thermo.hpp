#pragma once
// Thermodynamic quantities of a System, computed in one place for the run loop, the integrators and the
// analyses. Units: eV, K, A/fs, amu, A^3; pressure eV/A^3 (units::ev_per_a3_to_bar for bar).
#include <cstddef>

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
// Pressure from the kinetic energy and the virial W = -dE/d(strain) (eV, potential/potential.hpp):
// P V = (2 K + trace W) / 3, as LAMMPS' compute pressure with its N_dof k_B T = 2 K. `volume` in A^3.
double virial_pressure(double kinetic_energy_ev, const Mat3& virial, double volume);
// The pressure tensor (sum m v v^T + W) / V (eV/A^3), whose trace / 3 is virial_pressure.
Mat3 pressure_tensor(const System& system, const Mat3& virial, double volume);

}  // namespace nqmd
