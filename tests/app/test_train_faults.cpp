// `nequip-md train` killed with SIGKILL: at a random moment, or inside the write of a checkpoint (caught by
// inotify as checkpoint.npz.tmp appears). Whatever the kill left, `train --resume` continues and ends with the
// models and metrics of the same training never killed, bit for bit.
//
// NQMD_TRAIN_KILLS sets the number of kills (default 8, half of them inside a checkpoint write); NQMD_FAULT_SEED
// repeats a sequence of kill moments (the seed used is printed).
#include <poll.h>
#include <signal.h>
#include <sys/inotify.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <map>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include <catch2/catch.hpp>

#include "cli_runner.hpp"
#include "io/npz.hpp"
#include "tiny_training.hpp"

namespace {

using nqmd::test::CliSandbox;
using nqmd::test::lines_of;
using nqmd::test::start;
using nqmd::test::wait_for;
using Clock = std::chrono::steady_clock;

constexpr int kEpochs = 10;

// A tiny model (tiny_training.hpp): epochs of a few tens of milliseconds, each ending with a checkpoint.
std::string train_input() { return nqmd::test::tiny_training_input(kEpochs) + "\n[output]\nplot = false\n"; }

// metrics_epoch.csv without its wall-time column (the second), which differs between equal trainings.
std::vector<std::string> metrics_without_wall(const std::string& csv) {
  std::vector<std::string> rows;
  for (std::string line : lines_of(csv)) {
    const std::size_t first = line.find(',');
    if (first != std::string::npos) line.erase(first, line.find(',', first + 1) - first);
    rows.push_back(line);
  }
  return rows;
}

// Every array of a model file, by name.
std::map<std::string, std::vector<unsigned char>> model_arrays(const std::string& path) {
  const nqmd::NpzFile file(path);
  std::map<std::string, std::vector<unsigned char>> arrays;
  for (const std::string& key : file.keys()) arrays[key] = file.get(key).bytes;
  return arrays;
}

bool wait_until_exists(const std::filesystem::path& path, std::chrono::seconds limit) {
  const Clock::time_point end = Clock::now() + limit;
  while (!std::filesystem::exists(path)) {
    if (Clock::now() > end) return false;
    std::this_thread::sleep_for(std::chrono::microseconds(200));
  }
  return true;
}

// Kills `pid` `delay` after the `nth` creation of `name` in `directory`; false if that did not happen within a
// minute (the training ended or hung).
bool kill_at_creation(pid_t pid, const std::filesystem::path& directory, const std::string& name, int nth,
                      std::chrono::microseconds delay) {
  const int watcher = inotify_init1(IN_CLOEXEC);
  if (watcher < 0 || inotify_add_watch(watcher, directory.c_str(), IN_CREATE) < 0) return false;
  int seen = 0;
  const Clock::time_point end = Clock::now() + std::chrono::minutes(1);
  alignas(inotify_event) char buffer[8192];
  while (seen < nth && Clock::now() < end) {
    pollfd ready{watcher, POLLIN, 0};
    if (poll(&ready, 1, 1000) <= 0) continue;
    const ssize_t length = read(watcher, buffer, sizeof buffer);
    for (ssize_t offset = 0; offset < length && seen < nth;) {
      const auto* event = reinterpret_cast<const inotify_event*>(buffer + offset);
      if (event->len > 0 && name == event->name) ++seen;
      offset += static_cast<ssize_t>(sizeof(inotify_event) + event->len);
    }
  }
  if (seen == nth) {
    if (delay.count() > 0) std::this_thread::sleep_for(delay);
    kill(pid, SIGKILL);
  }
  close(watcher);  // after the kill: closing an inotify descriptor can take milliseconds
  return seen == nth;
}

}  // namespace

