#include "analysis/compare.hpp"

#include <algorithm>
#include <cmath>

#include <fmt/format.h>

#include "engine/error.hpp"

namespace nqmd::analysis {
namespace {

// g at radius x by linear interpolation between the bin centres r (constant beyond the ends).
double interpolate(const std::vector<double>& r, const std::vector<double>& g, double x) {
  const auto upper = std::lower_bound(r.begin(), r.end(), x);
  if (upper == r.begin()) return g.front();
  if (upper == r.end()) return g.back();
  const std::size_t k = static_cast<std::size_t>(upper - r.begin());
  if (r[k] == x) return g[k];
  const double fraction = (x - r[k - 1]) / (r[k] - r[k - 1]);
  return g[k - 1] + fraction * (g[k] - g[k - 1]);
}

RdfPairComparison compare_curves(const RdfResult& first, const RdfCurve& curve1, const RdfResult& second,
                                 const RdfCurve& curve2, double r_end) {
  RdfPairComparison comparison;
  comparison.species_a = curve1.species_a;
  comparison.species_b = curve1.species_b;
  const double r_begin = second.r.front();
  for (std::size_t k = 0; k < first.r.size(); ++k) {
    const double r = first.r[k];
    // A bin centre of the first grid is compared if the second grid covers it (up to rounding).
    const double slack = 1e-9 * first.bin_width;
    if (r < r_begin - slack || r > r_end + slack) continue;
    const double difference = std::abs(curve1.g[k] - interpolate(second.r, curve2.g, r));
    comparison.integrated_absolute_difference += difference * first.bin_width;
    if (difference > comparison.max_absolute_difference) {
      comparison.max_absolute_difference = difference;
      comparison.r_of_max_difference = r;
    }
  }
  comparison.first_peak_1 = first_peak(first.r, curve1.g);
  comparison.first_peak_2 = first_peak(second.r, curve2.g);
  return comparison;
}

}  // namespace

RdfPeak first_peak(const std::vector<double>& r, const std::vector<double>& g) {
  RdfPeak peak;
  std::size_t start = 0;
  while (start < g.size() && g[start] < 1.0) ++start;
  if (start == g.size()) return peak;
  std::size_t end = start;
  while (end < g.size() && g[end] >= 1.0) ++end;
  const std::size_t top = static_cast<std::size_t>(
      std::max_element(g.begin() + static_cast<std::ptrdiff_t>(start), g.begin() + static_cast<std::ptrdiff_t>(end)) -
      g.begin());
  peak.found = true;
  peak.r = r[top];
  peak.g = g[top];
  if (top > 0 && top + 1 < g.size()) {
    // Vertex of the parabola through the three points around the top bin (equal spacing).
    const double left = g[top - 1];
    const double right = g[top + 1];
    const double curvature = left - 2.0 * g[top] + right;
    if (curvature < 0.0) {
      const double offset = 0.5 * (left - right) / curvature;  // in bins, within [-1/2, 1/2]
      peak.r = r[top] + offset * (r[top + 1] - r[top]);
      peak.g = g[top] - 0.25 * (left - right) * offset;
    }
  }
  return peak;
}

const RdfPairComparison& RdfComparison::pair(const std::string& species_a, const std::string& species_b) const {
  for (const RdfPairComparison& comparison : pairs)
    if (comparison.species_a == species_a && comparison.species_b == species_b) return comparison;
  throw InputError(fmt::format("the RDF comparison has no pair {}-{} (a species is missing from one of the RDFs)",
                               species_a, species_b));
}

RdfComparison compare_rdfs(const RdfResult& first, const RdfResult& second) {
  if (first.r.empty() || second.r.empty()) throw InputError("RDF comparison: an RDF has no bins");
  RdfComparison result;
  result.r_max = std::min(first.r.back(), second.r.back());
  if (result.r_max < std::max(first.r.front(), second.r.front()))
    throw InputError(fmt::format("RDF comparison: the ranges do not overlap ({} to {} A and {} to {} A)",
                                 first.r.front(), first.r.back(), second.r.front(), second.r.back()));
  result.pairs.push_back(compare_curves(first, first.total, second, second.total, result.r_max));
  for (const RdfCurve& curve1 : first.partials) {
    const auto match = std::find_if(second.partials.begin(), second.partials.end(), [&](const RdfCurve& curve2) {
      return curve2.species_a == curve1.species_a && curve2.species_b == curve1.species_b;
    });
    if (match == second.partials.end()) {
      result.warnings.push_back(
          fmt::format("pair {}-{} is only in the first RDF; not compared", curve1.species_a, curve1.species_b));
      continue;
    }
    result.pairs.push_back(compare_curves(first, curve1, second, *match, result.r_max));
  }
  for (const RdfCurve& curve2 : second.partials) {
    const bool in_first = std::any_of(first.partials.begin(), first.partials.end(), [&](const RdfCurve& curve1) {
      return curve1.species_a == curve2.species_a && curve1.species_b == curve2.species_b;
    });
    if (!in_first)
      result.warnings.push_back(
          fmt::format("pair {}-{} is only in the second RDF; not compared", curve2.species_a, curve2.species_b));
  }
  return result;
}

DiffusionComparison compare_diffusion(const Estimate& first, const Estimate& second) {
  if (second.value == 0.0) throw InputError("diffusion comparison: the second D is zero, so the ratio is undefined");
  if (first.error < 0.0 || second.error < 0.0) throw InputError("diffusion comparison: an error bar is negative");
  DiffusionComparison comparison;
  comparison.ratio.value = first.value / second.value;
  // First-order propagation for independent estimates: (sigma_R / R)^2 = (sigma_1 / D_1)^2 + (sigma_2 / D_2)^2,
  // written so that it also holds for D_1 = 0.
  comparison.ratio.error =
      std::hypot(first.error / second.value, first.value * second.error / (second.value * second.value));
  const double combined = std::hypot(first.error, second.error);
  comparison.difference_in_sigma = combined > 0.0 ? (first.value - second.value) / combined : 0.0;
  return comparison;
}

}  // namespace nqmd::analysis
