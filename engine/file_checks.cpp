#include "engine/file_checks.hpp"

#include <sys/stat.h>

#include <fmt/format.h>

#include "engine/error.hpp"

namespace nqmd {

void require_regular_file(const std::string& path, const std::string& expected, std::uintmax_t max_bytes) {
  struct stat status {};
  if (::stat(path.c_str(), &status) != 0) return;
  const char* kind = nullptr;
  if (S_ISDIR(status.st_mode))
    kind = "a directory";
  else if (S_ISFIFO(status.st_mode))
    kind = "a FIFO (named pipe)";
  else if (S_ISCHR(status.st_mode) || S_ISBLK(status.st_mode))
    kind = "a device";
  else if (S_ISSOCK(status.st_mode))
    kind = "a socket";
  else if (!S_ISREG(status.st_mode))
    kind = "not a regular file";
  if (kind != nullptr) throw InputError(fmt::format("{}: is {}; expected {}", path, kind, expected));
  const auto size = static_cast<std::uintmax_t>(status.st_size);
  if (size > max_bytes)
    throw InputError(fmt::format("{}: {:.3g} MB, more than the {:.3g} MB {} may have", path, size / 1e6,
                                 max_bytes / 1e6, expected));
}

}  // namespace nqmd
