// io/output_files.hpp: files compared by identity, outputs checked against inputs and each other, and the
// output lock within one process (tests/app/test_output_safety.cpp checks it between processes).
#include <unistd.h>

#include <filesystem>
#include <string>

#include <catch2/catch.hpp>

#include "engine/error.hpp"
#include "io/output_files.hpp"
#include "temporary_directory.hpp"

namespace {

using nqmd::NamedFile;

std::string error_of(const std::vector<NamedFile>& outputs, const std::vector<NamedFile>& inputs) {
  try {
    nqmd::check_output_files(outputs, inputs);
  } catch (const nqmd::InputError& error) {
    return error.what();
  }
  return "";
}

}  // namespace

TEST_CASE("output files: identity by device and inode, or canonical directory and name", "[io][output-files]") {
  nqmd::test::TemporaryDirectory directory;
  directory.write("data.extxyz", "1\n\nAr 0 0 0\n");
  std::filesystem::create_directory(directory.path("sub"));
  std::filesystem::create_symlink("data.extxyz", directory.path("symbolic.extxyz"));
  std::filesystem::create_hard_link(directory.path("data.extxyz"), directory.path("hard.extxyz"));
  std::filesystem::create_directory_symlink(directory.path("sub"), directory.path("sub-link"));
  const std::string data = directory.path("data.extxyz");

  CHECK(nqmd::same_file(data, directory.path("./data.extxyz")));
  CHECK(nqmd::same_file(data, directory.path("sub/../data.extxyz")));
  CHECK(nqmd::same_file(data, directory.path("symbolic.extxyz")));
  CHECK(nqmd::same_file(data, directory.path("hard.extxyz")));
  CHECK_FALSE(nqmd::same_file(data, directory.path("other.extxyz")));
  // Files still to be created: the same directory (through any spelling or link) and name.
  CHECK(nqmd::same_file(directory.path("out.h5"), directory.path("sub/../out.h5")));
  CHECK(nqmd::same_file(directory.path("sub/out.h5"), directory.path("sub-link/out.h5")));
  CHECK(nqmd::same_file(directory.path("missing/out.h5"), directory.path("missing/./out.h5")));
  CHECK_FALSE(nqmd::same_file(directory.path("out.h5"), directory.path("sub/out.h5")));
  const std::string cwd = std::filesystem::current_path().string();
  CHECK(nqmd::same_file("relative-out.h5", cwd + "/relative-out.h5"));
}

TEST_CASE("output files: collisions name both keys, and a restart checkpoint may be the checkpoint it continues",
          "[io][output-files]") {
  nqmd::test::TemporaryDirectory directory;
  directory.write("start.extxyz", "1\n\nAr 0 0 0\n");
  const std::string start = directory.path("start.extxyz");
  const std::string thermo = directory.path("thermo.csv"), checkpoint = directory.path("checkpoint.h5");

  CHECK(error_of({{"thermo_file", thermo}, {"checkpoint_file", checkpoint}, {"trajectory_file", ""}},
                 {{"structure", start}}) == "");
  const std::string same = error_of({{"thermo_file", thermo}, {"checkpoint_file", directory.path("./thermo.csv")}}, {});
  CHECK(same.find("checkpoint_file") != std::string::npos);
  CHECK(same.find("thermo_file") != std::string::npos);
  const std::string temporary = error_of({{"thermo_file", thermo}, {"checkpoint_file", thermo + ".tmp"}}, {});
  CHECK(temporary.find("the temporary file") != std::string::npos);
  const std::string input = error_of({{"trajectory_file", start}}, {{"[structure] file", start}});
  CHECK(input.find("trajectory_file") != std::string::npos);
  CHECK(input.find("the input [structure] file") != std::string::npos);

  directory.write("checkpoint.h5", "a checkpoint");
  CHECK(error_of({{"checkpoint_file", checkpoint}}, {{"--restart", checkpoint, "checkpoint_file"}}) == "");
  CHECK(error_of({{"thermo_file", checkpoint}}, {{"--restart", checkpoint, "checkpoint_file"}}) != "");
  // Only the checkpoint itself: never its temporary file.
  CHECK(error_of({{"checkpoint_file", directory.path("c.h5")}},
                 {{"--restart", directory.path("c.h5.tmp"), "checkpoint_file"}})
            .find("the temporary file") != std::string::npos);
}

TEST_CASE("output files: one lock holder at a time, released with its owner, the lock file reused",
          "[io][output-files]") {
  nqmd::test::TemporaryDirectory directory;
  const std::string thermo = directory.path("thermo.csv");
  const std::string lock_file = nqmd::OutputLock::lock_path_for(thermo);
  directory.write("thermo.csv.lock", "pid 1 on a machine long gone\n");  // left by a killed run: not locked
  {
    const nqmd::OutputLock lock({{"[run] thermo_file", thermo}, {"[run] checkpoint_file", ""}});
    CHECK(nqmd::test::read_text_file(lock_file).rfind("pid " + std::to_string(::getpid()) + " on ", 0) == 0);
    // Another open file description of the lock file conflicts as another process's would.
    try {
      const nqmd::OutputLock second({{"[run] checkpoint_file", directory.path("checkpoint.h5")},
                                     {"[run] thermo_file", directory.path("./thermo.csv")}});
      FAIL("a second lock on the same output was granted");
    } catch (const nqmd::InputError& error) {
      const std::string message = error.what();
      CHECK(message.find("[run] thermo_file") != std::string::npos);
      CHECK(message.find("in use by another nequip-md process (pid " + std::to_string(::getpid())) !=
            std::string::npos);
    }
    // The failed attempt let go of what it had locked before the conflict.
    CHECK_FALSE(std::filesystem::exists(directory.path("checkpoint.h5.lock")));
    nqmd::OutputLock moved = nqmd::OutputLock({{"[output] trajectory_file", directory.path("traj.h5")}});
    CHECK(std::filesystem::exists(directory.path("traj.h5.lock")));
  }
  CHECK_FALSE(std::filesystem::exists(lock_file));
  CHECK_FALSE(std::filesystem::exists(directory.path("traj.h5.lock")));
  const nqmd::OutputLock again({{"[run] thermo_file", thermo}});
  CHECK(std::filesystem::exists(lock_file));
}
