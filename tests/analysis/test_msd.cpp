#include <algorithm>
#include <chrono>
#include <cmath>
#include <ostream>
#include <random>
#include <string>
#include <vector>

#include <catch2/catch.hpp>

#include "analysis/msd.hpp"
#include "analysis_test_support.hpp"
#include "engine/error.hpp"
#include "engine/units.hpp"

using namespace nqmd;
using namespace nqmd::analysis;
using nqmd::test::random_walks;

namespace {

// Direct O(T^2) time-origin average of |r(k+m) - r(k)|^2 for the sum of the given atoms' positions (collective)
// or averaged over them (tracer).
std::vector<double> direct_msd(const std::vector<std::vector<Vec3>>& positions, const std::vector<std::size_t>& atoms,
                               bool collective) {
  const std::size_t frames = positions.size();
  std::vector<double> msd(frames, 0.0);
  for (std::size_t m = 0; m < frames; ++m) {
    double sum = 0.0;
    for (std::size_t k = 0; k + m < frames; ++k) {
      if (collective) {
        Vec3 displacement = Vec3::Zero();
        for (std::size_t i : atoms) displacement += positions[k + m][i] - positions[k][i];
        sum += displacement.squaredNorm();
      } else {
        for (std::size_t i : atoms) sum += (positions[k + m][i] - positions[k][i]).squaredNorm();
      }
    }
    msd[m] = sum / static_cast<double>(frames - m) / static_cast<double>(atoms.size());
  }
  return msd;
}

double fraction_covered(const std::vector<double>& values, const std::vector<double>& errors, double truth) {
  std::size_t covered = 0;
  for (std::size_t k = 0; k < values.size(); ++k)
    if (std::abs(values[k] - truth) <= errors[k]) ++covered;
  return static_cast<double>(covered) / static_cast<double>(values.size());
}

// Three binomial standard deviations of the fraction of `trials` events of probability `probability`: a
// calibrated estimator's fraction stays this close to `probability` for all but 0.3% of the sets of seeds.
double three_sigma_of_fraction(double probability, std::size_t trials) {
  return 3.0 * std::sqrt(probability * (1.0 - probability) / static_cast<double>(trials));
}

// How often the error bars of one error method cover the truth, over many synthetic Arrhenius studies.
struct ArrheniusCalibration {
  std::size_t points = 0;
  std::size_t points_covered = 0;  // |D - D_true| <= error
  std::size_t studies = 0;
  std::size_t ea_covered = 0;
  std::size_t chi_squared_above_95 = 0;  // above the 95% quantile of chi^2(degrees of freedom)
  std::size_t p_value_below_5_percent = 0;
  double chi_squared_sum = 0.0;
  double p_value_sum = 0.0;

  double point_coverage() const { return static_cast<double>(points_covered) / static_cast<double>(points); }
  double ea_coverage() const { return static_cast<double>(ea_covered) / static_cast<double>(studies); }
  double mean_chi_squared() const { return chi_squared_sum / static_cast<double>(studies); }
  double fraction_chi_squared_above_95() const {
    return static_cast<double>(chi_squared_above_95) / static_cast<double>(studies);
  }
  double fraction_p_below_5_percent() const {
    return static_cast<double>(p_value_below_5_percent) / static_cast<double>(studies);
  }
  double mean_p_value() const { return p_value_sum / static_cast<double>(studies); }
};

std::ostream& operator<<(std::ostream& out, const ArrheniusCalibration& calibration) {
  return out << calibration.points << " points, D covered " << calibration.point_coverage() << "; "
             << calibration.studies << " studies, Ea covered " << calibration.ea_coverage() << ", mean chi^2 "
             << calibration.mean_chi_squared() << ", chi^2 above its 95% quantile "
             << calibration.fraction_chi_squared_above_95() << ", p < 0.05 "
             << calibration.fraction_p_below_5_percent() << ", mean p " << calibration.mean_p_value();
}

}  // namespace

