// The watchdog's model-extrapolation check in the run loop: two free atoms fly at each other at a known speed, so
// the step at which they come closer than a potential's trained closest distance is known in closed form. A test
// potential reports them (as NequipPotential does from its training record); the watchdog must count, warn, stop
// at that step with the last good step kept, honour the margin, and stay silent when off or without a domain.
#include <catch2/catch.hpp>

#include <memory>
#include <string>

#include "engine/error.hpp"
#include "engine/simulation.hpp"
#include "engine/watchdog.hpp"
#include "integrators/integrator_test_support.hpp"
#include "potential/potential.hpp"

using namespace nqmd;

namespace {

// No forces; atoms closer than `trained` to another atom are outside its "training domain" (brute force).
class NoForcesWithDomain final : public Potential {
 public:
  NoForcesWithDomain(double trained, bool has_domain) : trained_(trained), has_domain_(has_domain) {}
  double cutoff() const override { return 3.0; }
  NeighborListKind neighbor_list_kind() const override { return NeighborListKind::full; }
  void check_system(const System&) const override {}
  void compute(const System& system, const NeighborList&, ForceResult& result) override {
    result.reset(system.size());
    if (!has_domain_) return;
    for (std::size_t i = 0; i < system.size(); ++i)
      for (std::size_t j = 0; j < system.size(); ++j) {
        const double distance = (system.positions[j] - system.positions[i]).norm();
        if (i != j && distance < trained_) result.extrapolation.push_back({i, j, distance, trained_});
      }
  }
  std::string training_domain() const override { return has_domain_ ? "Ar-Ar 1.905 A" : ""; }

 private:
  double trained_;
  bool has_domain_;
};

constexpr double kTrained = 1.905;  // A
constexpr double kSpeed = 0.005;    // A/fs per atom: the pair closes 0.01 A per 1 fs step from 2.0 A

Simulation approaching_pair(const std::string& policy, double margin, bool has_domain = true) {
  System system;
  system.add_atom("Ar", Vec3(0.0, 0.0, 0.0));
  system.add_atom("Ar", Vec3(2.0, 0.0, 0.0));
  system.velocities[0] = Vec3(kSpeed, 0.0, 0.0);
  system.velocities[1] = Vec3(-kSpeed, 0.0, 0.0);
  Simulation simulation(std::move(system), std::make_unique<NoForcesWithDomain>(kTrained, has_domain),
                        test::make_integrator("kind = \"nve\"\ntimestep = 1.0\n"), 0.5);
  WatchdogLimits limits;
  limits.model_extrapolation = policy == "stop"  ? WatchdogLimits::Extrapolation::stop
                               : policy == "off" ? WatchdogLimits::Extrapolation::off
                                                 : WatchdogLimits::Extrapolation::warn;
  limits.extrapolation_margin = margin;
  simulation.set_watchdog(Watchdog(limits));
  simulation.initialize();
  return simulation;
}

}  // namespace

TEST_CASE("extrapolation watchdog: warn counts the steps a pair is closer than trained", "[watchdog][extrapolation]") {
  // Separation 2.0 - 0.01 n A at step n: below 1.905 A from step 10 on; 20 steps: steps 10..20 are outside.
  Simulation simulation = approaching_pair("warn", 0.0);
  simulation.run_until(20);
  const ExtrapolationTally& tally = simulation.watchdog()->extrapolation_tally();
  CHECK(tally.steps_checked == 21);  // steps 0..20
  CHECK(tally.steps_outside == 11);
  CHECK(tally.first_step == 10);
  CHECK(tally.most_atoms == 2);
  REQUIRE(tally.worst);
  CHECK(tally.worst_step == 20);
  CHECK(tally.worst->distance == Approx(1.8).epsilon(1e-12));
  // A warning at the first step outside (0.005 A inside), then each time the pair is 0.025 A deeper than the last
  // warning said: steps 13 (0.035 A), 16 (0.065 A) and 19 (0.095 A).
  CHECK(tally.warnings_printed == 4);
  CHECK(tally.warned_depth == Approx(0.095).epsilon(1e-9));
  const std::string summary = simulation.watchdog()->extrapolation_summary();
  CHECK(summary.find("11 of 21 force evaluations") != std::string::npos);
  CHECK(summary.find("first at step 10") != std::string::npos);
  CHECK(summary.find("the deepest, at step 20: atom 0 (Ar) is 1.8000 A from atom 1 (Ar), 5.51% closer than any Ar-Ar "
                     "pair in the training data (1.9050 A)") != std::string::npos);
}

TEST_CASE("extrapolation watchdog: stop ends the run at the first step outside, keeping the step before",
          "[watchdog][extrapolation]") {
  Simulation simulation = approaching_pair("stop", 0.0);
  std::string message;
  try {
    simulation.run_until(20);
  } catch (const InputError& error) {
    message = error.what();
  }
  INFO(message);
  CHECK(message.rfind("step 10: watchdog: model extrapolation: atom 0 (Ar) is 1.9000 A from atom 1 (Ar), 0.262% "
                      "closer than any Ar-Ar pair in the training data (1.9050 A) (2 atoms outside in all)",
                      0) == 0);
  CHECK(simulation.step() == 9);
  // The end-of-run summary (printed after the error too) counts the step that stopped the run.
  CHECK(simulation.watchdog()->extrapolation_summary().find("1 of 11 force evaluations had atoms outside the training "
                                                            "data's closest pairs (first at step 10") != std::string::npos);
  CHECK((simulation.system().positions[1] - simulation.system().positions[0]).norm() == Approx(1.91).epsilon(1e-12));
}

TEST_CASE("extrapolation watchdog: the margin, off, and potentials without a training domain",
          "[watchdog][extrapolation]") {
  SECTION("margin 0.05 A: outside once closer than 1.855 A, from step 15") {
    Simulation simulation = approaching_pair("warn", 0.05);
    simulation.run_until(20);
    CHECK(simulation.watchdog()->extrapolation_tally().first_step == 15);
    CHECK(simulation.watchdog()->extrapolation_tally().steps_outside == 6);
  }
  SECTION("off") {
    Simulation simulation = approaching_pair("off", 0.0);
    simulation.run_until(20);
    CHECK(simulation.watchdog()->extrapolation_tally().steps_checked == 0);
    CHECK(simulation.watchdog()->extrapolation_summary().empty());
  }
  SECTION("no domain: nothing is checked or summarised") {
    Simulation simulation = approaching_pair("stop", 0.0, false);
    simulation.run_until(20);
    CHECK(simulation.step() == 20);
    CHECK(simulation.watchdog()->extrapolation_summary().empty());
  }
  SECTION("in the domain all along: the summary says so") {
    Simulation simulation = approaching_pair("warn", 0.0);
    simulation.run_until(5);
    CHECK(simulation.watchdog()->extrapolation_summary() ==
          "model extrapolation: no atom outside the training data's closest pairs in 6 force evaluations");
  }
}
