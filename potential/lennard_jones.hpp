#pragma once
// Lennard-Jones 12-6: E(r) = 4 eps [(sigma/r)^12 - (sigma/r)^6] per species pair, Lorentz-Berthelot mixing
// (sigma_ab = (sigma_aa + sigma_bb)/2, eps_ab = sqrt(eps_aa eps_bb)) unless a pair is given; [potential] kind = "lj".
//   [potential]
//   kind = "lj"
//   species = ["Ar", "Kr"]
//   epsilon = [0.0104, 0.0140]   # eV
//   sigma = [3.40, 3.65]         # A
//   cutoff = 8.5                 # A
//   pair_epsilon = { "Ar-Kr" = 0.012 }
//   shift = false
#include <string>
#include <vector>

#include "potential/pair_potential.hpp"

namespace nqmd {

struct LennardJonesForm {
  // E = c12 / r^12 - c6 / r^6 with c12 = 4 eps sigma^12, c6 = 4 eps sigma^6.
  struct Coefficients {
    double c12 = 0.0;  // eV A^12
    double c6 = 0.0;   // eV A^6
  };
  static std::string doc();
  static const std::vector<PairParameterSpec>& parameter_specs();  // epsilon, sigma
  static Coefficients coefficients(const std::vector<double>& epsilon_sigma);

  // E(r) from r^2; sets (dE/dr) / r = (-12 c12 / r^12 + 6 c6 / r^6) / r^2.
  static double energy(const Coefficients& c, double r_squared, double& derivative_over_r) {
    const double inverse_r2 = 1.0 / r_squared;
    const double inverse_r6 = inverse_r2 * inverse_r2 * inverse_r2;
    const double repulsion = c.c12 * inverse_r6 * inverse_r6;
    const double attraction = c.c6 * inverse_r6;
    derivative_over_r = (6.0 * attraction - 12.0 * repulsion) * inverse_r2;
    return repulsion - attraction;
  }
};

using LennardJones = PairPotential<LennardJonesForm>;
extern template class PairPotential<LennardJonesForm>;

}  // namespace nqmd
