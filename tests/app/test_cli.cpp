// The command line as a user meets it: exit codes (0 success, 1 user error with one line naming the file,
// line and key), and bad input of every kind the foundation handles.
#include <sstream>
#include <string>
#include <vector>

#include <catch2/catch.hpp>

#include "cli_runner.hpp"
#include "test_paths.hpp"

namespace {

using nqmd::test::CliSandbox;
using nqmd::test::CommandResult;

// A small, valid LJ argon input; tests break one thing at a time.
const std::string kArgonInput = R"([structure]
lattice = "fcc"
lattice_constant = 5.78
repeat = [2, 2, 2]
species = ["Ar"]

[velocities]
kind = "maxwell_boltzmann"
temperature = 90.0
seed = 7

[potential]
kind = "lj"
species = ["Ar"]
epsilon = [0.01032]
sigma = [3.405]
cutoff = 8.5
shift = true

[integrator]
kind = "nve"
timestep = 5.0

[run]
steps = 20
thermo_every = 10
)";

std::string replaced(std::string text, const std::string& from, const std::string& to) {
  const std::size_t at = text.find(from);
  REQUIRE(at != std::string::npos);
  return text.replace(at, from.size(), to);
}

// One line on stderr, starting with "error: ", exit code 1.
void require_user_error(const CommandResult& result, const std::string& expected_fragment) {
  INFO("stderr: " << result.err);
  CHECK(result.exit_code == 1);
  CHECK(result.err.rfind("error: ", 0) == 0);
  CHECK(result.err.find('\n') == result.err.size() - 1);
  CHECK(result.err.find(expected_fragment) != std::string::npos);
}

// The rows of a thermo CSV without its last three columns (ns/day, steps/s, us/atom/step: wall-clock speed).
std::vector<std::string> physics_columns(const std::string& thermo) {
  std::vector<std::string> rows;
  std::istringstream lines(thermo);
  for (std::string line; std::getline(lines, line);) {
    std::size_t end = line.size();
    for (int column = 0; column < 3 && end != std::string::npos; ++column) end = line.rfind(',', end - 1);
    rows.push_back(line.substr(0, end));
  }
  return rows;
}

CommandResult run_input(const CliSandbox& sandbox, const std::string& input) {
  sandbox.write("input.toml", input);
  return sandbox.run("run input.toml");
}

}  // namespace

TEST_CASE("cli: --version names nequip-md, libtorch and the build type", "[app][cli]") {
  CliSandbox sandbox;
  const CommandResult result = sandbox.run("--version");
  CHECK(result.exit_code == 0);
  CHECK(result.out.find("nequip-md 0.") == 0);
  CHECK(result.out.find("libtorch 1.") != std::string::npos);
  CHECK(result.out.find("build") != std::string::npos);
}

TEST_CASE("cli: `nequip-md input.toml` runs the input as `nequip-md run input.toml` does", "[app][cli]") {
  CliSandbox bare, with_run;
  bare.write("input.toml", kArgonInput);
  with_run.write("input.toml", kArgonInput);
  const CommandResult bare_result = bare.run("input.toml");
  const CommandResult run_result = with_run.run("run input.toml");
  INFO("stderr: " << bare_result.err);
  REQUIRE(bare_result.exit_code == 0);
  REQUIRE(run_result.exit_code == 0);
  REQUIRE(bare.exists("thermo.csv"));
  CHECK(physics_columns(bare.read("thermo.csv")) == physics_columns(with_run.read("thermo.csv")));
  // A file that does not exist is a user error naming it, as with `run`.
  require_user_error(bare.run("missing.toml"), "missing.toml");
}

TEST_CASE("cli: --help on every subcommand exits 0", "[app][cli]") {
  CliSandbox sandbox;
  for (const std::string arguments : {"--help", "run --help", "input-reference --help"}) {
    const CommandResult result = sandbox.run(arguments);
    INFO(arguments);
    CHECK(result.exit_code == 0);
    CHECK(result.out.find("Usage") != std::string::npos);
  }
}

