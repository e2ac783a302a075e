#pragma once
// [integrator] kind = "nvt_langevin": Langevin dynamics by the BAOAB splitting (Leimkuhler & Matthews, Appl.
// Math. Res. Express 2013, 34): B half kick, A half drift, O exact Ornstein-Uhlenbeck step
//   v <- c1 v + sqrt((1 - c1^2) kT/m) R,   c1 = exp(-friction dt),   R ~ N(0, 1) per component,
// A half drift, B half kick. The configurational distribution is exact to second order in dt with a small
// error constant (exact for a harmonic oscillator's positions). The noise is independent per atom, so total
// momentum is not conserved (the kinetic temperature uses 3N degrees of freedom).
//
// extended_energy() is the kinetic energy the O steps have removed in total (negative when they heated the
// system), so potential + kinetic + extended_energy() is constant up to the integration error of the
// deterministic B and A steps (no exact conservation: it drifts like an NVE run at the same dt).
#include <cstdint>

#include "integrators/integrator.hpp"
#include "integrators/random_stream.hpp"

namespace nqmd {

struct LangevinParameters {
  double timestep_fs = 1.0;
  double temperature_k = 300.0;
  double friction_per_fs = 0.01;  // gamma
  std::uint64_t seed = 1;
};

class LangevinBaoab : public Integrator {
 public:
  explicit LangevinBaoab(const LangevinParameters& parameters);

  double timestep_fs() const override { return parameters_.timestep_fs; }
  void setup(System& system, const ForceResult& forces) override;
  void step(System& system, ForceProvider& provider, ForceResult& forces) override;
  double extended_energy() const override { return heat_removed_ev_; }
  bool conserves_momentum() const override { return false; }
  // integers "random": the generator; reals "heat_removed": the extended energy.
  IntegratorState save_state() const override;
  void load_state(const IntegratorState& state) override;

 private:
  // The O step: exact Ornstein-Uhlenbeck update of every velocity over one time step.
  void thermostat_step(System& system);

  LangevinParameters parameters_;
  RandomStream random_;
  double heat_removed_ev_ = 0.0;
};

}  // namespace nqmd