TEST_CASE("MSD by FFT equals the direct O(T^2) average over time origins", "[analysis]") {
  // Far from the origin (|r| ~ 1000 A) to exercise the cancellation in S1 - 2 S2.
  std::vector<std::vector<Vec3>> positions = random_walks(5, 400, 0.01, 2.0, 21);
  for (auto& frame : positions)
    for (Vec3& x : frame) x += Vec3(1000.0, -700.0, 500.0);
  const std::vector<std::string> symbols{"Li", "Li", "O", "Li", "O"};
  const MeanSquaredDisplacement msd(symbols, {}, positions, 2.0);
  for (bool collective : {false, true}) {
    const MsdCurve curve = collective ? msd.collective("Li") : msd.tracer("Li");
    const std::vector<double> reference = direct_msd(positions, {0, 1, 3}, collective);
    const double largest = *std::max_element(reference.begin(), reference.end());
    double worst = 0.0;
    for (std::size_t m = 0; m < reference.size(); ++m) worst = std::max(worst, std::abs(curve.msd[m] - reference[m]));
    INFO((collective ? "collective" : "tracer")
         << ": max |FFT - direct| = " << worst << " A^2, max MSD " << largest << " A^2");
    CHECK(worst <= 1e-10 * largest);
    CHECK(curve.time_fs[10] == Approx(20.0));
  }
}

TEST_CASE("MSD of a trajectory: wrapped positions with image counters or with the jump rule", "[analysis]") {
  Mat3 lattice;
  lattice << 6.0, 0.0, 0.0, 1.5, 5.5, 0.0, -0.8, 0.6, 6.5;
  const Cell cell(lattice, {true, true, true});
  const std::vector<std::vector<Vec3>> unwrapped = random_walks(4, 300, 0.02, 5.0, 33);  // steps ~0.45 A
  Trajectory with_images = nqmd::test::make_trajectory({"Na", "Na", "Cl", "Cl"}, {22.99, 22.99, 35.45, 35.45});
  Trajectory without_images = with_images;
  for (std::size_t k = 0; k < unwrapped.size(); ++k) {
    TrajectoryFrame frame = nqmd::test::make_frame(cell, unwrapped[k], 5.0 * k);
    for (Vec3& x : frame.positions) frame.images.push_back(cell.wrap(x));
    with_images.frames.push_back(frame);
    frame.images.clear();
    without_images.frames.push_back(frame);
  }
  const std::vector<double> reference = direct_msd(unwrapped, {0, 1}, false);
  for (const Trajectory* trajectory : {&with_images, &without_images}) {
    const MeanSquaredDisplacement msd(*trajectory);
    CHECK(msd.frame_interval_fs() == Approx(5.0));
    const MsdCurve curve = msd.tracer("Na");
    for (std::size_t m = 0; m < reference.size(); m += 37) CHECK(curve.msd[m] == Approx(reference[m]).epsilon(1e-9));
  }
}

TEST_CASE("tracer D of random walks: the value, its error bar and the error bar's coverage", "[analysis]") {
  const double d_true = 0.5;                          // A^2/ps
  const double d_per_fs = d_true / units::fs_per_ps;  // A^2/fs
  const double dt = 10.0;

  SECTION("one long run: D within its error bar, both units") {
    const std::vector<std::vector<Vec3>> positions = random_walks(50, 2000, d_per_fs, dt, 1);
    const MeanSquaredDisplacement msd(std::vector<std::string>(50, "Li"), {}, positions, dt);
    const DiffusionResult result = msd.tracer_diffusion("Li");
    INFO("D = " << result.d_a2_per_ps.value << " +- " << result.d_a2_per_ps.error << " A^2/ps, window "
                << result.fit_start_fs << " - " << result.fit_end_fs << " fs, log-log slope " << result.log_log_slope);
    CHECK(std::abs(result.d_a2_per_ps.value - d_true) < 2.0 * result.d_a2_per_ps.error);
    CHECK(result.d_a2_per_ps.error < 0.2 * d_true);
    CHECK(result.d_cm2_per_s.value == Approx(1e-4 * result.d_a2_per_ps.value));
    CHECK(result.d_cm2_per_s.error == Approx(1e-4 * result.d_a2_per_ps.error));
    CHECK(result.fit_start_fs == Approx(0.1 * 1999 * dt).margin(dt));
    CHECK(result.fit_end_fs == Approx(0.5 * 1999 * dt).margin(dt));
    CHECK(result.samples_a2_per_ps.size() == 50);
    CHECK(result.log_log_slope == Approx(1.0).margin(0.15));
    CHECK(result.warnings.empty());
    // A user window in absolute time gives the same D to within the error.
    DiffusionFitOptions window;
    window.fit_start_fs = 1000.0;
    window.fit_end_fs = 5000.0;
    const DiffusionResult windowed = msd.tracer_diffusion("Li", window);
    CHECK(windowed.fit_start_fs == 1000.0);
    CHECK(windowed.fit_end_fs == 5000.0);
    CHECK(std::abs(windowed.d_a2_per_ps.value - d_true) < 3.0 * windowed.d_a2_per_ps.error);
  }

  SECTION("coverage of the one-sigma error bar over 200 seeds, per-atom and time-block errors") {
    std::vector<double> atoms_values, atoms_errors, block_values, block_errors;
    const std::size_t seeds = 200;
    for (unsigned seed = 0; seed < seeds; ++seed) {
      const std::vector<std::vector<Vec3>> positions = random_walks(16, 600, d_per_fs, dt, 1000 + seed);
      const MeanSquaredDisplacement msd(std::vector<std::string>(16, "Li"), {}, positions, dt);
      const DiffusionResult by_atoms = msd.tracer_diffusion("Li");
      atoms_values.push_back(by_atoms.d_a2_per_ps.value);
      atoms_errors.push_back(by_atoms.d_a2_per_ps.error);
      DiffusionFitOptions blocks;
      blocks.error_method = DiffusionErrorMethod::time_blocks;
      blocks.blocks = 5;
      const DiffusionResult by_blocks = msd.tracer_diffusion("Li", blocks);
      block_values.push_back(by_blocks.d_a2_per_ps.value);
      block_errors.push_back(by_blocks.d_a2_per_ps.error);
    }
    const double atoms_coverage = fraction_covered(atoms_values, atoms_errors, d_true);
    const double block_coverage = fraction_covered(block_values, block_errors, d_true);
    INFO("coverage: per-atom errors " << atoms_coverage << ", time-block errors " << block_coverage);
    CHECK(atoms_coverage >= 0.55);
    CHECK(atoms_coverage <= 0.80);
    CHECK(block_coverage >= 0.55);
    CHECK(block_coverage <= 0.80);
  }
}

