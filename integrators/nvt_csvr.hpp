#pragma once
// [integrator] kind = "nvt_csvr": canonical sampling through velocity rescaling (Bussi, Donadio & Parrinello,
// J. Chem. Phys. 126, 014101 (2007)). The kinetic energy K of the Ndof = 3N - 3 degrees of freedom follows
//   dK = (K_target - K) dt/tdamp + 2 sqrt(K K_target / (Ndof tdamp)) dW,   K_target = Ndof kT / 2,
// which is integrated exactly over each half step (their appendix) and imposed by scaling all velocities by
// one factor. A step is: thermostat dt/2, velocity Verlet, thermostat dt/2. Total momentum is conserved.
//
// extended_energy() is the kinetic energy the thermostat has removed in total, so potential + kinetic +
// extended_energy() is conserved up to the integration error of velocity Verlet (their "effective energy").
#include <cstddef>
#include <cstdint>

#include "integrators/integrator.hpp"
#include "integrators/random_stream.hpp"

namespace nqmd {

struct CsvrParameters {
  double timestep_fs = 1.0;
  double temperature_k = 300.0;
  double tdamp_fs = 100.0;  // relaxation time of the kinetic energy
  std::uint64_t seed = 1;
};

class CsvrThermostat : public Integrator {
 public:
  explicit CsvrThermostat(const CsvrParameters& parameters);

  double timestep_fs() const override { return parameters_.timestep_fs; }
  void setup(System& system, const ForceResult& forces) override;
  void step(System& system, ForceProvider& provider, ForceResult& forces) override;
  double extended_energy() const override { return heat_removed_ev_; }
  // integers "random": the generator; reals "heat_removed": the extended energy.
  IntegratorState save_state() const override;
  void load_state(const IntegratorState& state) override;

  // The factor alpha by which velocities are scaled to evolve kinetic energy K (eV, > 0) for dt_fs under the
  // stochastic dynamics above, drawn exactly: alpha^2 K is the new kinetic energy. Needs setup() first.
  double rescaling_factor(double kinetic_energy_ev, double dt_fs);

 private:
  void thermostat_half_step(System& system);

  CsvrParameters parameters_;
  RandomStream random_;
  std::size_t degrees_of_freedom_ = 0;
  double heat_removed_ev_ = 0.0;
};

}  // namespace nqmd
