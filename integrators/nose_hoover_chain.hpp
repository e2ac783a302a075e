#pragma once
// A Nose-Hoover chain thermostat (Martyna, Klein & Tuckerman, J. Chem. Phys. 97, 2635 (1992)) acting on a set
// of degrees of freedom with kinetic energy K, propagated by the Trotter factorisation with nresn sub-steps
// and a Suzuki-Yoshida scheme of Martyna, Tuckerman, Tobias & Klein, Mol. Phys. 87, 1117 (1996), in the form
// of LAMMPS fix nh (nhc_temp_integrate). Shared by nvt_nose_hoover (thermostat on the atoms) and npt
// (thermostats on the atoms and on the barostat).
//
// Chain variables as in LAMMPS: positions eta_k (dimensionless) and velocities v_k = d eta_k/dt (1/fs),
// masses Q_1 = Ndof kT tdamp^2, Q_k = kT tdamp^2 (eV fs^2). Equations of motion (MKT 1992):
//   dv_1/dt = (2K - Ndof kT)/Q_1 - v_1 v_2,
//   dv_k/dt = (Q_{k-1} v_{k-1}^2 - kT)/Q_k - v_k v_{k+1},   dv_M/dt = (Q_{M-1} v_{M-1}^2 - kT)/Q_M,
// and the thermostatted velocities feel -v_1 v. Conserved with the physical energy:
//   sum_k Q_k v_k^2/2 + Ndof kT eta_1 + kT sum_{k>1} eta_k.
#include <cstddef>
#include <string>
#include <vector>

#include "integrators/integrator.hpp"

namespace nqmd {

class NoseHooverChain {
 public:
  // length >= 1 thermostats; substeps >= 1; suzuki_yoshida_stages 1, 3, 5 or 7 (std::invalid_argument otherwise).
  NoseHooverChain(std::size_t length, int substeps, int suzuki_yoshida_stages);

  // Masses for `degrees_of_freedom` thermostatted degrees of freedom at temperature kt (eV), period tdamp (fs).
  // Leaves the chain positions and velocities as they are.
  void set_masses(double degrees_of_freedom, double kt, double tdamp_fs);

  // Propagates the chain over `dt_fs` (a half step in the integrators) for thermostatted degrees of freedom
  // of kinetic energy twice_kinetic_energy / 2 (eV). Returns the factor by which their velocities must be
  // multiplied.
  double propagate(double twice_kinetic_energy, double dt_fs);

  // sum_k Q_k v_k^2 / 2 + Ndof kT eta_1 + kT sum_{k>1} eta_k (eV).
  double energy() const;

  std::size_t length() const { return positions_.size(); }
  const std::vector<double>& positions() const { return positions_; }
  const std::vector<double>& velocities() const { return velocities_; }

  // Checkpoint as reals "<prefix>_positions" and "<prefix>_velocities".
  void save(IntegratorState& state, const std::string& prefix) const;
  // Throws InputError if the arrays are missing or their length differs from the chain length.
  void load(const IntegratorState& state, const std::string& prefix);

 private:
  // Force G_k on thermostat k (1/fs^2): the first is driven by the thermostatted kinetic energy, the others
  // by the kinetic energy of the previous thermostat.
  double force(std::size_t k, double twice_kinetic_energy) const;
  // Velocity of thermostat k: friction by thermostat k+1 for half_dt/2, kick by G_k for half_dt, friction again.
  void update_velocity(std::size_t k, double twice_kinetic_energy, double half_dt);

  std::vector<double> positions_;   // eta_k
  std::vector<double> velocities_;  // v_k (1/fs)
  std::vector<double> masses_;      // Q_k (eV fs^2)
  double degrees_of_freedom_ = 0.0;
  double kt_ = 0.0;
  int substeps_;
  std::vector<double> suzuki_yoshida_weights_;
};

// The chain keys of nvt_nose_hoover and npt: chain_length (default 3, LAMMPS tchain), nresn (default 1, LAMMPS
// tloop) and suzuki_yoshida, the number of Suzuki-Yoshida stages (default 1: LAMMPS fix nh has no
// Suzuki-Yoshida splitting).
std::vector<KeySpec> nose_hoover_chain_keys();
// The suzuki_yoshida key, checked to be 1, 3, 5 or 7 (InputError otherwise).
int suzuki_yoshida_stages(const ConfigSection& section);
// The thermostat or barostat period `key` (fs); InputError naming it if shorter than the section's timestep.
double thermostat_period(const ConfigSection& section, const std::string& key);
// Bound on chain lengths and sub-steps: beyond it the cost, not the accuracy, grows.
constexpr double kMostChainSteps = 100;

}  // namespace nqmd
