#include <cmath>
#include <limits>

#include <catch2/catch.hpp>

#include "analysis/statistics.hpp"

using namespace nqmd::analysis;

TEST_CASE("Student t interval factors and chi^2 tail probabilities agree with the tables", "[analysis]") {
  // One sigma: 1 for a Gaussian; Cauchy (1 dof): tan(pi/2 * 0.6827); 2 dof in closed form: c sqrt(2 / (1 - c^2)).
  CHECK(student_t_interval_factor(std::numeric_limits<double>::infinity()) == Approx(1.0).epsilon(1e-10));
  const double pi = std::acos(-1.0);
  CHECK(student_t_interval_factor(1.0) == Approx(std::tan(0.5 * pi * kOneSigmaCoverage)).epsilon(1e-10));
  CHECK(student_t_interval_factor(2.0) ==
        Approx(kOneSigmaCoverage * std::sqrt(2.0 / (1.0 - kOneSigmaCoverage * kOneSigmaCoverage))).epsilon(1e-10));
  CHECK(student_t_interval_factor(4.0) == Approx(1.141627).epsilon(1e-6));
  CHECK(student_t_interval_factor(31.0) == Approx(1.016391).epsilon(1e-6));
  CHECK(student_t_interval_factor(1e9) == Approx(1.0).epsilon(1e-8));
  // 95% two-sided quantiles of the t tables.
  CHECK(student_t_interval_factor(4.0, 0.95) == Approx(2.776445).epsilon(1e-6));
  CHECK(student_t_interval_factor(10.0, 0.95) == Approx(2.228139).epsilon(1e-6));
  CHECK(student_t_interval_factor(2.5) < student_t_interval_factor(2.0));
  CHECK(student_t_interval_factor(2.5) > student_t_interval_factor(3.0));
  CHECK_THROWS(student_t_interval_factor(0.0));

  // 95% quantiles of chi^2 with 1 to 4 degrees of freedom.
  CHECK(chi_squared_survival(3.841458821, 1) == Approx(0.05).epsilon(1e-8));
  CHECK(chi_squared_survival(5.991464547, 2) == Approx(0.05).epsilon(1e-8));
  CHECK(chi_squared_survival(7.814727903, 3) == Approx(0.05).epsilon(1e-8));
  CHECK(chi_squared_survival(9.487729037, 4) == Approx(0.05).epsilon(1e-8));
  CHECK(chi_squared_survival(8.1, 2) == Approx(std::exp(-4.05)).epsilon(1e-12));
  CHECK(chi_squared_survival(0.0, 3) == 1.0);
  CHECK(chi_squared_survival(5.0, 0) == 1.0);
}
