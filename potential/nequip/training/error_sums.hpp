#pragma once
// Sums for the mean absolute and root-mean-square error of a set of differences: `nequip-md evaluate` adds them
// one by one, the trainer a batch's sums at a time. Torch-free.
#include <cmath>
#include <cstddef>

namespace nqmd::nequip {

struct ErrorSums {
  double absolute = 0.0;
  double squared = 0.0;
  std::size_t count = 0;

  void add(double difference) {
    absolute += std::abs(difference);
    squared += difference * difference;
    ++count;
  }
  // The sums over `differences` differences at once.
  void add_sums(double absolute_sum, double squared_sum, std::size_t differences) {
    absolute += absolute_sum;
    squared += squared_sum;
    count += differences;
  }
  // NaN without differences.
  double mae() const { return count ? absolute / static_cast<double>(count) : std::nan(""); }
  double rmse() const { return count ? std::sqrt(squared / static_cast<double>(count)) : std::nan(""); }
};

}  // namespace nqmd::nequip
