// [msd]: tracer mean squared displacements and diffusion coefficients with error bars, optionally the collective
// MSD and the Haven ratio; with a [reference] trajectory, D / D_reference with the combined error.
#include <algorithm>
#include <cmath>
#include <filesystem>
#include <limits>
#include <optional>

#include <fmt/format.h>

#include "analysis/analysis.hpp"
#include "analysis/compare.hpp"
#include "analysis/msd.hpp"
#include "analysis/msd_options.hpp"
#include "engine/units.hpp"

namespace nqmd::analysis {
namespace {

SectionSchema msd_schema() {
  SectionSchema schema{
      "msd",
      "Mean squared displacements over all time origins and diffusion coefficients D from MSD = 6 D t + c fitted "
      "over a window of lag times, with error bars; collective = true adds the collective (centre-of-mass) MSD, "
      "D_sigma and the Haven ratio D*/D_sigma. Writes msd.csv, diffusion.csv (haven_ratio.csv, msd_reference.csv "
      "and diffusion_comparison.csv when asked) and a figure per species.",
      {KeySpec("species", KeyType::string_array, "species to analyse; default every species")}};
  for (const KeySpec& key : diffusion_fit_keys()) schema.keys.push_back(key);
  schema.keys.push_back(KeySpec("collective", KeyType::boolean,
                                "also the collective MSD, D_sigma (time blocks) and the Haven ratio D*/D_sigma")
                            .defaults_to(false));
  schema.keys.push_back(KeySpec("viscosity_mpa_s", KeyType::real,
                                "shear viscosity (mPa s) for the Yeh-Hummer finite-size correction of D* (cubic "
                                "cells); 0: none")
                            .at_least(0)
                            .defaults_to(0.0));
  schema.keys.push_back(KeySpec("temperature", KeyType::real, "temperature (K) of the Yeh-Hummer correction")
                            .greater_than(0));
  schema.keys.push_back(KeySpec("directions", KeyType::string_array,
                                "tracer D along Cartesian axes, from the MSD of one displacement component "
                                "(MSD_x = 2 D_x t + c), e.g. [\"x\", \"y\", \"z\"]; written to "
                                "diffusion_directions.csv")
                            .one_of({"x", "y", "z"}));
  schema.keys.push_back(KeySpec("axis", KeyType::real_array,
                                "a direction (Cartesian, need not be normalised), e.g. a channel axis [0, 0, 1]: "
                                "tracer D parallel to it (1D, MSD = 2 D t + c) and perpendicular to it (2D, "
                                "MSD = 4 D t + c), and their ratio; written to diffusion_directions.csv")
                            .length(3));
  return schema;
}

// "v ± e" for figure legends.
std::string plot_estimate(double value, double error) {
  std::string text = format_estimate(value, error);
  const std::size_t at = text.find(" +- ");
  if (at != std::string::npos) text.replace(at, 4, " ± ");
  return text;
}

std::vector<std::string> diffusion_row(const std::string& kind, const DiffusionResult& result) {
  return {result.species,
          kind,
          fmt::format("{:.8g}", result.d_a2_per_ps.value),
          fmt::format("{:.8g}", result.d_a2_per_ps.error),
          fmt::format("{:.8g}", result.d_cm2_per_s.value),
          fmt::format("{:.8g}", result.d_cm2_per_s.error),
          error_method_name(result.error_method),
          std::to_string(result.samples_a2_per_ps.size()),
          fmt::format("{:.8g}", result.fit_start_fs / 1000.0),
          fmt::format("{:.8g}", result.fit_end_fs / 1000.0),
          fmt::format("{:.8g}", result.intercept_a2),
          fmt::format("{:.6g}", result.log_log_slope)};
}

// The fitted line 6 D t + c drawn over the fit window only (t in ps); `title` in enhanced text.
std::string fit_curve(const DiffusionResult& result, const std::string& color, const std::string& title) {
  return fmt::format(
      "(x >= {0} && x <= {1}) ? 6 * {2} * x + {3} : NaN with lines lw 2.5 dt (5,3) lc rgb '{4}' title {5}",
      result.fit_start_fs / 1000.0, result.fit_end_fs / 1000.0, result.d_a2_per_ps.value, result.intercept_a2, color,
      gnuplot_file(title));
}

class MsdAnalysis final : public Analysis {
 public:
  explicit MsdAnalysis(const ConfigSection& section)
      : Analysis(section), options_(read_diffusion_options(section)), collective_(section.boolean("collective")) {
    if (section.has("species")) species_ = section.string_array("species");
    viscosity_mpa_s_ = section.real("viscosity_mpa_s");
    if (section.has("directions")) directions_ = section.string_array("directions");
    if (section.has("axis")) {
      const std::vector<double> axis = section.real_array("axis");
      axis_ = Vec3(axis[0], axis[1], axis[2]);
      if (!(axis_->norm() > 0.0) || !axis_->allFinite()) section.fail("axis", "must be a non-zero vector");
    }
    if (viscosity_mpa_s_ > 0) {
      if (!section.has("temperature")) section.fail("temperature", "needed by viscosity_mpa_s (Yeh-Hummer)");
      temperature_k_ = section.real("temperature");
    }
  }

