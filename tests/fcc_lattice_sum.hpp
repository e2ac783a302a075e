#pragma once
// The Lennard-Jones energy per atom of a perfect fcc crystal by brute-force lattice sum, and the lattice constant
// that minimises it by golden-section search: the independent reference of the minimisation tests.
#include <cmath>

namespace nqmd::test {

struct TruncatedLennardJones {
  double epsilon = 0.0;  // eV
  double sigma = 0.0;    // A
  double cutoff = 0.0;   // A
  bool shift = false;    // E(r) - E(cutoff) inside the cutoff

  double pair_energy(double r) const {
    if (r >= cutoff) return 0.0;
    return bare(r) - (shift ? bare(cutoff) : 0.0);
  }
  double bare(double r) const {
    const double s6 = std::pow(sigma / r, 6);
    return 4.0 * epsilon * (s6 * s6 - s6);
  }
};

// 1/2 sum over the fcc lattice vectors R = a (n1, n2, n3) / 2 with n1 + n2 + n3 even, R != 0, of the pair energy.
inline double fcc_energy_per_atom(const TruncatedLennardJones& lj, double a) {
  const int range = static_cast<int>(std::ceil(2.0 * lj.cutoff / a)) + 1;
  double sum = 0.0;
  for (int n1 = -range; n1 <= range; ++n1)
    for (int n2 = -range; n2 <= range; ++n2)
      for (int n3 = -range; n3 <= range; ++n3) {
        if ((n1 + n2 + n3) % 2 != 0 || (n1 == 0 && n2 == 0 && n3 == 0)) continue;
        sum += lj.pair_energy(0.5 * a * std::sqrt(double(n1 * n1 + n2 * n2 + n3 * n3)));
      }
  return 0.5 * sum;
}

// The lattice constant minimising fcc_energy_per_atom in [low, high] (a bracket in which it is unimodal: no shell
// of neighbours crosses the cutoff there if the potential is not shifted).
inline double fcc_equilibrium_lattice_constant(const TruncatedLennardJones& lj, double low, double high) {
  const double ratio = (std::sqrt(5.0) - 1.0) / 2.0;
  double left = high - ratio * (high - low), right = low + ratio * (high - low);
  double f_left = fcc_energy_per_atom(lj, left), f_right = fcc_energy_per_atom(lj, right);
  while (high - low > 1e-10) {
    if (f_left < f_right) {
      high = right;
      right = left;
      f_right = f_left;
      left = high - ratio * (high - low);
      f_left = fcc_energy_per_atom(lj, left);
    } else {
      low = left;
      left = right;
      f_left = f_right;
      right = low + ratio * (high - low);
      f_right = fcc_energy_per_atom(lj, right);
    }
  }
  return 0.5 * (low + high);
}

}  // namespace nqmd::test
