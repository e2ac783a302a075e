#include "analysis/statistics.hpp"

#include <cmath>
#include <limits>
#include <stdexcept>

namespace nqmd::analysis {

Estimate mean_with_standard_error(const std::vector<double>& samples) {
  const std::size_t n = samples.size();
  Estimate result;
  if (n == 0) {
    result.value = std::numeric_limits<double>::quiet_NaN();
    result.error = result.value;
    return result;
  }
  double sum = 0.0;
  for (double sample : samples) sum += sample;
  result.value = sum / static_cast<double>(n);
  if (n < 2) {
    result.error = std::numeric_limits<double>::quiet_NaN();
    return result;
  }
  double squares = 0.0;
  for (double sample : samples) squares += (sample - result.value) * (sample - result.value);
  result.error = std::sqrt(squares / static_cast<double>(n - 1) / static_cast<double>(n));
  return result;
}

double covariance_of_means(const std::vector<double>& a, const std::vector<double>& b) {
  const std::size_t n = a.size();
  if (n != b.size()) throw std::logic_error("covariance_of_means: series of different lengths");
  if (n < 2) return std::numeric_limits<double>::quiet_NaN();
  double mean_a = 0.0;
  double mean_b = 0.0;
  for (std::size_t k = 0; k < n; ++k) {
    mean_a += a[k];
    mean_b += b[k];
  }
  mean_a /= static_cast<double>(n);
  mean_b /= static_cast<double>(n);
  double sum = 0.0;
  for (std::size_t k = 0; k < n; ++k) sum += (a[k] - mean_a) * (b[k] - mean_b);
  return sum / static_cast<double>(n - 1) / static_cast<double>(n);
}

LineFit fit_line(const double* x, const double* y, std::size_t count) {
  // Centred sums for accuracy: slope = sum (x - <x>)(y - <y>) / sum (x - <x>)^2.
  double mean_x = 0.0;
  double mean_y = 0.0;
  for (std::size_t k = 0; k < count; ++k) {
    mean_x += x[k];
    mean_y += y[k];
  }
  mean_x /= static_cast<double>(count);
  mean_y /= static_cast<double>(count);
  double sxx = 0.0;
  double sxy = 0.0;
  for (std::size_t k = 0; k < count; ++k) {
    sxx += (x[k] - mean_x) * (x[k] - mean_x);
    sxy += (x[k] - mean_x) * (y[k] - mean_y);
  }
  if (!(sxx > 0.0)) throw std::logic_error("fit_line: fewer than two distinct x values");
  LineFit fit;
  fit.slope = sxy / sxx;
  fit.intercept = mean_y - fit.slope * mean_x;
  return fit;
}

LineFit fit_line_weighted(const std::vector<double>& x, const std::vector<double>& y,
                          const std::vector<double>& sigma) {
  // Normal equations of chi^2 = sum w (y - a - b x)^2 with w = 1/sigma^2 (e.g. Numerical Recipes 15.2).
  double s = 0.0, sx = 0.0, sy = 0.0;
  for (std::size_t k = 0; k < x.size(); ++k) {
    const double w = 1.0 / (sigma[k] * sigma[k]);
    s += w;
    sx += w * x[k];
    sy += w * y[k];
  }
  const double mean_x = sx / s;
  double stt = 0.0, sty = 0.0;
  for (std::size_t k = 0; k < x.size(); ++k) {
    const double t = (x[k] - mean_x) / sigma[k];
    stt += t * t;
    sty += t * y[k] / sigma[k];
  }
  if (!(stt > 0.0)) throw std::logic_error("fit_line_weighted: fewer than two distinct x values");
  LineFit fit;
  fit.slope = sty / stt;
  fit.intercept = (sy - sx * fit.slope) / s;
  fit.slope_variance = 1.0 / stt;
  fit.intercept_variance = (1.0 + sx * sx / (s * stt)) / s;
  fit.covariance = -sx / (s * stt);
  for (std::size_t k = 0; k < x.size(); ++k) {
    const double residual = (y[k] - fit.intercept - fit.slope * x[k]) / sigma[k];
    fit.chi_squared += residual * residual;
  }
  return fit;
}

}  // namespace nqmd::analysis
