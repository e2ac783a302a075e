#pragma once
// Mean squared displacements, diffusion coefficients with error bars, the Haven ratio and Arrhenius fits.
//
// MSD over all time origins by FFT (Kneller, Keiner, Meyer, Wolf, Comput. Phys. Commun. 91, 191 (1995);
// Calandrini et al., Collection SFN 12, 201 (2011)); the same algorithm as MDAnalysis EinsteinMSD(fft=True)
// and tidynamics.msd. For a series r_0 .. r_{T-1} and lag m:
//   MSD(m) = 1/(T-m) sum_{k=0}^{T-1-m} |r_{k+m} - r_k|^2 = S1(m) - 2 S2(m),
//   S1(m) = 1/(T-m) sum_{k=0}^{T-1-m} (|r_k|^2 + |r_{k+m}|^2)   (a running sum, O(T)),
//   S2(m) = 1/(T-m) sum_{k=0}^{T-1-m} r_k . r_{k+m}            (autocorrelation by FFT, O(T log T)).
// Positions are shifted by their mean first (MSD does not change) to keep S1 - 2 S2 free of cancellation.
//
// Tracer MSD of species a: the mean of the atoms' MSDs; D* = slope / 6 (Einstein relation in 3D).
// Collective ("centre-of-mass" or charge) MSD of species a: <|sum_{i in a} (r_i(t) - r_i(0))|^2> / N_a, and
// D_sigma = slope / 6; for uncorrelated atoms D_sigma = D*. Haven ratio H_R = D* / D_sigma (Murch, Solid State
// Ionics 7, 177 (1982)).
//
// Fit: ordinary least squares MSD(t) = 6 D t + c over a window of lag times (the intercept c absorbs the
// ballistic and caging offset). Automatic window: from 10% to 50% of the length of the data fitted (the
// trajectory, or one time block), which skips the ballistic start and the noisy long lags; the log-log slope
// d ln MSD / d ln t over the window is reported and a warning is given if it is not within 0.85..1.15 (motion
// not diffusive over the window: choose a window by hand, or run longer).
//
// Error bars (DiffusionErrorMethod): D is the mean of n independent estimates (samples) and its standard error
// s / sqrt(n) is estimated from their spread, with n - 1 degrees of freedom. The error bar reported is that
// standard error times the Student t factor for n - 1 degrees of freedom (student_t_interval_factor), so that
// D +- error covers the true D 68.3% of the time: with few samples the standard error is itself uncertain, and
// +- one standard error covers less (63% for 5 samples, whose factor is 1.14; 1.02 for 32 samples).
//  - atoms (default for the tracer D): every atom's own all-origins MSD is fitted over the same window; the
//    fit is linear in the data, so the mean of the per-atom slopes is exactly the slope of the species MSD,
//    and the standard error of that mean, s / sqrt(N), is the error of D. Exact for independent atoms whatever
//    the time correlations inside each atom's MSD (which make the naive fit error far too small); it
//    underestimates when atoms move in a correlated way (then use time_blocks and compare). One atom's slope
//    is a skewed, heavy-tailed sample (for a random walk and the automatic window: relative spread 0.7,
//    excess kurtosis 3), so s scatters more than for Gaussian samples: with under ~10 atoms the error bar
//    covers a little less than 68% (about 67% for 8 atoms).
//  - time_blocks: the trajectory is cut into B consecutive blocks (default 5); D is fitted in each block
//    (window relative to the block length, or the given window, which must fit inside one block) and D and its
//    error are the mean and standard error of the B values (B - 1 degrees of freedom: the error bar is 1.14
//    standard errors for B = 5). The only choice for collective D (one series per species) and for a single atom.
//
// Units: positions A, times fs; D reported in A^2/ps and cm^2/s (1 A^2/ps = 1e-4 cm^2/s).
#include <cstddef>
#include <limits>
#include <string>
#include <vector>

#include "analysis/statistics.hpp"
#include "analysis/trajectory_tools.hpp"
#include "io/trajectory.hpp"

