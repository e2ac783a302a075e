// Writers killed with SIGKILL, between frames or at random moments (inside HDF5 calls and flushes too): every
// flushed frame reads back exactly, and such a file is resumed with every frame up to the restart step.
#include <sys/time.h>
#include <sys/wait.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <csignal>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <random>
#include <string>
#include <utility>
#include <vector>

#include "engine/error.hpp"
#include "h5md_test_support.hpp"
#include "io/h5md.hpp"
#include "io/trajectory.hpp"

using namespace nqmd::test::h5md;

namespace {

// SIGALRM handler of the killed-writer test: the writer dies wherever it is.
void kill_self(int) { ::raise(SIGKILL); }

// When the timer that kills a writer child starts: with the child, or at its first flush (a restart needs a
// checkpoint, which is written after a flush).
enum class KillTimer { from_start, from_first_flush };

// Forks a child that writes `frames` to an H5MD file at `path` (flush_every, deflate level) and is killed by
// SIGKILL `delay_us` after the timer starts, wherever it is (between frames, inside HDF5 calls or a flush).
// Returns the child's last reported count of flushed frames and whether SIGKILL ended it; the child must have
// been killed or have finished cleanly.
std::pair<std::uint32_t, bool> run_killed_writer(const std::string& path, const std::vector<WrittenFrame>& frames,
                                                 std::size_t flush_every, int compression_level, int delay_us,
                                                 KillTimer start) {
  int pipe_ends[2];
  REQUIRE(::pipe(pipe_ends) == 0);
  std::fflush(nullptr);
  const pid_t child = ::fork();
  REQUIRE(child >= 0);
  if (child == 0) {
    ::close(pipe_ends[0]);
    std::signal(SIGALRM, kill_self);
    itimerval timer{};
    timer.it_value.tv_usec = delay_us;
    if (start == KillTimer::from_start) ::setitimer(ITIMER_REAL, &timer, nullptr);
    try {
      nqmd::H5mdWriterOptions options = h5md_options(path);
      options.flush_every = flush_every;
      options.compression_level = compression_level;
      nqmd::H5mdWriter writer(options);
      for (std::size_t k = 0; k < frames.size(); ++k) {
        write_frames(writer, frames, k, k + 1);
        // Tell the parent how many frames are known to be flushed, before the timer can start: a child descheduled
        // for longer than the delay (a loaded machine) still reports its first flush.
        const auto flushed = static_cast<std::uint32_t>(writer.frames() / flush_every * flush_every);
        if (::write(pipe_ends[1], &flushed, sizeof flushed) != sizeof flushed) ::_exit(5);
        if (start == KillTimer::from_first_flush && k + 1 == flush_every) ::setitimer(ITIMER_REAL, &timer, nullptr);
      }
    } catch (...) {
      ::_exit(3);
    }
    ::_exit(0);
  }
  ::close(pipe_ends[1]);
  std::uint32_t flushed = 0, reported = 0;
  while (::read(pipe_ends[0], &reported, sizeof reported) == sizeof reported) flushed = reported;
  ::close(pipe_ends[0]);
  int status = 0;
  REQUIRE(::waitpid(child, &status, 0) == child);
  REQUIRE(((WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL) || (WIFEXITED(status) && WEXITSTATUS(status) == 0)));
  return {flushed, WIFSIGNALED(status)};
}

}  // namespace

TEST_CASE("h5md: a writer killed with SIGKILL leaves every flushed frame readable and exact", "[h5md]") {
  TemporaryDirectory directory;
  const std::vector<WrittenFrame> frames = random_walk(Shape::triclinic, 45, 0.4, 61);
  constexpr int kRuns = 10;
  const std::size_t flush_every[kRuns] = {1, 1, 1, 2, 3, 4, 5, 1, 3, 7};
  std::size_t total_written = 0, total_flushed = 0, total_recovered = 0;
  for (int run = 0; run < kRuns; ++run) {
    const std::size_t kill_after = 3 + 4 * static_cast<std::size_t>(run);  // frames written before the kill
    const std::size_t flushed = kill_after / flush_every[run] * flush_every[run];
    const std::string path = directory.file(fmt::format("killed-{}.h5", run));
    INFO("run " << run << ": flush every " << flush_every[run] << ", killed after " << kill_after << " frames");
    std::fflush(nullptr);
    const pid_t child = ::fork();
    REQUIRE(child >= 0);
    if (child == 0) {
      try {
        nqmd::H5mdWriterOptions options = h5md_options(path);
        options.flush_every = flush_every[run];
        options.compression_level = run % 2 == 0 ? 0 : 4;
        nqmd::H5mdWriter writer(options);
        write_frames(writer, frames, 0, kill_after);
        ::raise(SIGKILL);
      } catch (...) {
        ::_exit(3);
      }
      ::_exit(4);
    }
    int status = 0;
    REQUIRE(::waitpid(child, &status, 0) == child);
    REQUIRE(WIFSIGNALED(status));
    REQUIRE(WTERMSIG(status) == SIGKILL);

    const nqmd::Trajectory trajectory = nqmd::read_trajectory(path);
    const std::size_t recovered = trajectory.frames.size();
    CAPTURE(recovered);
    REQUIRE(recovered >= flushed);
    REQUIRE(recovered <= kill_after);
    for (std::size_t k = 0; k < recovered; ++k) require_same_frame(trajectory.frames[k], frames[k], true, true);
    total_written += kill_after;
    total_flushed += flushed;
    total_recovered += recovered;
  }
  CAPTURE(total_written, total_flushed, total_recovered);
  REQUIRE(total_recovered >= total_flushed);
  SUCCEED(fmt::format("{} killed runs: {} frames written, {} flushed, {} recovered exactly", kRuns, total_written,
                      total_flushed, total_recovered));
}

