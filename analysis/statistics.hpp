#pragma once
// Small statistics shared by the analyses: a value with its standard error, sample means, straight-line fits.
#include <cstddef>
#include <vector>

namespace nqmd::analysis {

// A value and its one-standard-deviation uncertainty (standard error), in the same unit.
struct Estimate {
  double value = 0.0;
  double error = 0.0;
};

// Mean of the samples and its standard error s / sqrt(n) (s: sample standard deviation with n - 1).
// With fewer than two samples the error is NaN: it cannot be estimated.
Estimate mean_with_standard_error(const std::vector<double>& samples);

// The probability that a Gaussian lies within one standard deviation of its mean, erf(1 / sqrt 2).
inline constexpr double kOneSigmaCoverage = 0.68268949213708590;

// The t with P(|T| <= t) = coverage for Student's t with `degrees_of_freedom` (> 0, not necessarily an integer;
// infinity: the Gaussian value). A mean +- t standard errors, the standard error estimated with that many degrees
// of freedom (n - 1 for n samples), covers the true mean with that probability: for the one-sigma coverage
// 1.14 with 4 degrees of freedom, 1.06 with 9, 1.02 with 30, 1 with infinitely many.
double student_t_interval_factor(double degrees_of_freedom, double coverage = kOneSigmaCoverage);

// P(X >= chi_squared) for X distributed as chi^2 with the given (integer) degrees of freedom; 1 for none.
double chi_squared_survival(double chi_squared, std::size_t degrees_of_freedom);

// Sample covariance of two equally long series divided by n: the covariance of their two means.
double covariance_of_means(const std::vector<double>& a, const std::vector<double>& b);

// y = intercept + slope * x.
struct LineFit {
  double slope = 0.0;
  double intercept = 0.0;
  double slope_variance = 0.0;  // from the given weights (weighted fit) or 0 (ordinary fit)
  double intercept_variance = 0.0;
  double covariance = 0.0;   // cov(intercept, slope)
  double chi_squared = 0.0;  // sum of squared weighted residuals (weighted fit)
};

// Ordinary least squares (every point weight 1); only slope and intercept are set. Needs two distinct x.
LineFit fit_line(const double* x, const double* y, std::size_t count);
// Weighted least squares with known standard deviations sigma of y: weights 1 / sigma^2, parameter
// covariance (X^T W X)^-1 (not rescaled by the reduced chi^2). Needs two distinct x.
LineFit fit_line_weighted(const std::vector<double>& x, const std::vector<double>& y, const std::vector<double>& sigma);

}  // namespace nqmd::analysis