TEST_CASE("collective D and Haven ratio of independent walkers", "[analysis]") {
  const double d_true = 0.3;  // A^2/ps
  const double dt = 20.0;
  const double d_per_fs = d_true / units::fs_per_ps;
  DiffusionFitOptions options;
  options.blocks = 10;

  SECTION("one run: H_R = 1 within its error") {
    const std::vector<std::vector<Vec3>> positions = random_walks(20, 5000, d_per_fs, dt, 77);
    const MeanSquaredDisplacement msd(std::vector<std::string>(20, "Li"), {}, positions, dt);
    const HavenRatioResult haven = msd.haven_ratio("Li", options);
    INFO("D* = " << haven.tracer.d_a2_per_ps.value << " +- " << haven.tracer.d_a2_per_ps.error
                 << ", D_sigma = " << haven.collective.d_a2_per_ps.value << " +- " << haven.collective.d_a2_per_ps.error
                 << " A^2/ps, H_R = " << haven.haven_ratio.value << " +- " << haven.haven_ratio.error);
    CHECK(std::abs(haven.haven_ratio.value - 1.0) < 2.0 * haven.haven_ratio.error);
    CHECK(haven.haven_ratio.error < 0.5);
    CHECK(haven.collective.collective);
    CHECK(haven.collective.error_method == DiffusionErrorMethod::time_blocks);
    CHECK(haven.collective.samples_a2_per_ps.size() == 10);
  }

  SECTION("coverage of the collective D and Haven ratio error bars over 200 seeds") {
    std::vector<double> d_values, d_errors, h_values, h_errors;
    for (unsigned seed = 0; seed < 200; ++seed) {
      const std::vector<std::vector<Vec3>> positions = random_walks(8, 2000, d_per_fs, dt, 5000 + seed);
      const MeanSquaredDisplacement msd(std::vector<std::string>(8, "Li"), {}, positions, dt);
      const HavenRatioResult haven = msd.haven_ratio("Li", options);
      d_values.push_back(haven.collective.d_a2_per_ps.value);
      d_errors.push_back(haven.collective.d_a2_per_ps.error);
      h_values.push_back(haven.haven_ratio.value);
      h_errors.push_back(haven.haven_ratio.error);
    }
    const double d_coverage = fraction_covered(d_values, d_errors, d_true);
    const double h_coverage = fraction_covered(h_values, h_errors, 1.0);
    INFO("coverage: collective D " << d_coverage << ", Haven ratio " << h_coverage);
    CHECK(d_coverage >= 0.55);
    CHECK(d_coverage <= 0.80);
    CHECK(h_coverage >= 0.55);
    CHECK(h_coverage <= 0.85);
  }
}

