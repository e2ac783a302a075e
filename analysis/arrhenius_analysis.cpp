// [arrhenius]: tracer diffusion coefficients of one species from runs at several temperatures, the Arrhenius fit
// ln D = ln D0 - Ea / (k_B T) with errors, and D extrapolated to another temperature; with the ion's charge, the
// Nernst-Einstein conductivity sigma = n q^2 D* / (k_B T H_R) (Murch, Solid State Ionics 7, 177 (1982)) with
// H_R = 1 and with the Haven ratio of each run's collective MSD.
#include <algorithm>
#include <cmath>
#include <filesystem>
#include <limits>
#include <optional>

#include <fmt/format.h>

#include "analysis/analysis.hpp"
#include "analysis/msd.hpp"
#include "analysis/msd_options.hpp"
#include "engine/units.hpp"

namespace nqmd::analysis {
namespace {

SectionSchema arrhenius_schema() {
  SectionSchema schema{
      "arrhenius",
      "Activation energy from the tracer D of one species in runs at several temperatures: ln D = ln D0 - "
      "Ea / (k_B T), weighted by the error bars of D. The runs are read with [trajectory]'s frame_interval, "
      "first_frame, last_frame and stride (without [trajectory]: every frame, times from the files). Writes "
      "arrhenius.csv and a figure of ln D against 1000/T.",
      {KeySpec("runs", KeyType::string_array, "trajectory files, one per temperature (relative to this file)").require(),
       KeySpec("temperatures", KeyType::real_array, "temperature of each run (K)").require(),
       KeySpec("species", KeyType::string, "the diffusing species").require(),
       KeySpec("extrapolate_to", KeyType::real, "also give D at this temperature (K), with its error").greater_than(0.0),
       KeySpec("charge", KeyType::real,
               "charge of the diffusing ion (e), e.g. 1 for Li+: adds the Nernst-Einstein conductivity sigma = n q^2 "
               "D* / (k_B T H_R) of each run (n: the species' atoms over the run's mean volume) with H_R = 1 and "
               "with the run's Haven ratio D*/D_sigma (collective MSD, time blocks), and at extrapolate_to with "
               "H_R = 1 and with the weighted mean H_R of the runs (n of the coldest run); conductivity.csv")}};
  for (const KeySpec& key : diffusion_fit_keys()) schema.keys.push_back(key);
  return schema;
}

// sigma = n q^2 D / (k_B T) in S/cm for n in 1/A^3, q in e, D in A^2/ps: e^2/eV = e C/V, and A ps = 1e-20 cm s.
double nernst_einstein_s_per_cm(double number_density_per_a3, double charge_e, double d_a2_per_ps, double t_k) {
  return number_density_per_a3 * charge_e * charge_e * d_a2_per_ps / (units::boltzmann_ev_per_k * t_k) *
         units::elementary_charge_c * 1e20;
}

struct RunConductivity {
  double temperature_k = 0.0;
  double number_density_per_a3 = 0.0;
  Estimate tracer_d;      // D*, A^2/ps
  Estimate collective_d;  // D_sigma
  Estimate haven_ratio;
};

RunConductivity run_conductivity(double temperature, const Trajectory& trajectory, const DiffusionResult& tracer,
                                 const HavenRatioResult& haven) {
  const double volume = mean_volume(trajectory);
  const auto atoms = static_cast<double>(std::count(trajectory.symbols.begin(), trajectory.symbols.end(), tracer.species));
  return {temperature, atoms / volume, tracer.d_a2_per_ps, haven.collective.d_a2_per_ps, haven.haven_ratio};
}

class ArrheniusAnalysis final : public Analysis {
 public:
  explicit ArrheniusAnalysis(const ConfigSection& section)
      : Analysis(section),
        runs_(section.string_array("runs")),
        temperatures_(section.real_array("temperatures")),
        species_(section.string("species")),
        options_(read_diffusion_options(section)) {
    if (runs_.size() < 2) section.fail("runs", fmt::format("needs at least 2 runs (got {})", runs_.size()));
    if (temperatures_.size() != runs_.size())
      section.fail("temperatures", fmt::format("has {} values but runs has {} files: give one temperature per run",
                                               temperatures_.size(), runs_.size()));
    for (const double t : temperatures_)
      if (!(t > 0.0)) section.fail("temperatures", fmt::format("must be > 0 K (got {})", t));
    if (section.has("extrapolate_to")) extrapolate_to_ = section.real("extrapolate_to");
    if (section.has("charge")) {
      charge_ = section.real("charge");
      if (!(*charge_ != 0.0) || !std::isfinite(*charge_)) section.fail("charge", "expected a nonzero charge (e)");
    }
  }

