// What a command may write (io/output_files.hpp, docs/reliability.md): no command writes over one of its inputs
// (compared by file identity: spellings, ./, symbolic links), the outputs of a run are distinct files, existing
// outputs are replaced only when asked, and one process at a time writes a set of outputs (a lock that a second
// run reports with the holder's pid, released by the kernel when the holder dies).
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <map>
#include <string>
#include <vector>

#include <catch2/catch.hpp>

#include "cli_runner.hpp"
#include "io/checkpoint.hpp"
#include "io/extxyz.hpp"
#include "test_paths.hpp"

namespace {

using nqmd::test::CliSandbox;
using nqmd::test::CommandResult;
using nqmd::test::error_lines;

const std::string kLattice = "lattice = \"fcc\"\nlattice_constant = 5.6\nrepeat = [3, 3, 3]\nspecies = [\"Ar\"]\n";

// Argon with Lennard-Jones under a Langevin thermostat; `structure` is the body of [structure].
std::string argon_input(const std::string& structure, std::uint64_t steps, const std::string& run_extra = "",
                        const std::string& sections = "") {
  return "[structure]\n" + structure + R"(
[velocities]
kind = "maxwell_boltzmann"
temperature = 100.0
seed = 3

[potential]
kind = "lj"
species = ["Ar"]
epsilon = [0.01032]
sigma = [3.405]
cutoff = 7.5

[integrator]
kind = "nvt_langevin"
timestep = 5.0
temperature = 100.0
friction = 0.01
seed = 9

)" + sections + "\n[run]\nsteps = " +
         std::to_string(steps) + "\nthermo_every = 10\n" + run_extra;
}

// The contents of the sandbox's files, to show that a refused command changed none of them.
std::map<std::string, std::string> contents(const CliSandbox& sandbox) {
  std::map<std::string, std::string> files;
  for (const auto& entry : std::filesystem::directory_iterator(sandbox.directory())) {
    const std::string name = entry.path().filename().string();
    if (name == "stdout.txt" || name == "stderr.txt" || !entry.is_regular_file()) continue;
    files[name] = sandbox.read(name);
  }
  return files;
}

// Exit code 1 with exactly one "error: " line that names every one of `names`, and no file changed.
void check_refused(const CliSandbox& sandbox, const std::string& arguments, const std::vector<std::string>& names) {
  INFO(arguments);
  const std::map<std::string, std::string> before = contents(sandbox);
  const CommandResult result = sandbox.run(arguments);
  INFO(result.out << result.err);
  CHECK(result.exit_code == 1);
  const std::vector<std::string> errors = error_lines(result.err);
  REQUIRE(errors.size() == 1);
  CHECK(errors[0].rfind("error: ", 0) == 0);
  for (const std::string& name : names) CHECK(errors[0].find(name) != std::string::npos);
  CHECK(contents(sandbox) == before);
}

// Polls (at most a minute) until `ready` holds; false if it never does.
template <class Condition>
bool wait_until(Condition ready) {
  for (int poll = 0; poll < 6000; ++poll) {
    if (ready()) return true;
    usleep(10000);
  }
  return ready();
}

// Thermo rows written so far (lines after the header).
std::size_t thermo_rows(const CliSandbox& sandbox) {
  const std::size_t lines = nqmd::test::lines_of(sandbox.read("thermo.csv")).size();
  return lines > 0 ? lines - 1 : 0;
}

std::vector<std::string> lock_files(const CliSandbox& sandbox) {
  std::vector<std::string> locks;
  for (const auto& entry : std::filesystem::directory_iterator(sandbox.directory()))
    if (entry.path().extension() == ".lock") locks.push_back(entry.path().filename().string());
  return locks;
}

std::string evaluate_arguments(const std::string& output, const std::string& data = "frames.extxyz") {
  return "evaluate --model model.pth --data " + data + " --species-map Cu=Cu,Au=Au" +
         (output.empty() ? "" : " --output " + output);
}

}  // namespace

