#pragma once
// Runs the nequip-md executable in a fresh temporary directory and captures exit code, stdout and stderr.
#include <sys/wait.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <random>
#include <sstream>
#include <string>

namespace nqmd::test {

struct CommandResult {
  int exit_code = -1;
  std::string out;
  std::string err;
};

class CliSandbox {
 public:
  CliSandbox() {
    std::random_device seed;
    directory_ = std::filesystem::temp_directory_path() / ("nqmd-cli-" + std::to_string(seed()) + std::to_string(seed()));
    std::filesystem::create_directories(directory_);
  }
  ~CliSandbox() {
    std::error_code ignored;
    std::filesystem::remove_all(directory_, ignored);
  }
  CliSandbox(const CliSandbox&) = delete;
  CliSandbox& operator=(const CliSandbox&) = delete;

  const std::filesystem::path& directory() const { return directory_; }
  std::string path(const std::string& name) const { return (directory_ / name).string(); }
  void write(const std::string& name, const std::string& text) const { std::ofstream(directory_ / name) << text; }
  std::string read(const std::string& name) const {
    std::ifstream in(directory_ / name);
    std::stringstream text;
    text << in.rdbuf();
    return text.str();
  }
  bool exists(const std::string& name) const { return std::filesystem::exists(directory_ / name); }

  // Runs `nequip-md ARGS` with the sandbox as working directory.
  CommandResult run(const std::string& arguments) const {
    const std::string command = "cd '" + directory_.string() + "' && '" + NQMD_EXECUTABLE + "' " + arguments +
                                " > stdout.txt 2> stderr.txt < /dev/null";
    const int status = std::system(command.c_str());
    CommandResult result;
    result.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    result.out = read("stdout.txt");
    result.err = read("stderr.txt");
    return result;
  }

 private:
  std::filesystem::path directory_;
};

}  // namespace nqmd::test
