#pragma once
// [integrator] kind = "nve": velocity Verlet (Swope, Andersen, Berens & Wilson, J. Chem. Phys. 76, 637 (1982)),
// microcanonical, symplectic and time reversible.
#include "integrators/integrator.hpp"

namespace nqmd {

class VelocityVerlet : public Integrator {
 public:
  explicit VelocityVerlet(double timestep_fs);

  double timestep_fs() const override { return timestep_fs_; }
  void setup(System& system, const ForceResult& forces) override;
  void step(System& system, ForceProvider& provider, ForceResult& forces) override;

 private:
  double timestep_fs_;
};

}  // namespace nqmd
