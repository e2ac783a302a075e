#include "engine/text.hpp"

#include <fmt/format.h>

namespace nqmd {

std::string printable_line(std::string_view text, std::size_t limit) {
  auto escaped = [](std::string_view part) {
    std::string out;
    out.reserve(part.size());
    for (const char c : part) {
      const auto byte = static_cast<unsigned char>(c);
      if (byte >= 0x20 && byte < 0x7f)
        out += c;
      else
        out += fmt::format("\\x{:02x}", byte);
    }
    return out;
  };
  if (text.size() <= limit) {
    std::string whole = escaped(text);
    if (whole.size() <= limit + limit / 2) return whole;
  }
  const std::size_t keep = limit / 3;
  return escaped(text.substr(0, keep)) + fmt::format("...[{} bytes]...", text.size() - 2 * keep) +
         escaped(text.substr(text.size() - keep));
}

}  // namespace nqmd