TEST_CASE("MSD drift removal takes out a uniform flow", "[analysis]") {
  const double dt = 10.0;
  std::vector<std::vector<Vec3>> positions = random_walks(30, 1000, 1e-3, dt, 8);
  const Vec3 flow(0.01, -0.005, 0.002);  // A/fs, the same for every atom
  for (std::size_t k = 0; k < positions.size(); ++k)
    for (Vec3& x : positions[k]) x += flow * (k * dt);
  const std::vector<std::string> symbols(30, "O");
  const std::vector<double> masses(30, 16.0);
  const MeanSquaredDisplacement drifting(symbols, masses, positions, dt);
  MsdOptions remove;
  remove.remove_drift = true;
  const MeanSquaredDisplacement corrected(symbols, masses, positions, dt, remove);
  const DiffusionResult with_flow = drifting.tracer_diffusion("O");
  const DiffusionResult without_flow = corrected.tracer_diffusion("O");
  INFO("D with flow " << with_flow.d_a2_per_ps.value << ", drift removed " << without_flow.d_a2_per_ps.value << " +- "
                      << without_flow.d_a2_per_ps.error);
  CHECK(with_flow.log_log_slope > 1.5);  // ballistic: flagged
  CHECK_FALSE(with_flow.warnings.empty());
  // Removing the centre of mass of 30 walkers also removes 1/30 of their own motion: D (1 - 1/N).
  CHECK(std::abs(without_flow.d_a2_per_ps.value - 1.0 * (1.0 - 1.0 / 30)) < 3.0 * without_flow.d_a2_per_ps.error);
}

TEST_CASE("Arrhenius fit recovers Ea and extrapolates with calibrated errors", "[analysis]") {
  const double ea = 0.35;  // eV
  const double d0 = 50.0;  // A^2/ps
  const double relative_noise = 0.05;
  const std::vector<double> temperatures{600, 750, 900, 1050, 1200};
  auto exact_d = [&](double t) { return d0 * std::exp(-ea / (units::boltzmann_ev_per_k * t)); };

  SECTION("noise-free points give Ea and D0 exactly") {
    std::vector<ArrheniusPoint> points;
    for (double t : temperatures) points.push_back({t, exact_d(t), relative_noise * exact_d(t)});
    const ArrheniusFit fit = fit_arrhenius(points);
    CHECK(fit.activation_energy_ev.value == Approx(ea).epsilon(1e-12));
    CHECK(fit.prefactor == Approx(d0).epsilon(1e-10));
    CHECK(fit.chi_squared == Approx(0.0).margin(1e-18));
    CHECK(fit.degrees_of_freedom == 3);
    CHECK(fit.extrapolate(300.0).value == Approx(exact_d(300.0)).epsilon(1e-10));
  }
  SECTION("noisy points: Ea within its error, 68% coverage of Ea and of D(300 K), p < 0.05 in 5%, over 1000 seeds") {
    std::size_t ea_covered = 0, d_covered = 0, p_below_5_percent = 0;
    const std::size_t seeds = 1000;
    ArrheniusFit first_fit;
    for (unsigned seed = 0; seed < seeds; ++seed) {
      std::mt19937_64 generator(seed);
      std::normal_distribution<double> noise(0.0, relative_noise);
      std::vector<ArrheniusPoint> points;
      for (double t : temperatures) {
        const double d = exact_d(t) * std::exp(noise(generator));
        points.push_back({t, d, relative_noise * d});
      }
      const ArrheniusFit fit = fit_arrhenius(points);
      if (seed == 0) first_fit = fit;
      if (std::abs(fit.activation_energy_ev.value - ea) <= fit.activation_energy_ev.error) ++ea_covered;
      const Estimate d300 = fit.extrapolate(300.0);
      if (std::abs(std::log(d300.value / exact_d(300.0))) <= d300.error / d300.value) ++d_covered;
      if (fit.chi_squared_p_value < 0.05) ++p_below_5_percent;
    }
    INFO("seed 0: Ea = " << first_fit.activation_energy_ev.value << " +- " << first_fit.activation_energy_ev.error
                         << " eV; coverage Ea " << double(ea_covered) / seeds << ", D(300 K) "
                         << double(d_covered) / seeds << ", p < 0.05 " << double(p_below_5_percent) / seeds);
    CHECK(std::abs(first_fit.activation_energy_ev.value - ea) < 2.0 * first_fit.activation_energy_ev.error);
    CHECK(double(ea_covered) / seeds == Approx(0.683).margin(0.05));
    CHECK(double(d_covered) / seeds == Approx(0.683).margin(0.05));
    CHECK(std::abs(double(p_below_5_percent) / seeds - 0.05) <= three_sigma_of_fraction(0.05, seeds));
  }
  SECTION("bad input") {
    CHECK_THROWS_WITH(fit_arrhenius({{600, 1.0, 0.1}}), Catch::Contains("at least 2 temperatures"));
    CHECK_THROWS_WITH(fit_arrhenius({{600, 1.0, 0.1}, {600, 1.1, 0.1}}), Catch::Contains("same temperature"));
    CHECK_THROWS_WITH(fit_arrhenius({{600, 1.0, 0.1}, {700, -1.0, 0.1}}), Catch::Contains("D > 0"));
    CHECK_THROWS_WITH(fit_arrhenius({{600, 1.0, 0.1, 0.0}, {700, 1.1, 0.1}}),
                      Catch::Contains("degrees of freedom > 0"));
  }
}

