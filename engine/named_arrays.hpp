#pragma once
// Named arrays of extra dynamical state that a checkpoint carries (integrator variables, RNG states).
#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace nqmd {

struct NamedArrays {
  std::map<std::string, std::vector<double>> reals;
  std::map<std::string, std::vector<std::uint64_t>> integers;
};

}  // namespace nqmd
