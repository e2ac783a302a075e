// The run loop's finite-value check: a potential whose energy is not finite names the atoms whose energy or force
// is not finite, and the closest neighbour of the first, before any step is taken.
#include <catch2/catch.hpp>

#include <cmath>
#include <limits>
#include <memory>
#include <string>

#include "engine/error.hpp"
#include "engine/simulation.hpp"
#include "input_error_message.hpp"
#include "integrators/integrator_test_support.hpp"
#include "potential/potential.hpp"

using namespace nqmd;

namespace {

// No interactions, but NaN energy and force on two given atoms (as a model evaluated far outside its range might
// give).
class NanForPair final : public Potential {
 public:
  NanForPair(std::size_t first, std::size_t second) : first_(first), second_(second) {}
  double cutoff() const override { return 3.0; }
  NeighborListKind neighbor_list_kind() const override { return NeighborListKind::full; }
  void check_system(const System&) const override {}
  void compute(const System& system, const NeighborList&, ForceResult& result) override {
    result.reset(system.size());
    const double nan = std::numeric_limits<double>::quiet_NaN();
    for (const std::size_t atom : {first_, second_}) {
      result.atom_energies[atom] = nan;
      result.forces[atom] = Vec3(nan, 0.0, 0.0);
    }
    result.energy = nan;
  }

 private:
  std::size_t first_, second_;
};

}  // namespace

TEST_CASE("simulation: a non-finite energy names the atoms and the closest neighbour", "[simulation]") {
  System system;
  system.cell = Cell(Mat3::Identity() * 20.0, {true, true, true});
  system.add_atom("Ar", Vec3(1.0, 1.0, 1.0));
  system.add_atom("Ar", Vec3(5.0, 5.0, 5.0));
  system.add_atom("Ne", Vec3(5.5, 5.0, 5.0));
  system.add_atom("Ar", Vec3(9.0, 9.0, 9.0));
  Simulation simulation(std::move(system), std::make_unique<NanForPair>(1, 2),
                        test::make_integrator("kind = \"nve\"\ntimestep = 1.0\n"), 0.5);
  const std::string message = test::input_error_message([&] { simulation.initialize(); });
  CHECK_THAT(message, Catch::Contains("step 0: the potential energy is nan: atoms 1 (Ar), 2 (Ne); atom 1 is 0.5 A "
                                      "from atom 2 (Ne)"));
}
