#pragma once
// Runs the nequip-md executable in a fresh temporary directory and captures exit code, stdout and stderr.
#include <signal.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <optional>
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

// The number an environment variable holds (a test's size or seed set from outside), or `fallback` if unset.
inline std::uint64_t environment_number(const char* name, std::uint64_t fallback) {
  const char* value = std::getenv(name);
  return value != nullptr && *value != '\0' ? std::stoull(value) : fallback;
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

// Starts `nequip-md ARGS...` in the sandbox without waiting for it; its stdout and stderr go to
// LOG_PREFIXstdout.txt and LOG_PREFIXstderr.txt there. With a file-size limit, SIGXFSZ is ignored so that writes
// past it fail with EFBIG, as on a full disk.
inline pid_t start(const CliSandbox& sandbox, const std::vector<std::string>& arguments,
                   std::optional<rlim_t> file_size_limit = std::nullopt, const std::string& log_prefix = "") {
  std::vector<char*> argv;
  argv.push_back(const_cast<char*>(NQMD_EXECUTABLE));
  for (const std::string& argument : arguments) argv.push_back(const_cast<char*>(argument.c_str()));
  argv.push_back(nullptr);
  const std::string out = log_prefix + "stdout.txt", err = log_prefix + "stderr.txt";
  std::fflush(stdout);  // or the child would write the parent's buffered output once more
  std::fflush(stderr);
  const pid_t pid = fork();
  if (pid == 0) {
    if (chdir(sandbox.directory().c_str()) != 0) _exit(127);
    if (!std::freopen(out.c_str(), "w", stdout) || !std::freopen(err.c_str(), "w", stderr)) _exit(127);
    if (file_size_limit) {
      const rlimit limit{*file_size_limit, *file_size_limit};
      if (setrlimit(RLIMIT_FSIZE, &limit) != 0) _exit(127);
      signal(SIGXFSZ, SIG_IGN);
    }
    execv(NQMD_EXECUTABLE, argv.data());
    _exit(127);
  }
  return pid;
}

// Exit code, or minus the signal that ended the process.
inline int wait_for(pid_t pid) {
  int status = 0;
  waitpid(pid, &status, 0);
  return WIFEXITED(status) ? WEXITSTATUS(status) : -WTERMSIG(status);
}

// The non-empty lines of a text.
inline std::vector<std::string> lines_of(const std::string& text) {
  std::vector<std::string> lines;
  std::istringstream stream(text);
  for (std::string line; std::getline(stream, line);)
    if (!line.empty()) lines.push_back(line);
  return lines;
}

// The lines of a thermo CSV file without their last three columns (the speed: ns/day, steps/s, us per
// atom-step), which differ between equal runs.
inline std::vector<std::string> without_speed(const std::string& csv) {
  std::vector<std::string> rows;
  for (std::string line : lines_of(csv)) {
    for (int column = 0; column < 3 && line.find(',') != std::string::npos; ++column) line.erase(line.rfind(','));
    rows.push_back(line);
  }
  return rows;
}

// The error lines of stderr (warnings are allowed besides them).
inline std::vector<std::string> error_lines(const std::string& err) {
  std::vector<std::string> errors;
  for (const std::string& line : lines_of(err))
    if (line.rfind("warning: ", 0) != 0) errors.push_back(line);
  return errors;
}

}  // namespace nqmd::test
