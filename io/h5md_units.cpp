// Units of the H5MD files read: a `unit` string is space-separated factors, an optional leading number, then
// symbols each with an optional signed power (H5MD units module, e.g. "nm ps-1"). Lengths and times only.
#include <array>
#include <cctype>
#include <cmath>
#include <cstdlib>
#include <optional>
#include <string>
#include <string_view>
#include <utility>

#include <fmt/format.h>

#include "io/h5md_internal.hpp"

namespace nqmd::h5md {
namespace {

// A unit symbol's value in A or fs and its dimension.
struct UnitSymbol {
  int decimal_exponent;  // value in A or fs is 10^decimal_exponent (times `scale`)
  double scale;
  int length;
  int time;
};

// Angstrom (and its other spellings), second, AKMA, and metres and seconds with an SI prefix.
std::optional<UnitSymbol> unit_symbol(std::string_view symbol) {
  if (symbol == "Angstrom" || symbol == "angstrom" || symbol == "Ang" || symbol == "A") return UnitSymbol{0, 1.0, 1, 0};
  if (symbol == "second" || symbol == "sec") return UnitSymbol{15, 1.0, 0, 1};
  if (symbol == "AKMA") return UnitSymbol{0, 48.88821, 0, 1};  // CHARMM's time unit, as MDAnalysis defines it
  static constexpr std::array<std::pair<std::string_view, int>, 17> kPrefixes{{
      {"", 0}, {"E", 18}, {"P", 15}, {"T", 12}, {"G", 9}, {"M", 6}, {"k", 3}, {"h", 2}, {"da", 1},
      {"d", -1}, {"c", -2}, {"m", -3}, {"u", -6}, {"n", -9}, {"p", -12}, {"f", -15}, {"a", -18}}};
  if (symbol.empty() || (symbol.back() != 'm' && symbol.back() != 's')) return std::nullopt;
  const bool metre = symbol.back() == 'm';
  const std::string_view prefix = symbol.substr(0, symbol.size() - 1);
  for (const auto& [name, exponent] : kPrefixes)
    if (name == prefix) return metre ? UnitSymbol{exponent + 10, 1.0, 1, 0} : UnitSymbol{exponent + 15, 1.0, 0, 1};
  return std::nullopt;
}

}  // namespace

double unit_factor(const hdf5::File& file, const std::string& where, const std::string& unit, int length, int time) {
  const auto message = [&](const std::string& why) { return fmt::format("{}: unit '{}' {}", where, unit, why); };
  double factor = 1.0;
  int decimal_exponent = 0, found_length = 0, found_time = 0;
  std::size_t position = 0;
  bool first = true;
  while (position < unit.size()) {
    if (std::isspace(static_cast<unsigned char>(unit[position]))) {
      ++position;
      continue;
    }
    std::size_t end = position;
    while (end < unit.size() && !std::isspace(static_cast<unsigned char>(unit[end]))) ++end;
    const std::string token = unit.substr(position, end - position);
    position = end;
    std::string power_text;
    if (std::isdigit(static_cast<unsigned char>(token[0])) || token[0] == '.') {
      if (!first) file.fail(message("has a number after the first factor"));
      char* rest = nullptr;
      const double number = std::strtod(token.c_str(), &rest);
      power_text = rest;
      factor *= std::pow(number, power_text.empty() ? 1 : std::atoi(power_text.c_str()));
    } else {
      const std::size_t split = token.find_first_of("+-0123456789");
      const std::string symbol = token.substr(0, split);
      if (split != std::string::npos) power_text = token.substr(split);
      const int power = power_text.empty() ? 1 : std::atoi(power_text.c_str());
      const std::optional<UnitSymbol> known = unit_symbol(symbol);
      if (!known || power == 0) file.fail(message("is not a length or time unit nequip-md knows"));
      decimal_exponent += known->decimal_exponent * power;
      factor *= std::pow(known->scale, power);
      found_length += known->length * power;
      found_time += known->time * power;
    }
    first = false;
  }
  if (found_length != length || found_time != time)
    file.fail(message(fmt::format("has the wrong dimension (expected length^{} time^{})", length, time)));
  return factor * std::pow(10.0, decimal_exponent);
}

}  // namespace nqmd::h5md