TEST_CASE("cli: a valid run exits 0 and writes thermo and checkpoint", "[app][cli]") {
  CliSandbox sandbox;
  const CommandResult result = run_input(sandbox, kArgonInput);
  INFO(result.err);
  REQUIRE(result.exit_code == 0);
  const std::string thermo = sandbox.read("thermo.csv");
  CHECK(thermo.rfind("step,time_fs,potential_energy_eV,kinetic_energy_eV", 0) == 0);
  // Header plus rows at steps 0, 10 and 20.
  CHECK(std::count(thermo.begin(), thermo.end(), '\n') == 4);
  CHECK(sandbox.exists("checkpoint.h5"));
}

TEST_CASE("cli: -v names what a run reads and writes and each checkpoint, and -q prints no thermo", "[app][cli]") {
  CliSandbox sandbox;
  sandbox.write("input.toml", replaced(kArgonInput, "thermo_every = 10\n", "thermo_every = 10\ncheckpoint_every = 10\n"));
  CommandResult result = sandbox.run("-v run input.toml");
  INFO(result.out << result.err);
  REQUIRE(result.exit_code == 0);
  CHECK(result.out.find("potential: [potential] kind = \"lj\", cutoff 8.5 A") != std::string::npos);
  CHECK(result.out.find("reads input.toml") != std::string::npos);
  CHECK(result.out.find("writes thermo.csv (input.toml:") != std::string::npos);
  CHECK(result.out.find("[run] thermo_file)") != std::string::npos);
  CHECK(result.out.find("checkpoint: step 10 written to checkpoint.h5") != std::string::npos);
  const CommandResult normal = sandbox.run("run --force input.toml");
  REQUIRE(normal.exit_code == 0);
  CHECK(normal.out.find("checkpoint: step 10 written") == std::string::npos);
  CHECK(normal.out.find("writes thermo.csv") == std::string::npos);
  const CommandResult quiet = sandbox.run("-q run --force input.toml");
  REQUIRE(quiet.exit_code == 0);
  CHECK(quiet.out.empty());
}

TEST_CASE("cli: command-line errors exit 1", "[app][cli]") {
  CliSandbox sandbox;
  CHECK(sandbox.run("run").exit_code == 1);
  CHECK(sandbox.run("frobnicate").exit_code == 1);
  require_user_error(sandbox.run("run missing.toml"), "missing.toml");
}

TEST_CASE("cli: bad TOML gives file, line and key", "[app][cli][bad-input]") {
  CliSandbox sandbox;
  SECTION("syntax error") {
    require_user_error(run_input(sandbox, replaced(kArgonInput, "timestep = 5.0", "timestep = = 5.0")),
                       "input.toml:22:");
  }
  SECTION("unknown key, with a suggestion") {
    require_user_error(run_input(sandbox, replaced(kArgonInput, "timestep = 5.0", "timestpe = 5.0")),
                       "input.toml:22: unknown key 'timestpe' in [integrator]; did you mean 'timestep'?");
  }
  SECTION("unknown section") {
    require_user_error(run_input(sandbox, kArgonInput + "\n[integratr]\nkind = \"nve\"\n"),
                       "unknown section [integratr]; did you mean 'integrator'?");
  }
  SECTION("wrong type") {
    require_user_error(run_input(sandbox, replaced(kArgonInput, "steps = 20", "steps = \"twenty\"")),
                       "input.toml:25: [run] steps: expected integer, got \"twenty\"");
  }
  SECTION("out-of-range value") {
    require_user_error(run_input(sandbox, replaced(kArgonInput, "timestep = 5.0", "timestep = -1.0")),
                       "input.toml:22: [integrator] timestep: must be > 0 (got -1)");
  }
  SECTION("unknown integrator kind") {
    require_user_error(run_input(sandbox, replaced(kArgonInput, "kind = \"nve\"", "kind = \"nvee\"")),
                       "[integrator] kind: unknown integrator \"nvee\"; did you mean 'nve'?");
  }
  SECTION("missing required key") {
    require_user_error(run_input(sandbox, replaced(kArgonInput, "steps = 20\n", "")), "missing required key 'steps'");
  }
  SECTION("unknown element in a lattice") {
    require_user_error(run_input(sandbox, replaced(kArgonInput, "species = [\"Ar\"]\n\n[velocities]",
                                                   "species = [\"Xx\"]\n\n[velocities]")),
                       "unknown element 'Xx'");
  }
}

