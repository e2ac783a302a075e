#include "potential/nequip/wigner.hpp"

#include <cmath>
#include <complex>
#include <cstdlib>
#include <map>
#include <mutex>
#include <stdexcept>
#include <string>
#include <tuple>

namespace nqmd::nequip {
namespace {

using Complex = std::complex<long double>;

long double factorial(int n) {
  long double f = 1;
  for (int k = 2; k <= n; ++k) f *= k;
  return f;
}

// <j1 m1 j2 m2 | j3 m3> for integer j (Racah's formula).
long double clebsch_gordan(int j1, int m1, int j2, int m2, int j3, int m3) {
  if (m1 + m2 != m3 || std::abs(m1) > j1 || std::abs(m2) > j2 || std::abs(m3) > j3) return 0;
  const long double prefactor =
      std::sqrt((2 * j3 + 1) * factorial(j3 + j1 - j2) * factorial(j3 - j1 + j2) * factorial(j1 + j2 - j3) /
                factorial(j1 + j2 + j3 + 1)) *
      std::sqrt(factorial(j3 + m3) * factorial(j3 - m3) * factorial(j1 - m1) * factorial(j1 + m1) *
                factorial(j2 - m2) * factorial(j2 + m2));
  long double sum = 0;
  for (int k = 0; k <= j1 + j2 - j3; ++k) {
    const int a = j1 + j2 - j3 - k, b = j1 - m1 - k, c = j2 + m2 - k, d = j3 - j2 + m1 + k, e = j3 - j1 - m2 + k;
    if (a < 0 || b < 0 || c < 0 || d < 0 || e < 0) continue;
    const long double term =
        1.0L / (factorial(k) * factorial(a) * factorial(b) * factorial(c) * factorial(d) * factorial(e));
    sum += (k % 2 == 0) ? term : -term;
  }
  return prefactor * sum;
}

// Q[complex m index][real index]: complex spherical harmonic = sum_real Q * real harmonic, times (-i)^l.
std::vector<Complex> real_to_complex(int l) {
  const int n = 2 * l + 1;
  std::vector<Complex> q(static_cast<std::size_t>(n * n));
  auto at = [&](int row, int col) -> Complex& { return q[static_cast<std::size_t>(row * n + col)]; };
  const long double s = 1.0L / std::sqrt(2.0L);
  for (int m = -l; m < 0; ++m) {
    at(l + m, l - m) = Complex(s, 0);
    at(l + m, l + m) = Complex(0, -s);
  }
  at(l, l) = Complex(1, 0);
  for (int m = 1; m <= l; ++m) {
    const long double sign = (m % 2 == 0) ? 1 : -1;
    at(l + m, l + m) = Complex(sign * s, 0);
    at(l + m, l - m) = Complex(0, sign * s);
  }
  Complex phase(1, 0);
  for (int k = 0; k < l; ++k) phase *= Complex(0, -1);
  for (auto& v : q) v *= phase;
  return q;
}

std::vector<double> compute(int l1, int l2, int l3) {
  const int n1 = 2 * l1 + 1, n2 = 2 * l2 + 1, n3 = 2 * l3 + 1;
  const auto q1 = real_to_complex(l1), q2 = real_to_complex(l2), q3 = real_to_complex(l3);
  std::vector<Complex> out(static_cast<std::size_t>(n1 * n2 * n3));
  // out[j,k,m] = sum_{a,b,c} Q1[a,j] Q2[b,k] conj(Q3[c,m]) CG[a,b,c], a,b,c the complex (m-ordered) indices.
  for (int a = 0; a < n1; ++a) {
    for (int b = 0; b < n2; ++b) {
      const int c = a - l1 + b - l2 + l3;  // m3 = m1 + m2
      if (c < 0 || c >= n3) continue;
      const long double cg = clebsch_gordan(l1, a - l1, l2, b - l2, l3, c - l3);
      if (cg == 0) continue;
      for (int j = 0; j < n1; ++j) {
        const Complex qa = q1[static_cast<std::size_t>(a * n1 + j)];
        if (qa == Complex(0, 0)) continue;
        for (int k = 0; k < n2; ++k) {
          const Complex qb = q2[static_cast<std::size_t>(b * n2 + k)];
          if (qb == Complex(0, 0)) continue;
          for (int m = 0; m < n3; ++m) {
            const Complex qc = std::conj(q3[static_cast<std::size_t>(c * n3 + m)]);
            out[static_cast<std::size_t>((j * n2 + k) * n3 + m)] += qa * qb * qc * cg;
          }
        }
      }
    }
  }
  long double norm = 0;
  for (const auto& v : out) {
    if (std::abs(v.imag()) > 1e-12L) throw std::logic_error("wigner_3j: basis change left an imaginary part");
    norm += v.real() * v.real();
  }
  norm = std::sqrt(norm);
  std::vector<double> result(out.size());
  for (std::size_t i = 0; i < out.size(); ++i) result[i] = static_cast<double>(out[i].real() / norm);
  return result;
}

}  // namespace

const std::vector<double>& wigner_3j(int l1, int l2, int l3) {
  if (l1 < 0 || l2 < 0 || l3 < 0 || l3 < std::abs(l1 - l2) || l3 > l1 + l2) {
    throw std::invalid_argument("wigner_3j: (" + std::to_string(l1) + ", " + std::to_string(l2) + ", " +
                                std::to_string(l3) + ") violates the triangle inequality");
  }
  static std::mutex mutex;
  static std::map<std::tuple<int, int, int>, std::vector<double>> cache;
  std::lock_guard<std::mutex> lock(mutex);
  auto key = std::make_tuple(l1, l2, l3);
  auto it = cache.find(key);
  if (it == cache.end()) it = cache.emplace(key, compute(l1, l2, l3)).first;
  return it->second;
}

}  // namespace nqmd::nequip
