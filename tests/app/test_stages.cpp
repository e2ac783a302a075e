// Staged inputs ([[stage]]): NPT, NVT and NVE in one input equal three runs chained by checkpoints, bit for bit,
// and a staged run restarts inside the stage it was in.
#include <filesystem>
#include <string>
#include <vector>

#include <catch2/catch.hpp>

#include "cli_runner.hpp"
#include "io/checkpoint.hpp"
#include "io/trajectory.hpp"
#include "test_paths.hpp"

namespace {

using nqmd::test::CliSandbox;
using nqmd::test::CommandResult;
using nqmd::test::without_speed;

const std::string kShared = R"([potential]
kind = "lj"
species = ["Ar"]
epsilon = [0.01032]
sigma = [3.405]
cutoff = 7.5
shift = true

[neighbor]
skin = 0.3
)";

const std::string kStart = R"([structure]
lattice = "fcc"
lattice_constant = 5.6
repeat = [3, 3, 3]
species = ["Ar"]
random_displacement = 0.05

[velocities]
kind = "maxwell_boltzmann"
temperature = 120.0
seed = 11
)";

const std::vector<std::string> kIntegrators{
    "kind = \"npt\"\ntimestep = 5.0\ntemperature = 120.0\ntdamp = 200.0\npressure = 1000.0\npdamp = 1000.0\n",
    "kind = \"nvt_nose_hoover\"\ntimestep = 5.0\ntemperature = 100.0\ntdamp = 100.0\n",
    "kind = \"nve\"\ntimestep = 5.0\n"};
const std::vector<std::string> kNames{"npt", "nvt", "nve"};
const std::vector<int> kSteps{30, 40, 20};

std::string staged_input(int last_stage_steps_override = 0, std::size_t stages = 3) {
  std::string text = kStart + kShared;
  for (std::size_t k = 0; k < stages; ++k) {
    const int steps = (k + 1 == stages && last_stage_steps_override > 0) ? last_stage_steps_override : kSteps[k];
    text += "\n[[stage]]\nname = \"" + kNames[k] + "\"\n[stage.integrator]\n" + kIntegrators[k] +
            "[stage.run]\nsteps = " + std::to_string(steps) + "\nthermo_every = 5\n";
  }
  return text;
}

// Run k of the chain: the first from the structure, the others from the checkpoint of the one before.
std::string chained_input(std::size_t k) {
  const std::string structure =
      k == 0 ? kStart : "[structure]\ncheckpoint = \"chain" + std::to_string(k - 1) + ".h5\"\n";
  return structure + kShared + "\n[integrator]\n" + kIntegrators[k] + "\n[run]\nsteps = " + std::to_string(kSteps[k]) +
         "\nthermo_every = 5\nthermo_file = \"chain" + std::to_string(k) + ".csv\"\ncheckpoint_file = \"chain" +
         std::to_string(k) + ".h5\"\n";
}

// The whole staged run in `whole`; in `stopped`, the same input with stage 2 cut at step 17, as a kill or signal
// there leaves it (its checkpoint at step 17, stage 3 not begun).
void run_whole_and_cut_in_stage_2(const CliSandbox& whole, const CliSandbox& stopped) {
  whole.write("input.toml", staged_input());
  REQUIRE(whole.run("run input.toml").exit_code == 0);
  stopped.write("input.toml", staged_input(17, 2));
  REQUIRE(stopped.run("run input.toml").exit_code == 0);
}

void check_same_state(const nqmd::Checkpoint& a, const nqmd::Checkpoint& b) {
  REQUIRE(a.system.size() == b.system.size());
  CHECK(a.step == b.step);
  CHECK(a.system.positions == b.system.positions);
  CHECK(a.system.velocities == b.system.velocities);
  CHECK(a.system.images == b.system.images);
  CHECK(a.system.cell.lattice() == b.system.cell.lattice());
  CHECK(a.energy == b.energy);
  CHECK(a.integrator.reals == b.integrator.reals);
}

}  // namespace