  void run(const AnalysisInput& input, AnalysisReport& report) override {
    const Trajectory& trajectory = this->trajectory(input);
    const std::vector<std::string> species = checked_species(section(), "species", species_, trajectory);
    const MeanSquaredDisplacement msd = about("", [&] { return MeanSquaredDisplacement(trajectory, options_.msd); });

    std::vector<std::string> header{"time_ps"};
    std::vector<std::vector<double>> columns;
    std::vector<std::vector<std::string>> diffusion_rows, haven_rows, comparison_rows;
    std::vector<DiffusionResult> tracers, collectives;
    for (const std::string& name : species) {
      const MsdCurve curve = msd.tracer(name);
      if (columns.empty()) {
        columns.emplace_back();
        for (const double t : curve.time_fs) columns.back().push_back(t / 1000.0);
      }
      header.push_back(fmt::format("msd_{}_A2", name));
      columns.push_back(curve.msd);
      const DiffusionResult tracer = about("", [&] { return msd.tracer_diffusion(name, options_.fit); });
      for (const std::string& warning : tracer.warnings) report.warn(this->name(), warning);
      tracers.push_back(tracer);
      diffusion_rows.push_back(diffusion_row("tracer", tracer));
      report.summary(fmt::format("[msd] {}: D* = {} A^2/ps = {} cm^2/s (error from {}, {} samples; fit {:.4g} to "
                                 "{:.4g} ps, log-log slope {:.3f})",
                                 name, format_estimate(tracer.d_a2_per_ps.value, tracer.d_a2_per_ps.error),
                                 format_estimate(tracer.d_cm2_per_s.value, tracer.d_cm2_per_s.error),
                                 error_method_name(tracer.error_method), tracer.samples_a2_per_ps.size(),
                                 tracer.fit_start_fs / 1000.0, tracer.fit_end_fs / 1000.0, tracer.log_log_slope));
      if (viscosity_mpa_s_ > 0) yeh_hummer(trajectory, name, tracer, report);
      if (collective_) {
        header.push_back(fmt::format("msd_{}_collective_A2", name));
        columns.push_back(msd.collective(name).msd);
        const HavenRatioResult haven = about("", [&] { return msd.haven_ratio(name, options_.fit); });
        for (const std::string& warning : haven.collective.warnings) report.warn(this->name(), warning);
        collectives.push_back(haven.collective);
        diffusion_rows.push_back(diffusion_row("collective", haven.collective));
        haven_rows.push_back({name, fmt::format("{:.8g}", haven.tracer.d_a2_per_ps.value),
                              fmt::format("{:.8g}", haven.tracer.d_a2_per_ps.error),
                              fmt::format("{:.8g}", haven.collective.d_a2_per_ps.value),
                              fmt::format("{:.8g}", haven.collective.d_a2_per_ps.error),
                              fmt::format("{:.8g}", haven.haven_ratio.value),
                              fmt::format("{:.8g}", haven.haven_ratio.error)});
        report.summary(fmt::format(
            "[msd] {}: D_sigma = {} A^2/ps = {} cm^2/s ({} time blocks); Haven ratio H_R = D*/D_sigma = {}", name,
            format_estimate(haven.collective.d_a2_per_ps.value, haven.collective.d_a2_per_ps.error),
            format_estimate(haven.collective.d_cm2_per_s.value, haven.collective.d_cm2_per_s.error),
            haven.collective.samples_a2_per_ps.size(),
            format_estimate(haven.haven_ratio.value, haven.haven_ratio.error)));
      }
    }
    if (!directions_.empty() || axis_) directional(trajectory, species, report);
    report.write_csv("msd.csv", header, columns);
    report.write_csv_rows("diffusion.csv",
                          {"species", "kind", "D_A2_per_ps", "D_err_A2_per_ps", "D_cm2_per_s", "D_err_cm2_per_s",
                           "error_method", "samples", "fit_start_ps", "fit_end_ps", "intercept_A2", "log_log_slope"},
                          diffusion_rows);
    if (collective_)
      report.write_csv_rows("haven_ratio.csv",
                            {"species", "D_tracer_A2_per_ps", "D_tracer_err_A2_per_ps", "D_collective_A2_per_ps",
                             "D_collective_err_A2_per_ps", "haven_ratio", "haven_ratio_err"},
                            haven_rows);

    std::vector<bool> in_reference(species.size(), false);
    if (input.reference != nullptr) compare(*input.reference, species, tracers, report, in_reference);

    const std::string label = std::filesystem::path(trajectory.source).filename().string();
    for (std::size_t s = 0; s < species.size(); ++s) {
      const DiffusionResult& tracer = tracers[s];
      const std::size_t column = collective_ ? 2 + 2 * s : 2 + s;
      Plot plot;
      plot.name = "msd_" + species[s];
      plot.title = fmt::format("Mean squared displacement of {} ({})", species[s], label);
      plot.x_label = "t (ps)";
      plot.y_label = "MSD (Å^2)";
      plot.settings = {
          fmt::format("set object 1 rect from {}, graph 0 to {}, graph 1 behind fc rgb '#fff2cc' fs solid 1.0 noborder",
                      tracer.fit_start_fs / 1000.0, tracer.fit_end_fs / 1000.0),
          fmt::format("set label 1 'fit window' at {}, graph 0.95 center tc rgb '#8a6d00' front",
                      0.5 * (tracer.fit_start_fs + tracer.fit_end_fs) / 1000.0),
          "set xrange [0:*]", "set yrange [0:*]", "set key bottom right"};
      plot.curves.push_back(fmt::format("'msd.csv' skip 1 using 1:{} with lines lw 2 lc rgb '#1f77b4' title 'tracer MSD'",
                                        column));
      plot.curves.push_back(fit_curve(tracer, "#000000",
                                      fmt::format("fit 6D^*t + c: D^* = {} Å^2/ps",
                                                  plot_estimate(tracer.d_a2_per_ps.value, tracer.d_a2_per_ps.error))));
      if (collective_) {
        plot.curves.push_back(fmt::format(
            "'msd.csv' skip 1 using 1:{} with lines lw 1.5 lc rgb '#ff7f0e' title 'collective MSD / N'", column + 1));
        const DiffusionResult& collective = collectives[s];
        plot.curves.push_back(fit_curve(collective, "#8b2500",
                                        fmt::format("fit: D_σ = {} Å^2/ps", plot_estimate(collective.d_a2_per_ps.value,
                                                                                           collective.d_a2_per_ps.error))));
      }
      if (in_reference[s])
        plot.curves.push_back(fmt::format(
            "'msd_reference.csv' skip 1 using 1:{} with lines lw 2 dt (6,3) lc rgb '#d62728' title {}", 2 + s,
            gnuplot_text("reference " + std::filesystem::path(input.reference->source).filename().string())));
      report.plot(plot);
    }
  }

