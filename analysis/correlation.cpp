#include "analysis/correlation.hpp"

#include <algorithm>
#include <mutex>
#include <new>
#include <stdexcept>

namespace nqmd::analysis {
namespace {

// FFTW's planner is not thread-safe: only fftw_execute* may run concurrently (FFTW manual, section 5.4).
std::mutex& planner_mutex() {
  static std::mutex mutex;
  return mutex;
}

}  // namespace

LagSumCorrelator::LagSumCorrelator(std::size_t length)
    : length_(length), padded_length_(2 * length), power_sum_(padded_length_ / 2 + 1, 0.0) {
  if (length == 0) throw std::logic_error("LagSumCorrelator: empty series");
  real_buffer_ = fftw_alloc_real(padded_length_);
  spectrum_ = fftw_alloc_complex(padded_length_ / 2 + 1);
  if (real_buffer_ == nullptr || spectrum_ == nullptr) {
    fftw_free(real_buffer_);
    fftw_free(spectrum_);
    throw std::bad_alloc();
  }
  const int n = static_cast<int>(padded_length_);
  std::lock_guard<std::mutex> lock(planner_mutex());
  // FFTW_ESTIMATE plans without touching the buffers; each plan is executed on these same buffers.
  forward_plan_ = fftw_plan_dft_r2c_1d(n, real_buffer_, spectrum_, FFTW_ESTIMATE);
  inverse_plan_ = fftw_plan_dft_c2r_1d(n, spectrum_, real_buffer_, FFTW_ESTIMATE);
  if (forward_plan_ == nullptr || inverse_plan_ == nullptr) {
    if (forward_plan_ != nullptr) fftw_destroy_plan(forward_plan_);
    if (inverse_plan_ != nullptr) fftw_destroy_plan(inverse_plan_);
    fftw_free(real_buffer_);
    fftw_free(spectrum_);
    throw std::runtime_error("FFTW could not plan a transform");
  }
}

LagSumCorrelator::~LagSumCorrelator() {
  std::lock_guard<std::mutex> lock(planner_mutex());
  fftw_destroy_plan(forward_plan_);
  fftw_destroy_plan(inverse_plan_);
  fftw_free(real_buffer_);
  fftw_free(spectrum_);
}

void LagSumCorrelator::add_series(const double* series, std::size_t stride) {
  for (std::size_t k = 0; k < length_; ++k) real_buffer_[k] = series[k * stride];
  std::fill(real_buffer_ + length_, real_buffer_ + padded_length_, 0.0);
  fftw_execute(forward_plan_);
  for (std::size_t k = 0; k < power_sum_.size(); ++k)
    power_sum_[k] += spectrum_[k][0] * spectrum_[k][0] + spectrum_[k][1] * spectrum_[k][1];
}

void LagSumCorrelator::take_lag_sums(std::vector<double>& lag_sums) {
  for (std::size_t k = 0; k < power_sum_.size(); ++k) {
    spectrum_[k][0] = power_sum_[k];
    spectrum_[k][1] = 0.0;
  }
  fftw_execute(inverse_plan_);
  // FFTW's inverse transform is unnormalised: it returns padded_length times the circular correlation.
  const double scale = 1.0 / static_cast<double>(padded_length_);
  lag_sums.resize(length_);
  for (std::size_t m = 0; m < length_; ++m) lag_sums[m] = real_buffer_[m] * scale;
  std::fill(power_sum_.begin(), power_sum_.end(), 0.0);
}

std::vector<double> cosine_transform(const std::vector<double>& values) {
  if (values.size() < 2) throw std::logic_error("cosine_transform: at least 2 values are needed");
  const int n = static_cast<int>(values.size());
  double* buffer = fftw_alloc_real(values.size());
  if (buffer == nullptr) throw std::bad_alloc();
  fftw_plan plan;
  {
    std::lock_guard<std::mutex> lock(planner_mutex());
    plan = fftw_plan_r2r_1d(n, buffer, buffer, FFTW_REDFT00, FFTW_ESTIMATE);
  }
  if (plan == nullptr) {
    fftw_free(buffer);
    throw std::runtime_error("FFTW could not plan a cosine transform");
  }
  std::copy(values.begin(), values.end(), buffer);
  fftw_execute(plan);
  std::vector<double> transformed(buffer, buffer + values.size());
  {
    std::lock_guard<std::mutex> lock(planner_mutex());
    fftw_destroy_plan(plan);
  }
  fftw_free(buffer);
  return transformed;
}

}  // namespace nqmd::analysis
