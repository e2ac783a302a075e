#include "engine/spatial_order.hpp"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <utility>

namespace nqmd {
namespace {

// The bits of a 21-bit number spread to every third bit (bit k goes to bit 3k).
std::uint64_t spread_bits(std::uint64_t v) {
  v &= 0x1fffff;
  v = (v | v << 32) & 0x1f00000000ffffULL;
  v = (v | v << 16) & 0x1f0000ff0000ffULL;
  v = (v | v << 8) & 0x100f00f00f00f00fULL;
  v = (v | v << 4) & 0x10c30c30c30c30c3ULL;
  v = (v | v << 2) & 0x1249249249249249ULL;
  return v;
}

}  // namespace

std::vector<std::size_t> spatial_order(const std::vector<Vec3>& positions, double bin_width) {
  const std::size_t n = positions.size();
  Vec3 low = Vec3::Constant(std::numeric_limits<double>::infinity());
  for (const Vec3& x : positions)
    if (x.allFinite()) low = low.cwiseMin(x);
  constexpr std::uint64_t kMaxBin = (1u << 21) - 1;
  std::vector<std::pair<std::uint64_t, std::size_t>> keyed(n);
  for (std::size_t i = 0; i < n; ++i) {
    const Vec3& x = positions[i];
    std::uint64_t key = std::numeric_limits<std::uint64_t>::max();
    if (x.allFinite() && bin_width > 0) {
      std::uint64_t bin[3];
      for (int a = 0; a < 3; ++a) {
        const double cells = std::floor((x[a] - low[a]) / bin_width);
        bin[a] = static_cast<std::uint64_t>(std::clamp(cells, 0.0, static_cast<double>(kMaxBin)));
      }
      key = spread_bits(bin[0]) | spread_bits(bin[1]) << 1 | spread_bits(bin[2]) << 2;
    }
    keyed[i] = {key, i};
  }
  std::sort(keyed.begin(), keyed.end());
  std::vector<std::size_t> order(n);
  for (std::size_t k = 0; k < n; ++k) order[k] = keyed[k].second;
  return order;
}

}  // namespace nqmd
