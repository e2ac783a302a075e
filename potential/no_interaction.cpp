// [potential] kind = "none": no forces at all (an ideal gas; as LAMMPS pair_style none). Useful for testing
// thermostats and the kinetic part of the pressure.
#include <memory>

#include "potential/potential.hpp"

namespace nqmd {
namespace {

class NoInteraction final : public Potential {
 public:
  double cutoff() const override { return 0.0; }
  void check_system(const System& /*system*/) const override {}
  void compute(const System& system, const NeighborList& /*neighbors*/, ForceResult& result) override {
    result.reset(system.size());
  }
};

const bool registered = PotentialRegistry::instance().add(
    {"none", SectionSchema{"none", "No interactions: zero energy, forces and virial (an ideal gas).", {}},
     [](const ConfigSection& /*section*/, const System& /*system*/) -> std::unique_ptr<Potential> {
       return std::make_unique<NoInteraction>();
     }});

}  // namespace
}  // namespace nqmd