namespace nqmd::analysis {

struct MsdOptions {
  // Subtract the mass-weighted centre-of-mass displacement of the whole system from every atom. Leave off for
  // the collective MSD of a one-species system (its centre of mass is then fixed by construction).
  bool remove_drift = false;
  // Direction-resolved MSD: the displacements projected by `projector` (symmetric, idempotent: onto a line or a
  // plane) before they are squared, and D = slope / (2 dimensions), dimensions the rank of the projection (1 for
  // D_x or D along an axis, 2 for D in the plane normal to it; Einstein relation in d dimensions).
  Mat3 projector = Mat3::Identity();
  int dimensions = 3;
};

// The projector onto unit vector `axis` (dimensions 1), or onto the plane normal to it (dimensions 2).
MsdOptions along_axis(MsdOptions options, const Vec3& axis);
MsdOptions normal_to_axis(MsdOptions options, const Vec3& axis);

struct MsdCurve {
  std::string species;
  bool collective = false;
  std::size_t atoms = 0;
  std::vector<double> time_fs;  // lag times m * dt, m = 0 .. frames - 1
  std::vector<double> msd;      // A^2
};

enum class DiffusionErrorMethod { atoms, time_blocks };
const char* error_method_name(DiffusionErrorMethod method);

struct DiffusionFitOptions {
  // Fit window [fit_start_fs, fit_end_fs] of lag times; both 0: the automatic window (10% to 50%).
  double fit_start_fs = 0.0;
  double fit_end_fs = 0.0;
  DiffusionErrorMethod error_method = DiffusionErrorMethod::atoms;
  std::size_t blocks = 5;  // for time_blocks (at least 2)
};

struct DiffusionResult {
  std::string species;
  bool collective = false;
  Estimate d_a2_per_ps;  // D and its error bar (68.3% interval, see the header), A^2/ps
  Estimate d_cm2_per_s;  // the same in cm^2/s
  double standard_error_a2_per_ps = 0.0;  // s / sqrt(n) of the n samples
  double error_degrees_of_freedom = 0.0;  // n - 1: how well the standard error is known
  DiffusionErrorMethod error_method = DiffusionErrorMethod::atoms;
  std::vector<double> samples_a2_per_ps;  // the independent estimates averaged: per atom, or per block
  double fit_start_fs = 0.0;              // the window actually fitted (lags on the frame grid)
  double fit_end_fs = 0.0;
  double intercept_a2 = 0.0;   // c of MSD = 6 D t + c (mean over the samples)
  double log_log_slope = 0.0;  // d ln MSD / d ln t over the window (1: diffusive)
  std::vector<std::string> warnings;
};

struct HavenRatioResult {
  std::string species;
  DiffusionResult tracer;  // both from the same time blocks and window
  DiffusionResult collective;
  Estimate haven_ratio;  // D* / D_sigma, error propagated with the block covariance (68.3% interval, B - 1 dof)
};

class MeanSquaredDisplacement {
 public:
  // Unwrapped positions from Trajectory::unwrapped_positions (image counters, or the jump rule between
  // consecutive frames); InputError if the atom count changes, there are fewer than 2 frames or the frames are
  // not evenly spaced in time.
  explicit MeanSquaredDisplacement(const Trajectory& trajectory, const MsdOptions& options = {});
  // Unwrapped positions given directly: [frame][atom] (A), frames frame_interval_fs apart. Masses (amu) only
  // weight the drift removal; empty: equal weights.
  MeanSquaredDisplacement(std::vector<std::string> symbols, std::vector<double> masses,
                          const std::vector<std::vector<Vec3>>& unwrapped_positions, double frame_interval_fs,
                          const MsdOptions& options = {});

  std::size_t frames() const { return frames_; }
  double frame_interval_fs() const { return frame_interval_fs_; }
  const SpeciesTable& species() const { return species_; }

  // MSD curves over all time origins (InputError for a species not in the trajectory).
  MsdCurve tracer(const std::string& species) const;
  MsdCurve collective(const std::string& species) const;
  // D* of a species (see the header comment for the window and the error methods).
  DiffusionResult tracer_diffusion(const std::string& species, const DiffusionFitOptions& options = {}) const;
  // D_sigma of a species, always with time blocks (options.error_method is not used).
  DiffusionResult collective_diffusion(const std::string& species, const DiffusionFitOptions& options = {}) const;
  // H_R = D* / D_sigma, both from the same time blocks and window.
  HavenRatioResult haven_ratio(const std::string& species, const DiffusionFitOptions& options = {}) const;

 private:
  std::vector<std::string> symbols_;
  SpeciesTable species_;
  std::size_t frames_ = 0;
  double frame_interval_fs_ = 0.0;
  int dimensions_ = 3;
  std::vector<std::vector<Vec3>> series_;  // [atom][frame] unwrapped (and drift-corrected) positions

