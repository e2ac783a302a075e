#include <algorithm>
#include <cmath>
#include <random>
#include <string>
#include <vector>

#include <catch2/catch.hpp>

#include "analysis/vacf.hpp"
#include "analysis_test_support.hpp"
#include "engine/error.hpp"
#include "engine/units.hpp"

using namespace nqmd;
using namespace nqmd::analysis;
using nqmd::test::make_frame;

namespace {

constexpr double kPi = 3.14159265358979323846;

double trapezoid(const std::vector<double>& x, const std::vector<double>& y) {
  double sum = 0.0;
  for (std::size_t k = 1; k < x.size(); ++k) sum += 0.5 * (y[k] + y[k - 1]) * (x[k] - x[k - 1]);
  return sum;
}

double peak_frequency(const VibrationalDos& dos, const std::vector<double>& spectrum) {
  return dos
      .frequency_thz[static_cast<std::size_t>(std::max_element(spectrum.begin(), spectrum.end()) - spectrum.begin())];
}

// One atom on a 1D harmonic oscillator: x = A cos(w t), v = -A w sin(w t), in a large periodic box.
Trajectory harmonic_oscillator(double frequency_thz, double dt_fs, std::size_t frames) {
  const double omega = 2.0 * kPi * frequency_thz / 1000.0;  // rad/fs
  const double amplitude = 0.1;
  Trajectory trajectory = nqmd::test::make_trajectory({"H"}, {1.008});
  for (std::size_t k = 0; k < frames; ++k) {
    const double t = dt_fs * k;
    trajectory.frames.push_back(make_frame(nqmd::test::orthorhombic_cell(20, 20, 20),
                                           {Vec3(10.0 + amplitude * std::cos(omega * t), 10.0, 10.0)}, t,
                                           {Vec3(-amplitude * omega * std::sin(omega * t), 0.0, 0.0)}));
  }
  return trajectory;
}

// Random velocities correlated in time (an Ornstein-Uhlenbeck process sampled every dt).
Trajectory random_velocities(const std::vector<std::string>& symbols, const std::vector<double>& masses,
                             std::size_t frames, unsigned seed) {
  std::mt19937_64 generator(seed);
  std::normal_distribution<double> normal(0.0, 0.01);
  Trajectory trajectory = nqmd::test::make_trajectory(symbols, masses);
  std::vector<Vec3> v(symbols.size(), Vec3::Zero());
  for (std::size_t k = 0; k < frames; ++k) {
    for (Vec3& vi : v) vi = 0.9 * vi + Vec3(normal(generator), normal(generator), normal(generator));
    trajectory.frames.push_back(make_frame(Cell(), std::vector<Vec3>(symbols.size(), Vec3::Zero()), 2.0 * k, v));
  }
  return trajectory;
}

}  // namespace

TEST_CASE("VACF by FFT equals the direct average over time origins", "[analysis]") {
  const Trajectory trajectory = random_velocities({"O", "H", "H", "O", "H"}, {16.0, 1.0, 1.0, 16.0, 1.0}, 500, 4);
  const VelocityAutocorrelation vacf(trajectory);
  for (const std::string& species : {std::string("H"), std::string("")}) {
    const VacfCurve curve = species.empty() ? vacf.of_all_atoms() : vacf.of_species(species);
    std::vector<std::size_t> atoms;
    for (std::size_t i = 0; i < trajectory.atoms(); ++i)
      if (species.empty() || trajectory.symbols[i] == species) atoms.push_back(i);
    double worst = 0.0;
    const std::size_t frames = trajectory.frames.size();
    for (std::size_t m = 0; m < frames; ++m) {
      double sum = 0.0;
      for (std::size_t k = 0; k + m < frames; ++k)
        for (std::size_t i : atoms)
          sum += trajectory.frames[k].velocities[i].dot(trajectory.frames[k + m].velocities[i]);
      const double direct = sum / (frames - m) / atoms.size();
      worst = std::max(worst, std::abs(curve.raw[m] - direct));
    }
    INFO("species '" << species << "': max |FFT - direct| = " << worst << " A^2/fs^2, C(0) = " << curve.raw[0]);
    CHECK(worst <= 1e-10 * curve.raw[0]);
    CHECK(curve.normalized[0] == 1.0);
    CHECK(curve.time_fs[3] == Approx(6.0));
    CHECK(curve.atoms == atoms.size());
  }
}

