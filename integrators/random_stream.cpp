#include "integrators/random_stream.hpp"

#include <cmath>
#include <sstream>

#include <fmt/format.h>

#include "engine/error.hpp"

namespace nqmd {
namespace {
constexpr double two_pi = 6.283185307179586476925;
}  // namespace

double RandomStream::uniform() { return static_cast<double>(engine_() >> 11) * 0x1.0p-53; }

double RandomStream::gaussian() {
  const double radius_uniform = 1.0 - uniform();  // in (0, 1], so the logarithm is finite
  const double angle_uniform = uniform();
  return std::sqrt(-2.0 * std::log(radius_uniform)) * std::cos(two_pi * angle_uniform);
}

double RandomStream::gamma(double shape) {
  // Marsaglia & Tsang: x ~ N(0,1), v = (1 + c x)^3 with d = shape - 1/3, c = 1/sqrt(9 d); accept d v with the
  // squeeze test u < 1 - 0.0331 x^4, else with log u < x^2/2 + d (1 - v + log v).
  const double d = shape - 1.0 / 3.0;
  const double c = 1.0 / std::sqrt(9.0 * d);
  while (true) {
    double x = 0.0;
    double v = 0.0;
    do {
      x = gaussian();
      v = 1.0 + c * x;
    } while (v <= 0.0);
    v = v * v * v;
    const double u = uniform();
    const double x2 = x * x;
    if (u < 1.0 - 0.0331 * x2 * x2) return d * v;
    if (std::log(u) < 0.5 * x2 + d * (1.0 - v + std::log(v))) return d * v;
  }
}

double RandomStream::sum_of_squared_gaussians(std::uint64_t count) {
  if (count == 0) return 0.0;
  if (count == 1) {
    const double r = gaussian();
    return r * r;
  }
  const double even_part = 2.0 * gamma(static_cast<double>(count / 2));
  if (count % 2 == 0) return even_part;
  const double r = gaussian();
  return even_part + r * r;
}

std::vector<std::uint64_t> RandomStream::save() const {
  std::ostringstream text;
  text << engine_;
  std::istringstream words(text.str());
  std::vector<std::uint64_t> state;
  std::uint64_t word = 0;
  while (words >> word) state.push_back(word);
  return state;
}

void RandomStream::load(const std::vector<std::uint64_t>& state) {
  constexpr std::size_t expected_words = std::mt19937_64::state_size + 1;
  if (state.size() != expected_words)
    throw InputError(fmt::format("random number state has {} words, expected {}", state.size(), expected_words));
  std::ostringstream text;
  for (std::uint64_t word : state) text << word << ' ';
  std::istringstream words(text.str());
  words >> engine_;
  if (words.fail()) throw InputError("random number state could not be restored");
}

}  // namespace nqmd
