// Temperature studies ([study]): each temperature's run equals the plain run at that temperature, a stopped or
// killed study continues to the same result, the Arrhenius analysis follows, and bad studies are one line.
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <string>
#include <thread>
#include <vector>

#include <catch2/catch.hpp>
#include <fmt/format.h>

#include "cli_runner.hpp"

namespace {

using nqmd::test::CliSandbox;
using nqmd::test::CommandResult;
using nqmd::test::without_speed;

// Liquid argon (108 atoms at 1.23 g/cm^3) with a Langevin thermostat; STUDY and RUN complete it.
std::string argon_input(const std::string& study, const std::string& run, double temperature = 100.0) {
  return fmt::format(R"([structure]
lattice = "fcc"
lattice_constant = 6.0
repeat = [3, 3, 3]
species = ["Ar"]
random_displacement = 0.1

[velocities]
kind = "maxwell_boltzmann"
temperature = {0}
seed = 5

[potential]
kind = "lj"
species = ["Ar"]
epsilon = [0.01032]
sigma = [3.405]
cutoff = 7.0
shift = true

[integrator]
kind = "nvt_langevin"
timestep = 5.0
temperature = {0}
friction = 0.01
seed = 3

[output]
trajectory_file = "trajectory.h5md"
trajectory_every = 10

[run]
thermo_every = 50
{1}
{2}
)",
                     temperature, run, study);
}

const std::string kStudy = R"(
[study]
temperatures = [120, 160]
species = "Ar"
)";

// The rows of a CSV file (header dropped).
std::vector<std::string> csv_rows(const std::string& text) {
  std::vector<std::string> rows = nqmd::test::lines_of(text);
  if (!rows.empty()) rows.erase(rows.begin());
  return rows;
}

// Waits (up to 60 s) until every path exists.
bool wait_for_files(const CliSandbox& sandbox, const std::vector<std::string>& paths) {
  for (int attempt = 0; attempt < 600; ++attempt) {
    bool all = true;
    for (const std::string& path : paths) all = all && sandbox.exists(path);
    if (all) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  return false;
}

// Waits (up to 60 s) until no process holds a lock on the run's outputs any more (the lock files are removed
// when released; a SIGKILLed study's runs stop on their own).
bool wait_for_unlocked(const CliSandbox& sandbox, const std::vector<std::string>& outputs) {
  for (int attempt = 0; attempt < 600; ++attempt) {
    bool any = false;
    for (const std::string& output : outputs) any = any || sandbox.exists(output + ".lock");
    if (!any) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  return false;
}

}  // namespace

TEST_CASE("study: each temperature's run is the plain run at that temperature, then the Arrhenius fit", "[app][study]") {
  CliSandbox study;
  study.write("input.toml", argon_input(kStudy, "steps = 1000"));
  const CommandResult result = study.run("run input.toml -t 1");
  INFO(result.out << result.err);
  REQUIRE(result.exit_code == 0);
  CHECK(result.out.find("study: all 2 runs complete") != std::string::npos);

  for (const double temperature : {120.0, 160.0}) {
    const std::string run = fmt::format("study/T{}", temperature);
    CliSandbox plain;
    plain.write("input.toml", argon_input("", "steps = 1000", temperature));
    REQUIRE(plain.run("run input.toml -t 1").exit_code == 0);
    INFO(run);
    CHECK(without_speed(study.read(run + "/thermo.csv")) == without_speed(plain.read("thermo.csv")));
    CHECK(study.exists(run + "/trajectory.h5md"));
    CHECK(study.exists(run + "/checkpoint.h5"));
    CHECK(study.exists(run + "/complete"));
    CHECK(study.read(run + "/run.log").find("system: 108 atoms") != std::string::npos);
    // The mean temperature of the second half is the target's.
    const std::vector<double> temperatures = nqmd::test::csv_column(study.read(run + "/thermo.csv"), 6);
    double mean = 0.0;
    for (std::size_t k = temperatures.size() / 2; k < temperatures.size(); ++k) mean += temperatures[k];
    mean /= static_cast<double>(temperatures.size() - temperatures.size() / 2);
    CHECK(mean == Approx(temperature).epsilon(0.15));
  }
  const std::vector<std::string> rows = csv_rows(study.read("study/analysis/arrhenius.csv"));
  REQUIRE(rows.size() == 2);
  CHECK(rows[0].rfind("120,", 0) == 0);
  CHECK(rows[1].rfind("160,", 0) == 0);
  const std::vector<double> d = nqmd::test::csv_column(study.read("study/analysis/arrhenius.csv"), 2);
  CHECK(d[1] > d[0]);
  CHECK(d[0] > 0.0);
  CHECK(study.read("study/arrhenius.toml").find("runs = ['T120/trajectory.h5md', 'T160/trajectory.h5md']") !=
        std::string::npos);

  SECTION("run again: the finished runs are kept, the analysis is redone") {
    const std::string thermo = study.read("study/T120/thermo.csv");
    const CommandResult again = study.run("run input.toml -t 1");
    INFO(again.out << again.err);
    CHECK(again.exit_code == 0);
    CHECK(again.out.find("study: T120 is complete") != std::string::npos);
    CHECK(study.read("study/T120/thermo.csv") == thermo);
    CHECK(again.out.find("[arrhenius] Ar: Ea = ") != std::string::npos);
  }
}

TEST_CASE("study: steps per temperature set the length of the last stage only", "[app][study]") {
  const std::string stages = R"(
[[stage]]
name = "warm"
[stage.run]
steps = 100
thermo_every = 50

[[stage]]
name = "main"
[stage.run]
steps = {}
thermo_every = 50
)";
  CliSandbox study;
  study.write("input.toml", argon_input("[study]\ntemperatures = [120, 160]\nsteps = [200, 300]\n" +
                                            fmt::format(stages, 1000),
                                        "steps = 1000"));
  const CommandResult result = study.run("run input.toml -t 1");
  INFO(result.out << result.err);
  REQUIRE(result.exit_code == 0);
  for (const auto& [run, steps] : {std::pair{"T120", 200.0}, std::pair{"T160", 300.0}}) {
    INFO(run);
    CHECK(nqmd::test::csv_column(study.read(fmt::format("study/{}/warm_thermo.csv", run)), 0).back() == 100.0);
    CHECK(nqmd::test::csv_column(study.read(fmt::format("study/{}/main_thermo.csv", run)), 0).back() == steps);
  }
  // T160 is the plain staged run at 160 K whose last stage has 300 steps.
  CliSandbox plain;
  plain.write("input.toml", argon_input(fmt::format(stages, 300), "steps = 1000", 160.0));
  REQUIRE(plain.run("run input.toml -t 1").exit_code == 0);
  CHECK(without_speed(study.read("study/T160/main_thermo.csv")) == without_speed(plain.read("main_thermo.csv")));
  CHECK(without_speed(study.read("study/T160/warm_thermo.csv")) == without_speed(plain.read("warm_thermo.csv")));
}