  bool needs_trajectory() const override { return false; }

  void run(const AnalysisInput& input, AnalysisReport& report) override {
    std::vector<ArrheniusPoint> points;
    std::vector<RunConductivity> conductivities;
    std::vector<std::vector<double>> columns(7);
    for (std::size_t k = 0; k < runs_.size(); ++k) {
      std::filesystem::path path(runs_[k]);
      if (path.is_relative() && !input.directory.empty()) path = std::filesystem::path(input.directory) / path;
      const Trajectory trajectory = about("runs", [&] { return read_trajectory(path.lexically_normal().string(), input.read_options); });
      checked_species(section(), "species", {species_}, trajectory);
      const auto in_run = [&](const auto& step) {
        return about("runs", [&] {
          try {
            return step();
          } catch (const InputError& error) {
            throw InputError(fmt::format("{}: {}", trajectory.source, error.what()));
          }
        });
      };
      const MeanSquaredDisplacement msd = in_run([&] { return MeanSquaredDisplacement(trajectory, options_.msd); });
      const DiffusionResult result = in_run([&] { return msd.tracer_diffusion(species_, options_.fit); });
      if (charge_) {
        const HavenRatioResult haven = in_run([&] { return msd.haven_ratio(species_, options_.fit); });
        for (const std::string& warning : haven.collective.warnings)
          report.warn(name(), fmt::format("{} K ({}): {}", temperatures_[k], runs_[k], warning));
        conductivities.push_back(run_conductivity(temperatures_[k], trajectory, result, haven));
      }
      for (const std::string& warning : result.warnings)
        report.warn(name(), fmt::format("{} K ({}): {}", temperatures_[k], runs_[k], warning));
      const double d = result.d_a2_per_ps.value, error = result.d_a2_per_ps.error;
      points.push_back(arrhenius_point(temperatures_[k], result));
      report.summary(fmt::format("[arrhenius] {} K ({}): D* = {} A^2/ps = {} cm^2/s", temperatures_[k],
                                 std::filesystem::path(runs_[k]).filename().string(), format_estimate(d, error),
                                 format_estimate(result.d_cm2_per_s.value, result.d_cm2_per_s.error)));
      const double nan = std::numeric_limits<double>::quiet_NaN();
      const std::vector<double> row{temperatures_[k],
                                    1000.0 / temperatures_[k],
                                    d,
                                    error,
                                    d > 0.0 ? std::log(d) : nan,
                                    d > 0.0 ? error / d : nan,
                                    result.log_log_slope};
      for (std::size_t c = 0; c < row.size(); ++c) columns[c].push_back(row[c]);
    }
    report.write_csv("arrhenius.csv",
                     {"temperature_K", "1000_over_T_per_K", "D_A2_per_ps", "D_err_A2_per_ps", "ln_D_A2_per_ps",
                      "ln_D_err", "log_log_slope"},
                     columns);
    const ArrheniusFit fit = about("temperatures", [&] { return fit_arrhenius(points); });
    for (const std::string& warning : fit.warnings) report.warn(name(), warning);
    report.summary(fmt::format(
        "[arrhenius] {}: Ea = {} eV, D0 = {:.4g} A^2/ps = {:.4g} cm^2/s (ln D0 = {}), chi^2 = {:.3g} for {} degrees "
        "of freedom (p = {:.2g})",
        species_, format_estimate(fit.activation_energy_ev.value, fit.activation_energy_ev.error), fit.prefactor,
        fit.prefactor * 1e-4, format_estimate(fit.ln_prefactor.value, fit.ln_prefactor.error), fit.chi_squared,
        fit.degrees_of_freedom, fit.chi_squared_p_value));
    std::optional<Estimate> extrapolated;
    if (extrapolate_to_) {
      extrapolated = fit.extrapolate(*extrapolate_to_);
      report.summary(fmt::format("[arrhenius] {}: D*({} K) = {} A^2/ps = {} cm^2/s (extrapolated)", species_,
                                 *extrapolate_to_, format_estimate(extrapolated->value, extrapolated->error),
                                 format_estimate(extrapolated->value * 1e-4, extrapolated->error * 1e-4)));
      report.write_csv("arrhenius_extrapolated.csv",
                       {"temperature_K", "1000_over_T_per_K", "D_A2_per_ps", "D_err_A2_per_ps", "ln_D_A2_per_ps",
                        "ln_D_err"},
                       {{*extrapolate_to_},
                        {1000.0 / *extrapolate_to_},
                        {extrapolated->value},
                        {extrapolated->error},
                        {std::log(extrapolated->value)},
                        {extrapolated->error / extrapolated->value}});
    }
    if (charge_) report_conductivity(conductivities, extrapolated, report);

    double x_low = *std::min_element(columns[1].begin(), columns[1].end());
    double x_high = *std::max_element(columns[1].begin(), columns[1].end());
    if (extrapolated) {
      x_low = std::min(x_low, 1000.0 / *extrapolate_to_);
      x_high = std::max(x_high, 1000.0 / *extrapolate_to_);
    }
    const double margin = 0.08 * (x_high - x_low);
    Plot plot;
    plot.name = "arrhenius";
    plot.title = fmt::format("Arrhenius plot of the {} tracer diffusion coefficient", species_);
    plot.x_label = "1000/T (1/K)";
    plot.y_label = "ln(D / (Å^2/ps))";
    // ln D = ln D0 - Ea / (k_B T) with x = 1000 / T.
    plot.settings = {fmt::format("set xrange [{}:{}]", x_low - margin, x_high + margin),
                     fmt::format("f(x) = {} - {} * x / (1000 * {})", fit.ln_prefactor.value,
                                 fit.activation_energy_ev.value, units::boltzmann_ev_per_k),
                     "set key top right"};
    std::string ea_text = format_estimate(fit.activation_energy_ev.value, fit.activation_energy_ev.error);
    if (const std::size_t at = ea_text.find(" +- "); at != std::string::npos) ea_text.replace(at, 4, " ± ");
    plot.curves.push_back(fmt::format("f(x) with lines lw 2 lc rgb '#1f77b4' title {}",
                                      gnuplot_file(fmt::format("fit: E_a = {} eV", ea_text))));
    plot.curves.push_back(
        "'arrhenius.csv' skip 1 using 2:5:6 with yerrorbars pt 7 ps 1.3 lw 1.5 lc rgb '#d62728' title 'MD'");
    if (extrapolated)
      plot.curves.push_back(fmt::format(
          "'arrhenius_extrapolated.csv' skip 1 using 2:5:6 with yerrorbars pt 6 ps 1.6 lw 1.5 lc rgb '#2ca02c' title {}",
          gnuplot_text(fmt::format("extrapolated to {} K", *extrapolate_to_))));
    report.plot(plot);
  }