TEST_CASE("faults: a training killed with SIGKILL, also inside a checkpoint write, resumes to the same models",
          "[app][faults][train-kill]") {
  const auto iterations = static_cast<int>(nqmd::test::environment_number("NQMD_TRAIN_KILLS", 8));
  const std::uint64_t seed = nqmd::test::environment_number("NQMD_FAULT_SEED", std::random_device{}());
  INFO("NQMD_FAULT_SEED=" << seed);
  std::mt19937_64 random(seed);

  // The training never killed, and how long it takes.
  CliSandbox reference;
  reference.write("train.toml", train_input());
  const Clock::time_point begin = Clock::now();
  const nqmd::test::CommandResult uninterrupted = reference.run("train train.toml");
  const auto reference_microseconds =
      std::chrono::duration_cast<std::chrono::microseconds>(Clock::now() - begin).count();
  INFO(uninterrupted.err);
  REQUIRE(uninterrupted.exit_code == 0);
  const auto best_model = model_arrays(reference.path("training/best_model.npz"));
  const auto last_model = model_arrays(reference.path("training/last_model.npz"));
  const auto metrics = metrics_without_wall(reference.read("training/metrics_epoch.csv"));
  REQUIRE(metrics.size() > static_cast<std::size_t>(kEpochs));

  int inside_checkpoint_write = 0, before_first_checkpoint = 0, identical = 0;
  for (int iteration = 0; iteration < iterations; ++iteration) {
    INFO("iteration " << iteration);
    CliSandbox sandbox;
    sandbox.write("train.toml", train_input());
    const pid_t pid = start(sandbox, {"train", "train.toml"});
    const std::filesystem::path directory = sandbox.path("training");
    if (iteration % 2 == 1) {
      // Inside the write of the checkpoint of epoch 1 .. kEpochs - 1, at once or up to 200 us after the file was created.
      REQUIRE(wait_until_exists(directory, std::chrono::seconds(60)));
      const int epoch = 1 + static_cast<int>(random() % (kEpochs - 1));
      const auto delay = std::chrono::microseconds(random() % 2 == 0 ? 0 : random() % 200);
      INFO("kill " << delay.count() << " us into the checkpoint of epoch " << epoch);
      if (!kill_at_creation(pid, directory, "checkpoint.npz.tmp", epoch, delay)) kill(pid, SIGKILL);
    } else {
      // Anywhere from the start to the end of an uninterrupted training.
      std::this_thread::sleep_for(std::chrono::microseconds(random() % reference_microseconds));
      kill(pid, SIGKILL);
    }
    const int ended = wait_for(pid);
    if (ended == 0) continue;  // the training ended before the kill (only at the very end of the range)
    REQUIRE(ended == -SIGKILL);
    if (std::filesystem::exists(directory / "checkpoint.npz.tmp")) ++inside_checkpoint_write;
    if (std::filesystem::exists(directory / "checkpoint.npz")) {
      // What a kill leaves is a complete checkpoint (the one before, if the kill was inside a write).
      REQUIRE_NOTHROW(nqmd::NpzFile(sandbox.path("training/checkpoint.npz")).get("training/epoch"));
    } else {
      ++before_first_checkpoint;
    }

    // A kill before the first model file leaves nothing to resume: the user starts the training again.
    const bool resumable = std::filesystem::exists(directory / "checkpoint.npz") ||
                           std::filesystem::exists(directory / "best_model.npz");
    const nqmd::test::CommandResult resumed =
        sandbox.run(resumable ? "train train.toml --resume" : "train train.toml");
    INFO(resumed.out << resumed.err);
    REQUIRE(resumed.exit_code == 0);
    const bool same = model_arrays(sandbox.path("training/best_model.npz")) == best_model &&
                      model_arrays(sandbox.path("training/last_model.npz")) == last_model &&
                      metrics_without_wall(sandbox.read("training/metrics_epoch.csv")) == metrics;
    CHECK(same);
    if (same) ++identical;
  }
  WARN("train killed " << iterations << " times (seed " << seed << "): " << inside_checkpoint_write
                       << " inside a checkpoint write, " << before_first_checkpoint << " before the first checkpoint, "
                       << identical << " resumed to the uninterrupted training's models bit for bit");
}

TEST_CASE("faults: --resume of a training that has not finished its first epoch starts it over",
          "[app][faults][train-kill]") {
  CliSandbox sandbox;
  sandbox.write("train.toml", train_input());
  // Nothing to resume: an error naming the checkpoint.
  nqmd::test::CommandResult result = sandbox.run("train train.toml --resume");
  CHECK(result.exit_code == 1);
  CHECK(result.err.find("no checkpoint") != std::string::npos);
  // What a kill inside epoch 1 leaves: a model file and a half-written checkpoint, no checkpoint.
  std::filesystem::create_directories(sandbox.path("training"));
  sandbox.write("training/best_model.npz", "PK\x03\x04 cut short");
  sandbox.write("training/checkpoint.npz.tmp", "PK\x03\x04 cut short");
  result = sandbox.run("train train.toml --resume");
  INFO(result.out << result.err);
  REQUIRE(result.exit_code == 0);
  CHECK(result.out.find("starts from the beginning") != std::string::npos);
  CHECK(!sandbox.exists("training/checkpoint.npz.tmp"));
  CHECK(lines_of(sandbox.read("training/metrics_epoch.csv")).size() > static_cast<std::size_t>(kEpochs));
}
