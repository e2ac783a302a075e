// [rdf]: total and partial radial distribution functions with block error bars and coordination numbers; with a
// [reference] trajectory, its RDFs on the same grid and the differences pair by pair.
#include <algorithm>
#include <cmath>
#include <filesystem>
#include <limits>
#include <optional>

#include <fmt/format.h>

#include "analysis/analysis.hpp"
#include "analysis/compare.hpp"
#include "analysis/rdf.hpp"

namespace nqmd::analysis {
namespace {

SectionSchema rdf_schema() {
  return {"rdf",
          "Radial distribution functions g(r): the total and the partial g_ab(r) of the species pairs, with error "
          "bars from blocks of frames and coordination numbers n_ab(r) (mean number of b atoms within r of an a "
          "atom). Writes rdf.csv (and rdf_reference.csv, rdf_comparison.csv with a [reference]) and a figure per "
          "pair.",
          {KeySpec("r_max", KeyType::real, "largest distance (A); 0: half the smallest cell width of the first frame")
               .at_least(0.0)
               .defaults_to(0.0),
           KeySpec("bins", KeyType::integer, "number of bins of equal width between 0 and r_max")
               .at_least(1)
               .at_most(1e6)
               .defaults_to(std::int64_t{200}),
           KeySpec("pairs", KeyType::string_array,
                   "species pairs \"A-B\" (centre A, neighbour B); default every unordered pair, e.g. [\"O-O\", "
                   "\"O-H\", \"H-H\"]"),
           KeySpec("blocks", KeyType::integer, "least number of blocks of consecutive frames for the error bars")
               .at_least(2)
               .at_most(1e6)
               .defaults_to(std::int64_t{8}),
           KeySpec("periodic_images", KeyType::boolean,
                   "count every periodic image within r_max (needed for r_max beyond half the cell width)")
               .defaults_to(false)}};
}

struct PairName {
  std::string a;
  std::string b;
  std::string label() const { return a.empty() ? "total" : a + "-" + b; }
  std::string column() const { return a.empty() ? "total" : a + "_" + b; }
};

// Bin of the first minimum after the first peak: the lowest g between the peak and 1.6 times its distance (the
// first shell's outer edge in liquids and close-packed crystals), the first such bin on ties.
std::size_t first_minimum(const RdfResult& rdf, const RdfCurve& curve, double r_peak) {
  std::size_t best = rdf.r.size();
  double best_g = std::numeric_limits<double>::infinity();
  for (std::size_t k = 0; k < rdf.r.size(); ++k)
    if (rdf.r[k] > r_peak && rdf.r[k] <= 1.6 * r_peak && curve.g[k] < best_g) {
      best_g = curve.g[k];
      best = k;
    }
  return best;
}

class RdfAnalysis final : public Analysis {
 public:
  explicit RdfAnalysis(const ConfigSection& section) : Analysis(section) {
    options_.r_max = section.real("r_max");
    options_.bins = static_cast<std::size_t>(section.integer("bins"));
    options_.blocks = static_cast<std::size_t>(section.integer("blocks"));
    options_.periodic_images = section.boolean("periodic_images");
    if (section.has("pairs")) {
      for (const std::string& text : section.string_array("pairs")) {
        const std::size_t dash = text.find('-');
        if (dash == 0 || dash == std::string::npos || dash + 1 == text.size() || text.find('-', dash + 1) != std::string::npos)
          section.fail("pairs", fmt::format("\"{}\" is not a pair of species \"A-B\" (e.g. \"O-H\")", text));
        pairs_.push_back({text.substr(0, dash), text.substr(dash + 1)});
      }
      if (pairs_.empty()) section.fail("pairs", "is empty: leave it out for every pair");
    }
  }