TEST_CASE("study: stopped by a signal or killed, it continues to the result of an uninterrupted study",
          "[app][study][signals]") {
  const std::string input = argon_input(kStudy + "concurrent = 2\n", "steps = 3000\ncheckpoint_every = 100");
  CliSandbox uninterrupted;
  uninterrupted.write("input.toml", input);
  REQUIRE(uninterrupted.run("run input.toml -t 1").exit_code == 0);

  for (const int signal : {SIGTERM, SIGKILL}) {
    INFO("signal " << signal);
    CliSandbox sandbox;
    sandbox.write("input.toml", input);
    const pid_t study = nqmd::test::start(sandbox, {"run", "input.toml", "-t", "1"});
    REQUIRE(wait_for_files(sandbox, {"study/T120/checkpoint.h5", "study/T160/checkpoint.h5"}));
    kill(study, signal);
    const int code = nqmd::test::wait_for(study);
    if (signal == SIGTERM) {
      CHECK(code == 128 + SIGTERM);
      CHECK(sandbox.read("stderr.txt").find("run the same command again to continue") != std::string::npos);
    }
    REQUIRE(wait_for_unlocked(sandbox, {"study/T120/thermo.csv", "study/T160/thermo.csv"}));
    CHECK_FALSE(sandbox.exists("study/T120/complete"));
    const CommandResult resumed = sandbox.run("run input.toml -t 1");
    INFO(resumed.out << resumed.err);
    REQUIRE(resumed.exit_code == 0);
    CHECK(resumed.out.find("T120 continues from checkpoint.h5") != std::string::npos);
    for (const char* run : {"T120", "T160"}) {
      const std::vector<std::string> rows = without_speed(sandbox.read(fmt::format("study/{}/thermo.csv", run)));
      const std::vector<std::string> reference =
          without_speed(uninterrupted.read(fmt::format("study/{}/thermo.csv", run)));
      REQUIRE_FALSE(rows.empty());
      CHECK(rows.back() == reference.back());  // restarts are bit-identical
    }
    CHECK(sandbox.read("study/analysis/arrhenius.csv") == uninterrupted.read("study/analysis/arrhenius.csv"));
  }
}

