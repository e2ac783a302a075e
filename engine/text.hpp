#pragma once
// Small text helpers shared by the input readers.
#include <cctype>
#include <string_view>

namespace nqmd {

inline bool is_space(char c) { return std::isspace(static_cast<unsigned char>(c)) != 0; }

// `text` without leading and trailing white space.
inline std::string_view trim(std::string_view text) {
  while (!text.empty() && is_space(text.front())) text.remove_prefix(1);
  while (!text.empty() && is_space(text.back())) text.remove_suffix(1);
  return text;
}

}  // namespace nqmd