TEST_CASE("h5md: a writer killed at random moments, even while flushing, never yields a wrong frame", "[h5md]") {
  TemporaryDirectory directory;
  const std::vector<WrittenFrame> frames = random_walk(Shape::triclinic, 45, 0.4, 62);
  constexpr int kRuns = 100;
  // A run killed before its first flush is checked and run again with twice the delay, so that every run ends with
  // frames to recover however slowly the machine starts the writer (the test never depends on its speed).
  constexpr int kAttemptsPerRun = 10;
  std::mt19937 rng(5);
  int killed_before_first_flush = 0;
  std::size_t total_flushed = 0, total_recovered = 0;
  for (int run = 0; run < kRuns; ++run) {
    const std::size_t flush_every = 1 + static_cast<std::size_t>(run % 3);
    int delay_us = std::uniform_int_distribution<int>(2000, 40000)(rng);
    std::uint32_t flushed = 0;
    std::string path;
    for (int attempt = 0; attempt < kAttemptsPerRun; ++attempt, delay_us *= 2) {
      path = directory.file(fmt::format("killed-{}-{}.h5", run, attempt));
      INFO("run " << run << ", attempt " << attempt << ": flush every " << flush_every << ", killed after " << delay_us
                  << " us");
      flushed =
          run_killed_writer(path, frames, flush_every, run % 2 == 0 ? 0 : 4, delay_us, KillTimer::from_start).first;
      CAPTURE(flushed);
      if (flushed > 0) break;
      // Killed before its first frame was flushed: the file may hold no frame or be unreadable, but is never wrong.
      ++killed_before_first_flush;
      try {
        const nqmd::Trajectory trajectory = nqmd::read_trajectory(path);
        for (std::size_t k = 0; k < trajectory.frames.size(); ++k)
          require_same_frame(trajectory.frames[k], frames[k], true, true);
      } catch (const nqmd::InputError& error) {
        REQUIRE_THAT(error.what(), Contains(path));
      }
    }
    INFO("run " << run << ": no frame flushed in " << kAttemptsPerRun << " attempts");
    REQUIRE(flushed > 0);
    const nqmd::Trajectory trajectory = nqmd::read_trajectory(path);
    REQUIRE(trajectory.frames.size() >= flushed);
    for (std::size_t k = 0; k < trajectory.frames.size(); ++k)
      require_same_frame(trajectory.frames[k], frames[k], true, true);
    total_flushed += flushed;
    total_recovered += trajectory.frames.size();
  }
  CAPTURE(killed_before_first_flush, total_flushed, total_recovered);
  SUCCEED(
      fmt::format("{} runs killed by a timer: {} kills came before the first flush (run again later); the runs "
                  "flushed {} frames, {} recovered exactly",
                  kRuns, killed_before_first_flush, total_flushed, total_recovered));
}

TEST_CASE("h5md: a file whose writer was killed at a random moment is resumed with every frame up to the step",
          "[h5md][resume]") {
  TemporaryDirectory directory;
  const std::vector<WrittenFrame> frames = random_walk(Shape::triclinic, 45, 0.4, 63);
  const std::vector<WrittenFrame> continuation = random_walk(Shape::triclinic, 50, 0.4, 64);
  constexpr int kRuns = 60;
  std::mt19937 rng(7);
  int resumed = 0, killed = 0;
  std::size_t total_kept = 0;
  for (int run = 0; run < kRuns; ++run) {
    const std::string path = directory.file(fmt::format("killed-{}.h5", run));
    const std::size_t flush_every = 1 + static_cast<std::size_t>(run % 3);
    const int delay_us = std::uniform_int_distribution<int>(200, 8000)(rng);
    INFO("run " << run << ": flush every " << flush_every << ", killed after " << delay_us << " us");
    const auto [flushed, was_killed] = run_killed_writer(path, frames, flush_every, run % 2 == 0 ? 0 : 4, delay_us,
                                                         KillTimer::from_first_flush);
    if (was_killed) ++killed;
    REQUIRE(flushed > 0);
    // The restart step, as a checkpoint's: at or after the last frame kept, before the frames not flushed.
    const std::size_t keep = std::uniform_int_distribution<std::size_t>(1, flushed)(rng);
    const std::uint64_t step = 10 * (keep - 1) + (run % 4 == 0 ? 5 : 0);
    CAPTURE(flushed, keep, step);
    nqmd::H5mdWriterOptions options = h5md_options(path);
    options.flush_every = flush_every;
    options.compression_level = run % 2 == 0 ? 0 : 4;
    options.resume_after_step = step;
    {
      nqmd::H5mdWriter writer(options);
      REQUIRE(writer.frames() == keep);
      write_frames(writer, continuation, keep, keep + 5);
    }
    REQUIRE(!std::filesystem::exists(path + ".tmp"));
    const nqmd::Trajectory trajectory = nqmd::read_trajectory(path);
    REQUIRE(trajectory.frames.size() == keep + 5);
    for (std::size_t k = 0; k < keep; ++k) require_same_frame(trajectory.frames[k], frames[k], true, true);
    for (std::size_t k = keep; k < keep + 5; ++k)
      require_same_frame(trajectory.frames[k], continuation[k], true, true);
    ++resumed;
    total_kept += keep;
  }
  CAPTURE(killed, resumed, total_kept);
  REQUIRE(killed > 0);
  SUCCEED(fmt::format("{} writers killed; {} files resumed: {} frames kept, each exact, 5 appended to each", killed,
                      resumed, total_kept));
}
