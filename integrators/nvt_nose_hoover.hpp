#pragma once
// [integrator] kind = "nvt_nose_hoover": velocity Verlet with a Nose-Hoover chain thermostat on the atoms, as
// LAMMPS fix nvt: half a step of the chain, velocity Verlet, half a step of the chain (the Trotter splitting
// of Martyna, Tuckerman, Tobias & Klein, Mol. Phys. 87, 1117 (1996)). Samples the canonical ensemble; the
// total momentum is conserved (the chain scales all velocities), so the chain acts on 3N - 3 degrees of freedom.
#include <cstddef>

#include "integrators/integrator.hpp"
#include "integrators/nose_hoover_chain.hpp"

namespace nqmd {

struct NoseHooverParameters {
  double timestep_fs = 1.0;
  double temperature_k = 300.0;
  double tdamp_fs = 100.0;        // thermostat period: Q_1 = Ndof kT tdamp^2, Q_k = kT tdamp^2
  std::size_t chain_length = 3;   // LAMMPS tchain
  int substeps = 1;               // LAMMPS tloop
  int suzuki_yoshida_stages = 1;  // 1, 3, 5 or 7; LAMMPS fix nh has no Suzuki-Yoshida splitting, i.e. 1
};

class NoseHooverNvt : public Integrator {
 public:
  explicit NoseHooverNvt(const NoseHooverParameters& parameters);

  double timestep_fs() const override { return parameters_.timestep_fs; }
  void setup(System& system, const ForceResult& forces) override;
  void step(System& system, ForceProvider& provider, ForceResult& forces) override;
  double extended_energy() const override { return chain_.energy(); }
  IntegratorState save_state() const override;
  void load_state(const IntegratorState& state) override;

  const NoseHooverChain& chain() const { return chain_; }

 private:
  void thermostat_half_step(System& system);

  NoseHooverParameters parameters_;
  NoseHooverChain chain_;
};

}  // namespace nqmd