 private:
  // conductivity.csv and the summary: each run's sigma with H_R = 1 and from its collective MSD, and sigma at
  // extrapolate_to with H_R = 1 and with the runs' inverse-variance weighted mean H_R (taken as independent of T).
  void report_conductivity(const std::vector<RunConductivity>& runs, const std::optional<Estimate>& extrapolated,
                           AnalysisReport& report) const {
    const double q = *charge_;
    const double nan = std::numeric_limits<double>::quiet_NaN();
    std::vector<std::vector<double>> columns(9);
    double weight_sum = 0.0, weighted_haven = 0.0;
    for (const RunConductivity& run : runs) {
      const double per_d = nernst_einstein_s_per_cm(run.number_density_per_a3, q, 1.0, run.temperature_k);
      const std::vector<double> row{run.temperature_k,
                                    run.number_density_per_a3,
                                    1e3 * per_d * run.tracer_d.value,
                                    1e3 * per_d * run.tracer_d.error,
                                    run.haven_ratio.value,
                                    run.haven_ratio.error,
                                    1e3 * per_d * run.collective_d.value,
                                    1e3 * per_d * run.collective_d.error,
                                    0.0};
      for (std::size_t c = 0; c < row.size(); ++c) columns[c].push_back(row[c]);
      report.summary(fmt::format("[arrhenius] {} K: n = {:.5g} /A^3, sigma(H_R = 1) = {} mS/cm; H_R = {}, "
                                 "sigma(D_sigma) = {} mS/cm",
                                 run.temperature_k, run.number_density_per_a3, format_estimate(row[2], row[3]),
                                 format_estimate(row[4], row[5]), format_estimate(row[6], row[7])));
      if (run.haven_ratio.error > 0.0 && std::isfinite(run.haven_ratio.error)) {
        const double weight = 1.0 / (run.haven_ratio.error * run.haven_ratio.error);
        weight_sum += weight;
        weighted_haven += weight * run.haven_ratio.value;
      }
    }
    const Estimate mean_haven = weight_sum > 0.0 ? Estimate{weighted_haven / weight_sum, 1.0 / std::sqrt(weight_sum)}
                                                 : Estimate{nan, nan};
    report.summary(fmt::format("[arrhenius] {}: mean Haven ratio H_R = {} (inverse-variance weighted over the runs)",
                               species_, format_estimate(mean_haven.value, mean_haven.error)));
    if (extrapolated) {
      const auto coldest = std::min_element(runs.begin(), runs.end(), [](const auto& a, const auto& b) {
        return a.temperature_k < b.temperature_k;
      });
      const double t = *extrapolate_to_;
      const double per_d = 1e3 * nernst_einstein_s_per_cm(coldest->number_density_per_a3, q, 1.0, t);
      const Estimate tracer{per_d * extrapolated->value, per_d * extrapolated->error};
      // sigma / H_R, relative errors in quadrature.
      const double with_haven = tracer.value / mean_haven.value;
      const double with_haven_error =
          std::abs(with_haven) * std::hypot(tracer.error / tracer.value, mean_haven.error / mean_haven.value);
      const std::vector<double> row{t,          coldest->number_density_per_a3, tracer.value, tracer.error,
                                    mean_haven.value, mean_haven.error,         with_haven,   with_haven_error,
                                    1.0};
      for (std::size_t c = 0; c < row.size(); ++c) columns[c].push_back(row[c]);
      report.summary(fmt::format("[arrhenius] {}: sigma({} K) = {} mS/cm with H_R = 1, {} mS/cm with H_R = {} "
                                 "(extrapolated; n of the {} K run)",
                                 species_, t, format_estimate(tracer.value, tracer.error),
                                 format_estimate(with_haven, with_haven_error),
                                 format_estimate(mean_haven.value, mean_haven.error), coldest->temperature_k));
    }
    report.write_csv("conductivity.csv",
                     {"temperature_K", "number_density_per_A3", "sigma_HR1_mS_per_cm", "sigma_HR1_err_mS_per_cm",
                      "haven_ratio", "haven_ratio_err", "sigma_mS_per_cm", "sigma_err_mS_per_cm", "extrapolated"},
                     columns);
  }

  std::vector<std::string> runs_;
  std::vector<double> temperatures_;
  std::string species_;
  DiffusionAnalysisOptions options_;
  std::optional<double> extrapolate_to_;
  std::optional<double> charge_;
};

const bool registered = AnalysisRegistry::instance().add(
    {"arrhenius", arrhenius_schema(),
     [](const ConfigSection& section) { return std::make_unique<ArrheniusAnalysis>(section); }});

}  // namespace
}  // namespace nqmd::analysis
