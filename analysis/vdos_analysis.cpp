// [vdos]: velocity autocorrelation functions and the vibrational density of states, total and per species, with
// the positions of its main peaks.
#include <algorithm>
#include <cmath>
#include <filesystem>

#include <fmt/format.h>

#include "analysis/analysis.hpp"
#include "analysis/vacf.hpp"

namespace nqmd::analysis {
namespace {

SectionSchema vdos_schema() {
  return {"vdos",
          "Velocity autocorrelation functions (all atoms and per species) and the vibrational density of states "
          "from the mass-weighted VACF (states per THz; integral 3N). Needs velocities in the trajectory. Writes "
          "vacf.csv, vdos.csv and two figures.",
          {KeySpec("window", KeyType::string, "window on the VACF before the cosine transform")
               .one_of({"hann", "none"})
               .defaults_to("hann"),
           KeySpec("correlation_time_fs", KeyType::real,
                   "length of the VACF transformed (fs; resolution 1/(2 t_c)); 0: half the trajectory")
               .at_least(0.0)
               .defaults_to(0.0),
           KeySpec("max_frequency_thz", KeyType::real,
                   "upper end of the VDOS figure (THz); 0: where the spectrum has ended")
               .at_least(0.0)
               .defaults_to(0.0),
           KeySpec("peak_threshold", KeyType::real,
                   "report VDOS maxima whose prominence is at least this fraction of the highest value")
               .greater_than(0.0)
               .at_most(1.0)
               .defaults_to(0.1)}};
}

struct SpectrumPeak {
  double frequency_thz = 0.0;
  double height = 0.0;
};

// Interior local maxima of `spectrum` whose prominence (height above the higher of the lowest points between it
// and the nearest higher values on either side, as scipy.signal.peak_prominences) is at least `threshold` times
// the spectrum's maximum, so that one peak is reported per band and not the ripples on it; refined by the
// parabola through the three bins around each; the five highest, in order of frequency.
std::vector<SpectrumPeak> spectrum_peaks(const std::vector<double>& frequency, const std::vector<double>& spectrum,
                                         double threshold) {
  std::vector<SpectrumPeak> peaks;
  if (spectrum.size() < 3) return peaks;
  const double highest = *std::max_element(spectrum.begin(), spectrum.end());
  if (!(highest > 0.0)) return peaks;
  const double step = frequency[1] - frequency[0];
  for (std::size_t k = 1; k + 1 < spectrum.size(); ++k) {
    const double y0 = spectrum[k - 1], y1 = spectrum[k], y2 = spectrum[k + 1];
    if (!(y1 > y0 && y1 >= y2)) continue;
    double left_low = y1, right_low = y1;
    for (std::size_t j = k; j-- > 0 && spectrum[j] <= y1;) left_low = std::min(left_low, spectrum[j]);
    for (std::size_t j = k + 1; j < spectrum.size() && spectrum[j] <= y1; ++j) right_low = std::min(right_low, spectrum[j]);
    if (y1 - std::max(left_low, right_low) < threshold * highest) continue;
    const double curvature = y0 - 2.0 * y1 + y2;
    const double offset = curvature < 0.0 ? 0.5 * (y0 - y2) / curvature : 0.0;
    peaks.push_back({frequency[k] + offset * step, y1 - 0.25 * (y0 - y2) * offset});
  }
  std::sort(peaks.begin(), peaks.end(), [](const SpectrumPeak& a, const SpectrumPeak& b) { return a.height > b.height; });
  if (peaks.size() > 5) peaks.resize(5);
  std::sort(peaks.begin(), peaks.end(),
            [](const SpectrumPeak& a, const SpectrumPeak& b) { return a.frequency_thz < b.frequency_thz; });
  return peaks;
}

// 1, 2 or 5 times a power of ten, at least `step`: a tic spacing.
double nice_step(double step) {
  if (!(step > 0.0)) return 1.0;
  const double power = std::pow(10.0, std::floor(std::log10(step)));
  for (const double factor : {1.0, 2.0, 5.0})
    if (factor * power >= step) return factor * power;
  return 10.0 * power;
}

std::string peak_list(const std::vector<SpectrumPeak>& peaks) {
  if (peaks.empty()) return "none";
  std::string text;
  for (const SpectrumPeak& peak : peaks)
    text += fmt::format("{}{:.3f} THz ({:.1f} cm^-1)", text.empty() ? "" : ", ", peak.frequency_thz,
                        peak.frequency_thz * kWavenumbersPerTHz);
  return text;
}

class VdosAnalysis final : public Analysis {
 public:
  explicit VdosAnalysis(const ConfigSection& section)
      : Analysis(section),
        max_frequency_thz_(section.real("max_frequency_thz")),
        peak_threshold_(section.real("peak_threshold")) {
    options_.window = section.string("window") == "none" ? SpectralWindow::none : SpectralWindow::hann;
    options_.correlation_time_fs = section.real("correlation_time_fs");
  }

