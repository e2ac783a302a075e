#pragma once
// Kinetic energy, degrees of freedom and kinetic temperature of a System (metal units with fs).
#include "engine/system.hpp"

namespace nqmd {

// sum 1/2 m v^2 (eV).
double kinetic_energy(const System& system);
// 3N, less 3 when the total momentum is conserved (fixed at zero), as LAMMPS counts them.
double degrees_of_freedom(const System& system, bool momentum_conserved);
// T = 2 K / (N_dof k_B) (K); 0 if there are no degrees of freedom.
double kinetic_temperature(double kinetic_energy_ev, double degrees_of_freedom);
// Kinetic-energy tensor sum m v (x) v (eV), for the kinetic part of the pressure tensor.
Mat3 kinetic_tensor(const System& system);

}  // namespace nqmd