  void set_positions(const std::vector<double>& masses, const std::vector<std::vector<Vec3>>& unwrapped,
                     const MsdOptions& options);
  // Subtracts the mass-weighted centre-of-mass displacement of the whole system from every atom's series.
  void remove_drift(const std::vector<double>& masses, const std::vector<std::vector<Vec3>>& unwrapped);
  struct LagWindow {
    std::size_t first = 0;
    std::size_t last = 0;  // inclusive
  };
  LagWindow fit_window(const DiffusionFitOptions& options, std::size_t segment_frames, std::size_t blocks) const;
  std::vector<double> block_estimates(const std::vector<std::size_t>& atoms, bool collective, std::size_t blocks,
                                      const DiffusionFitOptions& options, LagWindow& window,
                                      std::vector<double>& intercepts, std::vector<double>& mean_msd) const;
  DiffusionResult make_result(const std::string& species, bool collective, DiffusionErrorMethod method,
                              const std::vector<double>& slopes, const std::vector<double>& intercepts,
                              const std::vector<double>& msd, const LagWindow& window) const;
};

// One measured diffusion coefficient at a temperature, D and its standard error in any one unit. The standard
// error is known exactly (infinitely many degrees of freedom) or estimated with error_degrees_of_freedom, e.g. n - 1
// for the mean of n samples.
struct ArrheniusPoint {
  double temperature_k = 0.0;
  double d = 0.0;
  double d_standard_error = 0.0;
  double error_degrees_of_freedom = std::numeric_limits<double>::infinity();
};

// The point of a tracer (or collective) D: its value, standard error and degrees of freedom, in A^2/ps.
ArrheniusPoint arrhenius_point(double temperature_k, const DiffusionResult& diffusion);

// ln D = ln D0 - Ea / (k_B T), fitted by weighted least squares in x = (1, 1 / k_B T), y = ln D, with
// sigma(ln D) = s_D / D (first-order propagation of the standard error s_D); A = sum_i x_i x_i^T / sigma_i^2, the
// parameter covariance A^-1 from the weights (not rescaled by chi^2).
// With estimated errors (finite degrees of freedom nu_i) the weights are noisy: the fit leans on the points whose
// error came out small, and A^-1 underestimates the parameters' variance. To first order in 1/nu_i (Kackar and
// Harville, J. Am. Stat. Assoc. 79, 853 (1984); Meier, Biometrics 9, 59 (1953) for a weighted mean) the variance
// of a combination c^T beta is sum_i d_i [1 + 4 (1 - h_i) / nu_i], with d_i = (c^T A^-1 x_i)^2 / sigma_i^2 the
// point's share of c^T A^-1 c and h_i = x_i^T A^-1 x_i / sigma_i^2 its leverage. Every error bar is the square
// root of that variance times the Student t factor for its Satterthwaite degrees of freedom
// (sum_i d_i)^2 / sum_i d_i^2 / nu_i, a 68.3% interval. With exact errors both reduce to the textbook fit.
// chi^2 of estimated errors does not follow the chi^2 distribution (with 5 time blocks per point it averages
// about 2.8 for 2 degrees of freedom), so its p-value comes from a parametric bootstrap: the fit repeated for
// points scattered by their errors, each error redrawn as s sqrt(chi^2_nu / nu).
struct ArrheniusFit {
  Estimate activation_energy_ev;
  Estimate ln_prefactor;                       // ln D0, D0 in the unit of the D values
  double prefactor = 0.0;                      // D0
  double covariance_ln_prefactor_slope = 0.0;  // cov(ln D0, -Ea), eV, corrected for estimated errors
  double chi_squared = 0.0;
  std::size_t degrees_of_freedom = 0;
  double chi_squared_p_value = 1.0;  // P(chi^2 >= the value found) if the points scatter only by their errors
  std::vector<std::string> warnings;

  // How one point's error enters the fitted line: A^-1 x_i / sigma_i, the leverage h_i and the degrees of freedom
  // of its error (see above); the error of any combination of ln D0 and Ea follows from these.
  struct PointInfluence {
    double on_ln_prefactor = 0.0;
    double on_slope = 0.0;
    double leverage = 0.0;
    double error_degrees_of_freedom = std::numeric_limits<double>::infinity();
  };
  std::vector<PointInfluence> influences;

  // D at a temperature with its error: ln D = ln D0 + x (-Ea), x = 1/(k_B T), its variance as above for
  // c = (1, x), and sigma_D = D sigma(ln D). InputError for T <= 0.
  Estimate extrapolate(double temperature_k) const;
};

// InputError for fewer than 2 points, fewer than 2 distinct temperatures, or T, D, its error or the degrees of
// freedom of its error not positive.
ArrheniusFit fit_arrhenius(const std::vector<ArrheniusPoint>& points);

}  // namespace nqmd::analysis
