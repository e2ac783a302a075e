#pragma once
// Runs the nequip-md executable in a fresh temporary directory and captures exit code, stdout and stderr.
#include <sys/wait.h>

#include <cstdlib>
#include <string>

#include "temporary_directory.hpp"

namespace nqmd::test {

struct CommandResult {
  int exit_code = -1;
  std::string out;
  std::string err;
};

class CliSandbox : public TemporaryDirectory {
 public:
  CliSandbox() : TemporaryDirectory("nqmd-cli") {}

  // Runs `nequip-md ARGS` with the sandbox as working directory.
  CommandResult run(const std::string& arguments) const {
    const std::string command = "cd '" + directory().string() + "' && '" + NQMD_EXECUTABLE + "' " + arguments +
                                " > stdout.txt 2> stderr.txt < /dev/null";
    const int status = std::system(command.c_str());
    CommandResult result;
    result.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    result.out = read("stdout.txt");
    result.err = read("stderr.txt");
    return result;
  }
};

}  // namespace nqmd::test
