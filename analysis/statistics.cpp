#include "analysis/statistics.hpp"

#include <cmath>
#include <limits>
#include <stdexcept>

namespace nqmd::analysis {
namespace {

// Continued fraction of the regularized incomplete beta function (modified Lentz; Numerical Recipes 6.4).
double incomplete_beta_fraction(double a, double b, double x) {
  constexpr int kMaxTerms = 500;
  constexpr double kTolerance = 1e-15;
  constexpr double kTiny = 1e-300;
  double c = 1.0;
  double d = 1.0 - (a + b) * x / (a + 1.0);
  if (std::abs(d) < kTiny) d = kTiny;
  d = 1.0 / d;
  double fraction = d;
  for (int m = 1; m <= kMaxTerms; ++m) {
    for (const double numerator : {m * (b - m) * x / ((a + 2 * m - 1) * (a + 2 * m)),
                                   -(a + m) * (a + b + m) * x / ((a + 2 * m) * (a + 2 * m + 1))}) {
      d = 1.0 + numerator * d;
      if (std::abs(d) < kTiny) d = kTiny;
      c = 1.0 + numerator / c;
      if (std::abs(c) < kTiny) c = kTiny;
      d = 1.0 / d;
      fraction *= c * d;
    }
    if (std::abs(c * d - 1.0) < kTolerance) break;
  }
  return fraction;
}

// I_x(a, b), the regularized incomplete beta function, for a, b > 0 and 0 <= x <= 1.
double regularized_incomplete_beta(double a, double b, double x) {
  if (x <= 0.0) return 0.0;
  if (x >= 1.0) return 1.0;
  const double front =
      std::exp(std::lgamma(a + b) - std::lgamma(a) - std::lgamma(b) + a * std::log(x) + b * std::log1p(-x));
  // The continued fraction converges fast for x < (a + 1) / (a + b + 2); otherwise use I_x(a, b) = 1 - I_{1-x}(b, a).
  if (x < (a + 1.0) / (a + b + 2.0)) return front * incomplete_beta_fraction(a, b, x) / a;
  return 1.0 - front * incomplete_beta_fraction(b, a, 1.0 - x) / b;
}

// P(|T| <= t) for Student's t with nu degrees of freedom.
double student_t_central_probability(double t, double nu) {
  return 1.0 - regularized_incomplete_beta(0.5 * nu, 0.5, nu / (nu + t * t));
}

}  // namespace

double student_t_interval_factor(double degrees_of_freedom, double coverage) {
  if (!(degrees_of_freedom > 0.0) || !(coverage > 0.0 && coverage < 1.0))
    throw std::invalid_argument("student_t_interval_factor: needs degrees of freedom > 0 and 0 < coverage < 1");
  // Beyond 1e7 degrees of freedom t and the Gaussian differ by less than 1e-7.
  const bool gaussian = degrees_of_freedom > 1e7;
  auto central = [&](double t) {
    return gaussian ? std::erf(t / std::sqrt(2.0)) : student_t_central_probability(t, degrees_of_freedom);
  };
  double low = 0.0;
  double high = 2.0;
  while (central(high) < coverage) high *= 2.0;
  for (int step = 0; step < 100 && high - low > 1e-12 * high; ++step) {
    const double middle = 0.5 * (low + high);
    (central(middle) < coverage ? low : high) = middle;
  }
  return 0.5 * (low + high);
}

double chi_squared_survival(double chi_squared, std::size_t degrees_of_freedom) {
  if (degrees_of_freedom == 0 || !(chi_squared > 0.0)) return 1.0;
  // Q(k/2, x/2) in closed form for integer k, h = x/2: even k, e^-h sum_{j=0}^{k/2-1} h^j / j!; odd k,
  // erfc(sqrt h) + e^-h sum_{j=1}^{(k-1)/2} h^(j-1/2) / Gamma(j + 1/2).
  const double h = 0.5 * chi_squared;
  const bool even = degrees_of_freedom % 2 == 0;
  double survival = even ? 0.0 : std::erfc(std::sqrt(h));
  double term = even ? std::exp(-h) : std::exp(-h) * std::sqrt(h) / std::tgamma(1.5);
  for (std::size_t n = 0; n < degrees_of_freedom / 2; ++n) {
    survival += term;
    term *= h / (even ? static_cast<double>(n) + 1.0 : static_cast<double>(n) + 1.5);
  }
  return survival;
}

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
