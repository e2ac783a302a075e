// H5MD writer: what it writes reads back exactly (compressed or not, with or without optional fields and cell),
// h5py sees the H5MD 1.1 layout, and a full disk is an InputError.
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <catch2/catch.hpp>
#include <csignal>
#include <cstdio>
#include <fstream>
#include <string>
#include <vector>

#include "engine/error.hpp"
#include "h5md_test_support.hpp"
#include "io/extxyz_trajectory.hpp"
#include "io/h5md.hpp"
#include "io/trajectory.hpp"

using namespace nqmd::test::h5md;

namespace {

// Image changes summed over atoms, axes and frames: how often the walk crossed the cell boundary.
int boundary_crossings(const std::vector<WrittenFrame>& frames) {
  int crossings = 0;
  for (std::size_t t = 1; t < frames.size(); ++t)
    for (std::size_t i = 0; i < frames[t].system.size(); ++i)
      crossings += (frames[t].system.images[i] - frames[t - 1].system.images[i]).cwiseAbs().sum();
  return crossings;
}

double max_deviation(const std::vector<std::vector<Vec3>>& unwrapped, const std::vector<WrittenFrame>& frames) {
  double deviation = 0.0;
  for (std::size_t t = 0; t < frames.size(); ++t)
    for (std::size_t i = 0; i < frames[t].true_positions.size(); ++i)
      deviation = std::max(deviation, (unwrapped[t][i] - frames[t].true_positions[i]).norm());
  return deviation;
}

}  // namespace

TEST_CASE("h5md: read_trajectory returns exactly what the writer wrote", "[h5md]") {
  TemporaryDirectory directory;
  const auto [shape, name] = GENERATE(
      table<Shape, const char*>({{Shape::triclinic, "triclinic"}, {Shape::slab, "slab"}, {Shape::cluster, "cluster"}}));
  const int level = GENERATE(0, 6);
  INFO(name << " system, deflate level " << level);
  const std::vector<WrittenFrame> frames = random_walk(shape, 25, 0.4, 11);
  const std::string path = directory.file("run.h5");
  {
    nqmd::H5mdWriterOptions options = h5md_options(path);
    options.compression_level = level;
    options.flush_every = 4;
    nqmd::H5mdWriter writer(options);
    write_frames(writer, frames);
    REQUIRE(writer.frames() == frames.size());
  }
  const nqmd::Trajectory trajectory = nqmd::read_trajectory(path);
  REQUIRE(trajectory.source == path);
  REQUIRE(trajectory.symbols == symbols_of(frames.front().system));
  REQUIRE(trajectory.masses == frames.front().system.masses);
  REQUIRE(trajectory.frames.size() == frames.size());
  REQUIRE(trajectory.has_velocities());
  for (std::size_t k = 0; k < frames.size(); ++k) require_same_frame(trajectory.frames[k], frames[k], true, true);

  // Frame selection: first, last (inclusive) and stride.
  nqmd::TrajectoryReadOptions selection;
  selection.first_frame = 2;
  selection.last_frame = 9;
  selection.stride = 3;
  const nqmd::Trajectory selected = nqmd::read_trajectory(path, selection);
  REQUIRE(selected.frames.size() == 3);
  for (std::size_t k = 0; k < 3; ++k) require_same_frame(selected.frames[k], frames[2 + 3 * k], true, true);
  selection.last_frame = 1000;  // clamped to the last frame
  REQUIRE(nqmd::read_trajectory(path, selection).frames.back().step == frames[23].thermo.step);
  selection.first_frame = 25;
  REQUIRE_THAT(input_error_message([&] { nqmd::read_trajectory(path, selection); }),
               Contains(path) && Contains("first frame 25"));
}

TEST_CASE("h5md: optional fields are left out and read back as absent", "[h5md]") {
  TemporaryDirectory directory;
  const std::vector<WrittenFrame> frames = random_walk(Shape::triclinic, 6, 0.4, 12);
  const std::string path = directory.file("positions-only.h5");
  {
    nqmd::H5mdWriterOptions options = h5md_options(path);
    options.velocities = options.forces = options.images = false;
    nqmd::H5mdWriter writer(options);
    write_frames(writer, frames);
  }
  const nqmd::Trajectory trajectory = nqmd::read_trajectory(path);
  REQUIRE(trajectory.frames.size() == frames.size());
  REQUIRE_FALSE(trajectory.has_velocities());
  for (std::size_t k = 0; k < frames.size(); ++k) require_same_frame(trajectory.frames[k], frames[k], false, false);
}

