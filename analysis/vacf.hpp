#pragma once
// Velocity autocorrelation functions and the vibrational density of states.
//
// VACF over all time origins by FFT (see correlation.hpp), per species and for all atoms:
//   C(m) = 1/N sum_i 1/(T-m) sum_{k=0}^{T-1-m} v_i(k) . v_i(k+m)     (A^2/fs^2), and C(m) / C(0).
// Vibrational density of states from the mass-weighted VACF (Dickey & Paskin, Phys. Rev. 188, 1407 (1969);
// Lee et al., J. Chem. Phys. 98, 3101 (1993)):
//   C_M(t) = sum_i m_i <v_i(0) . v_i(t)>,   g(nu) ~ 2 int_0^{t_c} C_M(t) w(t) cos(2 pi nu t) dt,
// by the trapezoid rule (a type-I cosine transform) at nu_k = k / (2 t_c), k = 0 .. M, with t_c = M dt the
// correlation time and w a window: Hann w(t) = (1 + cos(pi t / t_c)) / 2 (default), or none (w = 1). The
// spectrum is scaled so that its integral over frequency (trapezoid rule on the returned grid, in THz) is 3N,
// the number of degrees of freedom; the integral before scaling is C_M(0) / 2, the kinetic energy, so partial
// spectra share the factor and each integrates to 3N times its species' share of the kinetic energy (3 N_a at
// equipartition); the partials add up to the total.
// Frequencies: 1/fs = 1000 THz, 1 THz = 33.35641 cm^-1. Resolution 1 / (2 t_c), Nyquist frequency 1 / (2 dt).
#include <cstddef>
#include <string>
#include <vector>

#include "analysis/trajectory_tools.hpp"
#include "io/trajectory.hpp"

namespace nqmd::analysis {

inline constexpr double kWavenumbersPerTHz = 33.35640951981521;  // 1e12 / c, c in cm/s

enum class SpectralWindow { hann, none };

struct VacfCurve {
  std::string species;  // empty for all atoms
  std::size_t atoms = 0;
  std::vector<double> time_fs;     // lags m * dt, m = 0 .. frames - 1
  std::vector<double> raw;         // A^2/fs^2
  std::vector<double> normalized;  // raw / raw[0]
};

struct VdosOptions {
  SpectralWindow window = SpectralWindow::hann;
  double correlation_time_fs = 0.0;  // t_c; 0: half the trajectory length
};

struct VibrationalDos {
  std::vector<double> frequency_thz;
  std::vector<double> wavenumber_cm1;
  std::vector<double> total;  // states per THz; integral over frequency_thz = 3N
  std::vector<std::string> species;
  std::vector<std::vector<double>> partial;  // per species, same scale as total
  double resolution_thz = 0.0;
  double nyquist_thz = 0.0;
  double correlation_time_fs = 0.0;
  std::vector<std::string> warnings;  // e.g. weight near the Nyquist frequency
};

class VelocityAutocorrelation {
 public:
  // InputError if the trajectory has no velocities, the atom count changes, there are fewer than 2 frames or the
  // frames are not evenly spaced in time.
  explicit VelocityAutocorrelation(const Trajectory& trajectory);

  std::size_t frames() const { return frames_; }
  double frame_interval_fs() const { return frame_interval_fs_; }
  const SpeciesTable& species() const { return species_; }

  VacfCurve of_species(const std::string& species) const;  // InputError for a species not in the trajectory
  VacfCurve of_all_atoms() const;
  // InputError if the correlation time exceeds the trajectory or all velocities are zero.
  VibrationalDos density_of_states(const VdosOptions& options = {}) const;

 private:
  SpeciesTable species_;
  std::vector<double> masses_;
  std::size_t frames_ = 0;
  double frame_interval_fs_ = 0.0;
  std::vector<std::vector<double>> velocities_;  // [atom][3 * frame + axis], A/fs

  // sum_{i in atoms} weight_i sum_k v_i(k) . v_i(k+m) / (T - m), m = 0 .. T-1.
  std::vector<double> correlation(const std::vector<std::size_t>& atoms, bool mass_weighted) const;
  VacfCurve make_curve(const std::string& name, const std::vector<std::size_t>& atoms) const;
};

}  // namespace nqmd::analysis