  void run(const AnalysisInput& input, AnalysisReport& report) override {
    const Trajectory& trajectory = this->trajectory(input);
    std::vector<PairName> pairs = pairs_;
    if (pairs.empty()) {
      const std::vector<std::string> species = checked_species(section(), "pairs", {}, trajectory);
      for (std::size_t a = 0; a < species.size(); ++a)
        for (std::size_t b = a; b < species.size(); ++b) pairs.push_back({species[a], species[b]});
    } else {
      for (const PairName& pair : pairs) checked_species(section(), "pairs", {pair.a, pair.b}, trajectory);
    }
    // The total first (it is the only curve of a one-species system, so it is drawn only with several species).
    std::vector<PairName> curves{{}};
    curves.insert(curves.end(), pairs.begin(), pairs.end());

    const RdfResult rdf = about("r_max", [&] { return compute_rdf(trajectory, options_); });
    for (const std::string& warning : rdf.warnings) report.warn(name(), warning);
    write_rdf_csv(report, "rdf.csv", rdf, curves);
    report.summary(fmt::format("[rdf] {} frames in {} blocks, r_max = {:.4g} A, {} bins of {:.4g} A, mean volume {:.6g} A^3",
                               rdf.frames, rdf.blocks, rdf.r_max, rdf.r.size(), rdf.bin_width, rdf.mean_volume));
    // With one species the total is the one pair: reported once.
    for (std::size_t k = curves.size() > 2 ? 0 : 1; k < curves.size(); ++k) {
      const PairName& pair = curves[k];
      const RdfCurve& curve = curve_of(rdf, pair);
      const RdfPeak peak = first_peak(rdf.r, curve.g);
      if (!peak.found) {
        report.summary(fmt::format("[rdf] {}: no first peak (g stays below 1)", pair.label()));
        continue;
      }
      std::string line = fmt::format("[rdf] {}: first peak r = {:.4f} A, g = {:.4f}", pair.label(), peak.r, peak.g);
      const std::size_t minimum = first_minimum(rdf, curve, peak.r);
      if (minimum < rdf.r.size())
        line += fmt::format("; first minimum r = {:.4f} A, g = {:.4f}, coordination n = {:.3f}", rdf.r[minimum],
                            curve.g[minimum], curve.coordination[minimum]);
      report.summary(line);
    }

    std::optional<RdfResult> reference;
    std::vector<bool> in_reference(curves.size(), false);
    if (input.reference != nullptr) {
      RdfOptions options = options_;
      options.r_max = rdf.r_max;
      options.bins = rdf.r.size();
      reference = about("r_max", [&] {
        try {
          return compute_rdf(*input.reference, options);
        } catch (const InputError& error) {
          throw InputError(fmt::format("reference trajectory: {}", error.what()));
        }
      });
      for (const std::string& warning : reference->warnings) report.warn(name(), "reference: " + warning);
      in_reference = compare(*reference, rdf, curves, report);
    }

    const std::string label = std::filesystem::path(trajectory.source).filename().string();
    const std::string reference_label =
        input.reference ? std::filesystem::path(input.reference->source).filename().string() : "";
    for (std::size_t k = curves.size() > 2 ? 0 : 1; k < curves.size(); ++k) {
      const PairName& pair = curves[k];
      const std::size_t g_column = 2 + 3 * k;
      Plot plot;
      plot.name = "rdf_" + pair.column();
      plot.title = pair.a.empty() ? "Total radial distribution function" : "Radial distribution function " + pair.label();
      plot.x_label = "r (Å)";
      plot.y_label = pair.a.empty() ? "g(r)" : fmt::format("g_{{{}}}(r)", pair.label());
      // Headroom above the curves (g below 77% of the height, n below 67%) keeps the legend clear of them.
      const RdfCurve& curve = curve_of(rdf, pair);
      double g_top = 1.0;
      for (std::size_t bin = 0; bin < curve.g.size(); ++bin) {
        g_top = std::max(g_top, curve.g[bin] + (std::isfinite(curve.g_error[bin]) ? curve.g_error[bin] : 0.0));
        if (in_reference[k]) g_top = std::max(g_top, curve_of(*reference, pair).g[bin]);
      }
      const double n_top = std::max(1.0, curve.coordination.back());
      plot.settings = {
          fmt::format("set xrange [0:{}]", rdf.r_max),
          fmt::format("set yrange [0:{}]", 1.3 * g_top),
          fmt::format("set y2range [0:{}]", 1.5 * n_top),
          "set y2tics",
          pair.a.empty() ? "set y2label 'coordination number n(r)'"
                         : fmt::format("set y2label 'coordination number n_{{{}}}(r)'", pair.label()),
          "set arrow from graph 0, first 1 to graph 1, first 1 nohead lc rgb '#9a9a9a' dt 2",
          "set key top right"};
      plot.curves.push_back(fmt::format(
          "'rdf.csv' skip 1 using 1:(${0}-${1}):(${0}+${1}) with filledcurves fc rgb '#1f77b4' fs transparent solid "
          "0.25 noborder title 'standard error'",
          g_column, g_column + 1));
      plot.curves.push_back(fmt::format("'rdf.csv' skip 1 using 1:{} with lines lw 2 lc rgb '#1f77b4' title {}",
                                        g_column, gnuplot_text(label)));
      if (in_reference[k])
        plot.curves.push_back(fmt::format(
            "'rdf_reference.csv' skip 1 using 1:{} with lines lw 2 dt (6,3) lc rgb '#d62728' title {}", g_column,
            gnuplot_text("reference " + reference_label)));
      plot.curves.push_back(fmt::format(
          "'rdf.csv' skip 1 using 1:{} axes x1y2 with lines lw 1.5 dt (2,3) lc rgb '#2ca02c' title 'n(r) (right axis)'",
          g_column + 2));
      report.plot(plot);
    }
  }