  // Tracer D per direction: the displacements projected on an axis (1D) or on the plane normal to it (2D) before
  // they are squared, fitted and given error bars exactly as the 3D D*.
  void directional(const Trajectory& trajectory, const std::vector<std::string>& species,
                   AnalysisReport& report) const {
    struct Direction {
      std::string name;
      MsdOptions msd;
    };
    std::vector<Direction> directions;
    for (const std::string& name : directions_) {
      Vec3 unit = Vec3::Zero();
      unit[name == "x" ? 0 : name == "y" ? 1 : 2] = 1.0;
      directions.push_back({name, along_axis(options_.msd, unit)});
    }
    const std::string axis_text =
        axis_ ? fmt::format("[{:.6g} {:.6g} {:.6g}]", (*axis_)[0], (*axis_)[1], (*axis_)[2]) : std::string();
    if (axis_) {
      directions.push_back({"parallel " + axis_text, along_axis(options_.msd, *axis_)});
      directions.push_back({"perpendicular " + axis_text, normal_to_axis(options_.msd, *axis_)});
    }
    std::vector<std::vector<DiffusionResult>> results(species.size());
    for (const Direction& direction : directions) {
      const MeanSquaredDisplacement msd =
          about("", [&] { return MeanSquaredDisplacement(trajectory, direction.msd); });
      for (std::size_t s = 0; s < species.size(); ++s) {
        DiffusionResult result = about("", [&] { return msd.tracer_diffusion(species[s], options_.fit); });
        for (const std::string& warning : result.warnings)
          report.warn(this->name(), fmt::format("{}: {}", direction.name, warning));
        results[s].push_back(std::move(result));
      }
    }
    std::vector<std::vector<std::string>> rows;
    for (std::size_t s = 0; s < species.size(); ++s) {
      std::string line;
      for (std::size_t d = 0; d < directions.size(); ++d) {
        const DiffusionResult& result = results[s][d];
        rows.push_back(diffusion_row(directions[d].name, result));
        line += fmt::format("{}D*({}) = {}", line.empty() ? "" : ", ", directions[d].name,
                            format_estimate(result.d_a2_per_ps.value, result.d_a2_per_ps.error));
      }
      report.summary(fmt::format("[msd] {}: {} A^2/ps", species[s], line));
      if (axis_) {
        const DiffusionResult& parallel = results[s][directions.size() - 2];
        const DiffusionResult& perpendicular = results[s].back();
        const DiffusionComparison ratio =
            about("", [&] { return compare_diffusion(parallel.d_a2_per_ps, perpendicular.d_a2_per_ps); });
        report.summary(fmt::format("[msd] {}: anisotropy D*_parallel / D*_perpendicular along {} = {}", species[s],
                                   axis_text, format_estimate(ratio.ratio.value, ratio.ratio.error)));
      }
    }
    report.write_csv_rows("diffusion_directions.csv",
                          {"species", "direction", "D_A2_per_ps", "D_err_A2_per_ps", "D_cm2_per_s", "D_err_cm2_per_s",
                           "error_method", "samples", "fit_start_ps", "fit_end_ps", "intercept_A2", "log_log_slope"},
                          rows);
  }

