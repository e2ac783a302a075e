#include "engine/log.hpp"

#include <cerrno>
#include <cstring>

namespace nqmd::log {
namespace {
Level current_level = Level::normal;
std::size_t lines_lost = 0;
bool failure_reported = false;

bool write_whole(std::FILE* stream, std::string_view text) noexcept {
  const bool written = std::fwrite(text.data(), 1, text.size(), stream) == text.size();
  return std::fflush(stream) == 0 && written && !std::ferror(stream);
}
}  // namespace

Level level() { return current_level; }
void set_level(Level new_level) { current_level = new_level; }

void write(std::FILE* stream, std::string_view text) noexcept {
  if (write_whole(stream, text)) return;
  const int error = errno;
  std::clearerr(stream);
  ++lines_lost;
  if (failure_reported) return;
  failure_reported = true;
  // Reported once, on the other stream; if that fails too there is nobody to tell, and the run goes on.
  std::FILE* other = stream == stdout ? stderr : stdout;
  char message[256];
  std::snprintf(message, sizeof message,
                "warning: cannot write to %s (%s): terminal output is dropped from here on; the run continues and "
                "writes its files\n",
                stream == stdout ? "standard output" : "standard error", std::strerror(error));
  if (!write_whole(other, message)) std::clearerr(other);
}

std::size_t lost_lines() { return lines_lost; }

}  // namespace nqmd::log
