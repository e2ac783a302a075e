// [minimize] through the command line: a run relaxes its Lennard-Jones crystal (and cell) before the MD steps,
// prints a summary whose energy is the thermo's step 0, leaves the velocities as initialised, and refuses bad keys
// with one line naming them.
#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

#include <catch2/catch.hpp>
#include <fmt/format.h>

#include "cli_runner.hpp"
#include "fcc_lattice_sum.hpp"
#include "io/checkpoint.hpp"
#include "test_paths.hpp"

namespace {

using nqmd::test::CliSandbox;
using nqmd::test::CommandResult;
using nqmd::test::csv_column;

std::string argon_input(const std::string& minimize_section) {
  return R"([structure]
lattice = "fcc"
lattice_constant = 5.6
repeat = [3, 3, 3]
species = ["Ar"]
random_displacement = 0.05

[velocities]
kind = "maxwell_boltzmann"
temperature = 20.0
seed = 11

[potential]
kind = "lj"
species = ["Ar"]
epsilon = [0.01032]
sigma = [3.405]
cutoff = 7.5
shift = true

[neighbor]
skin = 0.3

[integrator]
kind = "nve"
timestep = 5.0

[run]
steps = 10
thermo_every = 5

)" + minimize_section;
}

// The number after `label` in the first line of `text` that contains `line_start`.
double number_after(const std::string& text, const std::string& line_start, const std::string& label) {
  const std::size_t line = text.find(line_start);
  REQUIRE(line != std::string::npos);
  const std::size_t at = text.find(label, line);
  REQUIRE(at != std::string::npos);
  REQUIRE(at < text.find('\n', line));
  return std::stod(text.substr(at + label.size()));
}

double largest_force(const std::vector<nqmd::Vec3>& forces) {
  double largest = 0.0;
  for (const nqmd::Vec3& force : forces) largest = std::max(largest, force.norm());
  return largest;
}

}  // namespace

TEST_CASE("run: [minimize] relaxes atoms and cell before the MD, step 0 is the minimum", "[app][run][minimize]") {
  for (const char* algorithm : {"fire", "cg"}) {
    INFO(algorithm);
    CliSandbox sandbox;
    sandbox.write("plain.toml", argon_input("") + "thermo_file = \"plain.csv\"\ncheckpoint_file = \"\"\n");
    REQUIRE(sandbox.run("run plain.toml").exit_code == 0);
    sandbox.write("input.toml", argon_input(std::string("[minimize]\nalgorithm = \"") + algorithm +
                                            "\"\nfmax = 1e-4\ncell = true\nmax_steps = 5000\n"));
    const CommandResult result = sandbox.run("run input.toml");
    INFO(result.out << result.err);
    REQUIRE(result.exit_code == 0);
    CHECK(result.err.find("warning") == std::string::npos);
    const std::string summary = "minimize: converged (fmax 0.0001 eV/A) after ";
    REQUIRE(result.out.find(summary) != std::string::npos);
    const double energy = number_after(result.out, summary, "energy ");
    const double volume = number_after(result.out, summary, "volume ");
    CHECK(number_after(result.out, summary, "largest force ") <= 1e-4);

    const std::string csv = sandbox.read("thermo.csv");
    const std::string plain_csv = sandbox.read("plain.csv");
    CHECK(csv_column(csv, 2).front() == Approx(energy).epsilon(1e-9));   // potential energy at step 0
    CHECK(csv_column(csv, 2).front() < csv_column(plain_csv, 2).front() - 0.1);
    CHECK(csv_column(csv, 6).front() == Approx(20.0).epsilon(1e-12));     // the velocities as initialised
    CHECK(csv_column(csv, 8).front() == Approx(volume).epsilon(1e-6));
    CHECK(std::abs(csv_column(csv, 7).front()) < 200.0);  // bar: the cell relaxed to P = 0 (plus 2K/3V of 20 K)
    CHECK(csv_column(plain_csv, 8).front() == Approx(std::pow(3 * 5.6, 3)).epsilon(1e-12));

    // On a restart the minimisation is skipped: the checkpoint continues the minimised run.
    const CommandResult restarted = sandbox.run("run input.toml --restart checkpoint.h5");
    REQUIRE(restarted.exit_code == 0);
    CHECK(restarted.out.find("minimize: skipped on a restart") != std::string::npos);
  }
}

TEST_CASE("run: after [minimize] and no MD step the checkpoint's forces are below fmax", "[app][run][minimize]") {
  CliSandbox sandbox;
  std::string input = argon_input("[minimize]\nalgorithm = \"cg\"\nfmax = 1e-3\n");
  input.replace(input.find("steps = 10"), 10, "steps = 0");
  sandbox.write("input.toml", input);
  const CommandResult result = sandbox.run("run input.toml");
  INFO(result.out << result.err);
  REQUIRE(result.exit_code == 0);
  const nqmd::Checkpoint checkpoint = nqmd::read_checkpoint(sandbox.path("checkpoint.h5"));
  CHECK(largest_force(checkpoint.forces) <= 1e-3);
}