TEST_CASE("h5md: unwrapped positions follow a random walk across many cell boundaries", "[h5md]") {
  TemporaryDirectory directory;
  const auto [shape, name] =
      GENERATE(table<Shape, const char*>({{Shape::triclinic, "triclinic"}, {Shape::slab, "slab"}}));
  INFO(name << " cell");
  const std::vector<WrittenFrame> frames = random_walk(shape, 400, 0.35, 21);
  const int crossings = boundary_crossings(frames);
  CAPTURE(crossings);
  REQUIRE(crossings >= 100);

  const std::string with_images = directory.file("images.h5");
  const std::string without_images = directory.file("no-images.h5");
  {
    nqmd::H5mdWriter writer(h5md_options(with_images));
    write_frames(writer, frames);
    nqmd::H5mdWriterOptions options = h5md_options(without_images);
    options.images = false;
    nqmd::H5mdWriter jump_writer(options);
    write_frames(jump_writer, frames);
  }
  // From the image counters.
  const nqmd::Trajectory counted = nqmd::read_trajectory(with_images);
  REQUIRE(counted.frames.front().images.size() == counted.atoms());
  REQUIRE(max_deviation(counted.unwrapped_positions(), frames) < 1e-9);

  // From the minimum-image jump rule, with the file's wrapped positions only (steps are small here).
  const nqmd::Trajectory jumped = nqmd::read_trajectory(without_images);
  REQUIRE(jumped.frames.front().images.empty());
  REQUIRE(max_deviation(jumped.unwrapped_positions(), frames) < 1e-9);

  // The same through an extxyz trajectory, which has no image counters.
  const std::string extxyz = directory.file("walk.extxyz");
  {
    nqmd::ExtxyzTrajectoryOptions options;
    options.path = extxyz;
    nqmd::ExtxyzTrajectoryWriter writer(options);
    write_frames(writer, frames);
  }
  REQUIRE(max_deviation(nqmd::read_trajectory(extxyz).unwrapped_positions(), frames) < 1e-9);
}

TEST_CASE("h5md: h5py sees the H5MD 1.1 layout and every value as written", "[h5md][h5py]") {
  if (!system_python_has("h5py")) {
    WARN("/usr/bin/python3 has no h5py: the h5py check was skipped");
    return;
  }
  TemporaryDirectory directory;
  const auto [shape, boundary] = GENERATE(table<Shape, const char*>(
      {{Shape::triclinic, "periodic,periodic,periodic"}, {Shape::slab, "periodic,periodic,none"}}));
  const int level = GENERATE(0, 4);
  const std::vector<WrittenFrame> frames = random_walk(shape, 9, 0.4, 41);
  const std::string path = directory.file("run.h5");
  {
    nqmd::H5mdWriterOptions options = h5md_options(path);
    options.compression_level = level;
    nqmd::H5mdWriter writer(options);
    write_frames(writer, frames);
  }
  write_expected(directory.file("expected.txt"), frames);
  const auto [status, output] =
      run_system_python(directory, std::string(kPythonExpected) + kH5pyCheck,
                        fmt::format("'{}' '{}' {} {}", path, directory.file("expected.txt"), level, boundary));
  INFO(output);
  REQUIRE(status == 0);
}

TEST_CASE("h5md: a full disk is an InputError naming the file", "[h5md]") {
  TemporaryDirectory directory;
  const std::vector<WrittenFrame> frames = random_walk(Shape::triclinic, 400, 0.4, 65);
  const std::string path = directory.file("full.h5");
  const std::string message_path = directory.file("message.txt");
  std::fflush(nullptr);
  const pid_t child = ::fork();
  REQUIRE(child >= 0);
  if (child == 0) {
    // A file size limit makes writes past 64 KiB fail with EFBIG, as on a full disk. (The writer's destructor
    // warns on stderr that its last flush failed too.)
    std::freopen("/dev/null", "w", stderr);
    std::signal(SIGXFSZ, SIG_IGN);
    const rlimit limit{64 * 1024, 64 * 1024};
    ::setrlimit(RLIMIT_FSIZE, &limit);
    try {
      nqmd::H5mdWriterOptions options = h5md_options(path);
      nqmd::H5mdWriter writer(options);
      write_frames(writer, frames);
      writer.flush();
    } catch (const nqmd::InputError& error) {
      std::ofstream(message_path) << error.what();
      ::_exit(0);
    } catch (...) {
      ::_exit(2);
    }
    ::_exit(1);  // the limit was never hit
  }
  int status = 0;
  REQUIRE(::waitpid(child, &status, 0) == child);
  REQUIRE(WIFEXITED(status));
  REQUIRE(WEXITSTATUS(status) == 0);
  const std::string message = read_text(message_path);
  CAPTURE(message);
  REQUIRE_THAT(message, Contains(path) && Contains("disk full"));
}