TEST_CASE("Arrhenius study of random walks end to end: the D, Ea and chi^2 error bars are calibrated", "[analysis][long]") {
  // 400 independent synthetic studies, each: 4 temperatures with D = D0 exp(-Ea / kT), Ea = 0.25 eV (D grows 7.9
  // times from 600 to 1050 K), 32 independent 3D Gaussian walkers per temperature, their MSD, the tracer D with its
  // error bar (per atom, the default, and from 5 time blocks) and the Arrhenius fit, as [arrhenius] does it. The
  // lower temperatures have shorter runs, so that (as with the fewer hops of a real low-temperature run) their
  // points are less precise and the fit weights differ.
  const double ea = 0.25;  // eV
  const std::vector<double> temperatures{600.0, 750.0, 900.0, 1050.0};
  const std::vector<std::size_t> frames{240, 280, 320, 360};
  const double d_highest = 0.5;  // A^2/ps at 1050 K
  const double d0 = d_highest * std::exp(ea / (units::boltzmann_ev_per_k * temperatures.back()));
  const double dt = 10.0;
  const std::size_t walkers = 32;
  const std::size_t studies = 400;
  // chi^2 with 2 degrees of freedom is exponential with mean 2: its 95% quantile is -2 ln 0.05 = 5.99.
  const double chi_squared_95 = -2.0 * std::log(0.05);

  DiffusionFitOptions by_blocks;
  by_blocks.error_method = DiffusionErrorMethod::time_blocks;
  by_blocks.blocks = 5;
  const std::vector<DiffusionFitOptions> methods{DiffusionFitOptions{}, by_blocks};
  std::vector<ArrheniusCalibration> calibrations(methods.size());
  const auto start = std::chrono::steady_clock::now();
  for (std::size_t study = 0; study < studies; ++study) {
    std::vector<std::vector<ArrheniusPoint>> points(methods.size());
    for (std::size_t k = 0; k < temperatures.size(); ++k) {
      const double d_true = d0 * std::exp(-ea / (units::boltzmann_ev_per_k * temperatures[k]));
      const unsigned seed = static_cast<unsigned>(300000 + temperatures.size() * study + k);
      const MeanSquaredDisplacement msd(std::vector<std::string>(walkers, "Li"), {},
                                        random_walks(walkers, frames[k], d_true / units::fs_per_ps, dt, seed), dt);
      for (std::size_t m = 0; m < methods.size(); ++m) {
        const DiffusionResult result = msd.tracer_diffusion("Li", methods[m]);
        ++calibrations[m].points;
        if (std::abs(result.d_a2_per_ps.value - d_true) <= result.d_a2_per_ps.error) ++calibrations[m].points_covered;
        points[m].push_back(arrhenius_point(temperatures[k], result));
      }
    }
    for (std::size_t m = 0; m < methods.size(); ++m) {
      const ArrheniusFit fit = fit_arrhenius(points[m]);
      ArrheniusCalibration& calibration = calibrations[m];
      ++calibration.studies;
      if (std::abs(fit.activation_energy_ev.value - ea) <= fit.activation_energy_ev.error) ++calibration.ea_covered;
      calibration.chi_squared_sum += fit.chi_squared;
      if (fit.chi_squared > chi_squared_95) ++calibration.chi_squared_above_95;
      calibration.p_value_sum += fit.chi_squared_p_value;
      if (fit.chi_squared_p_value < 0.05) ++calibration.p_value_below_5_percent;
    }
  }
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();

  for (std::size_t m = 0; m < methods.size(); ++m) {
    const ArrheniusCalibration& calibration = calibrations[m];
    INFO("error method " << error_method_name(methods[m].error_method) << ": " << calibration << " (" << seconds
                         << " s for both methods)");
    CHECK(std::abs(calibration.point_coverage() - kOneSigmaCoverage) <=
          three_sigma_of_fraction(kOneSigmaCoverage, calibration.points));
    CHECK(std::abs(calibration.ea_coverage() - kOneSigmaCoverage) <=
          three_sigma_of_fraction(kOneSigmaCoverage, calibration.studies));
    // chi^2 itself follows chi^2(2) only for exact errors. Per-atom errors have 31 degrees of freedom and come
    // close (over 3000 such studies: mean 2.13, above the 95% quantile of chi^2(2) in 6.1%); errors from 5 blocks
    // have 4 (mean 2.7, 11% above). What must hold whatever the errors' degrees of freedom is that the p-values
    // are uniform: 5% below 0.05, mean 1/2 (a uniform value's standard deviation is 1 / sqrt 12).
    CHECK(std::abs(calibration.fraction_p_below_5_percent() - 0.05) <= three_sigma_of_fraction(0.05, studies));
    CHECK(std::abs(calibration.mean_p_value() - 0.5) <= 3.0 / std::sqrt(12.0 * static_cast<double>(studies)));
  }
}