TEST_CASE("cli: bad structure files give file and line", "[app][cli][bad-input]") {
  CliSandbox sandbox;
  const std::string from_file =
      replaced(kArgonInput, "lattice = \"fcc\"\nlattice_constant = 5.78\nrepeat = [2, 2, 2]\nspecies = [\"Ar\"]",
               "file = \"start.extxyz\"");
  const std::string header = "Lattice=\"12 0 0 0 12 0 0 0 12\" Properties=species:S:1:pos:R:3 pbc=\"T T T\"\n";
  SECTION("missing file") { require_user_error(run_input(sandbox, from_file), "start.extxyz"); }
  SECTION("wrong column count") {
    sandbox.write("start.extxyz", "2\n" + header + "Ar 0 0 0\nAr 1 1\n");
    require_user_error(run_input(sandbox, from_file), "start.extxyz:4");
  }
  SECTION("non-numeric field") {
    sandbox.write("start.extxyz", "2\n" + header + "Ar 0 0 0\nAr 1 x 1\n");
    require_user_error(run_input(sandbox, from_file), "start.extxyz:4");
  }
  SECTION("truncated last frame") {
    sandbox.write("start.extxyz", "3\n" + header + "Ar 0 0 0\nAr 4 4 4\n");
    require_user_error(run_input(sandbox, from_file), "start.extxyz");
  }
  SECTION("unknown element") {
    sandbox.write("start.extxyz", "2\n" + header + "Ar 0 0 0\nQq 4 4 4\n");
    require_user_error(run_input(sandbox, from_file), "start.extxyz:4");
  }
  SECTION("Properties that disagree with the columns") {
    sandbox.write("start.extxyz",
                  "2\nLattice=\"12 0 0 0 12 0 0 0 12\" Properties=species:S:1:pos:R:3:forces:R:3 pbc=\"T T T\"\n"
                  "Ar 0 0 0\nAr 4 4 4\n");
    require_user_error(run_input(sandbox, from_file), "start.extxyz:3");
  }
  SECTION("zero cell volume") {
    sandbox.write("start.extxyz", "2\nLattice=\"12 0 0 24 0 0 0 0 12\" Properties=species:S:1:pos:R:3 pbc=\"T T T\"\n"
                                  "Ar 0 0 0\nAr 4 4 4\n");
    require_user_error(run_input(sandbox, from_file), "volume");
  }
  SECTION("negative cell volume") {
    sandbox.write("start.extxyz", "2\nLattice=\"12 0 0 0 12 0 0 0 -12\" Properties=species:S:1:pos:R:3 pbc=\"T T T\"\n"
                                  "Ar 0 0 0\nAr 4 4 4\n");
    require_user_error(run_input(sandbox, from_file), "negative volume");
  }
  SECTION("a frame index beyond the file") {
    sandbox.write("start.extxyz", "2\n" + header + "Ar 0 0 0\nAr 4 4 4\n");
    require_user_error(run_input(sandbox, replaced(from_file, "file = \"start.extxyz\"",
                                                   "file = \"start.extxyz\"\nframe = 3")),
                       "frame 3 does not exist");
  }
}

TEST_CASE("cli: a cutoff larger than the cell is supported (periodic images are neighbours)", "[app][cli]") {
  CliSandbox sandbox;
  // A 2-atom cell of 3.2 A with an 8.5 A cutoff: every atom interacts with many images of itself.
  sandbox.write("small.extxyz",
                "2\nLattice=\"3.2 0 0 0 3.3 0 0.4 0 3.4\" Properties=species:S:1:pos:R:3 pbc=\"T T T\"\n"
                "Ar 0 0 0\nAr 1.6 1.65 1.7\n");
  const std::string input =
      replaced(kArgonInput, "lattice = \"fcc\"\nlattice_constant = 5.78\nrepeat = [2, 2, 2]\nspecies = [\"Ar\"]",
               "file = \"small.extxyz\"");
  const CommandResult result = run_input(sandbox, input);
  INFO(result.err);
  CHECK(result.exit_code == 0);
  CHECK(result.out.find("neighbours per atom") != std::string::npos);
}

