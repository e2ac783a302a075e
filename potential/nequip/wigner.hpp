#pragma once
// Wigner 3j symbols in e3nn's real basis (torch-free), computed natively: the SU(2) Clebsch-Gordan coefficients
// (Racah's formula, Condon-Shortley phase) transformed by e3nn's real-to-complex change of basis of each l,
// whose extra factor (-i)^l makes the result real, then scaled to Frobenius norm 1. Equal to e3nn 0.5.1's
// o3.wigner_3j(l1, l2, l3) including signs. Invariant: C_lmn = C_ijk D1_il D2_jm D3_kn for every rotation.
#include <vector>

namespace nqmd::nequip {

// Row-major tensor of shape (2l1+1, 2l2+1, 2l3+1); throws std::invalid_argument unless |l1-l2| <= l3 <= l1+l2.
// Cached; safe to call from several threads.
const std::vector<double>& wigner_3j(int l1, int l2, int l3);

// The constant c_l of e3nn's spherical-harmonics recursion Y^l = c_l C^{l-1,1,l} (Y^{l-1} (x) r) at a unit vector r
// ('component' normalisation, |Y^l|^2 = 2l+1); c_1 = sqrt(3) with Y^0 = 1. Cached; thread-safe. Defined in e3nn.cpp.
double spherical_harmonics_recursion_constant(int l);

}  // namespace nqmd::nequip