  // Yeh & Hummer, J. Phys. Chem. B 108, 15873 (2004): D(infinite) = D(L) + xi k_B T / (6 pi eta L) for a cubic
  // periodic cell of edge L, xi = 2.837297.
  void yeh_hummer(const Trajectory& trajectory, const std::string& name, const DiffusionResult& tracer,
                  AnalysisReport& report) const {
    const double volume = mean_volume(trajectory);
    if (!(volume > 0)) {
      report.warn(this->name(), "Yeh-Hummer correction needs a periodic cell; skipped");
      return;
    }
    const double edge_m = std::cbrt(volume) * 1e-10;
    const double boltzmann_j_per_k = units::boltzmann_ev_per_k * units::elementary_charge_c;
    const double correction_m2_per_s =
        2.837297 * boltzmann_j_per_k * temperature_k_ / (6.0 * M_PI * viscosity_mpa_s_ * 1e-3 * edge_m);
    const double correction_cm2_per_s = correction_m2_per_s * 1e4;
    report.summary(fmt::format("[msd] {}: Yeh-Hummer (eta = {} mPa s, T = {} K, L = {:.4f} A): D*(infinite) = {} "
                               "cm^2/s (correction {:.4g} cm^2/s)",
                               name, viscosity_mpa_s_, temperature_k_, std::cbrt(volume),
                               format_estimate(tracer.d_cm2_per_s.value + correction_cm2_per_s, tracer.d_cm2_per_s.error),
                               correction_cm2_per_s));
  }