TEST_CASE("cli: input-reference prints one section, and a template input that runs as it is", "[app][cli]") {
  CliSandbox sandbox;
  const CommandResult section = sandbox.run("input-reference integrator");
  REQUIRE(section.exit_code == 0);
  CHECK(section.out.find("## [integrator]") != std::string::npos);
  CHECK(section.out.find("### [integrator] kind = \"nvt_nose_hoover\"") != std::string::npos);
  CHECK(section.out.find("## [run]") == std::string::npos);
  require_user_error(sandbox.run("input-reference integrater"), "integrater");

  const CommandResult made = sandbox.run("input-reference --template");
  REQUIRE(made.exit_code == 0);
  sandbox.write("input.toml", made.out);
  const CommandResult ran = sandbox.run("run input.toml");
  INFO(ran.err);
  REQUIRE(ran.exit_code == 0);
  // Every key of [run] is in the template, set or commented out.
  for (const char* key : {"steps", "thermo_every", "thermo_file", "checkpoint_every", "threads", "overwrite"})
    CHECK(made.out.find(std::string("\n") + key + " = ") + made.out.find(std::string("\n# ") + key + " = ") !=
          2 * std::string::npos);
  CHECK(nqmd::test::csv_column(sandbox.read("thermo.csv"), 0).back() == 1000.0);
}

TEST_CASE("cli: one thread setting for a run: -t and [run] threads give the same trajectory", "[app][cli]") {
  CliSandbox one, two, from_input;
  for (CliSandbox* sandbox : {&one, &two}) sandbox->write("input.toml", kArgonInput);
  from_input.write("input.toml", kArgonInput + "threads = 2\n");
  REQUIRE(one.run("-v run -t 1 input.toml").exit_code == 0);
  const CommandResult two_threads = two.run("-v run -t 2 input.toml");
  REQUIRE(two_threads.exit_code == 0);
  CHECK(two_threads.out.find("threads: 2") != std::string::npos);
  const CommandResult input_threads = from_input.run("-v run input.toml");
  INFO(input_threads.err);
  REQUIRE(input_threads.exit_code == 0);
  CHECK(input_threads.out.find("threads: 2") != std::string::npos);
  CHECK(physics_columns(one.read("thermo.csv")) == physics_columns(two.read("thermo.csv")));
  CHECK(one.run("run -t 0 input.toml").exit_code == 1);
}

TEST_CASE("cli: a time step given in seconds is refused, a missing checkpoint names the input that writes it",
          "[app][cli][bad-input]") {
  CliSandbox sandbox;
  std::string input = kArgonInput;
  const std::size_t at = input.find("timestep = ");
  REQUIRE(at != std::string::npos);
  input.replace(at, input.find('\n', at) - at, "timestep = 0.5e-15");
  sandbox.write("input.toml", input);
  require_user_error(sandbox.run("run input.toml"), "timestep");

  sandbox.write("md.toml", kArgonInput + "checkpoint_file = \"md_checkpoint.h5\"\n");
  const std::string nve = replaced(kArgonInput,
                                   "lattice = \"fcc\"\nlattice_constant = 5.78\nrepeat = [2, 2, 2]\nspecies = [\"Ar\"]",
                                   "checkpoint = \"md_checkpoint.h5\"");
  sandbox.write("nve.toml", nve);
  const CommandResult missing = sandbox.run("run nve.toml");
  INFO(missing.err);
  require_user_error(missing, "md_checkpoint.h5");
  CHECK(missing.err.find("md.toml writes it") != std::string::npos);
}
