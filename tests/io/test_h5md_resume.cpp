// Restarts: appending to an H5MD file after a step through a fresh copy of the frames kept (which h5py reads with
// the same layout), refusing what cannot continue without changing the file, and extxyz trajectories' resume.
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <csignal>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "engine/error.hpp"
#include "h5md_test_support.hpp"
#include "io/extxyz_trajectory.hpp"
#include "io/h5md.hpp"
#include "io/trajectory.hpp"

using namespace nqmd::test::h5md;

TEST_CASE("h5md: a resumed file is a fresh copy that h5py reads with the same layout and values",
          "[h5md][h5py][resume]") {
  if (!system_python_has("h5py")) {
    WARN("/usr/bin/python3 has no h5py: the h5py check was skipped");
    return;
  }
  TemporaryDirectory directory;
  const int level = GENERATE(0, 4);
  const std::vector<WrittenFrame> frames = random_walk(Shape::slab, 9, 0.4, 42);
  const std::vector<WrittenFrame> continuation = random_walk(Shape::slab, 12, 0.4, 43);
  const std::string path = directory.file("run.h5");
  nqmd::H5mdWriterOptions options = h5md_options(path);
  options.compression_level = level;
  {
    nqmd::H5mdWriter writer(options);
    write_frames(writer, frames);
  }
  // Resumed after step 45 (frames 0..4 kept, 5..8 dropped), then frames 5..11 of another walk, in two runs.
  write_text(path + ".tmp", "left by a run killed while copying");
  options.resume_after_step = 45;
  {
    nqmd::H5mdWriter writer(options);
    REQUIRE(writer.frames() == 5);
    write_frames(writer, continuation, 5, 8);
  }
  REQUIRE(!std::filesystem::exists(path + ".tmp"));
  options.resume_after_step = 75;
  {
    nqmd::H5mdWriter writer(options);
    REQUIRE(writer.frames() == 8);
    write_frames(writer, continuation, 8, 12);
  }
  std::vector<WrittenFrame> expected(frames.begin(), frames.begin() + 5);
  expected.insert(expected.end(), continuation.begin() + 5, continuation.end());
  write_expected(directory.file("expected.txt"), expected);
  const auto [status, output] =
      run_system_python(directory, std::string(kPythonExpected) + kH5pyCheck,
                        fmt::format("'{}' '{}' {} {}", path, directory.file("expected.txt"), level,
                                    "periodic,periodic,none"));
  INFO(output);
  REQUIRE(status == 0);
  const nqmd::Trajectory trajectory = nqmd::read_trajectory(path);
  REQUIRE(trajectory.frames.size() == expected.size());
  for (std::size_t k = 0; k < expected.size(); ++k) require_same_frame(trajectory.frames[k], expected[k], true, true);
}

TEST_CASE("h5md: existing files are refused unless overwritten or appended to after a step", "[h5md]") {
  TemporaryDirectory directory;
  const std::vector<WrittenFrame> frames = random_walk(Shape::triclinic, 10, 0.4, 71);
  const std::vector<WrittenFrame> continuation = random_walk(Shape::triclinic, 10, 0.4, 72);
  const std::string path = directory.file("run.h5");
  {
    nqmd::H5mdWriter writer(h5md_options(path));
    write_frames(writer, frames);
  }
  REQUIRE_THAT(input_error_message([&] { nqmd::H5mdWriter writer(h5md_options(path)); }),
               Contains(path) && Contains("already exists"));
  REQUIRE(nqmd::read_trajectory(path).frames.size() == 10);  // the refused writer left the file alone

  SECTION("append after step 45: frames at steps 50.. are dropped and new ones follow") {
    nqmd::H5mdWriterOptions options = h5md_options(path);
    options.resume_after_step = 45;
    {
      nqmd::H5mdWriter writer(options);
      REQUIRE(writer.frames() == 5);  // steps 0, 10, 20, 30, 40
      write_frames(writer, continuation, 5, 8);
    }
    const nqmd::Trajectory trajectory = nqmd::read_trajectory(path);
    REQUIRE(trajectory.frames.size() == 8);
    for (std::size_t k = 0; k < 5; ++k) require_same_frame(trajectory.frames[k], frames[k], true, true);
    for (std::size_t k = 5; k < 8; ++k) require_same_frame(trajectory.frames[k], continuation[k], true, true);
  }
  SECTION("append needs the same fields and atoms") {
    nqmd::H5mdWriterOptions options = h5md_options(path);
    options.resume_after_step = 45;
    options.velocities = false;
    REQUIRE_THAT(input_error_message([&] { nqmd::H5mdWriter writer(options); }),
                 Contains(path) && Contains("velocity"));
    options.velocities = true;
    const std::vector<WrittenFrame> other = random_walk(Shape::slab, 1, 0.4, 73);
    nqmd::System fewer = other.front().system;
    fewer.positions.pop_back();
    fewer.velocities.pop_back();
    fewer.images.pop_back();
    fewer.species.pop_back();
    fewer.masses.pop_back();
    std::vector<Vec3> forces(fewer.size(), Vec3::Zero());
    nqmd::H5mdWriter writer(options);
    const nqmd::StepData data{fewer, forces, other.front().virial, other.front().thermo};
    REQUIRE_THAT(input_error_message([&] { writer.observe(data); }), Contains(path) && Contains("cannot append"));
  }
  SECTION("overwrite replaces the file") {
    nqmd::H5mdWriterOptions options = h5md_options(path);
    options.overwrite = true;
    {
      nqmd::H5mdWriter writer(options);
      write_frames(writer, continuation, 0, 3);
    }
    const nqmd::Trajectory trajectory = nqmd::read_trajectory(path);
    REQUIRE(trajectory.frames.size() == 3);
    for (std::size_t k = 0; k < 3; ++k) require_same_frame(trajectory.frames[k], continuation[k], true, true);
  }
  SECTION("append to a file that does not exist yet creates it") {
    nqmd::H5mdWriterOptions options = h5md_options(directory.file("new.h5"));
    options.resume_after_step = 45;
    {
      nqmd::H5mdWriter writer(options);
      write_frames(writer, continuation, 5, 7);
    }
    REQUIRE(nqmd::read_trajectory(options.path).frames.size() == 2);
  }
}