TEST_CASE("stages: NPT, NVT and NVE in one input equal three runs chained by checkpoints", "[app][stages]") {
  CliSandbox staged, chained;
  staged.write("input.toml", staged_input());
  const CommandResult result = staged.run("run input.toml");
  INFO(result.err);
  REQUIRE(result.exit_code == 0);
  CHECK(result.out.find("stage 2 of 3: nvt") != std::string::npos);
  for (std::size_t k = 0; k < 3; ++k) {
    chained.write("run" + std::to_string(k) + ".toml", chained_input(k));
    const CommandResult link = chained.run("run run" + std::to_string(k) + ".toml");
    INFO(link.err);
    REQUIRE(link.exit_code == 0);
  }
  for (std::size_t k = 0; k < 3; ++k) {
    INFO("stage " << kNames[k]);
    check_same_state(nqmd::read_checkpoint(staged.path(kNames[k] + "_checkpoint.h5")),
                     nqmd::read_checkpoint(chained.path("chain" + std::to_string(k) + ".h5")));
    CHECK(without_speed(staged.read(kNames[k] + "_thermo.csv")) ==
          without_speed(chained.read("chain" + std::to_string(k) + ".csv")));
  }
  // The barostat of the first stage moved the cell, and the later stages kept it.
  CHECK(nqmd::read_checkpoint(staged.path("nve_checkpoint.h5")).system.cell.volume() !=
        Approx(4741.632).epsilon(1e-9));
}

TEST_CASE("stages: a staged run stopped inside stage 2 restarts there and ends as the whole run",
          "[app][stages][restart]") {
  CliSandbox whole, stopped;
  run_whole_and_cut_in_stage_2(whole, stopped);
  REQUIRE(nqmd::read_checkpoint(stopped.path("nvt_checkpoint.h5")).step == 17);
  stopped.write("input.toml", staged_input());
  const CommandResult continued = stopped.run("run input.toml --restart nvt_checkpoint.h5");
  INFO(continued.err);
  REQUIRE(continued.exit_code == 0);
  CHECK(continued.out.find("stage 1 of 3") == std::string::npos);
  check_same_state(nqmd::read_checkpoint(stopped.path("nve_checkpoint.h5")),
                   nqmd::read_checkpoint(whole.path("nve_checkpoint.h5")));
  // A checkpoint that belongs to no stage is refused, naming the stages' checkpoints.
  const CommandResult wrong = stopped.run("run input.toml --restart other.h5");
  CHECK(wrong.exit_code == 1);
  CHECK(wrong.err.find("npt_checkpoint.h5") != std::string::npos);
}

TEST_CASE("stages: bad stage tables are one-line errors naming the line", "[app][stages][bad-input]") {
  const std::vector<std::pair<std::string, std::string>> cases{
      {"[[stage]]\nname = \"a b\"\n[stage.run]\nsteps = 1\n", "name"},
      {"[[stage]]\nname = \"x\"\n[stage.potential]\nkind = \"lj\"\n", "potential"},
      {"[[stage]]\nname = \"x\"\n[stage.run]\nsteps = 1\n[[stage]]\nname = \"x\"\n[stage.run]\nsteps = 1\n", "\"x\""},
      {"[[stage]]\nname = \"x\"\nsteps = 5\n", "steps"},
      {"stage = 3\n", "stage"},
  };
  for (const auto& [stages, fragment] : cases) {
    CliSandbox sandbox;
    const std::string body = kStart + kShared + "\n[integrator]\nkind = \"nve\"\ntimestep = 5.0\n";
    // A top-level key goes before the first table; the stage tables after the sections.
    sandbox.write("input.toml", stages.rfind("stage =", 0) == 0 ? stages + body : body + stages);
    const CommandResult result = sandbox.run("run input.toml");
    INFO(stages << "\n" << result.err);
    CHECK(result.exit_code == 1);
    CHECK(result.err.rfind("error: input.toml:", 0) == 0);
    CHECK(result.err.find('\n') == result.err.size() - 1);
    CHECK(result.err.find(fragment) != std::string::npos);
  }
}

TEST_CASE("stages: the inputs/stages example runs its four steps and conserves energy in its NVE stage",
          "[app][stages][example]") {
  CliSandbox sandbox;
  sandbox.write("input.toml", nqmd::test::read_text_file(nqmd::test::source_path("inputs/stages/input.toml")));
  const CommandResult result = sandbox.run("run input.toml");
  INFO(result.out << result.err);
  REQUIRE(result.exit_code == 0);
  CHECK(result.out.find("minimize: converged") != std::string::npos);
  const std::string npt = sandbox.read("npt_thermo.csv");
  CHECK(npt.rfind("step,time_fs,temperature_K,pressure_bar,volume_A3,density_g_cm3,cell_a_A,potential_energy_eV\n",
                  0) == 0);
  // The crystal expands from its 0 K cell (5.2773 A) at 60 K and 1 bar.
  const double a = nqmd::test::csv_column(npt, 6).back() / 4.0;
  CHECK(a > 5.35);
  CHECK(a < 5.5);
  const std::vector<double> total = nqmd::test::csv_column(sandbox.read("nve_thermo.csv"), 4);
  REQUIRE(total.size() == 11);
  for (const double energy : total) CHECK(energy == Approx(total.front()).margin(1e-3));
  CHECK(nqmd::read_checkpoint(sandbox.path("nve_checkpoint.h5")).step == 4000);
  CHECK(sandbox.exists("nve.h5md"));
}