TEST_CASE("study: a stop signal while runs still wait their turn ends the study at once", "[app][study][signals]") {
  CliSandbox sandbox;
  sandbox.write("input.toml", argon_input(kStudy + "concurrent = 1\n", "steps = 100000\ncheckpoint_every = 100"));
  const pid_t study = nqmd::test::start(sandbox, {"run", "input.toml", "-t", "1"});
  REQUIRE(wait_for_files(sandbox, {"study/T120/checkpoint.h5"}));
  kill(study, SIGTERM);
  int status = 0;
  bool exited = false;
  for (int attempt = 0; attempt < 600 && !exited; ++attempt) {
    exited = waitpid(study, &status, WNOHANG) == study;
    if (!exited) std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  if (!exited) {
    kill(study, SIGKILL);
    waitpid(study, &status, 0);
  }
  REQUIRE(exited);
  CHECK(WIFEXITED(status));
  CHECK(WEXITSTATUS(status) == 128 + SIGTERM);
  CHECK_FALSE(sandbox.exists("study/T160/run.log"));  // never started
}

TEST_CASE("study: bad studies are one line naming the key", "[app][study]") {
  struct Case {
    std::string name, study, expected;
  };
  const std::vector<Case> cases{
      {"no temperatures", "[study]\ntemperatures = []\n", "[study] temperatures: expected 1 to 1000 temperatures, got 0"},
      {"negative temperature", "[study]\ntemperatures = [600, -5]\n",
       "[study] temperatures: expected temperatures in (0, 1e5] K, got -5"},
      {"temperature twice", "[study]\ntemperatures = [600, 600.0]\n", "[study] temperatures: 600 K is given twice"},
      {"one temperature for Arrhenius", "[study]\ntemperatures = [600]\nspecies = \"Ar\"\n",
       "[study] species: the Arrhenius analysis needs at least 2 temperatures"},
      {"unknown key", "[study]\ntemperatures = [600]\ntemperature_list = [1]\n", "temperature_list"},
      {"steps of another length", "[study]\ntemperatures = [600, 700]\nsteps = [10]\n",
       "[study] steps: expected 2 values, one per temperature, got 1"},
      {"steps of no length", "[study]\ntemperatures = [600]\nsteps = [0]\n",
       "[study] steps: expected step counts in [1, 1e12], got 0"},
      {"steps for a last stage without [stage.run]", "[study]\ntemperatures = [600]\nsteps = [10]\n\n[[stage]]\nname = \"only\"\n",
       "[study] steps: the last [[stage]] (only) has no [stage.run] of its own"},
  };
  for (const Case& c : cases) {
    INFO(c.name);
    CliSandbox sandbox;
    sandbox.write("input.toml", argon_input(c.study, "steps = 10"));
    const CommandResult result = sandbox.run("run input.toml");
    CHECK(result.exit_code == 1);
    const std::vector<std::string> errors = nqmd::test::error_lines(result.err);
    REQUIRE(errors.size() == 1);
    CHECK(errors[0].find(c.expected) != std::string::npos);
    CHECK_FALSE(sandbox.exists("study"));
  }

  SECTION("a directory that holds another study's runs, or other files") {
    CliSandbox sandbox;
    sandbox.write("input.toml", argon_input("[study]\ntemperatures = [100]\n", "steps = 10"));
    REQUIRE(sandbox.run("run input.toml").exit_code == 0);
    sandbox.write("other.toml", argon_input("[study]\ntemperatures = [100]\n", "steps = 10"));
    const CommandResult other = sandbox.run("run other.toml");
    CHECK(other.exit_code == 1);
    CHECK(other.err.find("[study] directory: '") != std::string::npos);
    CHECK(other.err.find("holds the runs of another study (") != std::string::npos);
    CHECK(other.err.find("input.toml)") != std::string::npos);
    std::filesystem::create_directories(sandbox.path("elsewhere"));
    sandbox.write("elsewhere/notes.txt", "mine");
    sandbox.write("third.toml", argon_input("[study]\ntemperatures = [100]\ndirectory = \"elsewhere\"\n", "steps = 10"));
    const CommandResult third = sandbox.run("run third.toml");
    CHECK(third.exit_code == 1);
    CHECK(third.err.find("holds other files and no study.txt") != std::string::npos);
    CHECK(sandbox.read("elsewhere/notes.txt") == "mine");
  }
  SECTION("an input with no temperature to vary, an absolute output path, --restart") {
    CliSandbox sandbox;
    std::string input = argon_input("[study]\ntemperatures = [100]\n", "steps = 10");
    input.replace(input.find("kind = \"nvt_langevin\""), 21, "kind = \"nve\"");
    input.replace(input.find("temperature = 100\nfriction = 0.01\nseed = 3\n"), 43, "");
    input.erase(input.find("[velocities]"), input.find("[potential]") - input.find("[velocities]"));
    sandbox.write("input.toml", input);
    const CommandResult no_temperature = sandbox.run("run input.toml");
    INFO(no_temperature.err);
    CHECK(no_temperature.exit_code == 1);
    CHECK(no_temperature.err.find("the input sets no temperature for the study to vary") != std::string::npos);

    sandbox.write("absolute.toml", argon_input("[study]\ntemperatures = [100]\n",
                                               "steps = 10\nthermo_file = \"/tmp/thermo.csv\""));
    const CommandResult absolute = sandbox.run("run absolute.toml");
    CHECK(absolute.exit_code == 1);
    CHECK(absolute.err.find("[run] thermo_file: \"/tmp/thermo.csv\" is an absolute path") != std::string::npos);

    sandbox.write("restart.toml", argon_input("[study]\ntemperatures = [100]\n", "steps = 10"));
    const CommandResult restart = sandbox.run("run restart.toml --restart x.h5");
    CHECK(restart.exit_code == 1);
    CHECK(restart.err.find("--restart is not for a study") != std::string::npos);
  }
}