TEST_CASE("VDOS of a harmonic oscillator peaks at its frequency", "[analysis]") {
  const double frequency = 10.0;  // THz
  const VelocityAutocorrelation vacf(harmonic_oscillator(frequency, 1.0, 4000));
  for (SpectralWindow window : {SpectralWindow::hann, SpectralWindow::none}) {
    VdosOptions options;
    options.window = window;
    const VibrationalDos dos = vacf.density_of_states(options);
    const double peak = peak_frequency(dos, dos.total);
    INFO("peak at " << peak << " THz, resolution " << dos.resolution_thz << " THz, Nyquist " << dos.nyquist_thz);
    CHECK(std::abs(peak - frequency) <= dos.resolution_thz);
    CHECK(dos.resolution_thz == Approx(0.25));
    CHECK(dos.nyquist_thz == Approx(500.0));
    CHECK(dos.wavenumber_cm1[40] == Approx(10.0 * 33.35641).epsilon(1e-6));
    CHECK(trapezoid(dos.frequency_thz, dos.total) == Approx(3.0).epsilon(1e-6));
    CHECK(dos.warnings.empty());
  }
  // The normalised VACF of v ~ sin(w t) is cos(w t) up to terms of order 1 / (w T) ~ 0.004 from the finite
  // number of time origins: 0 at a quarter period, -1 at half a period.
  const VacfCurve curve = vacf.of_species("H");
  CHECK(curve.normalized[25] == Approx(0.0).margin(0.01));
  CHECK(curve.normalized[50] == Approx(-1.0).margin(0.01));
}

TEST_CASE("VDOS of a diatomic on a spring peaks at sqrt(k / mu)", "[analysis]") {
  // H-Cl with a spring constant of 30 eV/A^2: omega^2 = k / mu (eV / (A^2 amu) -> 1/fs^2).
  const double m_h = 1.008, m_cl = 35.45, spring = 30.0;
  const double mu = m_h * m_cl / (m_h + m_cl);
  const double omega = std::sqrt(spring / mu * units::ev_per_a_amu_to_a_per_fs2);  // rad/fs
  const double frequency = omega / (2.0 * kPi) * 1000.0;                           // THz
  const Vec3 axis = Vec3(1.0, 2.0, -0.5).normalized();
  const Vec3 centre(5.0, 5.0, 5.0);
  const double bond = 1.27, amplitude = 0.05, dt = 0.5;
  Trajectory trajectory = nqmd::test::make_trajectory({"H", "Cl"}, {m_h, m_cl});
  for (std::size_t k = 0; k < 6000; ++k) {
    const double t = dt * k;
    const double u = bond + amplitude * std::cos(omega * t);
    const double u_dot = -amplitude * omega * std::sin(omega * t);
    // Centre of mass at rest: r_H = R - (m_Cl / M) u e, r_Cl = R + (m_H / M) u e.
    const double total = m_h + m_cl;
    trajectory.frames.push_back(make_frame(Cell(), {centre - m_cl / total * u * axis, centre + m_h / total * u * axis},
                                           t, {-m_cl / total * u_dot * axis, m_h / total * u_dot * axis}));
  }
  const VelocityAutocorrelation vacf(trajectory);
  const VibrationalDos dos = vacf.density_of_states();
  INFO("analytic " << frequency << " THz (" << frequency * kWavenumbersPerTHz << " cm^-1); peak "
                   << peak_frequency(dos, dos.total) << " THz, resolution " << dos.resolution_thz << " THz");
  CHECK(std::abs(peak_frequency(dos, dos.total) - frequency) <= dos.resolution_thz);
  CHECK(std::abs(peak_frequency(dos, dos.partial[0]) - frequency) <= dos.resolution_thz);
  CHECK(std::abs(peak_frequency(dos, dos.partial[1]) - frequency) <= dos.resolution_thz);
  CHECK(trapezoid(dos.frequency_thz, dos.total) == Approx(6.0).epsilon(1e-6));
  // Both atoms carry the same kinetic energy weight in the mass-weighted VACF (momenta are opposite, m v^2 splits
  // as m_Cl : m_H between H and Cl), so the partials integrate to 6 m_Cl / M and 6 m_H / M.
  CHECK(trapezoid(dos.frequency_thz, dos.partial[0]) == Approx(6.0 * m_cl / (m_h + m_cl)).epsilon(1e-6));
}