 private:
  DiffusionAnalysisOptions options_;
  bool collective_;
  std::vector<std::string> species_;
  double viscosity_mpa_s_ = 0.0;
  std::vector<std::string> directions_;
  std::optional<Vec3> axis_;
  double temperature_k_ = 0.0;

  void compare(const Trajectory& reference, const std::vector<std::string>& species,
               const std::vector<DiffusionResult>& tracers, AnalysisReport& report,
               std::vector<bool>& in_reference) const {
    // Frames without times (ab-initio snapshots, say) have no MSD: a made-up interval would give a made-up D.
    if (!reference.has_times) {
      report.warn(this->name(), fmt::format("the reference {} records no times: its MSD is not compared (give "
                                            "[reference] frame_interval if its frames are a trajectory)",
                                            reference.source));
      return;
    }
    const MeanSquaredDisplacement msd = about("", [&] {
      try {
        return MeanSquaredDisplacement(reference, options_.msd);
      } catch (const InputError& error) {
        throw InputError(fmt::format("reference trajectory: {}", error.what()));
      }
    });
    std::vector<std::string> header{"time_ps"};
    std::vector<std::vector<double>> columns(1);
    const double dt_ps = msd.frame_interval_fs() / 1000.0;
    for (std::size_t m = 0; m < msd.frames(); ++m) columns[0].push_back(static_cast<double>(m) * dt_ps);
    std::vector<std::vector<std::string>> rows;
    for (std::size_t s = 0; s < species.size(); ++s) {
      const std::string& name = species[s];
      header.push_back(fmt::format("msd_{}_A2", name));
      const auto& names = msd.species().names();
      if (std::find(names.begin(), names.end(), name) == names.end()) {
        report.warn(this->name(), fmt::format("species {} is not in the reference trajectory: not compared", name));
        columns.emplace_back(msd.frames(), std::numeric_limits<double>::quiet_NaN());
        continue;
      }
      in_reference[s] = true;
      columns.push_back(msd.tracer(name).msd);
      const DiffusionResult other = about("", [&] {
        try {
          return msd.tracer_diffusion(name, options_.fit);
        } catch (const InputError& error) {
          throw InputError(fmt::format("reference trajectory: {}", error.what()));
        }
      });
      for (const std::string& warning : other.warnings)
        report.warn(this->name(), "reference: " + warning);
      const DiffusionComparison comparison = about("", [&] { return compare_diffusion(tracers[s].d_a2_per_ps, other.d_a2_per_ps); });
      rows.push_back({name, fmt::format("{:.8g}", tracers[s].d_a2_per_ps.value),
                      fmt::format("{:.8g}", tracers[s].d_a2_per_ps.error), fmt::format("{:.8g}", other.d_a2_per_ps.value),
                      fmt::format("{:.8g}", other.d_a2_per_ps.error), fmt::format("{:.8g}", comparison.ratio.value),
                      fmt::format("{:.8g}", comparison.ratio.error),
                      fmt::format("{:.6g}", comparison.difference_in_sigma)});
      report.summary(fmt::format("[msd] {}: reference D* = {} A^2/ps; D*/D*_reference = {} ({:+.2f} sigma)", name,
                                 format_estimate(other.d_a2_per_ps.value, other.d_a2_per_ps.error),
                                 format_estimate(comparison.ratio.value, comparison.ratio.error),
                                 comparison.difference_in_sigma));
    }
    report.write_csv("msd_reference.csv", header, columns);
    report.write_csv_rows("diffusion_comparison.csv",
                          {"species", "D_A2_per_ps", "D_err_A2_per_ps", "D_reference_A2_per_ps",
                           "D_reference_err_A2_per_ps", "ratio", "ratio_err", "difference_sigma"},
                          rows);
  }
};

const bool registered = AnalysisRegistry::instance().add(
    {"msd", msd_schema(), [](const ConfigSection& section) { return std::make_unique<MsdAnalysis>(section); }});

}  // namespace
}  // namespace nqmd::analysis