 private:
  RdfOptions options_;
  std::vector<PairName> pairs_;

  static const RdfCurve& curve_of(const RdfResult& rdf, const PairName& pair) {
    return pair.a.empty() ? rdf.total : rdf.partial(pair.a, pair.b);
  }

  // r_A, then g, its error and n for every curve; a pair missing from `rdf` (a reference without a species)
  // gets NaN columns.
  static void write_rdf_csv(AnalysisReport& report, const std::string& file, const RdfResult& rdf,
                            const std::vector<PairName>& curves) {
    std::vector<std::string> header{"r_A"};
    std::vector<std::vector<double>> columns{rdf.r};
    const std::vector<double> missing(rdf.r.size(), std::numeric_limits<double>::quiet_NaN());
    for (const PairName& pair : curves) {
      header.push_back("g_" + pair.column());
      header.push_back("g_" + pair.column() + "_err");
      header.push_back("n_" + pair.column());
      const RdfCurve* curve = nullptr;
      try {
        curve = &curve_of(rdf, pair);
      } catch (const InputError&) {
        curve = nullptr;
      }
      columns.push_back(curve ? curve->g : missing);
      columns.push_back(curve ? curve->g_error : missing);
      columns.push_back(curve ? curve->coordination : missing);
    }
    report.write_csv(file, header, columns);
  }

  // Writes rdf_reference.csv and rdf_comparison.csv; returns which curves the reference has.
  std::vector<bool> compare(const RdfResult& reference, const RdfResult& rdf, const std::vector<PairName>& curves,
                            AnalysisReport& report) const {
    write_rdf_csv(report, "rdf_reference.csv", reference, curves);
    const RdfComparison comparison = compare_rdfs(rdf, reference);
    std::vector<bool> compared(curves.size(), false);
    std::vector<std::vector<std::string>> rows;
    for (std::size_t k = curves.size() > 2 ? 0 : 1; k < curves.size(); ++k) {
      const PairName& pair = curves[k];
      const RdfPairComparison* found = nullptr;
      for (const RdfPairComparison& candidate : comparison.pairs)
        if (candidate.species_a == pair.a && candidate.species_b == pair.b) found = &candidate;
      if (found == nullptr) {
        report.warn(name(), fmt::format("pair {} is not in the reference trajectory: not compared", pair.label()));
        continue;
      }
      compared[k] = true;
      const auto peak_text = [](const RdfPeak& peak, double value) {
        return peak.found ? fmt::format("{:.8g}", value) : std::string("nan");
      };
      rows.push_back({pair.label(), fmt::format("{:.8g}", found->integrated_absolute_difference),
                      fmt::format("{:.8g}", found->max_absolute_difference),
                      fmt::format("{:.8g}", found->r_of_max_difference), peak_text(found->first_peak_1, found->first_peak_1.r),
                      peak_text(found->first_peak_1, found->first_peak_1.g),
                      peak_text(found->first_peak_2, found->first_peak_2.r),
                      peak_text(found->first_peak_2, found->first_peak_2.g)});
      std::string line = fmt::format(
          "[rdf] {} vs reference: integral |g - g_ref| dr = {:.4g} A, max |g - g_ref| = {:.4g} at r = {:.4f} A",
          pair.label(), found->integrated_absolute_difference, found->max_absolute_difference,
          found->r_of_max_difference);
      if (found->first_peak_1.found && found->first_peak_2.found)
        line += fmt::format("; first peak shift {:+.4f} A, height ratio {:.4f}", found->first_peak_1.r - found->first_peak_2.r,
                            found->first_peak_1.g / found->first_peak_2.g);
      report.summary(line);
    }
    report.write_csv_rows("rdf_comparison.csv",
                          {"pair", "integral_abs_difference_A", "max_abs_difference", "r_of_max_difference_A",
                           "first_peak_r_A", "first_peak_g", "reference_first_peak_r_A", "reference_first_peak_g"},
                          rows);
    return compared;
  }
};

const bool registered = AnalysisRegistry::instance().add(
    {"rdf", rdf_schema(), [](const ConfigSection& section) { return std::make_unique<RdfAnalysis>(section); }});

}  // namespace
}  // namespace nqmd::analysis
