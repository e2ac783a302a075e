#pragma once
// A fresh directory under the system temporary directory for one test, removed with everything in it at the
// end of its scope. Names are unique across processes (ctest runs test cases in parallel).
#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

namespace nqmd::test {

// Whole-file text helpers for tests (binary mode: bytes as written).
inline bool write_text_file(const std::string& path, const std::string& text) {
  std::ofstream out(path, std::ios::binary);
  out << text;
  return out.good();
}
inline std::string read_text_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

class TemporaryDirectory {
 public:
  explicit TemporaryDirectory(const std::string& prefix = "nqmd-test") {
    static std::atomic<int> counter{0};
    directory_ = std::filesystem::temp_directory_path() /
                 (prefix + "-" + std::to_string(::getpid()) + "-" + std::to_string(counter++));
    std::filesystem::remove_all(directory_);
    std::filesystem::create_directories(directory_);
  }
  ~TemporaryDirectory() {
    std::error_code ignored;
    std::filesystem::remove_all(directory_, ignored);
  }
  TemporaryDirectory(const TemporaryDirectory&) = delete;
  TemporaryDirectory& operator=(const TemporaryDirectory&) = delete;

  const std::filesystem::path& directory() const { return directory_; }
  std::string path(const std::string& name) const { return (directory_ / name).string(); }
  std::string file(const std::string& name) const { return path(name); }
  bool exists(const std::string& name) const { return std::filesystem::exists(directory_ / name); }
  void write(const std::string& name, const std::string& text) const { write_text_file(path(name), text); }
  std::string read(const std::string& name) const { return read_text_file(path(name)); }

 private:
  std::filesystem::path directory_;
};

}  // namespace nqmd::test
