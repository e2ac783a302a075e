#pragma once
// [integrator] kind = "npt": Martyna-Tobias-Klein barostat (J. Chem. Phys. 101, 4177 (1994)) with Nose-Hoover
// chains on the atoms and on the barostat, in the Trotter splitting of Martyna, Tuckerman, Tobias & Klein, Mol.
// Phys. 87, 1117 (1996), as LAMMPS fix npt "iso" or "aniso" (fix_nh.cpp, which follows Shinoda, Shiga & Mikami,
// Phys. Rev. B 69, 134103 (2004)). Needs a cell periodic along all three axes; "aniso" an orthorhombic one.
//
// The barostat variables are the strain rates omega_dot_a (1/fs) of the axes a = x, y, z, each with mass
// W = (N + 1) kT pdamp^2, driven by
//   W d(omega_dot_a)/dt = (P_a - P_target) V + 2K/(3N) - W omega_dot_a v_b1,
// the cell edge along a growing as d(L_a)/dt = omega_dot_a L_a and the velocities feeling
// -(omega_dot_a + sum_b omega_dot_b / (3N)) v_a (the MTK coupling). Isotropic coupling keeps the three equal and
// drives them with P = (2K + tr(virial)) / (3V); anisotropic coupling drives each with the diagonal component
// P_a = (sum m v_a^2 + virial_aa) / V of the pressure tensor, so each axis relaxes to the target pressure on its
// own (a tetragonal or strained crystal finds its own c/a). Conserved with the physical energy: the particle
// chain energy, the barostat chain energy, sum_a W omega_dot_a^2 / 2 and P_target V. The barostat chain
// thermostats one degree of freedom with isotropic coupling (as LAMMPS) and three with anisotropic coupling
// (its first mass 3 kT pdamp^2, MTK's d kT tau^2; LAMMPS keeps kT pdamp^2 there).
#include <cstddef>

#include "integrators/integrator.hpp"
#include "integrators/nose_hoover_chain.hpp"

namespace nqmd {

struct NptParameters {
  double timestep_fs = 1.0;
  double temperature_k = 300.0;
  double tdamp_fs = 100.0;
  double pressure_bar = 1.0;
  double pdamp_fs = 1000.0;
  bool anisotropic = false;  // each axis its own strain rate (LAMMPS aniso); otherwise one for all (iso)
  std::size_t chain_length = 3;           // LAMMPS tchain
  std::size_t barostat_chain_length = 3;  // LAMMPS pchain
  int substeps = 1;                       // LAMMPS tloop and ploop
  int suzuki_yoshida_stages = 1;
};

class MtkNpt : public Integrator {
 public:
  explicit MtkNpt(const NptParameters& parameters);

  double timestep_fs() const override { return parameters_.timestep_fs; }
  // Throws InputError unless the cell is periodic along all three axes.
  void setup(System& system, const ForceResult& forces) override;
  void step(System& system, ForceProvider& provider, ForceResult& forces) override;
  double extended_energy() const override;
  // reals: "thermostat_positions", "thermostat_velocities", "barostat_thermostat_positions",
  // "barostat_thermostat_velocities", "strain_rate" (omega_dot: one value, or one per axis with anisotropic
  // coupling) and "volume" (for extended_energy()).
  IntegratorState save_state() const override;
  void load_state(const IntegratorState& state) override;

  // omega_dot of axis x, y, z (all equal with isotropic coupling).
  Vec3 strain_rates() const { return strain_rate_; }

 private:
  void barostat_thermostat_half_step();
  void thermostat_half_step(System& system);
  // omega_dot_a += dt/2 [(P_a - P_target) V + 2K/(3N)] / W, with P_a (or P) from the current velocities, cell
  // and virial.
  void barostat_half_kick(const System& system, const ForceResult& forces);
  // v_a *= exp(-dt/2 (omega_dot_a + sum_b omega_dot_b / (3N))).
  void scale_velocities_by_barostat(System& system) const;
  // Cell and positions scaled along each axis by exp(dt/2 omega_dot_a) (about the origin; unwrapped positions
  // scale alike).
  void dilate_half_step(System& system);

  NptParameters parameters_;
  NoseHooverChain thermostat_;
  NoseHooverChain barostat_thermostat_;
  Vec3 strain_rate_ = Vec3::Zero();  // omega_dot per axis (1/fs)
  double barostat_mass_ = 0.0;    // W (eV fs^2)
  double atoms_ = 0.0;            // N
  double target_pressure_ = 0.0;  // eV/A^3
  double volume_ = 0.0;           // A^3, the cell's volume after the last step
};

}  // namespace nqmd
