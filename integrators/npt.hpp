#pragma once
// [integrator] kind = "npt": isotropic Martyna-Tobias-Klein barostat (J. Chem. Phys. 101, 4177 (1994)) with
// Nose-Hoover chains on the atoms and on the barostat, in the Trotter splitting of Martyna, Tuckerman, Tobias &
// Klein, Mol. Phys. 87, 1117 (1996), as LAMMPS fix npt with "iso" (fix_nh.cpp, which follows Shinoda, Shiga &
// Mikami, Phys. Rev. B 69, 134103 (2004)). Needs a cell periodic along all three axes.
//
// The barostat variable is the strain rate omega_dot (1/fs) of each axis (all three equal), with mass
// W = (N + 1) kT pdamp^2 per axis, driven by
//   W d(omega_dot)/dt = (P - P_target) V + 2K/(3N) - W omega_dot v_b1,   P = (2K + tr(virial)) / (3V),
// the cell dilating as dV/dt = 3 V omega_dot and the velocities feeling -(1 + 1/N) omega_dot v (the MTK
// coupling). Conserved with the physical energy: the particle chain energy, the barostat chain energy (one
// degree of freedom), 3 W omega_dot^2 / 2 and P_target V.
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
  // "barostat_thermostat_velocities", "strain_rate" (omega_dot) and "volume" (for extended_energy()).
  IntegratorState save_state() const override;
  void load_state(const IntegratorState& state) override;

  double strain_rate() const { return strain_rate_; }

 private:
  void barostat_thermostat_half_step();
  void thermostat_half_step(System& system);
  // omega_dot += dt/2 [(P - P_target) V + 2K/(3N)] / W, with P from the current velocities, cell and virial.
  void barostat_half_kick(const System& system, const ForceResult& forces);
  // v *= exp(-dt/2 (1 + 1/N) omega_dot).
  void scale_velocities_by_barostat(System& system) const;
  // Cell and positions scaled by exp(dt/2 omega_dot) (about the origin; unwrapped positions scale alike).
  void dilate_half_step(System& system);

  NptParameters parameters_;
  NoseHooverChain thermostat_;
  NoseHooverChain barostat_thermostat_;
  double strain_rate_ = 0.0;      // omega_dot (1/fs)
  double barostat_mass_ = 0.0;    // W (eV fs^2)
  double atoms_ = 0.0;            // N
  double target_pressure_ = 0.0;  // eV/A^3
  double volume_ = 0.0;           // A^3, the cell's volume after the last step
};

}  // namespace nqmd
