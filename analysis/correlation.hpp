#pragma once
// Time correlations over all time origins by FFT (Wiener-Khinchin), with FFTW3 double-precision plans.
//
// For series x_0 .. x_{T-1}, the lag sums  A(m) = sum_{k=0}^{T-1-m} x_k x_{k+m},  m = 0 .. T-1,  are the
// aperiodic autocorrelation: zero-padding to 2T makes the circular correlation of the padded series equal to it
// (Kneller, Keiner, Meyer, Wolf, Comput. Phys. Commun. 91, 191 (1995), "nMOLDYN", section 2.2). Cost
// O(T log T) instead of O(T^2). Power spectra of many series are summed before one inverse transform, so the
// lag sums of a sum of independent series (the three Cartesian components, the atoms of a species) cost one
// forward transform per series and one inverse transform in all.
#include <cstddef>
#include <vector>

#include <fftw3.h>

namespace nqmd::analysis {

class LagSumCorrelator {
 public:
  // Series of `length` points (length >= 1).
  explicit LagSumCorrelator(std::size_t length);
  ~LagSumCorrelator();
  LagSumCorrelator(const LagSumCorrelator&) = delete;
  LagSumCorrelator& operator=(const LagSumCorrelator&) = delete;

  std::size_t length() const { return length_; }
  // Adds the power spectrum of one series of length() points (read with the given stride between points).
  void add_series(const double* series, std::size_t stride = 1);
  // Lag sums A(m), m = 0 .. length()-1, of everything added since the last call, summed over the series; then
  // starts again from nothing.
  void take_lag_sums(std::vector<double>& lag_sums);

 private:
  std::size_t length_;
  std::size_t padded_length_;  // 2 * length: no wrap-around between lag m and lag m - 2T
  double* real_buffer_;        // padded_length_ reals (fftw_malloc, aligned for SIMD)
  fftw_complex* spectrum_;     // padded_length_ / 2 + 1 complex numbers: the non-redundant half
  std::vector<double> power_sum_;
  fftw_plan forward_plan_;  // real buffer -> spectrum
  fftw_plan inverse_plan_;  // spectrum -> real buffer
};

// Type-I discrete cosine transform (FFTW REDFT00) of x_0 .. x_M (M >= 1):
//   y_k = x_0 + (-1)^k x_M + 2 sum_{j=1}^{M-1} x_j cos(pi j k / M),   k = 0 .. M,
// i.e. twice the trapezoid rule for int_0^{M dt} x(t) cos(2 pi nu_k t) dt / dt at nu_k = k / (2 M dt): the
// Fourier transform of an even function known at t >= 0.
std::vector<double> cosine_transform(const std::vector<double>& values);

}  // namespace nqmd::analysis
