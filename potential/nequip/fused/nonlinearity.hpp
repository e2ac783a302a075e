#pragma once
// Private (fused kernel): the normalised scalar nonlinearities of e3nn (silu, ssp, tanh, abs) and their
// derivatives, computed as torch computes them; silu vectorised through vector_exp.
#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstring>

#include "potential/nequip/detail/nequip_model_impl.hpp"
#include "potential/nequip/fused/rounding.hpp"

namespace nqmd::nequip::fused {

using detail::Activation;

// exp(x) written so that loops over it vectorise (the C library's exp does not without -ffast-math): Cody-Waite
// reduction x = n ln2 + r, |r| <= ln2/2, and the Taylor series of e^r to below the last bit (degree 13 in double,
// 7 in float), times 2^n built from its exponent bits. Within 2 ulp of std::exp; arguments are clamped to the
// finite range. The series is summed in Estrin's scheme (pairs, then pairs of pairs with r^2, r^4, r^8): a chain
// of 5 dependent multiply-adds instead of Horner's 13, which left the radial MLP's silu waiting on their latency.
inline double vector_exp(double x) {
  x = std::min(std::max(x, -708.0), 709.0);
  std::uint64_t n_bits;
  const double n = round_with_bits(x * 1.4426950408889634, n_bits);
  const double r = (x - n * 6.93147180369123816490e-01) - n * 1.90821492927058770002e-10;
  const double r2 = r * r, r4 = r2 * r2, r8 = r4 * r4;
  // 1/k! for k = 0..13, paired as c[2m] + c[2m+1] r.
  const double p01 = 1.0 + r, p23 = 1.0 / 2.0 + r * (1.0 / 6.0), p45 = 1.0 / 24.0 + r * (1.0 / 120.0),
               p67 = 1.0 / 720.0 + r * (1.0 / 5040.0), p89 = 1.0 / 40320.0 + r * (1.0 / 362880.0),
               p1011 = 1.0 / 3628800.0 + r * (1.0 / 39916800.0), p1213 = 1.0 / 479001600.0 + r * (1.0 / 6227020800.0);
  const double p0to3 = p01 + r2 * p23, p4to7 = p45 + r2 * p67, p8to11 = p89 + r2 * p1011;
  const double p0to7 = p0to3 + r4 * p4to7, p8to13 = p8to11 + r4 * p1213;
  const double p = p0to7 + r8 * p8to13;
  // 2^n: the exponent field n + 1023 from the low bits of n (-1021 <= n <= 1023), shifted into place.
  const std::uint64_t bits = (n_bits + 1023) << 52;
  double scale;
  std::memcpy(&scale, &bits, sizeof scale);
  return p * scale;
}
inline float vector_exp(float x) {
  x = std::min(std::max(x, -87.0f), 88.0f);
  const float n = std::nearbyint(x * 1.44269504f);
  const float r = (x - n * 0.693359375f) - n * -2.12194440e-4f;
  float p = 1.0f / 5040.0f;  // 1/7!
  for (float d : {720.0f, 120.0f, 24.0f, 6.0f, 2.0f, 1.0f, 1.0f}) p = p * r + 1.0f / d;
  const auto bits = static_cast<std::uint32_t>(static_cast<std::int32_t>(n) + 127) << 23;
  float scale;
  std::memcpy(&scale, &bits, sizeof scale);
  return p * scale;
}

// A normalised scalar nonlinearity (e3nn normalize2mom constant) and its derivative, as torch computes them.
struct Nonlinearity {
  Activation::Kind kind = Activation::Kind::silu;
  double constant = 1.0;

  template <typename T>
  T value(T x) const {
    const T c = static_cast<T>(constant);
    switch (kind) {
      case Activation::Kind::silu:
        return x / (T(1) + std::exp(-x)) * c;
      case Activation::Kind::ssp:  // softplus with torch's threshold 20, minus log 2
        return ((x > T(20) ? x : std::log1p(std::exp(x))) - static_cast<T>(std::log(2.0))) * c;
      case Activation::Kind::tanh:
        return std::tanh(x) * c;
      case Activation::Kind::abs:
        return std::abs(x) * c;
    }
    return x;
  }
  // x[q] <- value(x[q]) and, if `slopes`, slopes[q] = derivative at the old x[q], for q < n (silu vectorised).
  template <typename T>
  void apply(T* x, std::size_t n, T* slopes) const {
    if (kind != Activation::Kind::silu) {
      for (std::size_t q = 0; q < n; ++q) {
        if (slopes) slopes[q] = derivative(x[q]);
        x[q] = value(x[q]);
      }
      return;
    }
    const T c = static_cast<T>(constant);
    if (slopes) {
#pragma omp simd
      for (std::size_t q = 0; q < n; ++q) {
        const T v = x[q];
        const T sigmoid = T(1) / (T(1) + vector_exp(-v));
        slopes[q] = sigmoid * (T(1) + v * (T(1) - sigmoid)) * c;
        x[q] = v * sigmoid * c;
      }
    } else {
#pragma omp simd
      for (std::size_t q = 0; q < n; ++q) x[q] = x[q] / (T(1) + vector_exp(-x[q])) * c;
    }
  }
  template <typename T>
  T derivative(T x) const {
    const T c = static_cast<T>(constant);
    switch (kind) {
      case Activation::Kind::silu: {
        const T s = T(1) / (T(1) + std::exp(-x));
        return s * (T(1) + x * (T(1) - s)) * c;
      }
      case Activation::Kind::ssp:
        return (x > T(20) ? T(1) : T(1) / (T(1) + std::exp(-x))) * c;
      case Activation::Kind::tanh: {
        const T t = std::tanh(x);
        return (T(1) - t * t) * c;
      }
      case Activation::Kind::abs:
        return (x > T(0) ? T(1) : (x < T(0) ? T(-1) : T(0))) * c;
    }
    return T(1);
  }
};


inline Nonlinearity nonlinearity_of(const Activation& a) { return Nonlinearity{a.kind, a.constant}; }

}  // namespace nqmd::nequip::fused