TEST_CASE("safety: evaluate never writes over its inputs, and replaces an existing output only with --force",
          "[app][safety][nequip]") {
  CliSandbox sandbox;
  std::filesystem::copy_file(nqmd::test::shared_path("reference/nequip-0.6.2/test_frames.extxyz"),
                             sandbox.path("frames.extxyz"));
  std::filesystem::copy_file(nqmd::test::shared_path("reference/nequip-0.6.2/modelB/deployed.pth"),
                             sandbox.path("model.pth"));
  std::filesystem::create_symlink("frames.extxyz", sandbox.path("link.extxyz"));
  std::filesystem::create_directory(sandbox.path("sub"));

  for (const char* output : {"frames.extxyz", "./frames.extxyz", "sub/../frames.extxyz", "link.extxyz"}) {
    check_refused(sandbox, evaluate_arguments(output), {"--output", "--data", "frames.extxyz"});
    check_refused(sandbox, evaluate_arguments(output) + " --force", {"--output", "--data"});
  }
  check_refused(sandbox, evaluate_arguments("link.extxyz", "./frames.extxyz"), {"--output", "--data"});
  check_refused(sandbox, evaluate_arguments("./model.pth") + " --force", {"--output", "--model", "model.pth"});
  std::filesystem::copy_file(sandbox.path("frames.extxyz"), sandbox.path("training.extxyz"));
  check_refused(sandbox, evaluate_arguments("training.extxyz") + " --training-data training.extxyz --force",
                {"--output", "--training-data"});

  // An existing output: refused without --force; with it replaced whole, and kept whole by a failed evaluation.
  sandbox.write("old.extxyz", "results of an earlier evaluation\n");
  check_refused(sandbox, evaluate_arguments("old.extxyz"), {"old.extxyz", "--force"});
  sandbox.write("silver.extxyz", "2\nProperties=species:S:1:pos:R:3 pbc=\"F F F\"\nCu 0 0 0\nAg 2.6 0 0\n");
  check_refused(sandbox, evaluate_arguments("old.extxyz", "silver.extxyz") + " --force", {"Ag"});
  CHECK(!sandbox.exists("old.extxyz.tmp"));
  const CommandResult forced = sandbox.run(evaluate_arguments("old.extxyz") + " --force");
  INFO(forced.err);
  REQUIRE(forced.exit_code == 0);
  CHECK(nqmd::read_extxyz(sandbox.path("old.extxyz")).size() == 7);
  CHECK(!sandbox.exists("old.extxyz.tmp"));
}

TEST_CASE("safety: evaluate on a data file without frames is an error naming the file", "[app][safety][nequip]") {
  CliSandbox sandbox;
  std::filesystem::copy_file(nqmd::test::shared_path("reference/nequip-0.6.2/modelB/deployed.pth"),
                             sandbox.path("model.pth"));
  sandbox.write("empty.extxyz", "");
  check_refused(sandbox, evaluate_arguments("", "empty.extxyz"), {"empty.extxyz", "no frames"});
  check_refused(sandbox, evaluate_arguments("out.extxyz", "empty.extxyz"), {"empty.extxyz", "no frames"});
  CHECK(!sandbox.exists("out.extxyz"));
  CHECK(!sandbox.exists("out.extxyz.tmp"));
}

