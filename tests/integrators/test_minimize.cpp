// Energy minimisation (integrators/minimizer.hpp): FIRE and CG on a Lennard-Jones fcc crystal with random
// displacements, against independent references: the generalised forces of the relaxation problem against finite
// differences of the enthalpy, the relaxed energy against the lattice sum, the relaxed lattice constant against
// the minimum of the lattice sum E(a) found by a golden-section search.
#include <cmath>
#include <iomanip>
#include <random>
#include <string>
#include <vector>

#include <catch2/catch.hpp>
#include <toml++/toml.h>

#include "engine/units.hpp"
#include "fcc_lattice_sum.hpp"
#include "input_error_message.hpp"
#include "integrators/integrator_test_support.hpp"
#include "integrators/minimizer.hpp"

namespace nqmd::test {
namespace {

// The [minimize] section of an input, validated.
ConfigSection minimize_section(const std::string& body) {
  static std::vector<std::unique_ptr<toml::table>> documents;  // the section keeps pointing into its table
  documents.push_back(std::make_unique<toml::table>(toml::parse("[minimize]\n" + body)));
  return ConfigSection((*documents.back())["minimize"].as_table(), "test.toml", minimize_section_schema(), "");
}

std::unique_ptr<Minimizer> make_minimizer(const std::string& algorithm) {
  return create_minimizer(minimize_section("algorithm = \"" + algorithm + "\""));
}

// The potential of LennardJonesLiquid, for the lattice sums.
constexpr TruncatedLennardJones kArgon{kArgonEpsilon, kArgonSigma, kArgonCutoff, true};

// 4 x 4 x 4 fcc argon cells (256 atoms) of lattice constant a, stretched per axis, with Gaussian displacements.
System displaced_crystal(double a, const Vec3& stretch, double sigma, std::uint64_t seed) {
  System system = argon_fcc(4, 4.0 / (a * a * a));
  system.cell = Cell(system.cell.lattice() * stretch.asDiagonal(), {true, true, true});
  std::mt19937_64 random(seed);
  std::normal_distribution<double> gaussian(0.0, sigma);
  for (Vec3& position : system.positions)
    position = stretch.cwiseProduct(position) + Vec3(gaussian(random), gaussian(random), gaussian(random));
  return system;
}

double largest_force(ForceProvider& provider, System& system) {
  double largest = 0.0;
  for (const Vec3& force : provider.compute(system).forces) largest = std::max(largest, force.norm());
  return largest;
}

TEST_CASE("minimize: the generalised forces are minus the enthalpy gradient (finite differences)", "[minimize]") {
  LennardJonesLiquid lj(kArgonEpsilon, kArgonSigma, kArgonCutoff);
  const double pressure = 2000.0 / units::ev_per_a3_to_bar;
  for (CellRelaxation cell : {CellRelaxation::fixed, CellRelaxation::isotropic, CellRelaxation::per_axis}) {
    System system = displaced_crystal(5.3, Vec3(1.01, 0.99, 1.02), 0.1, 5);
    RelaxationProblem problem(system, lj, cell, pressure);
    const Eigen::VectorXd origin = problem.coordinates();
    const Eigen::VectorXd force = problem.force();
    std::vector<Eigen::Index> probes{0, 1, 2, 100, 767};
    for (Eigen::Index k = 768; k < problem.dimension(); ++k) probes.push_back(k);
    for (Eigen::Index k : probes) {
      INFO("coordinate " << k << ", cell mode " << static_cast<int>(cell));
      const double h = 1e-4;
      Eigen::VectorXd moved = origin;
      moved[k] += h;
      const double up = problem.evaluate(moved).enthalpy;
      moved[k] -= 2 * h;
      const double down = problem.evaluate(moved).enthalpy;
      CHECK(-(up - down) / (2 * h) == Approx(force[k]).margin(1e-7).epsilon(1e-6));
    }
  }
}

TEST_CASE("minimize: FIRE and CG relax a displaced LJ crystal to fmax and to the lattice energy", "[minimize]") {
  LennardJonesLiquid lj(kArgonEpsilon, kArgonSigma, kArgonCutoff);
  const double a = 5.3;
  const double lattice_energy = 256 * fcc_energy_per_atom(kArgon, a);
  for (const char* algorithm : {"fire", "cg"}) {
    INFO(algorithm);
    System system = displaced_crystal(a, Vec3::Ones(), 0.1, 11);
    std::vector<Vec3> velocities(system.size(), Vec3(0.01, -0.02, 0.03));
    system.velocities = velocities;
    MinimizeSettings settings;
    settings.fmax = 1e-4;
    std::vector<double> energies;
    const double start_energy = lj.compute(system).energy;
    const auto minimizer = make_minimizer(algorithm);
    const MinimizeReport report = minimize(system, lj, *minimizer, settings, [&](const MinimizeProgress& progress) {
      energies.push_back(progress.enthalpy);
    });
    INFO(algorithm << ": " << report.outcome.steps << " steps, " << report.outcome.evaluations
                   << " force evaluations, energy " << report.energy << " eV (lattice " << lattice_energy << ")");
    REQUIRE(report.outcome.converged);
    CHECK(report.max_atom_force <= 1e-4);
    CHECK(largest_force(lj, system) <= 1e-4);  // the system is left at the reported point
    // The crystal is the minimum; a residual force f costs ~ f^2 / (2 k) per atom.
    CHECK(report.energy >= lattice_energy - 1e-10);
    CHECK(report.energy - lattice_energy < 1e-5);
    CHECK(system.velocities == velocities);     // minimisation ignores velocities
    CHECK(energies.size() == report.outcome.steps);
    if (std::string(algorithm) == "cg") {
      CHECK(energies.front() < start_energy);
      for (std::size_t k = 1; k < energies.size(); ++k) CHECK(energies[k] < energies[k - 1]);
    }
  }
}

TEST_CASE("minimize: an isotropic cell relaxation at zero pressure finds the LJ lattice constant", "[minimize]") {
  const double reference = fcc_equilibrium_lattice_constant(kArgon, 5.1, 5.4);
  LennardJonesLiquid lj(kArgonEpsilon, kArgonSigma, kArgonCutoff);
  for (const char* algorithm : {"fire", "cg"}) {
    INFO(algorithm);
    System system = displaced_crystal(5.4, Vec3::Ones(), 0.05, 3);
    MinimizeSettings settings;
    settings.fmax = 1e-6;  // the pressure within 0.04 bar: a volume strain below 1e-5
    settings.max_steps = 5000;
    settings.cell = CellRelaxation::isotropic;
    const auto minimizer = make_minimizer(algorithm);
    const MinimizeReport report = minimize(system, lj, *minimizer, settings);
    const Mat3& lattice = system.cell.lattice();
    INFO(algorithm << ": " << report.outcome.steps << " steps, a = " << std::setprecision(9) << lattice(0, 0) / 4
                   << " A (analytic " << reference << " A), pressure " << report.pressure_bar << " bar");
    REQUIRE(report.outcome.converged);
    CHECK(std::abs(report.pressure_bar) < 1e-6 * 256 / report.volume * units::ev_per_a3_to_bar);
    for (int axis = 0; axis < 3; ++axis) CHECK(lattice(axis, axis) / 4 == Approx(reference).margin(1e-4));
    CHECK(lattice(0, 1) == 0.0);
    CHECK(report.energy == Approx(256 * fcc_energy_per_atom(kArgon, lattice(0, 0) / 4)).margin(1e-6));
  }
}

TEST_CASE("minimize: a per-axis cell relaxation returns each axis of a strained crystal", "[minimize]") {
  const double reference = fcc_equilibrium_lattice_constant(kArgon, 5.1, 5.4);
  LennardJonesLiquid lj(kArgonEpsilon, kArgonSigma, kArgonCutoff);
  for (const char* algorithm : {"fire", "cg"}) {
    INFO(algorithm);
    System system = displaced_crystal(reference, Vec3(1.02, 0.98, 1.01), 0.05, 8);
    MinimizeSettings settings;
    settings.fmax = 1e-6;  // the pressure of each axis within 0.04 bar: strains below 1e-5
    settings.max_steps = 5000;
    settings.cell = CellRelaxation::per_axis;
    const auto minimizer = make_minimizer(algorithm);
    const MinimizeReport report = minimize(system, lj, *minimizer, settings);
    const Mat3& lattice = system.cell.lattice();
    INFO(algorithm << ": " << report.outcome.steps << " steps, a = " << std::setprecision(9) << lattice(0, 0) / 4
                   << ", " << lattice(1, 1) / 4 << ", " << lattice(2, 2) / 4 << " A (analytic " << reference << " A)");
    REQUIRE(report.outcome.converged);
    for (int axis = 0; axis < 3; ++axis) CHECK(lattice(axis, axis) / 4 == Approx(reference).margin(1e-4));
  }
}

TEST_CASE("minimize: a cell relaxation needs a fully periodic cell", "[minimize]") {
  LennardJonesLiquid lj(kArgonEpsilon, kArgonSigma, kArgonCutoff);
  System system = displaced_crystal(5.3, Vec3::Ones(), 0.0, 1);
  system.cell = Cell(system.cell.lattice(), {true, true, false});
  CHECK_THROWS_AS(RelaxationProblem(system, lj, CellRelaxation::isotropic, 0.0), InputError);
}

TEST_CASE("minimize: the section's keys are checked", "[minimize]") {
  const auto& registry = MinimizerRegistry::instance();
  CHECK(registry.find("fire") != nullptr);
  CHECK(registry.find("cg") != nullptr);
  const MinimizeSettings settings = minimize_settings(minimize_section("fmax = 0.001\ncell = true\ncell_mode = "
                                                                      "\"aniso\"\npressure = 100.0\nmax_steps = 7"));
  CHECK(settings.fmax == 0.001);
  CHECK(settings.cell == CellRelaxation::per_axis);
  CHECK(settings.pressure_bar == 100.0);
  CHECK(settings.max_steps == 7);
  CHECK_THAT(input_error_message([] { minimize_section("algorithm = \"bfgs\""); }),
             Catch::Contains("algorithm") && Catch::Contains("cg") && Catch::Contains("fire"));
  CHECK_THAT(input_error_message([] { minimize_section("fmax = 0.0"); }),
             Catch::Contains("fmax") && Catch::Contains("> 0"));
  CHECK_THAT(input_error_message([] { minimize_section("max_steps = 0"); }), Catch::Contains("max_steps"));
  CHECK_THAT(input_error_message([] { minimize_settings(minimize_section("pressure = 1.0")); }),
             Catch::Contains("pressure") && Catch::Contains("cell = true"));
}

}  // namespace
}  // namespace nqmd::test
