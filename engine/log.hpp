#pragma once
// Terminal messages at three levels (quiet < normal < verbose), formatted with fmt. Results go to stdout;
// warnings and errors to stderr.
#include <cstdio>
#include <utility>

#include <fmt/format.h>

namespace nqmd::log {

enum class Level { quiet = 0, normal = 1, verbose = 2 };

Level level();
void set_level(Level level);

template <typename... Args>
void info(fmt::format_string<Args...> format, Args&&... args) {
  if (level() >= Level::normal) fmt::print(stdout, "{}\n", fmt::format(format, std::forward<Args>(args)...));
}
template <typename... Args>
void detail(fmt::format_string<Args...> format, Args&&... args) {
  if (level() >= Level::verbose) fmt::print(stdout, "{}\n", fmt::format(format, std::forward<Args>(args)...));
}
// Warnings are printed at every level.
template <typename... Args>
void warn(fmt::format_string<Args...> format, Args&&... args) {
  fmt::print(stderr, "warning: {}\n", fmt::format(format, std::forward<Args>(args)...));
}

}  // namespace nqmd::log
