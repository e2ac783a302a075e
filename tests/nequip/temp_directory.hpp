#pragma once
// A fresh temporary directory for a test, removed with everything in it at the end of its scope.
#include <filesystem>
#include <fstream>
#include <random>
#include <string>

namespace nqmd::test {

class TempDirectory {
 public:
  TempDirectory() {
    std::random_device seed;
    directory_ = std::filesystem::temp_directory_path() /
                 ("nqmd-nequip-" + std::to_string(seed()) + std::to_string(seed()));
    std::filesystem::create_directories(directory_);
  }
  ~TempDirectory() {
    std::error_code ignored;
    std::filesystem::remove_all(directory_, ignored);
  }
  TempDirectory(const TempDirectory&) = delete;
  TempDirectory& operator=(const TempDirectory&) = delete;

  std::string path(const std::string& name) const { return (directory_ / name).string(); }
  void write(const std::string& name, const std::string& text) const { std::ofstream(directory_ / name) << text; }

 private:
  std::filesystem::path directory_;
};

}  // namespace nqmd::test