TEST_CASE("stages: final_cell = \"mean\" starts the next stage in the mean cell of the stage's second half",
          "[app][stages]") {
  CliSandbox sandbox;
  std::string input = staged_input(0, 2);
  // The NPT stage writes a frame every 2 steps (16 frames) and hands on its mean cell.
  input.replace(input.find("[stage.run]\nsteps = 30\n"), 22,
                "[stage.output]\ntrajectory_file = \"npt.h5md\"\ntrajectory_every = 2\n[stage.run]\nsteps = 30\n"
                "final_cell = \"mean\"\n");
  sandbox.write("input.toml", input);
  const CommandResult result = sandbox.run("run input.toml");
  INFO(result.out << result.err);
  REQUIRE(result.exit_code == 0);
  const nqmd::Trajectory npt = nqmd::read_trajectory(sandbox.path("npt.h5md"));
  REQUIRE(npt.frames.size() == 16);
  nqmd::Mat3 mean = nqmd::Mat3::Zero();
  for (std::size_t k = 8; k < 16; ++k) mean += npt.frames[k].cell.lattice();
  mean /= 8.0;
  const nqmd::Checkpoint end_of_npt = nqmd::read_checkpoint(sandbox.path("npt_checkpoint.h5"));
  // The NVT stage's first row is in the mean cell, not the last one.
  const std::vector<double> volumes = nqmd::test::csv_column(sandbox.read("nvt_thermo.csv"), 8);
  CHECK(volumes.front() == Approx(mean.determinant()).epsilon(1e-12));
  CHECK(std::abs(volumes.front() - end_of_npt.system.cell.volume()) > 1e-6);
  const nqmd::Checkpoint end_of_nvt = nqmd::read_checkpoint(sandbox.path("nvt_checkpoint.h5"));
  CHECK(end_of_nvt.system.cell.lattice().isApprox(mean, 1e-12));
  CHECK(result.out.find("final_cell = \"mean\": the next stage starts in the mean cell of frames 8 to 15") !=
        std::string::npos);

  SECTION("without a trajectory it is an error before the run") {
    CliSandbox bare;
    std::string no_trajectory = staged_input(0, 2);
    no_trajectory.replace(no_trajectory.find("[stage.run]\nsteps = 30\n"), 22,
                          "[stage.run]\nsteps = 30\nfinal_cell = \"mean\"\n");
    bare.write("input.toml", no_trajectory);
    const CommandResult refused = bare.run("run input.toml");
    CHECK(refused.exit_code == 1);
    CHECK(refused.err.find("[run] final_cell: \"mean\" averages the stage's trajectory frames") != std::string::npos);
    CHECK_FALSE(bare.exists("npt_thermo.csv"));
  }
}

TEST_CASE("stages: a run stopped in stage 2 before its first checkpoint continues from stage 1's checkpoint",
          "[app][stages][restart]") {
  CliSandbox whole, stopped;
  run_whole_and_cut_in_stage_2(whole, stopped);
  // Stage 2 was under way (its thermo file exists) but wrote no checkpoint yet.
  std::filesystem::remove(stopped.path("nvt_checkpoint.h5"));
  REQUIRE(stopped.exists("nvt_thermo.csv"));
  stopped.write("input.toml", staged_input());
  const CommandResult continued = stopped.run("run input.toml --restart npt_checkpoint.h5");
  INFO(continued.err);
  REQUIRE(continued.exit_code == 0);
  check_same_state(nqmd::read_checkpoint(stopped.path("nve_checkpoint.h5")),
                   nqmd::read_checkpoint(whole.path("nve_checkpoint.h5")));
  CHECK(without_speed(stopped.read("nvt_thermo.csv")) == without_speed(whole.read("nvt_thermo.csv")));
}
