#include <cmath>
#include <random>
#include <string>
#include <vector>

#include <catch2/catch.hpp>

#include "analysis/compare.hpp"
#include "analysis_test_support.hpp"
#include "engine/error.hpp"

using namespace nqmd;
using namespace nqmd::analysis;

namespace {

// A result holding given curves on a grid of `bins` bins up to r_max (no error bars).
RdfResult synthetic_rdf(double r_max, std::size_t bins, const std::vector<std::pair<std::string, std::string>>& pairs,
                        double (*g_of_r)(double)) {
  RdfResult result;
  result.r_max = r_max;
  result.bin_width = r_max / bins;
  for (std::size_t k = 0; k < bins; ++k) result.r.push_back(result.bin_width * (k + 0.5));
  auto curve = [&](const std::string& a, const std::string& b) {
    RdfCurve c;
    c.species_a = a;
    c.species_b = b;
    for (double r : result.r) c.g.push_back(g_of_r(r));
    return c;
  };
  result.total = curve("", "");
  for (const auto& [a, b] : pairs) result.partials.push_back(curve(a, b));
  return result;
}

// A liquid-like g(r): zero below 2 A, a first peak of height 2.5 at 2.5 A, a minimum below 1, then 1.
double liquid_g(double r) {
  if (r < 2.0) return 0.0;
  return 1.0 + 1.5 * std::exp(-std::pow((r - 2.5) / 0.15, 2)) - 0.4 * std::exp(-std::pow((r - 3.2) / 0.25, 2)) -
         std::exp(-std::pow((r - 2.0) / 0.1, 2));
}
double liquid_g_raised(double r) { return liquid_g(r) + 0.1; }
double linear_g(double r) { return 0.3 * r; }

RdfResult thermal_fcc_rdf(double a, unsigned seed) {
  const Cell cell = nqmd::test::orthorhombic_cell(4 * a, 4 * a, 4 * a);
  const std::vector<Vec3> sites = nqmd::test::fcc_conventional_positions(a, 4, 4, 4);
  RdfOptions options;
  options.r_max = 7.0;
  options.bins = 140;
  RadialDistribution rdf(std::vector<std::string>(sites.size(), "Cu"), options);
  std::mt19937_64 generator(seed);
  std::normal_distribution<double> thermal(0.0, 0.08);
  for (int frame = 0; frame < 5; ++frame) {
    std::vector<Vec3> positions = sites;
    for (Vec3& x : positions) x += Vec3(thermal(generator), thermal(generator), thermal(generator));
    rdf.accumulate(nqmd::test::make_frame(cell, positions));
  }
  return rdf.finalize();
}

}  // namespace

TEST_CASE("first peak of a g(r)", "[analysis]") {
  const RdfResult liquid = synthetic_rdf(8.0, 400, {}, liquid_g);
  const RdfPeak peak = first_peak(liquid.r, liquid.total.g);
  REQUIRE(peak.found);
  CHECK(peak.r == Approx(2.5).margin(0.005));
  CHECK(peak.g == Approx(2.5).margin(0.005));
  CHECK_FALSE(first_peak(liquid.r, std::vector<double>(liquid.r.size(), 0.5)).found);
}

TEST_CASE("RDF comparison: differences and first peaks per pair", "[analysis]") {
  SECTION("identical RDFs differ by nothing") {
    const RdfResult first = thermal_fcc_rdf(3.61, 1);
    const RdfComparison comparison = compare_rdfs(first, first);
    REQUIRE(comparison.pairs.size() == 2);  // total and Cu-Cu
    CHECK(comparison.pairs[0].integrated_absolute_difference == 0.0);
    CHECK(comparison.pair("Cu", "Cu").max_absolute_difference == 0.0);
    CHECK(comparison.warnings.empty());
  }
  SECTION("two lattice constants: the first peaks sit at a / sqrt(2)") {
    const RdfResult first = thermal_fcc_rdf(3.61, 1);
    const RdfResult second = thermal_fcc_rdf(3.70, 2);
    const RdfComparison comparison = compare_rdfs(first, second);
    const RdfPairComparison& cu = comparison.pair("Cu", "Cu");
    INFO("first peaks " << cu.first_peak_1.r << " and " << cu.first_peak_2.r
                        << " A; int |dg| dr = " << cu.integrated_absolute_difference
                        << " A, max |dg| = " << cu.max_absolute_difference << " at " << cu.r_of_max_difference << " A");
    CHECK(std::abs(cu.first_peak_1.r - 3.61 / std::sqrt(2.0)) < first.bin_width);
    CHECK(std::abs(cu.first_peak_2.r - 3.70 / std::sqrt(2.0)) < first.bin_width);
    CHECK(cu.first_peak_1.g > 1.0);
    CHECK(cu.integrated_absolute_difference > 1.0);
    CHECK(cu.max_absolute_difference > 1.0);
  }
  SECTION("a constant offset: int |dg| dr = offset * range, exactly; other pairs are reported") {
    const RdfResult first = synthetic_rdf(8.0, 400, {{"Li", "Li"}, {"Li", "O"}}, liquid_g);
    const RdfResult second = synthetic_rdf(8.0, 400, {{"Li", "Li"}, {"Li", "F"}}, liquid_g_raised);
    const RdfComparison comparison = compare_rdfs(first, second);
    const RdfPairComparison& li = comparison.pair("Li", "Li");
    CHECK(li.integrated_absolute_difference == Approx(0.1 * 8.0).epsilon(1e-12));
    CHECK(li.max_absolute_difference == Approx(0.1).epsilon(1e-12));
    CHECK(li.first_peak_1.r == Approx(li.first_peak_2.r).margin(0.02));
    CHECK(comparison.warnings.size() == 2);
    CHECK_THROWS_WITH(comparison.pair("Li", "O"), Catch::Contains("no pair Li-O"));
  }
  SECTION("different grids: the second is interpolated onto the first within the common range") {
    const RdfResult first = synthetic_rdf(6.0, 60, {}, linear_g);
    const RdfResult second = synthetic_rdf(5.0, 200, {}, linear_g);
    const RdfComparison comparison = compare_rdfs(first, second);
    CHECK(comparison.r_max == Approx(5.0 - 0.0125));
    CHECK(comparison.pairs[0].max_absolute_difference == Approx(0.0).margin(1e-12));
  }
}

TEST_CASE("diffusion coefficient comparison", "[analysis]") {
  const DiffusionComparison comparison = compare_diffusion({2.0, 0.2}, {1.0, 0.1});
  CHECK(comparison.ratio.value == Approx(2.0));
  CHECK(comparison.ratio.error == Approx(2.0 * std::sqrt(0.1 * 0.1 + 0.1 * 0.1)));
  CHECK(comparison.difference_in_sigma == Approx(1.0 / std::sqrt(0.05)));
  CHECK_THROWS_WITH(compare_diffusion({1.0, 0.1}, {0.0, 0.1}), Catch::Contains("second D is zero"));
}
