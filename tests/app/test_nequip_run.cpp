// NVE molecular dynamics with NequIP model A through the command line: 108-atom fcc Cu/Au (a = 3.75 A, 3x3x3,
// random species, small displacements), 300 steps of 2 fs; the total energy must be conserved.
#include <algorithm>
#include <cmath>
#include <random>
#include <sstream>
#include <vector>

#include <catch2/catch.hpp>
#include <fmt/format.h>

#include "cli_runner.hpp"
#include "io/checkpoint.hpp"
#include "test_paths.hpp"

namespace {

using nqmd::test::CliSandbox;
using nqmd::test::csv_column;

// fcc a = 3.75 A, 3x3x3 conventional cells, random Cu/Au, Gaussian displacements (sigma 0.05 A).
std::string cuau_cell(unsigned seed) {
  std::mt19937 rng(seed);
  std::bernoulli_distribution coin(0.5);
  std::normal_distribution<double> normal(0.0, 0.05);
  const double a = 3.75;
  const double basis[4][3] = {{0, 0, 0}, {0.5, 0.5, 0}, {0.5, 0, 0.5}, {0, 0.5, 0.5}};
  std::string text = fmt::format("108\nLattice=\"{0} 0 0 0 {0} 0 0 0 {0}\" Properties=species:S:1:pos:R:3 pbc=\"T T T\"\n",
                                 3 * a);
  for (int i = 0; i < 3; ++i)
    for (int j = 0; j < 3; ++j)
      for (int k = 0; k < 3; ++k)
        for (const auto& site : basis)
          text += fmt::format("{} {:.10f} {:.10f} {:.10f}\n", coin(rng) ? "Cu" : "Au",
                              a * (i + site[0]) + normal(rng), a * (j + site[1]) + normal(rng),
                              a * (k + site[2]) + normal(rng));
  return text;
}

}  // namespace

TEST_CASE("nequip: NVE with model A conserves energy (108 atoms, 300 steps of 2 fs)", "[app][nequip][nve]") {
  for (const char* backend : {"native", "torchscript"}) {
    INFO(backend);
    CliSandbox sandbox;
    sandbox.write("cell.extxyz", cuau_cell(3));
    sandbox.write("input.toml", fmt::format(R"([structure]
file = "cell.extxyz"

[velocities]
kind = "maxwell_boltzmann"
temperature = 300.0
seed = 7

[potential]
kind = "nequip"
model = "{}"
backend = "{}"

[neighbor]
skin = 0.5

[integrator]
kind = "nve"
timestep = 2.0

[run]
steps = 300
thermo_every = 10
checkpoint_file = ""
)",
                                            nqmd::test::shared_path("reference/nequip-0.6.2/modelA/deployed.pth"),
                                            backend));
    const auto result = sandbox.run("run input.toml");
    INFO(result.err);
    REQUIRE(result.exit_code == 0);
    const std::string csv = sandbox.read("thermo.csv");
    const std::vector<double> total = csv_column(csv, 4);
    const std::vector<double> potential = csv_column(csv, 2);
    const std::vector<double> temperature = csv_column(csv, 6);
    REQUIRE(total.size() == 31);
    double low = total[0], high = total[0];
    for (double e : total) low = std::min(low, e), high = std::max(high, e);
    double potential_low = potential[0], potential_high = potential[0];
    for (double e : potential) potential_low = std::min(potential_low, e), potential_high = std::max(potential_high, e);
    const double drift_per_atom = (total.back() - total.front()) / 108;
    const double fluctuation_per_atom = (high - low) / 108;
    WARN(backend << " NVE 600 fs: total energy drift " << drift_per_atom * 1e3 << " meV/atom, fluctuation (max-min) "
                 << fluctuation_per_atom * 1e3 << " meV/atom; potential energy varies by "
                 << (potential_high - potential_low) / 108 * 1e3 << " meV/atom; T " << temperature.front() << " -> "
                 << temperature.back() << " K");
    // The potential energy exchanges tens of meV/atom with the kinetic energy; the total stays within
    // 0.3 meV/atom (measured: drift -0.043, fluctuation 0.081 meV/atom).
    CHECK(std::abs(drift_per_atom) < 0.2e-3);
    CHECK(fluctuation_per_atom < 0.3e-3);
    CHECK((potential_high - potential_low) / 108 > 5e-3);
  }
}

