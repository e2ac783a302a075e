#include "analysis/vacf.hpp"

#include <cmath>
#include <numeric>

#include <fmt/format.h>

#include "analysis/correlation.hpp"
#include "engine/error.hpp"

namespace nqmd::analysis {
namespace {

constexpr double kPi = 3.14159265358979323846;
constexpr double kTHzPerInverseFs = 1000.0;
// Warn when more than this fraction of the spectrum lies in the top tenth of the frequency range.
constexpr double kNyquistBand = 0.9;
constexpr double kNyquistWeightLimit = 0.01;

double trapezoid(const std::vector<double>& x, const std::vector<double>& y, std::size_t first = 0) {
  double sum = 0.0;
  for (std::size_t k = first + 1; k < x.size(); ++k) sum += 0.5 * (y[k] + y[k - 1]) * (x[k] - x[k - 1]);
  return sum;
}

}  // namespace

VelocityAutocorrelation::VelocityAutocorrelation(const Trajectory& trajectory) : species_(trajectory.symbols) {
  if (!trajectory.has_velocities())
    throw InputError(
        fmt::format("{} has no velocities: the VACF and the vibrational density of states need them "
                    "(store velocities in the trajectory)",
                    trajectory.source.empty() ? std::string("the trajectory") : trajectory.source));
  check_frames(trajectory);
  frame_interval_fs_ = uniform_frame_interval(trajectory, "the VACF");
  frames_ = trajectory.frames.size();
  const std::size_t atoms = trajectory.atoms();
  masses_ = trajectory.masses;
  if (masses_.size() != atoms)
    throw InputError(
        fmt::format("the trajectory has {} masses for {} atoms: the vibrational DOS weights velocities "
                    "by mass",
                    masses_.size(), atoms));
  velocities_.assign(atoms, std::vector<double>(3 * frames_));
  for (std::size_t k = 0; k < frames_; ++k)
    for (std::size_t i = 0; i < atoms; ++i)
      for (int axis = 0; axis < 3; ++axis) velocities_[i][3 * k + axis] = trajectory.frames[k].velocities[i][axis];
}

std::vector<double> VelocityAutocorrelation::correlation(const std::vector<std::size_t>& atoms,
                                                         bool mass_weighted) const {
  LagSumCorrelator correlator(frames_);
  std::vector<double> scaled(3 * frames_);
  for (std::size_t atom : atoms) {
    // Scaling a series by sqrt(m) scales its power spectrum, hence its lag sums, by m.
    const double scale = mass_weighted ? std::sqrt(masses_[atom]) : 1.0;
    for (std::size_t k = 0; k < scaled.size(); ++k) scaled[k] = scale * velocities_[atom][k];
    for (int axis = 0; axis < 3; ++axis) correlator.add_series(scaled.data() + axis, 3);
  }
  std::vector<double> lag_sums;
  correlator.take_lag_sums(lag_sums);
  for (std::size_t m = 0; m < frames_; ++m) lag_sums[m] /= static_cast<double>(frames_ - m);
  return lag_sums;
}

VacfCurve VelocityAutocorrelation::make_curve(const std::string& name, const std::vector<std::size_t>& atoms) const {
  VacfCurve curve;
  curve.species = name;
  curve.atoms = atoms.size();
  curve.time_fs.resize(frames_);
  for (std::size_t m = 0; m < frames_; ++m) curve.time_fs[m] = static_cast<double>(m) * frame_interval_fs_;
  curve.raw = correlation(atoms, false);
  for (double& value : curve.raw) value /= static_cast<double>(atoms.size());
  if (!(curve.raw[0] > 0.0))
    throw InputError(fmt::format("the velocities of {} are all zero: the VACF cannot be normalised",
                                 name.empty() ? std::string("the atoms") : "species " + name));
  curve.normalized.resize(frames_);
  for (std::size_t m = 0; m < frames_; ++m) curve.normalized[m] = curve.raw[m] / curve.raw[0];
  return curve;
}

VacfCurve VelocityAutocorrelation::of_species(const std::string& species) const {
  return make_curve(species, species_.atoms_of(species));
}

VacfCurve VelocityAutocorrelation::of_all_atoms() const {
  std::vector<std::size_t> atoms(masses_.size());
  std::iota(atoms.begin(), atoms.end(), std::size_t{0});
  return make_curve("", atoms);
}

VibrationalDos VelocityAutocorrelation::density_of_states(const VdosOptions& options) const {
  const double dt = frame_interval_fs_;
  std::size_t lags = frames_ / 2;  // M: the spectrum uses lags 0 .. M
  if (options.correlation_time_fs != 0.0) {
    if (!(options.correlation_time_fs > 0.0))
      throw InputError(fmt::format("vibrational DOS: the correlation time must be positive, got {} fs",
                                   options.correlation_time_fs));
    const double requested = std::round(options.correlation_time_fs / dt);
    if (requested > static_cast<double>(frames_ - 1))
      throw InputError(
          fmt::format("not enough frames for the requested correlation time {} fs: the trajectory spans "
                      "{} fs ({} frames {} fs apart)",
                      options.correlation_time_fs, static_cast<double>(frames_ - 1) * dt, frames_, dt));
    lags = static_cast<std::size_t>(requested);
  }
  if (lags < 1)
    throw InputError(
        fmt::format("not enough frames for a vibrational DOS: {} frames give no correlation time", frames_));

  VibrationalDos dos;
  dos.correlation_time_fs = static_cast<double>(lags) * dt;
  dos.resolution_thz = kTHzPerInverseFs / (2.0 * dos.correlation_time_fs);
  dos.nyquist_thz = kTHzPerInverseFs / (2.0 * dt);
  dos.frequency_thz.resize(lags + 1);
  dos.wavenumber_cm1.resize(lags + 1);
  for (std::size_t k = 0; k <= lags; ++k) {
    dos.frequency_thz[k] = dos.resolution_thz * static_cast<double>(k);
    dos.wavenumber_cm1[k] = dos.frequency_thz[k] * kWavenumbersPerTHz;
  }

  // Windowed mass-weighted VACF of each species -> cosine transform; dt converts the sum to an integral (fs).
  std::vector<double> window(lags + 1, 1.0);
  if (options.window == SpectralWindow::hann)
    for (std::size_t m = 0; m <= lags; ++m)
      window[m] = 0.5 * (1.0 + std::cos(kPi * static_cast<double>(m) / static_cast<double>(lags)));
  dos.total.assign(lags + 1, 0.0);
  for (std::size_t s = 0; s < species_.count(); ++s) {
    const std::vector<double> correlation_m = correlation(species_.atoms(s), true);
    std::vector<double> windowed(lags + 1);
    for (std::size_t m = 0; m <= lags; ++m) windowed[m] = correlation_m[m] * window[m];
    std::vector<double> spectrum = cosine_transform(windowed);
    for (double& value : spectrum) value *= dt;
    for (std::size_t k = 0; k <= lags; ++k) dos.total[k] += spectrum[k];
    dos.species.push_back(species_.names()[s]);
    dos.partial.push_back(std::move(spectrum));
  }

  const double integral = trapezoid(dos.frequency_thz, dos.total);
  if (!(integral > 0.0))
    throw InputError("the velocities are all zero: the vibrational density of states cannot be normalised");
  const double degrees_of_freedom = 3.0 * static_cast<double>(masses_.size());
  const double scale = degrees_of_freedom / integral;
  for (double& value : dos.total) value *= scale;
  for (std::vector<double>& partial : dos.partial)
    for (double& value : partial) value *= scale;

  // Weight near the Nyquist frequency means the sampling is too coarse for the fastest vibrations (aliasing).
  std::size_t band_start = 0;
  while (band_start < lags && dos.frequency_thz[band_start] < kNyquistBand * dos.nyquist_thz) ++band_start;
  const double band_fraction = trapezoid(dos.frequency_thz, dos.total, band_start) / degrees_of_freedom;
  if (band_fraction > kNyquistWeightLimit)
    dos.warnings.push_back(
        fmt::format("{:.1f}% of the vibrational DOS lies within 10% of the Nyquist frequency "
                    "({:.4g} THz, {:.4g} cm^-1): the frames ({} fs apart) are too far apart for "
                    "the fastest vibrations, which may be aliased; store velocities more often",
                    100.0 * band_fraction, dos.nyquist_thz, dos.nyquist_thz * kWavenumbersPerTHz, dt));
  return dos;
}

}  // namespace nqmd::analysis