TEST_CASE("run: an unconverged [minimize] warns with its numbers, or stops with require_converged",
          "[app][run][minimize][bad-input]") {
  CliSandbox sandbox;
  sandbox.write("input.toml", argon_input("[minimize]\nalgorithm = \"cg\"\nfmax = 1e-6\nmax_steps = 2\n"));
  const CommandResult warned = sandbox.run("run input.toml");
  INFO(warned.out << warned.err);
  REQUIRE(warned.exit_code == 0);
  CHECK(warned.err.find("warning: minimize: not converged (max_steps reached; fmax 1e-06 eV/A) after 2 steps") !=
        std::string::npos);
  CHECK(warned.err.find("largest force ") != std::string::npos);

  sandbox.write("strict.toml", argon_input("[minimize]\nalgorithm = \"cg\"\nfmax = 1e-6\nmax_steps = 2\n"
                                           "require_converged = true\n"));
  const CommandResult stopped = sandbox.run("run strict.toml --force");
  CHECK(stopped.exit_code == 1);
  CHECK(std::count(stopped.err.begin(), stopped.err.end(), '\n') == 1);
  CHECK(stopped.err.find("strict.toml:") != std::string::npos);
  CHECK(stopped.err.find("[minimize] require_converged: minimize: not converged (max_steps reached") !=
        std::string::npos);
}

TEST_CASE("run: bad [minimize] keys are one-line errors naming the key", "[app][run][minimize][bad-input]") {
  const std::vector<std::pair<std::string, std::string>> cases{
      {"algorithm = \"bfgs\"", "[minimize] algorithm"},
      {"fmax = 0.0", "[minimize] fmax: must be > 0"},
      {"fmax = -0.1", "[minimize] fmax: must be > 0"},
      {"max_steps = 0", "[minimize] max_steps: must be >= 1"},
      {"cell_mode = \"aniso\"", "[minimize] cell_mode: applies only with cell = true"},
      {"cell = true\ncell_mode = \"triclinic\"", "[minimize] cell_mode"},
      {"fmx = 0.1", "[minimize]"},
  };
  for (const auto& [line, expected] : cases) {
    INFO(line);
    CliSandbox sandbox;
    sandbox.write("input.toml", argon_input("[minimize]\n" + line + "\n"));
    const CommandResult result = sandbox.run("run input.toml");
    CHECK(result.exit_code == 1);
    CHECK(std::count(result.err.begin(), result.err.end(), '\n') == 1);
    CHECK(result.err.find(expected) != std::string::npos);
    CHECK_FALSE(sandbox.exists("thermo.csv"));  // refused before anything ran
  }
}

TEST_CASE("the inputs/minimize example relaxes its replicated crystal and runs", "[app][run][minimize][example]") {
  CliSandbox sandbox;
  std::string input = nqmd::test::read_text_file(nqmd::test::source_path("inputs/minimize/input.toml"));
  REQUIRE(input.find("steps = 2000 ") != std::string::npos);
  input.replace(input.find("steps = 2000 "), 13, "steps = 20 ");
  sandbox.write("input.toml", input);
  sandbox.write("argon_fcc_cell.extxyz",
                nqmd::test::read_text_file(nqmd::test::source_path("inputs/minimize/argon_fcc_cell.extxyz")));
  const CommandResult result = sandbox.run("run input.toml");
  INFO(result.out << result.err);
  REQUIRE(result.exit_code == 0);
  CHECK(result.out.find("system: 500 atoms") != std::string::npos);
  CHECK(result.out.find("minimize: converged (fmax 0.0001 eV/A)") != std::string::npos);
  const std::string csv = sandbox.read("thermo.csv");
  CHECK(csv_column(csv, 6).front() == Approx(80.0).epsilon(1e-12));
  // The relaxed conventional cell, 5.2765 A, against the file's 5.4 A.
  CHECK(std::cbrt(csv_column(csv, 8).front()) / 5 == Approx(5.2765).margin(2e-4));
}

TEST_CASE("run: [minimize] cell = true finds the lattice constant of the lj style's fcc crystal",
          "[app][run][minimize]") {
  // The project's truncated (unshifted) Lennard-Jones through the neighbour list, against the minimum of the lattice
  // sum; from a = 5.35 A no shell of neighbours crosses the cutoff on the way.
  const nqmd::test::TruncatedLennardJones argon{0.01032, 3.405, 8.5125, false};
  const double reference = nqmd::test::fcc_equilibrium_lattice_constant(argon, 5.2, 5.35);
  for (const char* algorithm : {"fire", "cg"}) {
    INFO(algorithm);
    CliSandbox sandbox;
    sandbox.write("input.toml", fmt::format(R"([structure]
lattice = "fcc"
lattice_constant = 5.35
repeat = [3, 3, 3]
species = ["Ar"]
random_displacement = 0.02

[potential]
kind = "lj"
species = ["Ar"]
epsilon = [{}]
sigma = [{}]
cutoff = {}

[minimize]
algorithm = "{}"
fmax = 1e-6
max_steps = 5000
cell = true

[integrator]
kind = "nve"

[run]
steps = 0
)",
                                            argon.epsilon, argon.sigma, argon.cutoff, algorithm));
    const CommandResult result = sandbox.run("run input.toml");
    INFO(result.out << result.err);
    REQUIRE(result.exit_code == 0);
    REQUIRE(result.out.find("minimize: converged") != std::string::npos);
    const std::string csv = sandbox.read("thermo.csv");
    const double a = std::cbrt(csv_column(csv, 8).front()) / 3;
    CHECK(a == Approx(reference).margin(1e-4));
    CHECK(csv_column(csv, 2).front() == Approx(108 * nqmd::test::fcc_energy_per_atom(argon, a)).margin(1e-6));
  }
}