TEST_CASE("safety: the outputs of a run are distinct files and none is an input", "[app][safety]") {
  CliSandbox sandbox;
  // A structure file: the first frame of a short run's trajectory.
  sandbox.write("make.toml", argon_input(kLattice, 10, "thermo_file = \"\"\ncheckpoint_file = \"\"\n",
                                         "[output]\ntrajectory_file = \"start.extxyz\"\ntrajectory_every = 10\n"
                                         "fields = [\"velocities\"]\n"));
  REQUIRE(sandbox.run("run make.toml").exit_code == 0);
  const std::string from_file = "file = \"start.extxyz\"\n";
  std::filesystem::create_symlink("start.extxyz", sandbox.path("start-link.extxyz"));

  struct Case {
    std::string description, run_extra, sections;
    std::vector<std::string> names;
  };
  const std::vector<Case> cases{
      {"thermo_file == checkpoint_file", "thermo_file = \"out.h5\"\ncheckpoint_file = \"out.h5\"\n", "",
       {"[run] thermo_file", "[run] checkpoint_file", "out.h5"}},
      {"thermo_file == checkpoint_file, other spelling",
       "thermo_file = \"out.h5\"\ncheckpoint_file = \"./sub/../out.h5\"\n", "",
       {"[run] thermo_file", "[run] checkpoint_file"}},
      {"trajectory_file == thermo_file", "thermo_file = \"out.extxyz\"\n",
       "[output]\ntrajectory_file = \"./out.extxyz\"\n", {"[output] trajectory_file", "[run] thermo_file"}},
      {"trajectory_file == structure file", "", "[output]\ntrajectory_file = \"start.extxyz\"\n",
       {"[output] trajectory_file", "[structure] file", "start.extxyz"}},
      {"trajectory_file == structure file through a symbolic link", "",
       "[output]\ntrajectory_file = \"start-link.extxyz\"\n", {"[output] trajectory_file", "[structure] file"}},
      {"checkpoint_file == structure file", "checkpoint_file = \"start.extxyz\"\n", "",
       {"[run] checkpoint_file", "[structure] file"}},
      {"checkpoint_file == the temporary file of thermo_file",
       "thermo_file = \"out.h5\"\ncheckpoint_file = \"out.h5.tmp\"\n", "",
       {"[run] checkpoint_file", "[run] thermo_file", "temporary"}},
      {"thermo_file == the input file", "thermo_file = \"input.toml\"\n", "", {"[run] thermo_file", "INPUT"}}};
  std::filesystem::create_directory(sandbox.path("sub"));
  for (const Case& test : cases) {
    INFO(test.description);
    sandbox.write("input.toml", argon_input(from_file, 20, test.run_extra, test.sections));
    check_refused(sandbox, "run input.toml", test.names);
    check_refused(sandbox, "run input.toml --force", test.names);
  }
}

TEST_CASE("safety: a restart continues its own checkpoint in place, but never writes over the checkpoint it reads",
          "[app][safety]") {
  CliSandbox sandbox;
  sandbox.write("input.toml", argon_input(kLattice, 10));
  REQUIRE(sandbox.run("run input.toml").exit_code == 0);
  sandbox.write("input.toml", argon_input(kLattice, 20));
  const CommandResult continued = sandbox.run("run input.toml --restart ./checkpoint.h5");
  INFO(continued.err);
  REQUIRE(continued.exit_code == 0);
  CHECK(nqmd::read_checkpoint(sandbox.path("checkpoint.h5")).step == 20);
  CHECK(lock_files(sandbox).empty());

  std::filesystem::copy_file(sandbox.path("checkpoint.h5"), sandbox.path("saved.h5"));
  sandbox.write("input.toml", argon_input(kLattice, 30, "thermo_file = \"saved.h5\"\n"));
  check_refused(sandbox, "run input.toml --restart saved.h5", {"--restart", "[run] thermo_file", "saved.h5"});
  sandbox.write("input.toml", argon_input(kLattice, 30, "", "[output]\ntrajectory_file = \"saved.h5\"\n"));
  check_refused(sandbox, "run input.toml --restart saved.h5", {"--restart", "[output] trajectory_file"});
}

