#pragma once
// Runs the nequip-md executable in a fresh temporary directory and captures exit code, stdout and stderr.
#include <sys/wait.h>

#include <cstdlib>
#include <sstream>
#include <string>
#include <vector>

#include "temporary_directory.hpp"

namespace nqmd::test {

// Column `column` (from 0) of the numeric rows of a CSV text, after `header_lines` lines (thermo.csv: 1).
inline std::vector<double> csv_column(const std::string& csv, int column, int header_lines = 1) {
  std::vector<double> values;
  std::istringstream lines(csv);
  std::string line;
  for (int k = 0; k < header_lines; ++k) std::getline(lines, line);
  while (std::getline(lines, line)) {
    std::istringstream fields(line);
    std::string field;
    for (int c = 0; c <= column; ++c) std::getline(fields, field, ',');
    values.push_back(std::stod(field));
  }
  return values;
}

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
