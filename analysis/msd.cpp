#include "analysis/msd.hpp"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <random>
#include <stdexcept>

#include <fmt/format.h>

#include "analysis/correlation.hpp"
#include "engine/error.hpp"
#include "engine/units.hpp"

namespace nqmd::analysis {
namespace {

constexpr double kAutomaticWindowStart = 0.10;  // fraction of the fitted data's length
constexpr double kAutomaticWindowEnd = 0.50;
constexpr double kDiffusiveSlopeLow = 0.85;  // accepted log-log slopes over the fit window
constexpr double kDiffusiveSlopeHigh = 1.15;
constexpr double kA2PerPsToCm2PerS = 1e-4;
// Lag times given by the user are matched to the frame grid with this tolerance (in frames).
constexpr double kLagTolerance = 1e-6;

// MSD(m), m = 0 .. count-1, of one vector series over all time origins: S1(m) - 2 S2(m) (see msd.hpp).
// `shifted` and `lag_sums` are scratch.
void series_msd(const Vec3* series, std::size_t count, LagSumCorrelator& correlator, std::vector<double>& shifted,
                std::vector<double>& lag_sums, std::vector<double>& msd) {
  Vec3 mean = Vec3::Zero();
  for (std::size_t k = 0; k < count; ++k) mean += series[k];
  mean /= static_cast<double>(count);
  shifted.resize(3 * count);
  for (std::size_t k = 0; k < count; ++k)
    for (int axis = 0; axis < 3; ++axis) shifted[3 * k + axis] = series[k][axis] - mean[axis];
  for (int axis = 0; axis < 3; ++axis) correlator.add_series(shifted.data() + axis, 3);
  correlator.take_lag_sums(lag_sums);

  // S1 by the running sum Q(m) = Q(m-1) - D(m-1) - D(T-m), Q(0) = 2 sum_k D(k), D(k) = |r_k|^2.
  auto squared_norm = [&](std::size_t k) {
    return shifted[3 * k] * shifted[3 * k] + shifted[3 * k + 1] * shifted[3 * k + 1] +
           shifted[3 * k + 2] * shifted[3 * k + 2];
  };
  double running = 0.0;
  for (std::size_t k = 0; k < count; ++k) running += 2.0 * squared_norm(k);
  msd.resize(count);
  for (std::size_t m = 0; m < count; ++m) {
    if (m > 0) running -= squared_norm(m - 1) + squared_norm(count - m);
    const double origins = static_cast<double>(count - m);
    msd[m] = running / origins - 2.0 * lag_sums[m] / origins;
  }
  msd[0] = 0.0;
}

// Least-squares line through (m dt, msd[m]) for the lags of the window.
LineFit fit_msd(const std::vector<double>& msd, double interval_fs, std::size_t first, std::size_t last) {
  std::vector<double> times(last - first + 1);
  for (std::size_t m = first; m <= last; ++m) times[m - first] = static_cast<double>(m) * interval_fs;
  return fit_line(times.data(), msd.data() + first, times.size());
}

}  // namespace

MsdOptions along_axis(MsdOptions options, const Vec3& axis) {
  const Vec3 unit = axis.normalized();
  options.projector = unit * unit.transpose();
  options.dimensions = 1;
  return options;
}

MsdOptions normal_to_axis(MsdOptions options, const Vec3& axis) {
  const Vec3 unit = axis.normalized();
  options.projector = Mat3::Identity() - unit * unit.transpose();
  options.dimensions = 2;
  return options;
}

const char* error_method_name(DiffusionErrorMethod method) {
  return method == DiffusionErrorMethod::atoms ? "atoms" : "time_blocks";
}

MeanSquaredDisplacement::MeanSquaredDisplacement(const Trajectory& trajectory, const MsdOptions& options)
    : symbols_(trajectory.symbols), species_(trajectory.symbols) {
  check_frames(trajectory);
  frame_interval_fs_ = uniform_frame_interval(trajectory, "the MSD");
  set_positions(trajectory.masses, trajectory.unwrapped_positions(), options);
}

MeanSquaredDisplacement::MeanSquaredDisplacement(std::vector<std::string> symbols, std::vector<double> masses,
                                                 const std::vector<std::vector<Vec3>>& unwrapped_positions,
                                                 double frame_interval_fs, const MsdOptions& options)
    : symbols_(std::move(symbols)), species_(symbols_), frame_interval_fs_(frame_interval_fs) {
  if (symbols_.empty()) throw InputError("MSD: there are no atoms");
  if (!(frame_interval_fs > 0.0))
    throw InputError(fmt::format("MSD: the frame interval must be positive, got {} fs", frame_interval_fs));
  if (unwrapped_positions.size() < 2)
    throw InputError(
        fmt::format("not enough frames for the MSD: {} given, at least 2 are needed", unwrapped_positions.size()));
  for (std::size_t k = 0; k < unwrapped_positions.size(); ++k)
    if (unwrapped_positions[k].size() != symbols_.size())
      throw InputError(
          fmt::format("MSD: frame {} has {} atoms but the trajectory has {}: the atom count must not "
                      "change between frames",
                      k, unwrapped_positions[k].size(), symbols_.size()));
  set_positions(masses, unwrapped_positions, options);
}

void MeanSquaredDisplacement::set_positions(const std::vector<double>& masses,
                                            const std::vector<std::vector<Vec3>>& unwrapped,
                                            const MsdOptions& options) {
  const std::size_t atoms = symbols_.size();
  if (!masses.empty() && masses.size() != atoms)
    throw InputError(fmt::format("MSD: {} masses for {} atoms", masses.size(), atoms));
  frames_ = unwrapped.size();
  dimensions_ = options.dimensions;
  if (dimensions_ < 1 || dimensions_ > 3) throw std::invalid_argument("MSD: dimensions must be 1, 2 or 3");
  series_.assign(atoms, std::vector<Vec3>(frames_));
  for (std::size_t k = 0; k < frames_; ++k)
    for (std::size_t i = 0; i < atoms; ++i) series_[i][k] = unwrapped[k][i];
  if (options.remove_drift) remove_drift(masses, unwrapped);
  // |P dr|^2 = |P r(t) - P r(0)|^2: projecting the positions projects every displacement.
  if (!options.projector.isIdentity(0.0))
    for (std::vector<Vec3>& series : series_)
      for (Vec3& position : series) position = options.projector * position;
}

void MeanSquaredDisplacement::remove_drift(const std::vector<double>& masses,
                                           const std::vector<std::vector<Vec3>>& unwrapped) {
  const std::size_t atoms = symbols_.size();
  double total_mass = 0.0;
  for (std::size_t i = 0; i < atoms; ++i) total_mass += masses.empty() ? 1.0 : masses[i];
  for (std::size_t k = 0; k < frames_; ++k) {
    Vec3 centre_displacement = Vec3::Zero();
    for (std::size_t i = 0; i < atoms; ++i)
      centre_displacement += (masses.empty() ? 1.0 : masses[i]) * (unwrapped[k][i] - unwrapped[0][i]);
    centre_displacement /= total_mass;
    for (std::size_t i = 0; i < atoms; ++i) series_[i][k] -= centre_displacement;
  }
}

MsdCurve MeanSquaredDisplacement::tracer(const std::string& species) const {
  const std::vector<std::size_t>& atoms = species_.atoms_of(species);
  MsdCurve curve;
  curve.species = species;
  curve.atoms = atoms.size();
  curve.time_fs.resize(frames_);
  for (std::size_t m = 0; m < frames_; ++m) curve.time_fs[m] = static_cast<double>(m) * frame_interval_fs_;
  curve.msd.assign(frames_, 0.0);
  LagSumCorrelator correlator(frames_);
  std::vector<double> shifted, lag_sums, atom_msd;
  for (std::size_t atom : atoms) {
    series_msd(series_[atom].data(), frames_, correlator, shifted, lag_sums, atom_msd);
    for (std::size_t m = 0; m < frames_; ++m) curve.msd[m] += atom_msd[m];
  }
  for (double& value : curve.msd) value /= static_cast<double>(atoms.size());
  return curve;
}

namespace {

// Sum over the atoms of their positions in frames [first, first + count).
std::vector<Vec3> summed_series(const std::vector<std::vector<Vec3>>& series, const std::vector<std::size_t>& atoms,
                                std::size_t first, std::size_t count) {
  std::vector<Vec3> sum(count, Vec3::Zero());
  for (std::size_t atom : atoms)
    for (std::size_t k = 0; k < count; ++k) sum[k] += series[atom][first + k];
  return sum;
}

}  // namespace

MsdCurve MeanSquaredDisplacement::collective(const std::string& species) const {
  const std::vector<std::size_t>& atoms = species_.atoms_of(species);
  MsdCurve curve;
  curve.species = species;
  curve.collective = true;
  curve.atoms = atoms.size();
  curve.time_fs.resize(frames_);
  for (std::size_t m = 0; m < frames_; ++m) curve.time_fs[m] = static_cast<double>(m) * frame_interval_fs_;
  LagSumCorrelator correlator(frames_);
  std::vector<double> shifted, lag_sums;
  const std::vector<Vec3> sum = summed_series(series_, atoms, 0, frames_);
  series_msd(sum.data(), frames_, correlator, shifted, lag_sums, curve.msd);
  for (double& value : curve.msd) value /= static_cast<double>(atoms.size());
  return curve;
}

MeanSquaredDisplacement::LagWindow MeanSquaredDisplacement::fit_window(const DiffusionFitOptions& options,
                                                                       std::size_t segment_frames,
                                                                       std::size_t blocks) const {
  const double dt = frame_interval_fs_;
  const std::string segment =
      blocks > 1 ? fmt::format("each of the {} time blocks spans", blocks) : std::string("the trajectory spans");
  const double segment_fs = static_cast<double>(segment_frames - 1) * dt;
  LagWindow window;
  if (options.fit_start_fs == 0.0 && options.fit_end_fs == 0.0) {
    const double last_lag = static_cast<double>(segment_frames - 1);
    window.first = std::max<std::size_t>(1, static_cast<std::size_t>(std::ceil(kAutomaticWindowStart * last_lag)));
    window.last = static_cast<std::size_t>(std::floor(kAutomaticWindowEnd * last_lag));
    if (window.last <= window.first)
      throw InputError(
          fmt::format("not enough frames for the automatic MSD fit window (10% to 50% of the data): {} "
                      "only {} frames ({} fs); at least 5 are needed",
                      segment, segment_frames, segment_fs));
    return window;
  }
  if (!(options.fit_start_fs >= 0.0) || !(options.fit_end_fs > options.fit_start_fs))
    throw InputError(fmt::format("MSD fit window [{}, {}] fs: the start must be >= 0 and the end after it",
                                 options.fit_start_fs, options.fit_end_fs));
  window.first = static_cast<std::size_t>(std::ceil(options.fit_start_fs / dt - kLagTolerance));
  const double last = std::floor(options.fit_end_fs / dt + kLagTolerance);
  if (last > static_cast<double>(segment_frames - 1))
    throw InputError(
        fmt::format("not enough frames for the requested MSD fit window [{}, {}] fs: {} only {} fs "
                    "({} frames {} fs apart); shorten the window{}",
                    options.fit_start_fs, options.fit_end_fs, segment, segment_fs, segment_frames, dt,
                    blocks > 1 ? " or use fewer blocks" : " or run longer"));
  window.last = static_cast<std::size_t>(last);
  if (window.last <= window.first)
    throw InputError(fmt::format("the MSD fit window [{}, {}] fs holds fewer than two lags of the frame grid ({} fs)",
                                 options.fit_start_fs, options.fit_end_fs, dt));
  return window;
}

std::vector<double> MeanSquaredDisplacement::block_estimates(const std::vector<std::size_t>& atoms, bool collective,
                                                             std::size_t blocks, const DiffusionFitOptions& options,
                                                             LagWindow& window, std::vector<double>& intercepts,
                                                             std::vector<double>& mean_msd) const {
  if (blocks < 2) throw InputError(fmt::format("time blocks for the MSD: at least 2 are needed, got {}", blocks));
  const std::size_t block_frames = frames_ / blocks;
  if (block_frames < 2)
    throw InputError(
        fmt::format("not enough frames for {} MSD time blocks: the trajectory has {} frames", blocks, frames_));
  window = fit_window(options, block_frames, blocks);
  LagSumCorrelator correlator(block_frames);
  std::vector<double> shifted, lag_sums, series_curve, block_msd;
  std::vector<double> slopes;
  intercepts.clear();
  mean_msd.assign(block_frames, 0.0);
  for (std::size_t b = 0; b < blocks; ++b) {
    const std::size_t first_frame = b * block_frames;
    block_msd.assign(block_frames, 0.0);
    if (collective) {
      const std::vector<Vec3> sum = summed_series(series_, atoms, first_frame, block_frames);
      series_msd(sum.data(), block_frames, correlator, shifted, lag_sums, block_msd);
    } else {
      for (std::size_t atom : atoms) {
        series_msd(series_[atom].data() + first_frame, block_frames, correlator, shifted, lag_sums, series_curve);
        for (std::size_t m = 0; m < block_frames; ++m) block_msd[m] += series_curve[m];
      }
    }
    for (double& value : block_msd) value /= static_cast<double>(atoms.size());
    const LineFit fit = fit_msd(block_msd, frame_interval_fs_, window.first, window.last);
    slopes.push_back(fit.slope);
    intercepts.push_back(fit.intercept);
    for (std::size_t m = 0; m < block_frames; ++m) mean_msd[m] += block_msd[m] / static_cast<double>(blocks);
  }
  return slopes;
}

DiffusionResult MeanSquaredDisplacement::make_result(const std::string& species, bool collective,
                                                     DiffusionErrorMethod method, const std::vector<double>& slopes,
                                                     const std::vector<double>& intercepts,
                                                     const std::vector<double>& msd, const LagWindow& window) const {
  DiffusionResult result;
  result.species = species;
  result.collective = collective;
  result.error_method = method;
  // D = slope / (2 d) (A^2/fs) -> A^2/ps; d = 3 unless the displacements are projected.
  const double slope_to_d = units::fs_per_ps / (2.0 * dimensions_);
  for (double slope : slopes) result.samples_a2_per_ps.push_back(slope * slope_to_d);
  const Estimate mean = mean_with_standard_error(result.samples_a2_per_ps);
  result.standard_error_a2_per_ps = mean.error;
  result.error_degrees_of_freedom = static_cast<double>(slopes.size() - 1);
  result.d_a2_per_ps.value = mean.value;
  result.d_a2_per_ps.error = mean.error * student_t_interval_factor(result.error_degrees_of_freedom);
  result.d_cm2_per_s.value = result.d_a2_per_ps.value * kA2PerPsToCm2PerS;
  result.d_cm2_per_s.error = result.d_a2_per_ps.error * kA2PerPsToCm2PerS;
  result.intercept_a2 = mean_with_standard_error(intercepts).value;
  result.fit_start_fs = static_cast<double>(window.first) * frame_interval_fs_;
  result.fit_end_fs = static_cast<double>(window.last) * frame_interval_fs_;

  // Exponent of MSD ~ t^beta over the window: 1 for diffusion, 2 ballistic, < 1 caged or subdiffusive.
  std::vector<double> log_time, log_msd;
  bool positive = true;
  for (std::size_t m = window.first; m <= window.last; ++m) {
    if (!(msd[m] > 0.0)) positive = false;
    log_time.push_back(std::log(static_cast<double>(m) * frame_interval_fs_));
    log_msd.push_back(std::log(std::max(msd[m], std::numeric_limits<double>::min())));
  }
  const std::string what = fmt::format("{} D of {}", collective ? "collective" : "tracer", species);
  if (!positive) {
    result.log_log_slope = std::numeric_limits<double>::quiet_NaN();
    result.warnings.push_back(
        fmt::format("{}: the MSD is not positive over the fit window [{}, {}] fs: the atoms do "
                    "not diffuse there",
                    what, result.fit_start_fs, result.fit_end_fs));
  } else {
    result.log_log_slope = fit_line(log_time.data(), log_msd.data(), log_time.size()).slope;
    if (result.log_log_slope < kDiffusiveSlopeLow || result.log_log_slope > kDiffusiveSlopeHigh)
      result.warnings.push_back(
          fmt::format("{}: the MSD grows as t^{:.2f} over the fit window [{}, {}] fs, not "
                      "linearly: the motion is not diffusive there (ballistic, caged or too "
                      "few statistics); choose another window or run longer",
                      what, result.log_log_slope, result.fit_start_fs, result.fit_end_fs));
  }
  if (result.d_a2_per_ps.value <= 0.0)
    result.warnings.push_back(
        fmt::format("{}: D is not positive; the species does not diffuse on this time scale", what));
  return result;
}

DiffusionResult MeanSquaredDisplacement::tracer_diffusion(const std::string& species,
                                                          const DiffusionFitOptions& options) const {
  const std::vector<std::size_t>& atoms = species_.atoms_of(species);
  std::vector<double> slopes, intercepts, mean_msd;
  LagWindow window;
  if (options.error_method == DiffusionErrorMethod::time_blocks) {
    slopes = block_estimates(atoms, false, options.blocks, options, window, intercepts, mean_msd);
    return make_result(species, false, options.error_method, slopes, intercepts, mean_msd, window);
  }
  if (atoms.size() < 2)
    throw InputError(
        fmt::format("the per-atom error of D needs at least 2 atoms, but species '{}' has {}: use time "
                    "blocks",
                    species, atoms.size()));
  window = fit_window(options, frames_, 1);
  LagSumCorrelator correlator(frames_);
  std::vector<double> shifted, lag_sums, atom_msd;
  mean_msd.assign(frames_, 0.0);
  for (std::size_t atom : atoms) {
    series_msd(series_[atom].data(), frames_, correlator, shifted, lag_sums, atom_msd);
    const LineFit fit = fit_msd(atom_msd, frame_interval_fs_, window.first, window.last);
    slopes.push_back(fit.slope);
    intercepts.push_back(fit.intercept);
    for (std::size_t m = 0; m < frames_; ++m) mean_msd[m] += atom_msd[m] / static_cast<double>(atoms.size());
  }
  return make_result(species, false, options.error_method, slopes, intercepts, mean_msd, window);
}

DiffusionResult MeanSquaredDisplacement::collective_diffusion(const std::string& species,
                                                              const DiffusionFitOptions& options) const {
  const std::vector<std::size_t>& atoms = species_.atoms_of(species);
  std::vector<double> intercepts, mean_msd;
  LagWindow window;
  const std::vector<double> slopes =
      block_estimates(atoms, true, options.blocks, options, window, intercepts, mean_msd);
  return make_result(species, true, DiffusionErrorMethod::time_blocks, slopes, intercepts, mean_msd, window);
}

HavenRatioResult MeanSquaredDisplacement::haven_ratio(const std::string& species,
                                                      const DiffusionFitOptions& options) const {
  DiffusionFitOptions block_options = options;
  block_options.error_method = DiffusionErrorMethod::time_blocks;
  HavenRatioResult result;
  result.species = species;
  result.tracer = tracer_diffusion(species, block_options);
  result.collective = collective_diffusion(species, block_options);
  const double tracer_d = result.tracer.d_a2_per_ps.value;
  const double collective_d = result.collective.d_a2_per_ps.value;
  const double relative_tracer = result.tracer.standard_error_a2_per_ps / tracer_d;
  const double relative_collective = result.collective.standard_error_a2_per_ps / collective_d;
  // First-order propagation for a ratio of two correlated means (same blocks):
  // (sigma_H / H)^2 = (sigma_t / D_t)^2 + (sigma_c / D_c)^2 - 2 cov(D_t, D_c) / (D_t D_c); like D, the error bar
  // is that standard error times the Student t factor for the blocks' B - 1 degrees of freedom.
  const double covariance = covariance_of_means(result.tracer.samples_a2_per_ps, result.collective.samples_a2_per_ps) /
                            (tracer_d * collective_d);
  const double relative_variance =
      relative_tracer * relative_tracer + relative_collective * relative_collective - 2.0 * covariance;
  result.haven_ratio.value = tracer_d / collective_d;
  result.haven_ratio.error = std::abs(result.haven_ratio.value) * std::sqrt(std::max(0.0, relative_variance)) *
                             student_t_interval_factor(result.collective.error_degrees_of_freedom);
  return result;
}

namespace {

constexpr std::size_t kBootstrapReplicas = 4000;
constexpr std::uint64_t kBootstrapSeed = 20240917;
constexpr double kChiSquaredWarningP = 0.01;

struct CombinationUncertainty {
  double variance = 0.0;  // corrected for estimated errors
  double error = 0.0;     // the error bar: 68.3% interval
};

// The uncertainty of the combination a ln D0 + b (-Ea) of the fitted parameters; see ArrheniusFit in msd.hpp.
CombinationUncertainty combination_uncertainty(const std::vector<ArrheniusFit::PointInfluence>& influences,
                                               double on_ln_prefactor, double on_slope) {
  double plain = 0.0;
  double corrected = 0.0;
  double satterthwaite_denominator = 0.0;
  for (const ArrheniusFit::PointInfluence& point : influences) {
    const double projection = on_ln_prefactor * point.on_ln_prefactor + on_slope * point.on_slope;
    const double share = projection * projection;
    const double inverse_dof = 1.0 / point.error_degrees_of_freedom;  // 0 for an exact error
    plain += share;
    corrected += share * (1.0 + 4.0 * (1.0 - point.leverage) * inverse_dof);
    satterthwaite_denominator += share * share * inverse_dof;
  }
  const double dof = satterthwaite_denominator > 0.0 ? plain * plain / satterthwaite_denominator
                                                     : std::numeric_limits<double>::infinity();
  CombinationUncertainty uncertainty;
  uncertainty.variance = corrected;
  uncertainty.error = std::sqrt(corrected) * student_t_interval_factor(dof);
  return uncertainty;
}

// P(chi^2 >= observed) for points that scatter about a line by the errors sigma_i, each error estimated as
// sigma_i sqrt(chi^2_nu / nu) (exact for nu infinite): a parametric bootstrap, the estimated errors standing in
// for the true ones. chi^2 does not depend on the line, so the points scatter about y = 0.
double bootstrap_chi_squared_p_value(const std::vector<double>& x, const std::vector<double>& sigma,
                                     const std::vector<double>& degrees_of_freedom, double observed) {
  std::mt19937_64 generator(kBootstrapSeed);
  std::normal_distribution<double> gaussian(0.0, 1.0);
  std::vector<std::gamma_distribution<double>> variance_ratios;  // chi^2_nu / nu = Gamma(nu / 2, scale 2 / nu)
  for (double nu : degrees_of_freedom)
    variance_ratios.emplace_back(std::isinf(nu) ? 1.0 : 0.5 * nu, std::isinf(nu) ? 1.0 : 2.0 / nu);
  std::vector<double> y(x.size()), estimated_sigma(x.size());
  std::size_t at_least_observed = 0;
  for (std::size_t replica = 0; replica < kBootstrapReplicas; ++replica) {
    for (std::size_t k = 0; k < x.size(); ++k) {
      y[k] = sigma[k] * gaussian(generator);
      estimated_sigma[k] =
          std::isinf(degrees_of_freedom[k]) ? sigma[k] : sigma[k] * std::sqrt(variance_ratios[k](generator));
    }
    if (fit_line_weighted(x, y, estimated_sigma).chi_squared >= observed) ++at_least_observed;
  }
  return (static_cast<double>(at_least_observed) + 1.0) / (static_cast<double>(kBootstrapReplicas) + 1.0);
}

}  // namespace

ArrheniusPoint arrhenius_point(double temperature_k, const DiffusionResult& diffusion) {
  ArrheniusPoint point;
  point.temperature_k = temperature_k;
  point.d = diffusion.d_a2_per_ps.value;
  point.d_standard_error = diffusion.standard_error_a2_per_ps;
  point.error_degrees_of_freedom = diffusion.error_degrees_of_freedom;
  return point;
}

Estimate ArrheniusFit::extrapolate(double temperature_k) const {
  if (!(temperature_k > 0.0))
    throw InputError(fmt::format("Arrhenius extrapolation: the temperature must be positive, got {} K", temperature_k));
  const double x = 1.0 / (units::boltzmann_ev_per_k * temperature_k);
  const double ln_d = ln_prefactor.value - activation_energy_ev.value * x;
  Estimate d;
  d.value = std::exp(ln_d);
  d.error = d.value * combination_uncertainty(influences, 1.0, x).error;
  return d;
}

ArrheniusFit fit_arrhenius(const std::vector<ArrheniusPoint>& points) {
  if (points.size() < 2)
    throw InputError(fmt::format("Arrhenius fit: at least 2 temperatures are needed, got {}", points.size()));
  std::vector<double> inverse_kt, ln_d, sigma_ln_d, error_dof;
  bool exact_errors = true;
  for (std::size_t k = 0; k < points.size(); ++k) {
    const ArrheniusPoint& point = points[k];
    if (!(point.temperature_k > 0.0) || !(point.d > 0.0) || !(point.d_standard_error > 0.0) ||
        !(point.error_degrees_of_freedom > 0.0))
      throw InputError(
          fmt::format("Arrhenius fit: point {} (T = {} K, D = {} +- {}, {} degrees of freedom) needs T > 0, D > 0 "
                      "and an error > 0 with degrees of freedom > 0",
                      k, point.temperature_k, point.d, point.d_standard_error, point.error_degrees_of_freedom));
    inverse_kt.push_back(1.0 / (units::boltzmann_ev_per_k * point.temperature_k));
    ln_d.push_back(std::log(point.d));
    sigma_ln_d.push_back(point.d_standard_error / point.d);
    error_dof.push_back(point.error_degrees_of_freedom);
    if (!std::isinf(point.error_degrees_of_freedom)) exact_errors = false;
  }
  const auto [lowest, highest] = std::minmax_element(inverse_kt.begin(), inverse_kt.end());
  if (*highest - *lowest <= 1e-12 * *highest) throw InputError("Arrhenius fit: all points are at the same temperature");
  const LineFit line = fit_line_weighted(inverse_kt, ln_d, sigma_ln_d);
  ArrheniusFit fit;
  for (std::size_t k = 0; k < points.size(); ++k) {
    // A^-1 x_k with A^-1 = [[var(ln D0), cov], [cov, var(slope)]] and x_k = (1, 1/kT_k).
    const double on_ln_prefactor = line.intercept_variance + line.covariance * inverse_kt[k];
    const double on_slope = line.covariance + line.slope_variance * inverse_kt[k];
    const double weight = 1.0 / (sigma_ln_d[k] * sigma_ln_d[k]);
    ArrheniusFit::PointInfluence influence;
    influence.on_ln_prefactor = on_ln_prefactor / sigma_ln_d[k];
    influence.on_slope = on_slope / sigma_ln_d[k];
    influence.leverage = weight * (on_ln_prefactor + on_slope * inverse_kt[k]);
    influence.error_degrees_of_freedom = error_dof[k];
    fit.influences.push_back(influence);
  }
  fit.activation_energy_ev.value = -line.slope;
  fit.activation_energy_ev.error = combination_uncertainty(fit.influences, 0.0, 1.0).error;
  fit.ln_prefactor.value = line.intercept;
  fit.ln_prefactor.error = combination_uncertainty(fit.influences, 1.0, 0.0).error;
  fit.prefactor = std::exp(line.intercept);
  // cov(a, b) = (var(a + b) - var(a) - var(b)) / 2, each variance corrected alike.
  fit.covariance_ln_prefactor_slope = 0.5 * (combination_uncertainty(fit.influences, 1.0, 1.0).variance -
                                             combination_uncertainty(fit.influences, 1.0, 0.0).variance -
                                             combination_uncertainty(fit.influences, 0.0, 1.0).variance);
  fit.chi_squared = line.chi_squared;
  fit.degrees_of_freedom = points.size() - 2;
  if (fit.degrees_of_freedom > 0)
    fit.chi_squared_p_value = exact_errors ? chi_squared_survival(fit.chi_squared, fit.degrees_of_freedom)
                                           : bootstrap_chi_squared_p_value(inverse_kt, sigma_ln_d, error_dof,
                                                                           fit.chi_squared);
  if (fit.chi_squared_p_value < kChiSquaredWarningP)
    fit.warnings.push_back(
        fmt::format("Arrhenius fit: chi^2 = {:.3g} for {} degrees of freedom (p = {:.2g}): the points scatter "
                    "more than their error bars allow (non-Arrhenius behaviour, or errors too small); the Ea "
                    "error is then too small",
                    fit.chi_squared, fit.degrees_of_freedom, fit.chi_squared_p_value));
  return fit;
}

}  // namespace nqmd::analysis