TEST_CASE("VDOS integrates to 3N for any input, partials add up to the total", "[analysis]") {
  for (unsigned seed : {1u, 2u, 3u}) {
    const std::vector<std::string> symbols{"Si", "O", "O", "Si", "O", "O", "O"};
    const std::vector<double> masses{28.09, 16.0, 16.0, 28.09, 16.0, 16.0, 16.0};
    const VelocityAutocorrelation vacf(random_velocities(symbols, masses, 300 + 50 * seed, seed));
    for (SpectralWindow window : {SpectralWindow::hann, SpectralWindow::none}) {
      VdosOptions options;
      options.window = window;
      options.correlation_time_fs = seed == 3 ? 100.0 : 0.0;
      const VibrationalDos dos = vacf.density_of_states(options);
      const double integral = trapezoid(dos.frequency_thz, dos.total);
      INFO("seed " << seed << ": integral " << integral << " for 3N = 21");
      CHECK(integral == Approx(21.0).epsilon(1e-6));
      for (std::size_t k = 0; k < dos.total.size(); ++k)
        CHECK(dos.partial[0][k] + dos.partial[1][k] == Approx(dos.total[k]).margin(1e-12 * 21));
      if (seed == 3) CHECK(dos.correlation_time_fs == Approx(100.0));
    }
  }
}

TEST_CASE("VDOS warns about weight near the Nyquist frequency", "[analysis]") {
  // 950 THz sampled every 0.5 fs (Nyquist 1000 THz).
  const VelocityAutocorrelation vacf(harmonic_oscillator(950.0, 0.5, 2000));
  const VibrationalDos dos = vacf.density_of_states();
  REQUIRE(dos.warnings.size() == 1);
  CHECK_THAT(dos.warnings[0],
             Catch::Contains("Nyquist frequency (1000 THz") && Catch::Contains("store velocities more often"));
}

TEST_CASE("VACF input errors", "[analysis]") {
  Trajectory no_velocities = nqmd::test::make_trajectory({"Ar", "Ar"}, {39.95, 39.95});
  for (int k = 0; k < 5; ++k) no_velocities.frames.push_back(make_frame(Cell(), {Vec3(0, 0, 0), Vec3(3, 0, 0)}, k));
  CHECK_THROWS_WITH(VelocityAutocorrelation(no_velocities),
                    Catch::Contains("synthetic has no velocities") && Catch::Contains("vibrational density of states"));

  const VelocityAutocorrelation vacf(random_velocities({"Ar", "Ar"}, {39.95, 39.95}, 100, 9));
  VdosOptions too_long;
  too_long.correlation_time_fs = 1000.0;
  CHECK_THROWS_WITH(vacf.density_of_states(too_long),
                    Catch::Contains("not enough frames for the requested correlation time 1000 fs") &&
                        Catch::Contains("spans 198 fs"));
  CHECK_THROWS_WITH(vacf.of_species("Kr"), Catch::Contains("species 'Kr' is not in the trajectory (it has Ar)"));

  Trajectory changing = random_velocities({"Ar", "Ar"}, {39.95, 39.95}, 10, 9);
  changing.frames[4].velocities.pop_back();
  CHECK_THROWS_WITH(VelocityAutocorrelation(changing), Catch::Contains("frame 4 has 1 velocities but 2 were expected"));
  changing.frames[4].positions.pop_back();
  CHECK_THROWS_WITH(VelocityAutocorrelation(changing), Catch::Contains("frame 4 has 1 atoms but the trajectory has 2"));

  Trajectory single = random_velocities({"Ar"}, {39.95}, 1, 9);
  CHECK_THROWS_WITH(VelocityAutocorrelation(single), Catch::Contains("not enough frames for the VACF"));
}
