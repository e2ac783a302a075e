// Integrators, statistical side: the thermostats sample the canonical ensemble (mean temperature, kinetic
// energy variance Ndof (kT)^2 / 2, potential energy of harmonic modes), conserve their extended energy, and the
// barostat holds the pressure. Every statistical bound is a multiple of a block-average standard error.
#include <cmath>
#include <cstdio>
#include <random>
#include <string>
#include <vector>

#include <catch2/catch.hpp>

#include "engine/error.hpp"
#include "engine/thermo.hpp"
#include "integrators/integrator_test_support.hpp"
#include "integrators/nvt_csvr.hpp"
#include "integrators/velocities.hpp"

namespace nqmd::test {
namespace {

// Time series of one thermostatted run.
struct Series {
  std::vector<double> kinetic;    // eV
  std::vector<double> potential;  // eV
  std::vector<double> conserved;  // potential + kinetic + extended energy (eV)
  std::vector<double> volume;     // A^3
  std::vector<double> pressure;   // eV/A^3
};

Series sample(Integrator& integrator, System& system, ForceProvider& provider, long equilibration, long steps) {
  ForceResult forces = provider.compute(system);
  integrator.setup(system, forces);
  run(integrator, system, provider, forces, equilibration);
  Series series;
  run(integrator, system, provider, forces, steps, [&](const System& s, const ForceResult& f) {
    const double kinetic = kinetic_energy(s);
    series.kinetic.push_back(kinetic);
    series.potential.push_back(f.energy);
    series.conserved.push_back(f.energy + kinetic + integrator.extended_energy());
    if (s.cell.fully_periodic()) {
      series.volume.push_back(s.cell.volume());
      series.pressure.push_back((2.0 * kinetic + f.virial.trace()) / (3.0 * s.cell.volume()));
    }
  });
  return series;
}

// Checks <K> = Ndof kT/2, and var K = Ndof (kT)^2/2 if check_variance, within `sigmas` block standard errors
// (plus a relative allowance `bias` for the O(dt^2) error of the discretised dynamics), and <U> = bound_modes
// kT/2 if bound_modes > 0 (the harmonic solid's potential energy).
void check_canonical(const char* label, const Series& series, double temperature, double ndof, double bound_modes,
                     bool check_variance, double sigmas, double bias) {
  const double kt = kt_of(temperature);
  const Estimate kinetic = block_average(series.kinetic);
  const Estimate variance = block_variance(series.kinetic);
  const double mean_temperature = 2.0 * kinetic.mean / (ndof * units::boltzmann_ev_per_k);
  const double temperature_error = 2.0 * kinetic.error / (ndof * units::boltzmann_ev_per_k);
  const double expected_variance = 0.5 * ndof * kt * kt;
  std::printf("%s: <T> = %.2f +- %.2f K (target %.1f), var K / (Ndof (kT)^2/2) = %.4f +- %.4f", label, mean_temperature,
              temperature_error, temperature, variance.mean / expected_variance, variance.error / expected_variance);
  CHECK(std::abs(mean_temperature - temperature) < sigmas * temperature_error + bias * temperature);
  if (check_variance)
    CHECK(std::abs(variance.mean - expected_variance) < sigmas * variance.error + bias * expected_variance);
  if (bound_modes > 0) {
    const Estimate potential = block_average(series.potential);
    const double expected = 0.5 * bound_modes * kt;
    std::printf(", <U> / (n kT/2) = %.4f +- %.4f", potential.mean / expected, potential.error / expected);
    CHECK(std::abs(potential.mean - expected) < sigmas * potential.error + bias * expected);
  }
  std::printf("\n");
}

// Difference of the conserved quantity's means over the last and first tenth of the run, relative to N kT.
double conserved_drift(const Series& series, double atoms, double temperature) {
  const std::size_t tenth = series.conserved.size() / 10;
  double first = 0.0, last = 0.0;
  for (std::size_t k = 0; k < tenth; ++k) {
    first += series.conserved[k] / tenth;
    last += series.conserved[series.conserved.size() - tenth + k] / tenth;
  }
  return std::abs(last - first) / (atoms * kt_of(temperature));
}

// The harmonic solid of the thermostat tests: 64 atoms (4 x 4 x 4), springs 0.5-1.5 eV/A^2, masses 20-60 amu:
// normal-mode periods from about 70 to 300 fs. Its normal modes never exchange energy, and a global
// thermostat (Nose-Hoover chain, CSVR) scales all of them by one factor, so it cannot make their energies
// independent: <K> and <U> come out canonical but var K does not (measured 1.94 (NHC) and 1.44 (CSVR) times
// Ndof (kT)^2/2; Langevin, which kicks every degree of freedom, gets 1.03 +- 0.03). The kinetic-energy
// variance of the global thermostats is therefore checked on the Lennard-Jones liquid, which is chaotic.
constexpr double kSolidTemperature = 300.0;
constexpr double kSolidAtoms = 64;

// The Lennard-Jones liquid of the thermostat tests: 108 argon atoms at 90 K, Ndof = 3N - 3 = 321.
constexpr double kLiquidAtoms = 108;

TEST_CASE("Nose-Hoover chain: canonical harmonic solid and a conserved extended energy", "[integrator][long]") {
  HarmonicLattice lattice(4, 3.0, 1.0, 21);
  System system = lattice.make_system(40.0, 22);
  maxwell_boltzmann_velocities(system, {kSolidTemperature, 23, true, true});
  // dt 2 fs (omega dt <= 0.19), tdamp 100 fs, chain of 3; 2 x 10^5 steps (400 ps) after 20 ps.
  auto integrator = make_integrator("kind = \"nvt_nose_hoover\"\ntimestep = 2.0\ntemperature = 300.0\ntdamp = 100.0");
  const Series series = sample(*integrator, system, lattice, 10000, 200000);
  // Total momentum stays zero, so Ndof = 3N - 3 = 189 = the number of bound modes. Bounds: 4 standard errors
  // plus 1% for the discretisation.
  check_canonical("Nose-Hoover solid", series, kSolidTemperature, 3 * kSolidAtoms - 3, 3 * kSolidAtoms - 3, false, 4.0,
                  0.01);
  const double drift = conserved_drift(series, kSolidAtoms, kSolidTemperature);
  std::printf("Nose-Hoover solid: conserved quantity drift %.3g N kT over 400 ps\n", drift);
  CHECK(drift < 1e-3);
  // Zero up to the round-off of the force sums (atoms carry about 0.1 amu A/fs each).
  CHECK(total_momentum(system).norm() < 1e-8);
}

TEST_CASE("Nose-Hoover chain: canonical kinetic energy of a Lennard-Jones liquid", "[integrator][long]") {
  // 90 K, dt 5 fs, tdamp 250 fs, 100 ps after the equilibration. Bounds: 4 block standard errors plus 1%.
  System system = argon_liquid();
  LennardJonesLiquid lj(kArgonEpsilon, kArgonSigma, kArgonCutoff);
  auto integrator = make_integrator("kind = \"nvt_nose_hoover\"\ntimestep = 5.0\ntemperature = 90.0\ntdamp = 250.0");
  const Series series = sample(*integrator, system, lj, 2000, 20000);
  check_canonical("Nose-Hoover liquid", series, kArgonLiquidTemperature, 3 * kLiquidAtoms - 3, 0, true, 4.0, 0.01);
  const double drift = conserved_drift(series, kLiquidAtoms, kArgonLiquidTemperature);
  std::printf("Nose-Hoover liquid: conserved quantity drift %.3g N kT over 100 ps\n", drift);
  CHECK(drift < 1e-3);
}

TEST_CASE("Nose-Hoover chain with 7 Suzuki-Yoshida stages and sub-steps conserves its extended energy better",
          "[integrator]") {
  // The chain update's own error shows in the conserved quantity at a large step (dt = tdamp / 10): 7 stages
  // with 4 sub-steps must reduce the drift over 200 ps at least fivefold, to below 2e-3 N kT.
  auto drift_with = [](const std::string& options) {
    HarmonicLattice lattice(4, 3.0, 1.0, 21);
    System system = lattice.make_system(40.0, 22);
    maxwell_boltzmann_velocities(system, {kSolidTemperature, 23, true, true});
    auto integrator =
        make_integrator("kind = \"nvt_nose_hoover\"\ntimestep = 4.0\ntemperature = 300.0\ntdamp = 40.0\n" + options);
    const Series series = sample(*integrator, system, lattice, 0, 50000);
    return conserved_drift(series, kSolidAtoms, kSolidTemperature);
  };
  const double plain = drift_with("");
  const double refined = drift_with("suzuki_yoshida = 7\nnresn = 4");
  std::printf("Nose-Hoover dt 4 fs, tdamp 40 fs: drift %.3g N kT (1 stage), %.3g N kT (7 stages, nresn 4)\n", plain,
              refined);
  CHECK(refined < 0.2 * plain);
  CHECK(refined < 2e-3);
}

TEST_CASE("BAOAB Langevin samples harmonic positions exactly at any time step", "[integrator]") {
  // 64 independent 3D oscillators (k 0.5-1.5 eV/A^2, m 20-60 amu) at a large step: omega dt up to 0.8. For
  // BAOAB on a harmonic oscillator <x^2> = kT/k exactly, and <v^2> = kT/m (1 - (omega dt)^2/4) (Leimkuhler &
  // Matthews 2013; the stationary covariance of the linear map). Both are checked per coordinate, averaged:
  // <x^2> k/kT = 1, <v^2> m / (kT (1 - (omega dt)^2/4)) = 1, kurtosis of x 3, each within 4 standard errors.
  constexpr double temperature = 200.0;
  constexpr double dt = 30.0;
  std::mt19937_64 random(31);
  std::uniform_real_distribution<double> spread(0.5, 1.5);
  System system;
  std::vector<Vec3> sites;
  std::vector<double> springs;
  for (int i = 0; i < 64; ++i) {
    sites.push_back(Vec3(5.0 * i, 0.0, 0.0));
    springs.push_back(spread(random));
    system.add_atom("Ar", sites.back(), 40.0 * spread(random));
  }
  TetheredOscillators oscillators(sites, springs);
  auto integrator = make_integrator("kind = \"nvt_langevin\"\ntimestep = 30.0\ntemperature = 200.0\nfriction = 0.01");
  ForceResult forces = oscillators.compute(system);
  integrator->setup(system, forces);
  run(*integrator, system, oscillators, forces, 2000);

  const double kt = kt_of(temperature);
  std::vector<double> position_ratio, velocity_ratio, fourth_moment, kinetic;
  double expected_kinetic = 0.0, expected_kinetic_variance = 0.0;
  std::vector<double> velocity_factor(system.size());
  for (std::size_t i = 0; i < system.size(); ++i) {
    const double omega_squared = springs[i] / system.masses[i] * units::ev_per_a_amu_to_a_per_fs2;
    velocity_factor[i] = 1.0 - omega_squared * dt * dt / 4.0;
    expected_kinetic += 1.5 * kt * velocity_factor[i];
    expected_kinetic_variance += 1.5 * std::pow(kt * velocity_factor[i], 2);
  }
  run(*integrator, system, oscillators, forces, 100000, [&](const System& s, const ForceResult&) {
    double x2 = 0.0, x4 = 0.0, v2 = 0.0;
    for (std::size_t i = 0; i < s.size(); ++i) {
      const Vec3 displacement = s.positions[i] - sites[i];
      for (int axis = 0; axis < 3; ++axis) {
        const double scaled = springs[i] * displacement[axis] * displacement[axis] / kt;
        x2 += scaled;
        x4 += scaled * scaled;
        v2 += s.masses[i] * std::pow(s.velocities[i][axis], 2) /
              (kt * units::ev_per_a_amu_to_a_per_fs2 * velocity_factor[i]);
      }
    }
    const double coordinates = 3.0 * s.size();
    position_ratio.push_back(x2 / coordinates);
    fourth_moment.push_back(x4 / coordinates);
    velocity_ratio.push_back(v2 / coordinates);
    kinetic.push_back(kinetic_energy(s));
  });
  const Estimate x2 = block_average(position_ratio);
  const Estimate x4 = block_average(fourth_moment);
  const Estimate v2 = block_average(velocity_ratio);
  const Estimate mean_kinetic = block_average(kinetic);
  const Estimate kinetic_variance = block_variance(kinetic);
  std::printf(
      "Langevin oscillators, omega dt <= 0.8: <x^2> k/kT = %.4f +- %.4f, <x^4> (k/kT)^2 = %.3f +- %.3f, "
      "<v^2>/expected = %.4f +- %.4f, var K/expected = %.4f +- %.4f\n",
      x2.mean, x2.error, x4.mean, x4.error, v2.mean, v2.error, kinetic_variance.mean / expected_kinetic_variance,
      kinetic_variance.error / expected_kinetic_variance);
  CHECK(std::abs(x2.mean - 1.0) < 4 * x2.error);
  CHECK(std::abs(x4.mean - 3.0) < 4 * x4.error);
  CHECK(std::abs(v2.mean - 1.0) < 4 * v2.error);
  CHECK(std::abs(mean_kinetic.mean - expected_kinetic) < 4 * mean_kinetic.error);
  CHECK(std::abs(kinetic_variance.mean - expected_kinetic_variance) < 4 * kinetic_variance.error);
}

TEST_CASE("Langevin: canonical harmonic solid, and the removed heat balances the energy", "[integrator][long]") {
  HarmonicLattice lattice(4, 3.0, 1.0, 21);
  System system = lattice.make_system(40.0, 22);
  maxwell_boltzmann_velocities(system, {kSolidTemperature, 24, true, true});
  auto integrator =
      make_integrator("kind = \"nvt_langevin\"\ntimestep = 1.0\ntemperature = 300.0\nfriction = 0.005\nseed = 5");
  const Series series = sample(*integrator, system, lattice, 10000, 200000);
  // The noise does not conserve momentum: Ndof = 3N = 192 (the free centre of mass is thermalised too), and
  // the 189 bound modes hold <U> = 189 kT/2. Bounds: 4 standard errors plus 1%.
  check_canonical("Langevin solid", series, kSolidTemperature, 3 * kSolidAtoms, 3 * kSolidAtoms - 3, true, 4.0, 0.01);
  // The heat the O step removed closes the energy balance to the integration error of dt = 1 fs.
  const double drift = conserved_drift(series, kSolidAtoms, kSolidTemperature);
  std::printf("Langevin: E + removed heat drift %.3g N kT over 200 ps\n", drift);
  CHECK(drift < 1e-3);
}

TEST_CASE("CSVR: the exact kinetic-energy resampling keeps the canonical gamma distribution", "[integrator]") {
  // Iterating K -> alpha^2 K alone (no dynamics) leaves the canonical distribution of K, Gamma(Ndof/2, kT),
  // invariant for any c = exp(-dt/tdamp): mean Ndof kT/2 and variance Ndof (kT)^2/2, here for Ndof = 9 (odd)
  // and 12 (even) from a far-off start. 2 x 10^5 draws at c = exp(-0.5); bounds 4 standard errors.
  for (int atoms : {4, 5}) {
    System system;
    for (int i = 0; i < atoms; ++i) system.add_atom("Ar", Vec3(i, 0, 0));
    CsvrThermostat thermostat({1.0, 500.0, 2.0, 77});
    thermostat.setup(system, ForceResult{});
    const double ndof = 3.0 * atoms - 3.0;
    const double kt = kt_of(500.0);
    double kinetic = 100.0 * kt;
    std::vector<double> samples;
    for (int k = 0; k < 201000; ++k) {
      const double alpha = thermostat.rescaling_factor(kinetic, 1.0);
      kinetic *= alpha * alpha;
      if (k >= 1000) samples.push_back(kinetic);
    }
    const Estimate mean = block_average(samples);
    const Estimate variance = block_variance(samples);
    std::printf("CSVR resampling, Ndof %g: <K>/(Ndof kT/2) = %.4f +- %.4f, var K/(Ndof (kT)^2/2) = %.4f +- %.4f\n",
                ndof, mean.mean / (0.5 * ndof * kt), mean.error / (0.5 * ndof * kt),
                variance.mean / (0.5 * ndof * kt * kt), variance.error / (0.5 * ndof * kt * kt));
    CHECK(std::abs(mean.mean - 0.5 * ndof * kt) < 4 * mean.error);
    CHECK(std::abs(variance.mean - 0.5 * ndof * kt * kt) < 4 * variance.error);
  }
}

TEST_CASE("CSVR: canonical harmonic solid and liquid, conserved effective energy", "[integrator][long]") {
  HarmonicLattice lattice(4, 3.0, 1.0, 21);
  System solid = lattice.make_system(40.0, 22);
  maxwell_boltzmann_velocities(solid, {kSolidTemperature, 25, true, true});
  auto integrator =
      make_integrator("kind = \"nvt_csvr\"\ntimestep = 2.0\ntemperature = 300.0\ntdamp = 100.0\nseed = 9");
  const Series series = sample(*integrator, solid, lattice, 10000, 100000);
  // Momentum is conserved (one factor scales all velocities): Ndof = 3N - 3 = 189. Bounds: 4 standard errors
  // plus 1%.
  check_canonical("CSVR solid", series, kSolidTemperature, 3 * kSolidAtoms - 3, 3 * kSolidAtoms - 3, false, 4.0, 0.01);
  const double drift = conserved_drift(series, kSolidAtoms, kSolidTemperature);
  std::printf("CSVR solid: effective energy drift %.3g N kT over 200 ps\n", drift);
  CHECK(drift < 1e-3);
  CHECK(total_momentum(solid).norm() < 1e-8);

  // The liquid: 90 K, dt 5 fs, tdamp 100 fs, 100 ps.
  System liquid = argon_liquid();
  LennardJonesLiquid lj(kArgonEpsilon, kArgonSigma, kArgonCutoff);
  auto liquid_integrator =
      make_integrator("kind = \"nvt_csvr\"\ntimestep = 5.0\ntemperature = 90.0\ntdamp = 100.0\nseed = 10");
  const Series liquid_series = sample(*liquid_integrator, liquid, lj, 1000, 20000);
  check_canonical("CSVR liquid", liquid_series, kArgonLiquidTemperature, 3 * kLiquidAtoms - 3, 0, true, 4.0, 0.01);
  const double liquid_drift = conserved_drift(liquid_series, kLiquidAtoms, kArgonLiquidTemperature);
  std::printf("CSVR liquid: effective energy drift %.3g N kT over 100 ps\n", liquid_drift);
  CHECK(liquid_drift < 1e-3);
}

TEST_CASE("NPT: a Lennard-Jones liquid at the target pressure and temperature, conserved extended energy",
          "[integrator][long]") {
  // 108 argon atoms, cutoff 7.5 A (so the minimum image holds while the cell breathes), 90 K and 500 bar,
  // tdamp 0.5 ps, pdamp 2 ps, dt 5 fs, 60 ps after 10 ps. Checks: <P> = P_target and <T> = T_target within 4
  // block standard errors (MTK: <P V> = P_target <V> - kT, a 2 bar correction, included), and the conserved
  // quantity drifts by less than 1e-3 N kT.
  constexpr double temperature = 90.0;
  constexpr double pressure_bar = 500.0;
  System system = argon_liquid();
  LennardJonesLiquid lj(kArgonEpsilon, kArgonSigma, 7.5);
  auto integrator = make_integrator(
      "kind = \"npt\"\ntimestep = 5.0\ntemperature = 90.0\ntdamp = 500.0\npressure = 500.0\npdamp = 2000.0");
  const Series series = sample(*integrator, system, lj, 2000, 12000);
  std::vector<double> pressure_volume;
  for (std::size_t k = 0; k < series.pressure.size(); ++k)
    pressure_volume.push_back(series.pressure[k] * series.volume[k]);
  const Estimate volume = block_average(series.volume, 10);
  const Estimate pv = block_average(pressure_volume, 10);
  const double kt = kt_of(temperature);
  const double target = pressure_bar / units::ev_per_a3_to_bar;
  const double pressure_estimate = (pv.mean + kt) / volume.mean;
  const double pressure_error = pv.error / volume.mean;
  const Estimate kinetic = block_average(series.kinetic, 10);
  const double ndof = 3.0 * system.size() - 3.0;
  const double mean_temperature = 2.0 * kinetic.mean / (ndof * units::boltzmann_ev_per_k);
  const double temperature_error = 2.0 * kinetic.error / (ndof * units::boltzmann_ev_per_k);
  const double drift = conserved_drift(series, static_cast<double>(system.size()), temperature);
  std::printf(
      "NPT LJ: <P> = %.1f +- %.1f bar (target %.0f), <T> = %.2f +- %.2f K, <V> = %.1f +- %.1f A^3, "
      "conserved drift %.3g N kT\n",
      pressure_estimate * units::ev_per_a3_to_bar, pressure_error * units::ev_per_a3_to_bar, pressure_bar,
      mean_temperature, temperature_error, volume.mean, volume.error, drift);
  CHECK(std::abs(pressure_estimate - target) < 4 * pressure_error);
  CHECK(std::abs(mean_temperature - temperature) < 4 * temperature_error);
  CHECK(drift < 1e-3);
}

TEST_CASE("NPT aniso: a strained crystal relaxes each axis to the target pressure, conserved extended energy",
          "[integrator][long]") {
  // 108 argon atoms on an fcc lattice (cubic at equilibrium), started with the cell and positions strained by
  // (+4%, -3%, 0) at 20 K and 200 bar. With cell_mode = "aniso" each axis is driven by its own diagonal
  // pressure: the three edges come to the same mean length and each <P_aa> to the target (within 4 block standard
  // errors; MTK: <P_a V> = P_target <V> - kT, as for the isotropic pressure). The isotropic barostat, driven by
  // the mean pressure only, keeps the strain ratio, which shows that the axes are coupled independently.
  constexpr double temperature = 20.0;
  constexpr double pressure_bar = 200.0;
  const Vec3 strain(1.04, 0.97, 1.0);
  const auto strained = [&] {
    System system = argon_fcc(3, 0.0255);  // near the 20 K density of this potential
    system.cell = Cell(system.cell.lattice() * strain.asDiagonal(), system.cell.pbc());
    for (Vec3& position : system.positions) position = position.cwiseProduct(strain);
    maxwell_boltzmann_velocities(system, {2.0 * temperature, 5, true, false});
    return system;
  };
  LennardJonesLiquid lj(kArgonEpsilon, kArgonSigma, 7.0);
  const std::string common = "kind = \"npt\"\ntimestep = 5.0\ntemperature = 20.0\ntdamp = 500.0\npressure = 200.0\n"
                             "pdamp = 2000.0\n";

  System system = strained();
  auto anisotropic = make_integrator(common + "cell_mode = \"aniso\"");
  ForceResult forces = lj.compute(system);
  anisotropic->setup(system, forces);
  run(*anisotropic, system, lj, forces, 4000);  // 20 ps to relax
  std::vector<double> lengths[3], pressure_volume[3], volume, conserved;
  run(*anisotropic, system, lj, forces, 12000, [&](const System& s, const ForceResult& f) {
    const double v = s.cell.volume();
    const Mat3 pressure = pressure_tensor(s, f.virial, v);
    for (int axis = 0; axis < 3; ++axis) {
      lengths[axis].push_back(s.cell.lattice()(axis, axis));
      pressure_volume[axis].push_back(pressure(axis, axis) * v);
    }
    volume.push_back(v);
    conserved.push_back(f.energy + kinetic_energy(s) + anisotropic->extended_energy());
  });
  CHECK(system.cell.lattice()(0, 1) == 0.0);  // stays orthorhombic
  const Estimate mean_volume = block_average(volume, 10);
  const double kt = kt_of(temperature);
  const double target = pressure_bar / units::ev_per_a3_to_bar;
  Estimate length[3];
  for (int axis = 0; axis < 3; ++axis) {
    length[axis] = block_average(lengths[axis], 10);
    const Estimate pv = block_average(pressure_volume[axis], 10);
    const double pressure = (pv.mean + kt) / mean_volume.mean, error = pv.error / mean_volume.mean;
    std::printf("NPT aniso: axis %d: <L> = %.4f +- %.4f A, <P> = %.1f +- %.1f bar (target %.0f)\n", axis,
                length[axis].mean, length[axis].error, pressure * units::ev_per_a3_to_bar,
                error * units::ev_per_a3_to_bar, pressure_bar);
    CHECK(std::abs(pressure - target) < 4 * error);
  }
  for (int axis = 1; axis < 3; ++axis)
    CHECK(std::abs(length[axis].mean - length[0].mean) <
          4 * std::hypot(length[axis].error, length[0].error) + 1e-3 * length[0].mean);
  Series series;
  series.conserved = conserved;
  const double drift = conserved_drift(series, 108.0, temperature);
  std::printf("NPT aniso: conserved drift %.3g N kT\n", drift);
  CHECK(drift < 1e-3);

  // Isotropic coupling from the same start: the shape stays strained.
  System iso_system = strained();
  auto isotropic = make_integrator(common);
  ForceResult iso_forces = lj.compute(iso_system);
  isotropic->setup(iso_system, iso_forces);
  run(*isotropic, iso_system, lj, iso_forces, 4000);
  const Mat3& iso_lattice = iso_system.cell.lattice();
  CHECK(iso_lattice(0, 0) / iso_lattice(1, 1) == Approx(1.04 / 0.97).epsilon(1e-12));

  // A cell that is not orthorhombic is refused.
  System sheared = strained();
  Mat3 lattice = sheared.cell.lattice();
  lattice(1, 0) = 1.0;
  sheared.cell = Cell(lattice, sheared.cell.pbc());
  auto refused = make_integrator(common + "cell_mode = \"aniso\"");
  ForceResult sheared_forces = lj.compute(sheared);
  CHECK_THROWS_AS(refused->setup(sheared, sheared_forces), InputError);
}

TEST_CASE("NPT: the volume of an ideal gas", "[integrator][long]") {
  // For P(V) ~ V^a exp(-P V / kT), <V> = (a + 1) kT/P and var V = (a + 1) (kT/P)^2; the NPT ensemble of an
  // ideal gas has a = N. The MTK terms of LAMMPS fix npt iso count 3N degrees of freedom (the barostat force
  // 2K/(3N), the velocity coupling (1 + 1/N) omega_dot) while the particle thermostat holds 2K = (3N - 3) kT
  // (momentum conserved). Averaging the barostat's equation of motion, P_target <V> = <2K>/3 (1 + 1/N), gives
  // a + 1 = (N + 1)(N - 1)/N instead: 1/N less, which the test takes into account (and which is within two
  // standard errors of N + 1 here). 500 atoms at 300 K and 100 bar; no forces, so dt can be large (10 fs, with
  // tdamp 200 fs and pdamp 1 ps). Bounds: 4 block standard errors.
  constexpr int atoms = 500;
  constexpr double temperature = 300.0;
  constexpr double pressure_bar = 100.0;
  const double kt_over_p = kt_of(temperature) / (pressure_bar / units::ev_per_a3_to_bar);
  const double shape = (atoms + 1.0) * (atoms - 1.0) / atoms;  // a + 1
  const double expected_volume = shape * kt_over_p;
  System system;
  const double side = std::cbrt(expected_volume);
  system.cell = Cell(side * Mat3::Identity(), {true, true, true});
  std::mt19937_64 random(41);
  std::uniform_real_distribution<double> uniform(0.0, side);
  for (int i = 0; i < atoms; ++i) system.add_atom("Ar", Vec3(uniform(random), uniform(random), uniform(random)));
  maxwell_boltzmann_velocities(system, {temperature, 42, true, true});
  NoForces none;
  auto integrator = make_integrator(
      "kind = \"npt\"\ntimestep = 10.0\ntemperature = 300.0\ntdamp = 200.0\npressure = 100.0\npdamp = 1000.0");
  const Series series = sample(*integrator, system, none, 10000, 100000);
  const Estimate volume = block_average(series.volume);
  const Estimate variance = block_variance(series.volume);
  const double expected_variance = shape * kt_over_p * kt_over_p;
  std::printf("NPT ideal gas: <V>/((a+1)kT/P) = %.5f +- %.5f, var V/((a+1)(kT/P)^2) = %.4f +- %.4f\n",
              volume.mean / expected_volume, volume.error / expected_volume, variance.mean / expected_variance,
              variance.error / expected_variance);
  CHECK(std::abs(volume.mean - expected_volume) < 4 * volume.error);
  CHECK(std::abs(variance.mean - expected_variance) < 4 * variance.error);
}

}  // namespace
}  // namespace nqmd::test
