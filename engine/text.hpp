#pragma once
// Small text helpers shared by the input readers.
#include <cctype>
#include <string>
#include <string_view>

namespace nqmd {

inline bool is_space(char c) { return std::isspace(static_cast<unsigned char>(c)) != 0; }

// `text` without leading and trailing white space.
inline std::string_view trim(std::string_view text) {
  while (!text.empty() && is_space(text.front())) text.remove_prefix(1);
  while (!text.empty() && is_space(text.back())) text.remove_suffix(1);
  return text;
}

// `text` fit for one terminal line: bytes that are not printable ASCII (raw bytes of a binary file, newlines,
// escape sequences) as \xNN, and at most `limit` characters: a longer text keeps its start and end around
// "...[N bytes]..." (a 10 MB path echoed in a message stays one short line that still shows both ends).
std::string printable_line(std::string_view text, std::size_t limit = 600);

}  // namespace nqmd
