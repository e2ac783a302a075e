// Stops on signals, as batch schedulers send them: finish the step, flush, checkpoint, exit 128 + signal.
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cctype>
#include <chrono>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <optional>
#include <string>
#include <thread>

#include <catch2/catch.hpp>
#include <fmt/format.h>

#include "cli_runner.hpp"
#include "io/checkpoint.hpp"

namespace {

using nqmd::test::CliSandbox;

const std::string kLongRun = R"([structure]
lattice = "fcc"
lattice_constant = 5.6
repeat = [4, 4, 4]
species = ["Ar"]

[velocities]
kind = "maxwell_boltzmann"
temperature = 100.0

[potential]
kind = "lj"
species = ["Ar"]
epsilon = [0.01032]
sigma = [3.405]
cutoff = 8.0

[integrator]
kind = "nvt_langevin"
timestep = 5.0
temperature = 100.0
friction = 0.01

[run]
steps = 100000000
thermo_every = 10
)";

// Starts `nequip-md run input.toml` in the sandbox and returns its pid.
pid_t start_run(const CliSandbox& sandbox) {
  const pid_t pid = fork();
  if (pid == 0) {
    if (chdir(sandbox.directory().c_str()) != 0) _exit(127);
    freopen("stdout.txt", "w", stdout);
    freopen("stderr.txt", "w", stderr);
    execl(NQMD_EXECUTABLE, NQMD_EXECUTABLE, "run", "input.toml", static_cast<char*>(nullptr));
    _exit(127);
  }
  return pid;
}

// The step of the last complete data row of the thermo file (a header line, then rows that start with the
// step), or nothing before the first row.
std::optional<std::uint64_t> last_thermo_step(const CliSandbox& sandbox) {
  const std::string text = sandbox.read("thermo.csv");
  const std::size_t end = text.rfind('\n');
  if (end == std::string::npos || end == 0) return std::nullopt;
  const std::size_t begin = text.rfind('\n', end - 1);
  if (begin == std::string::npos) return std::nullopt;  // only the header so far
  const std::string row = text.substr(begin + 1, end - begin - 1);
  if (row.empty() || !std::isdigit(static_cast<unsigned char>(row.front()))) return std::nullopt;
  return std::stoull(row);
}

// Waits until the run has written the thermo row of step `step` or a later one (or 60 s pass): the step a run
// has reached, whatever the output interval.
bool wait_for_step(const CliSandbox& sandbox, std::uint64_t step) {
  for (int attempt = 0; attempt < 600; ++attempt) {
    if (const std::optional<std::uint64_t> last = last_thermo_step(sandbox); last && *last >= step) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  return false;
}

int exit_code_of(pid_t pid) {
  int status = 0;
  waitpid(pid, &status, 0);
  return WIFEXITED(status) ? WEXITSTATUS(status) : -WTERMSIG(status);
}

// Starts kLongRun with the fcc lattice repeated `cells` times along each axis (4 cells^3 atoms).
pid_t start_large_run(const CliSandbox& sandbox, int cells) {
  std::string input = kLongRun;
  input.replace(input.find("repeat = [4, 4, 4]"), 18, fmt::format("repeat = [{0}, {0}, {0}]", cells));
  sandbox.write("input.toml", input);
  return start_run(sandbox);
}

// Whether process `pid` runs nequip-md (it has exec'ed: the forked test process also catches signals) and has a
// handler installed for `signal` (the SigCgt mask of /proc/PID/status).
bool catches(pid_t pid, int signal) {
  std::error_code error;
  const std::filesystem::path exe = std::filesystem::read_symlink("/proc/" + std::to_string(pid) + "/exe", error);
  if (error || !std::filesystem::equivalent(exe, NQMD_EXECUTABLE, error)) return false;
  std::ifstream status("/proc/" + std::to_string(pid) + "/status");
  for (std::string line; std::getline(status, line);)
    if (line.rfind("SigCgt:", 0) == 0) return (std::stoull(line.substr(7), nullptr, 16) >> (signal - 1)) & 1U;
  return false;
}

}  // namespace

TEST_CASE("signals: SIGTERM, SIGUSR1 and SIGINT stop cleanly with a checkpoint", "[app][signals]") {
  for (const int signal : {SIGTERM, SIGUSR1, SIGINT}) {
    CliSandbox sandbox;
    sandbox.write("input.toml", kLongRun);
    const pid_t pid = start_run(sandbox);
    REQUIRE(wait_for_step(sandbox, 30));
    kill(pid, signal);
    const int code = exit_code_of(pid);
    INFO("signal " << signal << ", stderr: " << sandbox.read("stderr.txt"));
    CHECK(code == 128 + signal);
    CHECK(sandbox.read("stderr.txt").find("outputs flushed, checkpoint written to") != std::string::npos);
    REQUIRE(sandbox.exists("checkpoint.h5"));
    const nqmd::Checkpoint checkpoint = nqmd::read_checkpoint(sandbox.path("checkpoint.h5"));
    CHECK(checkpoint.step >= 30);
    CHECK(checkpoint.system.size() == 256);
    // The thermo file was flushed: its last row is not after the checkpoint's step.
    const std::string thermo = sandbox.read("thermo.csv");
    const std::size_t last_row = thermo.rfind('\n', thermo.size() - 2) + 1;
    CHECK(std::stoull(thermo.substr(last_row)) <= checkpoint.step);
  }
}

TEST_CASE("signals: a second SIGINT exits at once", "[app][signals]") {
  CliSandbox sandbox;
  // A large system, so that one step takes long enough for the second signal to arrive within it.
  const pid_t pid = start_large_run(sandbox, 30);
  REQUIRE(wait_for_step(sandbox, 0));
  kill(pid, SIGINT);
  kill(pid, SIGINT);
  CHECK(exit_code_of(pid) == 128 + SIGINT);
}

TEST_CASE("signals: a stop signal during start-up ends the run at once, before any step", "[app][signals]") {
  CliSandbox sandbox;
  // 256,000 atoms: building them, their velocities, the neighbour list and the first forces takes far longer than
  // the signal takes to arrive once the handler is in place.
  const pid_t pid = start_large_run(sandbox, 40);
  bool ready = false;
  for (int attempt = 0; attempt < 600 && !ready; ++attempt) {
    ready = catches(pid, SIGTERM);
    if (!ready) std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  REQUIRE(ready);
  kill(pid, SIGTERM);
  CHECK(exit_code_of(pid) == 128 + SIGTERM);
  // No step was run: no checkpoint, no thermo row (a graceful stop would have written step 0).
  CHECK_FALSE(sandbox.exists("checkpoint.h5"));
  CHECK_FALSE(last_thermo_step(sandbox).has_value());
}
