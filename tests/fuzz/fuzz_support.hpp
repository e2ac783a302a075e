#pragma once
// Shared by the libFuzzer targets: fuzzed bytes are written to a file in a per-process scratch directory (the
// readers under test take paths), and nqmd::InputError is the one expected way for a reader to refuse input.
// Anything else (another exception, a crash, a sanitizer report, a hang) fails the fuzzer.
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>

namespace nqmd::fuzz {

// A directory of its own for this process (libFuzzer's -jobs/-workers run several processes at once), removed
// at exit.
inline const std::filesystem::path& scratch_directory() {
  static const std::filesystem::path directory = [] {
    const std::filesystem::path path =
        std::filesystem::temp_directory_path() / ("nqmd-fuzz-" + std::to_string(::getpid()));
    std::filesystem::create_directories(path);
    std::atexit([] {
      std::error_code ignored;
      std::filesystem::remove_all(std::filesystem::temp_directory_path() /
                                      ("nqmd-fuzz-" + std::to_string(::getpid())),
                                  ignored);
    });
    return path;
  }();
  return directory;
}

// Writes the input to scratch/name and returns the path.
inline std::string write_input(const std::string& name, const std::uint8_t* data, std::size_t size) {
  const std::string path = (scratch_directory() / name).string();
  std::FILE* file = std::fopen(path.c_str(), "wb");
  if (file == nullptr) std::abort();
  if (size > 0 && std::fwrite(data, 1, size, file) != size) std::abort();
  if (std::fclose(file) != 0) std::abort();
  return path;
}

}  // namespace nqmd::fuzz