TEST_CASE("MSD input errors", "[analysis]") {
  const std::vector<std::vector<Vec3>> positions = random_walks(4, 100, 1e-3, 10.0, 3);
  const MeanSquaredDisplacement msd({"Li", "Li", "O", "O"}, {}, positions, 10.0);
  DiffusionFitOptions long_window;
  long_window.fit_start_fs = 100.0;
  long_window.fit_end_fs = 2000.0;
  CHECK_THROWS_WITH(msd.tracer_diffusion("Li", long_window),
                    Catch::Contains("not enough frames for the requested MSD fit window [100, 2000] fs") &&
                        Catch::Contains("the trajectory spans only 990 fs"));
  long_window.fit_end_fs = 500.0;
  long_window.error_method = DiffusionErrorMethod::time_blocks;
  CHECK_THROWS_WITH(msd.tracer_diffusion("Li", long_window),
                    Catch::Contains("each of the 5 time blocks spans only 190 fs"));
  CHECK_THROWS_WITH(msd.tracer("Na"), Catch::Contains("species 'Na' is not in the trajectory (it has Li, O)"));
  CHECK_THROWS_WITH(msd.tracer_diffusion("Na"), Catch::Contains("species 'Na' is not in the trajectory"));

  const MeanSquaredDisplacement short_run({"Li"}, {}, random_walks(1, 4, 1e-3, 10.0, 3), 10.0);
  DiffusionFitOptions blocks;
  blocks.error_method = DiffusionErrorMethod::time_blocks;
  CHECK_THROWS_WITH(short_run.tracer_diffusion("Li", blocks), Catch::Contains("not enough frames"));
  CHECK_THROWS_WITH(short_run.tracer_diffusion("Li"), Catch::Contains("needs at least 2 atoms"));

  std::vector<std::vector<Vec3>> changing = positions;
  changing[7].pop_back();
  CHECK_THROWS_WITH(MeanSquaredDisplacement({"Li", "Li", "O", "O"}, {}, changing, 10.0),
                    Catch::Contains("frame 7 has 3 atoms but the trajectory has 4"));

  Trajectory uneven = nqmd::test::make_trajectory({"Li"}, {6.94});
  for (double t : {0.0, 10.0, 25.0})
    uneven.frames.push_back(nqmd::test::make_frame(nqmd::test::orthorhombic_cell(5, 5, 5), {Vec3(1, 1, 1)}, t));
  CHECK_THROWS_WITH(MeanSquaredDisplacement(uneven), Catch::Contains("evenly spaced"));
  Trajectory changing_trajectory = uneven;
  changing_trajectory.frames[1].positions.push_back(Vec3::Zero());
  CHECK_THROWS_WITH(MeanSquaredDisplacement(changing_trajectory),
                    Catch::Contains("frame 1 has 2 atoms but the trajectory has 1"));
}