TEST_CASE("h5md: a resume that cannot continue leaves the file as it was", "[h5md][resume]") {
  TemporaryDirectory directory;
  const std::vector<WrittenFrame> frames = random_walk(Shape::triclinic, 10, 0.4, 74);
  const std::string path = directory.file("run.h5");
  {
    nqmd::H5mdWriter writer(h5md_options(path));
    write_frames(writer, frames);
  }
  const std::string before = read_text(path);
  nqmd::H5mdWriterOptions options = h5md_options(path);
  options.resume_after_step = 45;
  options.images = false;  // the file has images
  REQUIRE_THAT(input_error_message([&] { nqmd::H5mdWriter writer(options); }), Contains(path) && Contains("image"));
  REQUIRE(read_text(path) == before);
  REQUIRE(!std::filesystem::exists(path + ".tmp"));
  // No room for the copy (a file-size limit below the file's size): an error naming the copy, the file unchanged.
  std::fflush(nullptr);
  const pid_t child = ::fork();
  REQUIRE(child >= 0);
  if (child == 0) {
    std::signal(SIGXFSZ, SIG_IGN);
    const rlimit limit{8 * 1024, 8 * 1024};
    ::setrlimit(RLIMIT_FSIZE, &limit);
    options.images = true;
    try {
      nqmd::H5mdWriter writer(options);
    } catch (const nqmd::InputError& error) {
      ::_exit(std::string(error.what()).find(path + ".tmp") != std::string::npos ? 0 : 2);
    } catch (...) {
      ::_exit(3);
    }
    ::_exit(1);
  }
  int status = 0;
  REQUIRE(::waitpid(child, &status, 0) == child);
  REQUIRE(WIFEXITED(status));
  REQUIRE(WEXITSTATUS(status) == 0);
  REQUIRE(read_text(path) == before);
  REQUIRE(!std::filesystem::exists(path + ".tmp"));
}

TEST_CASE("h5md: extxyz trajectories refuse existing files and resume after a step", "[h5md]") {
  TemporaryDirectory directory;
  const std::vector<WrittenFrame> frames = random_walk(Shape::slab, 10, 0.4, 81);
  const std::vector<WrittenFrame> continuation = random_walk(Shape::slab, 10, 0.4, 82);
  const std::string path = directory.file("run.extxyz");
  nqmd::ExtxyzTrajectoryOptions options;
  options.path = path;
  {
    nqmd::ExtxyzTrajectoryWriter writer(options);
    write_frames(writer, frames);
  }
  REQUIRE_THAT(input_error_message([&] { nqmd::ExtxyzTrajectoryWriter writer(options); }),
               Contains(path) && Contains("already exists"));
  // A killed run may leave half a frame at the end: resuming drops it with the frames after the restart step.
  {
    std::ofstream out(path, std::ios::app);
    out << "7\nLattice=\"1 0 0 0 1 0 0 0 1\" step=100 time_fs=70.0\nCu 0.0 0.0";
  }
  options.resume_after_step = 30;
  {
    nqmd::ExtxyzTrajectoryWriter writer(options);
    write_frames(writer, continuation, 4, 6);
  }
  const nqmd::Trajectory trajectory = nqmd::read_trajectory(path);
  REQUIRE(trajectory.frames.size() == 6);
  for (std::size_t k = 0; k < 6; ++k) {
    const WrittenFrame& expected = k < 4 ? frames[k] : continuation[k];
    REQUIRE(trajectory.frames[k].step == expected.thermo.step);
    REQUIRE(trajectory.frames[k].positions == expected.system.positions);
  }
}
