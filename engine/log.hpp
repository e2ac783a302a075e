#pragma once
// Terminal messages at three levels (quiet < normal < verbose), formatted with fmt. Results go to stdout;
// warnings and errors to stderr. Terminal output never stops a run: a line that cannot be written (a full device,
// a closed pipe) is dropped, the first such failure is reported once on the other stream if it can be, and the
// run goes on writing its files (docs/reliability.md).
#include <cstdio>
#include <string_view>
#include <utility>

#include <fmt/format.h>

namespace nqmd::log {

enum class Level { quiet = 0, normal = 1, verbose = 2 };

Level level();
void set_level(Level level);

// Writes `text` to `stream` (stdout or stderr) and flushes it; never throws.
void write(std::FILE* stream, std::string_view text) noexcept;
// Lines that could not be written so far.
std::size_t lost_lines();

template <typename... Args>
void info(fmt::format_string<Args...> format, Args&&... args) {
  if (level() >= Level::normal) write(stdout, fmt::format(format, std::forward<Args>(args)...) + "\n");
}
template <typename... Args>
void detail(fmt::format_string<Args...> format, Args&&... args) {
  if (level() >= Level::verbose) write(stdout, fmt::format(format, std::forward<Args>(args)...) + "\n");
}
// Results a command exists to print (evaluate's tables): printed at every level.
template <typename... Args>
void result(fmt::format_string<Args...> format, Args&&... args) {
  write(stdout, fmt::format(format, std::forward<Args>(args)...));
}
// Warnings are printed at every level.
template <typename... Args>
void warn(fmt::format_string<Args...> format, Args&&... args) {
  write(stderr, "warning: " + fmt::format(format, std::forward<Args>(args)...) + "\n");
}

}  // namespace nqmd::log