TEST_CASE("safety: a fresh run names every existing output in one line, and analyze refuses to replace an earlier "
          "analysis unless told to",
          "[app][safety]") {
  CliSandbox sandbox;
  sandbox.write("analysis.toml", "[trajectory]\nfile = \"traj.extxyz\"\n\n[rdf]\nbins = 50\n\n[output]\n"
                                 "directory = \"out\"\nplots = false\n");
  const std::string trajectory = "[output]\ntrajectory_file = \"traj.extxyz\"\ntrajectory_every = 2\n"
                                 "fields = [\"velocities\"]\n\n[analysis]\nfile = \"analysis.toml\"\n";
  sandbox.write("input.toml", argon_input(kLattice, 20, "", trajectory));
  const CommandResult first = sandbox.run("run input.toml");
  INFO(first.err);
  REQUIRE(first.exit_code == 0);
  REQUIRE(sandbox.exists("out/summary.txt"));
  REQUIRE(sandbox.exists("out/rdf.csv"));
  check_refused(sandbox, "run input.toml",
                {"thermo.csv", "checkpoint.h5", "traj.extxyz", "out/summary.txt", "out/rdf.csv", "--force"});

  const std::string summary = sandbox.read("out/summary.txt"), rdf = sandbox.read("out/rdf.csv");
  check_refused(sandbox, "analyze analysis.toml", {"[output] directory", "out/summary.txt", "out/rdf.csv", "--force"});
  CHECK(sandbox.read("out/summary.txt") == summary);
  CHECK(sandbox.read("out/rdf.csv") == rdf);
  CHECK(sandbox.run("analyze analysis.toml --force").exit_code == 0);
  sandbox.write("analysis.toml", sandbox.read("analysis.toml") + "overwrite = true\n");
  CHECK(sandbox.run("analyze analysis.toml").exit_code == 0);
  CHECK(sandbox.run("run input.toml --force").exit_code == 0);
}

TEST_CASE("safety: an analysis never writes over its trajectory or, after a run, the run's files", "[app][safety]") {
  CliSandbox sandbox;
  // The run's thermo file is named as the [rdf] table the analysis after it writes into the same directory.
  sandbox.write("analysis.toml", "[trajectory]\nfile = \"traj.extxyz\"\n\n[rdf]\nbins = 50\n\n[output]\n"
                                 "directory = \".\"\nplots = false\n");
  sandbox.write("input.toml", argon_input(kLattice, 20, "thermo_file = \"rdf.csv\"\n",
                                          "[output]\ntrajectory_file = \"traj.extxyz\"\ntrajectory_every = 2\n"
                                          "fields = [\"velocities\"]\n\n[analysis]\nfile = \"analysis.toml\"\n"));
  const CommandResult run = sandbox.run("run input.toml");
  INFO(run.err);
  CHECK(run.exit_code == 1);
  std::vector<std::string> errors = error_lines(run.err);
  REQUIRE(errors.size() == 1);
  CHECK(errors[0].find("[run] thermo_file = rdf.csv") != std::string::npos);
  CHECK(sandbox.read("rdf.csv").rfind("step,", 0) == 0);  // still the thermo table
  CHECK(nqmd::read_checkpoint(sandbox.path("checkpoint.h5")).step == 20);

  // A trajectory named as an output of the analysis (the reader recognises extxyz by content).
  std::filesystem::rename(sandbox.path("traj.extxyz"), sandbox.path("rdf.csv"));
  sandbox.write("analysis.toml", "[trajectory]\nfile = \"rdf.csv\"\n\n[rdf]\nbins = 50\n\n[output]\n"
                                 "directory = \".\"\nplots = false\n");
  check_refused(sandbox, "analyze analysis.toml --force", {"[trajectory] file = rdf.csv"});
}