  void run(const AnalysisInput& input, AnalysisReport& report) override {
    const Trajectory& trajectory = this->trajectory(input);
    const VelocityAutocorrelation vacf = about("", [&] { return VelocityAutocorrelation(trajectory); });
    const VibrationalDos dos = about("correlation_time_fs", [&] { return vacf.density_of_states(options_); });
    for (const std::string& warning : dos.warnings) report.warn(name(), warning);
    const std::vector<std::string>& species = vacf.species().names();

    std::vector<VacfCurve> curves{vacf.of_all_atoms()};
    for (const std::string& symbol : species) curves.push_back(vacf.of_species(symbol));
    std::vector<std::string> header{"time_fs"};
    std::vector<std::vector<double>> columns{curves.front().time_fs};
    for (const VacfCurve& curve : curves) {
      const std::string label = curve.species.empty() ? "all" : curve.species;
      header.push_back(fmt::format("vacf_{}_A2_per_fs2", label));
      header.push_back(fmt::format("vacf_{}_normalized", label));
      columns.push_back(curve.raw);
      columns.push_back(curve.normalized);
    }
    report.write_csv("vacf.csv", header, columns);

    header = {"frequency_THz", "frequency_cm-1", "vdos_total"};
    columns = {dos.frequency_thz, dos.wavenumber_cm1, dos.total};
    for (std::size_t s = 0; s < dos.species.size(); ++s) {
      header.push_back("vdos_" + dos.species[s]);
      columns.push_back(dos.partial[s]);
    }
    report.write_csv("vdos.csv", header, columns);

    const std::vector<SpectrumPeak> peaks = spectrum_peaks(dos.frequency_thz, dos.total, peak_threshold_);
    report.summary(fmt::format("[vdos] peaks: {}", peak_list(peaks)));
    if (dos.species.size() > 1)
      for (std::size_t s = 0; s < dos.species.size(); ++s)
        report.summary(fmt::format("[vdos] {} peaks: {}", dos.species[s],
                                   peak_list(spectrum_peaks(dos.frequency_thz, dos.partial[s], peak_threshold_))));
    report.summary(fmt::format("[vdos] resolution {:.4g} THz, Nyquist frequency {:.4g} THz, correlation time {:.6g} fs, "
                               "g(0) = {:.4g} states/THz",
                               dos.resolution_thz, dos.nyquist_thz, dos.correlation_time_fs, dos.total.front()));

    const std::string label = std::filesystem::path(trajectory.source).filename().string();
    Plot plot;
    plot.name = "vdos";
    plot.title = "Vibrational density of states (" + label + ")";
    plot.x_label = "frequency (THz)";
    plot.y_label = "VDOS (states/THz)";
    const double max_frequency = figure_max_frequency(dos);
    plot.settings = {fmt::format("set xrange [0:{}]", max_frequency),
                     "set yrange [0:*]",
                     fmt::format("set link x2 via x*{0} inverse x/{0}", kWavenumbersPerTHz),
                     fmt::format("set x2tics 0, {} format '%g'", nice_step(max_frequency * kWavenumbersPerTHz / 6.0)),
                     "set x2label 'wavenumber (cm^{-1})'"};
    for (std::size_t p = 0; p < peaks.size(); ++p)
      plot.settings.push_back(fmt::format("set label {} '{:.2f} THz' at {}, {} center offset 0, 0.8 tc rgb '#333333'",
                                          p + 1, peaks[p].frequency_thz, peaks[p].frequency_thz, peaks[p].height));
    plot.curves.push_back(
        "'vdos.csv' skip 1 using 1:3 with filledcurves y1=0 fc rgb '#1f77b4' fs transparent solid 0.2 noborder notitle");
    plot.curves.push_back("'vdos.csv' skip 1 using 1:3 with lines lw 2 lc rgb '#1f77b4' title 'total'");
    const char* colors[] = {"#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2"};
    if (dos.species.size() > 1)
      for (std::size_t s = 0; s < dos.species.size(); ++s)
        plot.curves.push_back(fmt::format("'vdos.csv' skip 1 using 1:{} with lines lw 1.5 lc rgb '{}' title {}", 4 + s,
                                          colors[s % 6], gnuplot_text(dos.species[s])));
    report.plot(plot);

    Plot vacf_plot;
    vacf_plot.name = "vacf";
    vacf_plot.title = "Velocity autocorrelation function (" + label + ")";
    vacf_plot.x_label = "t (fs)";
    vacf_plot.y_label = "⟨v(0)·v(t)⟩ / ⟨v(0)·v(0)⟩";
    vacf_plot.settings = {fmt::format("set xrange [0:{}]", dos.correlation_time_fs), "set offsets 0, 0, graph 0.3, 0",
                          "set arrow from graph 0, first 0 to graph 1, first 0 nohead lc rgb '#9a9a9a' dt 2"};
    vacf_plot.curves.push_back("'vacf.csv' skip 1 using 1:3 with lines lw 2 lc rgb '#1f77b4' title 'all atoms'");
    if (species.size() > 1)
      for (std::size_t s = 0; s < species.size(); ++s)
        vacf_plot.curves.push_back(fmt::format("'vacf.csv' skip 1 using 1:{} with lines lw 1.5 lc rgb '{}' title {}",
                                               5 + 2 * s, colors[s % 6], gnuplot_text(species[s])));
    report.plot(vacf_plot);
  }

 private:
  VdosOptions options_;
  double max_frequency_thz_;
  double peak_threshold_;

  // The given upper end, or 1.25 times the frequency below which 99.5% of the spectrum lies (at most Nyquist).
  double figure_max_frequency(const VibrationalDos& dos) const {
    if (max_frequency_thz_ > 0.0) return max_frequency_thz_;
    double total = 0.0;
    for (std::size_t k = 1; k < dos.total.size(); ++k)
      total += 0.5 * (dos.total[k] + dos.total[k - 1]) * (dos.frequency_thz[k] - dos.frequency_thz[k - 1]);
    double running = 0.0;
    for (std::size_t k = 1; k < dos.total.size(); ++k) {
      running += 0.5 * (dos.total[k] + dos.total[k - 1]) * (dos.frequency_thz[k] - dos.frequency_thz[k - 1]);
      if (running >= 0.995 * total) return std::min(dos.nyquist_thz, 1.25 * dos.frequency_thz[k]);
    }
    return dos.nyquist_thz;
  }
};

const bool registered = AnalysisRegistry::instance().add(
    {"vdos", vdos_schema(), [](const ConfigSection& section) { return std::make_unique<VdosAnalysis>(section); }});

}  // namespace
}  // namespace nqmd::analysis
