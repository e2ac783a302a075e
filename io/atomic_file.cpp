#include "io/atomic_file.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>

#include <fmt/format.h>

#include "engine/error.hpp"

namespace nqmd {
namespace {

// fsync of a file or directory opened read-only; false if it cannot be opened or synced.
bool sync_path(const std::string& path, int flags) {
  const int descriptor = ::open(path.c_str(), O_RDONLY | flags);
  if (descriptor < 0) return false;
  const bool synced = ::fsync(descriptor) == 0;
  ::close(descriptor);
  return synced;
}

}  // namespace

std::string temporary_path_for(const std::string& path) { return path + ".tmp"; }

void replace_file_atomically(const std::string& path, const std::function<void(const std::string& temporary)>& write) {
  const std::string temporary = temporary_path_for(path);
  try {
    write(temporary);
  } catch (...) {
    std::remove(temporary.c_str());  // the old file stays in place, and nothing half-written beside it
    throw;
  }
  if (!sync_path(temporary, 0)) {
    std::remove(temporary.c_str());
    throw InputError(fmt::format("{}: cannot sync the new file {} to disk (disk full?)", path, temporary));
  }
  if (std::rename(temporary.c_str(), path.c_str()) != 0) {
    std::remove(temporary.c_str());
    throw InputError(fmt::format("{}: cannot rename the new file {} into place", path, temporary));
  }
  // The rename is durable once the directory is; a file system that cannot sync a directory has nothing to sync.
  std::filesystem::path directory = std::filesystem::path(path).parent_path();
  if (directory.empty()) directory = ".";
  sync_path(directory.string(), O_DIRECTORY);
}

void replace_text_file_atomically(const std::string& path, const std::string& text) {
  replace_file_atomically(path, [&](const std::string& temporary) {
    std::ofstream out(temporary);
    out << text;
    out.close();
    if (!out) throw InputError(fmt::format("cannot write '{}'", temporary));
  });
}

}  // namespace nqmd