TEST_CASE("safety: a second run on the outputs of a running one refuses, naming it, and truncates nothing",
          "[app][safety][lock]") {
  CliSandbox sandbox;
  sandbox.write("input.toml", argon_input(kLattice, 100000000, "checkpoint_every = 50\n"));
  const pid_t holder = nqmd::test::start(sandbox, {"run", "input.toml"}, std::nullopt, "holder-");
  REQUIRE(wait_until([&] { return sandbox.exists("checkpoint.h5") && thermo_rows(sandbox) >= 2; }));
  const std::string holder_pid = "pid " + std::to_string(holder);

  for (const std::string arguments :
       {"run input.toml", "run input.toml --force", "run input.toml --restart checkpoint.h5"}) {
    INFO(arguments);
    const std::string thermo_before = sandbox.read("thermo.csv");
    const CommandResult second = sandbox.run(arguments);
    INFO(second.err);
    CHECK(second.exit_code == 1);
    const std::vector<std::string> errors = error_lines(second.err);
    REQUIRE(errors.size() == 1);
    CHECK(errors[0].find(holder_pid) != std::string::npos);
    CHECK(errors[0].find("in use by another nequip-md process") != std::string::npos);
    // The holder's thermo file only grew: what was there is still its prefix, and no NUL bytes.
    const std::string thermo_after = sandbox.read("thermo.csv");
    CHECK(thermo_after.compare(0, thermo_before.size(), thermo_before) == 0);
    CHECK(thermo_after.find('\0') == std::string::npos);
  }

  // The holder still runs and stops cleanly (a checkpoint at the stop); its locks go with it.
  REQUIRE(kill(holder, SIGTERM) == 0);
  CHECK(nqmd::test::wait_for(holder) == 128 + SIGTERM);
  CHECK(lock_files(sandbox).empty());
  const std::uint64_t stopped_at = nqmd::read_checkpoint(sandbox.path("checkpoint.h5")).step;
  sandbox.write("input.toml", argon_input(kLattice, stopped_at + 20, "checkpoint_every = 50\n"));
  const CommandResult continued = sandbox.run("run input.toml --restart checkpoint.h5");
  INFO(continued.err);
  CHECK(continued.exit_code == 0);
  CHECK(nqmd::read_checkpoint(sandbox.path("checkpoint.h5")).step == stopped_at + 20);
}

TEST_CASE("safety: a holder killed with SIGKILL leaves no stale lock", "[app][safety][lock]") {
  CliSandbox sandbox;
  sandbox.write("input.toml", argon_input(kLattice, 100000000));
  const pid_t holder = nqmd::test::start(sandbox, {"run", "input.toml"}, std::nullopt, "holder-");
  REQUIRE(wait_until([&] { return thermo_rows(sandbox) >= 1; }));
  REQUIRE(kill(holder, SIGKILL) == 0);
  REQUIRE(nqmd::test::wait_for(holder) == -SIGKILL);
  CHECK(!lock_files(sandbox).empty());  // left behind, but no longer locked

  sandbox.write("input.toml", argon_input(kLattice, 20));
  const CommandResult next = sandbox.run("run input.toml --force");
  INFO(next.err);
  CHECK(next.exit_code == 0);
  CHECK(nqmd::read_checkpoint(sandbox.path("checkpoint.h5")).step == 20);
  CHECK(lock_files(sandbox).empty());
}

TEST_CASE("safety: train never writes over its data or its initial model", "[app][safety][nequip]") {
  CliSandbox sandbox;
  std::filesystem::create_directory(sandbox.path("training"));
  std::filesystem::copy_file(nqmd::test::shared_path("reference/nequip-0.6.2/test_frames.extxyz"),
                             sandbox.path("frames.extxyz"));
  std::filesystem::copy_file(nqmd::test::source_path("inputs/water/water_model.npz"),
                             sandbox.path("training/best_model.npz"));
  std::filesystem::copy_file(sandbox.path("frames.extxyz"), sandbox.path("training/metrics_epoch.csv"));
  const std::string model = sandbox.read("training/best_model.npz"), data = sandbox.read("training/metrics_epoch.csv");
  const std::string output = "\n[output]\ndirectory = \"training\"\nplot = false\n";

  sandbox.write("train.toml", "[data]\nfiles = [\"frames.extxyz\"]\n\n[model]\ninitial_model = "
                              "\"training/best_model.npz\"\n" + output);
  for (const std::string arguments : {"train train.toml", "train train.toml --force", "train train.toml --resume"})
    check_refused(sandbox, arguments, {"[model] initial_model", "[output] directory", "best_model.npz"});
  sandbox.write("train.toml", "[data]\nfiles = [\"frames.extxyz\", \"training/metrics_epoch.csv\"]\n" + output);
  check_refused(sandbox, "train train.toml --force", {"[data] files", "[output] directory", "metrics_epoch.csv"});
  CHECK(sandbox.read("training/best_model.npz") == model);
  CHECK(sandbox.read("training/metrics_epoch.csv") == data);
  CHECK(!sandbox.exists("training/checkpoint.npz.lock"));
}
