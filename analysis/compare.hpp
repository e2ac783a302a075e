#pragma once
// Comparisons of two analyses of the same system, e.g. nequip-md MD against ab-initio MD frames: RDFs pair by
// pair, and two diffusion coefficients.
#include <string>
#include <vector>

#include "analysis/rdf.hpp"
#include "analysis/statistics.hpp"

namespace nqmd::analysis {

// First peak of g(r): from the first bin where g reaches 1 up to the first bin after it where g falls below 1
// again (the first minimum of a liquid or the gap after a crystal's first shell), the highest bin, refined by
// the parabola through it and its two neighbours (sub-bin position and height).
struct RdfPeak {
  bool found = false;  // false if g never reaches 1 (e.g. a g(r) that is zero, or below 1, everywhere)
  double r = 0.0;      // A
  double g = 0.0;
};
RdfPeak first_peak(const std::vector<double>& r, const std::vector<double>& g);

struct RdfPairComparison {
  std::string species_a;  // empty for the total g(r)
  std::string species_b;
  double integrated_absolute_difference = 0.0;  // int |g1 - g2| dr over the common range (A)
  double max_absolute_difference = 0.0;
  double r_of_max_difference = 0.0;  // A
  RdfPeak first_peak_1;
  RdfPeak first_peak_2;
};

struct RdfComparison {
  double r_max = 0.0;                    // end of the common range (A)
  std::vector<RdfPairComparison> pairs;  // the total first, then the ordered pairs present in both
  std::vector<std::string> warnings;     // e.g. pairs present in only one result

  // InputError if the pair was not compared.
  const RdfPairComparison& pair(const std::string& species_a, const std::string& species_b) const;
};

// Compares on the bin centres of `first` within the range both cover; `second` is interpolated linearly onto
// them (bin by bin when the grids agree). The integral is the sum of |g1 - g2| times the first's bin width.
// InputError if the ranges do not overlap.
RdfComparison compare_rdfs(const RdfResult& first, const RdfResult& second);

struct DiffusionComparison {
  Estimate ratio;                    // first / second, relative errors added in quadrature
  double difference_in_sigma = 0.0;  // (first - second) / sqrt(sigma1^2 + sigma2^2)
};
// InputError if the second value is zero or an error is negative.
DiffusionComparison compare_diffusion(const Estimate& first, const Estimate& second);

}  // namespace nqmd::analysis
