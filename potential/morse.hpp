#pragma once
// Morse: E(r) = D0 [exp(-2 alpha (r - r0)) - 2 exp(-alpha (r - r0))] per species pair, minimum -D0 at r0;
// cross pairs D0_ab = sqrt(D0_a D0_b), alpha_ab = (alpha_a + alpha_b)/2, r0_ab = (r0_a + r0_b)/2 unless a pair is
// given; [potential] kind = "morse".
//   [potential]
//   kind = "morse"
//   species = ["Cu"]
//   d0 = [0.3429]      # eV
//   alpha = [1.3588]   # 1/A
//   r0 = [2.866]       # A
//   cutoff = 9.0       # A
//   shift = true
#include <cmath>
#include <string>
#include <vector>

#include "potential/pair_potential.hpp"

namespace nqmd {

struct MorseForm {
  struct Coefficients {
    double d0 = 0.0;     // eV
    double alpha = 0.0;  // 1/A
    double r0 = 0.0;     // A
  };
  static std::string doc();
  static const std::vector<PairParameterSpec>& parameter_specs();  // d0, alpha, r0
  static Coefficients coefficients(const std::vector<double>& d0_alpha_r0);

  // With x = exp(-alpha (r - r0)): E = D0 x (x - 2), dE/dr = 2 alpha D0 x (1 - x); sets (dE/dr) / r.
  static double energy(const Coefficients& c, double r_squared, double& derivative_over_r) {
    const double r = std::sqrt(r_squared);
    const double x = std::exp(-c.alpha * (r - c.r0));
    derivative_over_r = 2.0 * c.alpha * c.d0 * x * (1.0 - x) / r;
    return c.d0 * x * (x - 2.0);
  }
};

using Morse = PairPotential<MorseForm>;
extern template class PairPotential<MorseForm>;

}  // namespace nqmd