TEST_CASE("nequip: an atom closer than any such pair in the training data is reported, or stops the run",
          "[app][nequip][extrapolation]") {
  // The water model of inputs/water records its training frames' closest pairs (O-H 0.8932 A); a water molecule
  // with one O-H bond squeezed to 0.80 A is outside them from step 0.
  CliSandbox sandbox;
  sandbox.write("water.extxyz", "3\nProperties=species:S:1:pos:R:3 pbc=\"F F F\"\nO 0 0 0\nH 0.80 0 0\nH -0.25 0.93 0\n");
  const std::string input = fmt::format(R"([structure]
file = "water.extxyz"

[potential]
kind = "nequip"
model = "{}"

[integrator]
kind = "nve"
timestep = 0.25

[run]
steps = 10
thermo_every = 5
overwrite = true
)",
                                        nqmd::test::source_path("inputs/water/water_model.npz"));
  sandbox.write("warn.toml", input);
  const auto warned = sandbox.run("run warn.toml");
  INFO(warned.err);
  REQUIRE(warned.exit_code == 0);
  CHECK(warned.err.find("warning: step 0: model extrapolation: atom 0 (O) is 0.8000 A from atom 1 (H), 10.4% closer than "
                        "any O-H pair in the training data (0.8932 A)") != std::string::npos);
  CHECK(warned.out.find("model extrapolation check: closest pairs in the training data (from the training record of") !=
        std::string::npos);
  CHECK(warned.out.find("model extrapolation: ") != std::string::npos);
  CHECK(warned.out.find("force evaluations had atoms outside the training data's closest pairs (first at step 0") !=
        std::string::npos);

  sandbox.write("stop.toml", input + "\n[watchdog]\nmodel_extrapolation = \"stop\"\n");
  const auto stopped = sandbox.run("run stop.toml");
  CHECK(stopped.exit_code == 1);
  CHECK(stopped.err.find("error: step 0: watchdog: model extrapolation: atom 0 (O) is 0.8000 A from atom 1 (H)") !=
        std::string::npos);

  sandbox.write("margin.toml", input + "\n[watchdog]\nmodel_extrapolation = \"stop\"\nextrapolation_margin = 0.2\n");
  const auto margin = sandbox.run("run margin.toml");
  CHECK(margin.exit_code == 0);
  CHECK(margin.err.find("model extrapolation") == std::string::npos);
  sandbox.write("bad.toml", input + "\n[watchdog]\nmodel_extrapolation = \"abort\"\n");
  const auto bad = sandbox.run("run bad.toml");
  CHECK(bad.exit_code == 1);
  CHECK(bad.err.find("bad.toml:") != std::string::npos);
  CHECK(bad.err.find("[watchdog] model_extrapolation") != std::string::npos);
}

TEST_CASE("nequip: a run split by a restart is bit-identical to the unsplit run (fused kernel, 2 threads)",
          "[app][nequip][restart]") {
  // 64 water molecules with the water model, Nose-Hoover NVT: 30 steps straight, and 13 + a restart for 17 more.
  // The straight run has no checkpoint at step 13: the restart continues with the neighbour list of the last build
  // before it, and the graph's spatial order made from that build's positions.
  CliSandbox sandbox;
  const std::string body = fmt::format(R"([structure]
file = "{}"
frame = 3

[velocities]
kind = "maxwell_boltzmann"
temperature = 300.0
seed = 11

[potential]
kind = "nequip"
model = "{}"
threads = 2

[neighbor]
skin = 0.3

[integrator]
kind = "nvt_nose_hoover"
timestep = 0.5
temperature = 300.0
tdamp = 20.0

[run]
thermo_every = 5
checkpoint_file = "checkpoint.h5"
)",
                                       nqmd::test::shared_path("data/water-64-deepmd/water.extxyz"),
                                       nqmd::test::source_path("inputs/water/water_model.npz"));
  sandbox.write("straight.toml", body + "steps = 30\nthermo_file = \"straight.csv\"\n");
  const auto straight = sandbox.run("run straight.toml");
  INFO(straight.err);
  REQUIRE(straight.exit_code == 0);
  const nqmd::Checkpoint expected = nqmd::read_checkpoint(sandbox.path("checkpoint.h5"));
  sandbox.write("half.toml", body + "steps = 13\nthermo_file = \"split.csv\"\noverwrite = true\n");
  REQUIRE(sandbox.run("run half.toml").exit_code == 0);
  sandbox.write("rest.toml", body + "steps = 30\nthermo_file = \"split.csv\"\noverwrite = true\n");
  const auto rest = sandbox.run("run rest.toml --restart checkpoint.h5");
  INFO(rest.err);
  REQUIRE(rest.exit_code == 0);
  const nqmd::Checkpoint split = nqmd::read_checkpoint(sandbox.path("checkpoint.h5"));
  REQUIRE(split.step == 30);
  CHECK(split.system.positions == expected.system.positions);
  CHECK(split.system.velocities == expected.system.velocities);
  CHECK(split.forces == expected.forces);
  CHECK(split.energy == expected.energy);
  CHECK(split.virial == expected.virial);
  CHECK(split.system.images == expected.system.images);
  CHECK(split.integrator.reals == expected.integrator.reals);
}

TEST_CASE("nequip: FIRE and CG minimise a displaced model A cell to fmax", "[app][nequip][minimize]") {
  CliSandbox sandbox;
  sandbox.write("cell.extxyz", cuau_cell(5));
  std::vector<double> minimum_energies;
  for (const char* algorithm : {"fire", "cg"}) {
    INFO(algorithm);
    sandbox.write("input.toml", fmt::format(R"([structure]
file = "cell.extxyz"

[potential]
kind = "nequip"
model = "{}"

[neighbor]
skin = 0.5

[minimize]
algorithm = "{}"
fmax = 0.005
max_steps = 1000

[integrator]
kind = "nve"
timestep = 2.0

[run]
steps = 0
overwrite = true
)",
                                            nqmd::test::shared_path("reference/nequip-0.6.2/modelA/deployed.pth"),
                                            algorithm));
    const auto result = sandbox.run("run input.toml");
    INFO(result.out << result.err);
    REQUIRE(result.exit_code == 0);
    CHECK(result.out.find("minimize: converged (fmax 0.005 eV/A)") != std::string::npos);
    // The forces the run evaluated at step 0, after the minimisation, are below fmax.
    const nqmd::Checkpoint checkpoint = nqmd::read_checkpoint(sandbox.path("checkpoint.h5"));
    double largest = 0.0;
    for (const nqmd::Vec3& force : checkpoint.forces) largest = std::max(largest, force.norm());
    CHECK(largest <= 0.005);
    minimum_energies.push_back(checkpoint.energy);
  }
  // Both reach the same minimum of the displaced cell (measured: 20.707155 and 20.707152 eV).
  CHECK(minimum_energies[0] == Approx(minimum_energies[1]).margin(1e-3));
}
