// Integrators, deterministic side: registration and input keys, Maxwell-Boltzmann velocities, velocity Verlet
// energy conservation and time reversibility on a Lennard-Jones liquid, and bit-identical restarts of every
// integrator from save_state()/load_state().
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include <catch2/catch.hpp>

#include "engine/error.hpp"
#include "integrators/integrator_test_support.hpp"
#include "integrators/random_stream.hpp"
#include "integrators/velocities.hpp"

namespace nqmd::test {
namespace {

TEST_CASE("every integrator style is registered with its keys and defaults", "[integrator]") {
  const auto& registry = IntegratorRegistry::instance();
  for (const char* name : {"nve", "nvt_nose_hoover", "nvt_langevin", "nvt_csvr", "npt"}) {
    INFO(name);
    REQUIRE(registry.find(name) != nullptr);
    for (const KeySpec& key : registry.find(name)->schema.keys) CHECK_FALSE(key.doc.empty());
  }
  const SectionSchema& nose_hoover = registry.find("nvt_nose_hoover")->schema;
  CHECK(default_text(*nose_hoover.find("chain_length")) == "3");
  CHECK(default_text(*nose_hoover.find("nresn")) == "1");
  CHECK(default_text(*nose_hoover.find("suzuki_yoshida")) == "1");

  auto integrator = make_integrator("kind = \"nve\"\ntimestep = 2.5");
  CHECK(integrator->timestep_fs() == 2.5);
  CHECK(integrator->conserves_momentum());
  CHECK_FALSE(make_integrator("kind = \"nvt_langevin\"\ntemperature = 10.0\nfriction = 0.1")->conserves_momentum());
  CHECK(make_integrator("kind = \"nvt_csvr\"\ntemperature = 10.0\ntdamp = 100.0")->conserves_momentum());

  CHECK_THROWS_WITH(
      make_integrator("kind = \"nvt_nose_hoover\"\ntemperature = 300.0\ntdamp = 100.0\nsuzuki_yoshida = 4"),
      Catch::Contains("suzuki_yoshida") && Catch::Contains("1, 3, 5 or 7"));
  CHECK_THROWS_WITH(make_integrator("kind = \"nvt_langevin\"\ntemperature = 300.0\nfriction = 0.0"),
                    Catch::Contains("friction") && Catch::Contains("> 0"));
  CHECK_THROWS_WITH(make_integrator("kind = \"nvt_csvr\"\ntemperature = -1.0\ntdamp = 100.0"),
                    Catch::Contains("temperature"));
  CHECK_THROWS_WITH(make_integrator("kind = \"nvt_nose_hoover\"\ntemperature = 300.0"), Catch::Contains("tdamp"));
  CHECK_THROWS_WITH(make_integrator("kind = \"nve\"\ntimestep = 1.0\ntemperature = 300.0"),
                    Catch::Contains("unknown key 'temperature'"));
}

TEST_CASE("the random stream restores its state exactly and draws standard normals and gammas", "[integrator]") {
  RandomStream random(42);
  for (int k = 0; k < 1000; ++k) random.gaussian();
  const std::vector<std::uint64_t> state = random.save();
  std::vector<double> first;
  for (int k = 0; k < 100; ++k) first.push_back(random.gamma(2.5) + random.gaussian());
  RandomStream restored(1);
  restored.load(state);
  for (int k = 0; k < 100; ++k) CHECK(restored.gamma(2.5) + restored.gaussian() == first[k]);
  CHECK_THROWS_AS(restored.load({1, 2, 3}), InputError);

  // Moments over 10^6 draws: mean 0 +- 0.001 (1e-3 std error), variance 1 +- 0.0014, and a chi-squared sum
  // of 7 squares with mean 7 and variance 14 (standard errors 0.004 and 0.02 for 10^6 draws); bounds 5 sigma.
  constexpr int draws = 1000000;
  double sum = 0.0, sum_squares = 0.0, chi_sum = 0.0, chi_squares = 0.0;
  for (int k = 0; k < draws; ++k) {
    const double x = random.gaussian();
    sum += x;
    sum_squares += x * x;
    const double chi = random.sum_of_squared_gaussians(7);
    chi_sum += chi;
    chi_squares += chi * chi;
  }
  CHECK(std::abs(sum / draws) < 5e-3);
  CHECK(std::abs(sum_squares / draws - 1.0) < 7e-3);
  const double chi_mean = chi_sum / draws;
  CHECK(std::abs(chi_mean - 7.0) < 0.02);
  CHECK(std::abs(chi_squares / draws - chi_mean * chi_mean - 14.0) < 0.1);
}

TEST_CASE("Maxwell-Boltzmann velocities: zero momentum, exact temperature, variance kT/m", "[integrator]") {
  constexpr int atoms = 20000;
  constexpr double temperature = 250.0;
  System system;
  for (int i = 0; i < atoms; ++i) system.add_atom("Ar", Vec3(i, 0, 0), 1.0 + 0.01 * (i % 200));  // 1 ... 3 amu

  maxwell_boltzmann_velocities(system, {temperature, 2024, false, false});
  // Without momentum removal every component is an independent N(0, kT/m): the mean of m v^2 / kT over
  // 3N = 60000 components is 1 with standard error sqrt(2/60000) = 0.0058; its kurtosis <x^4>/<x^2>^2 is 3
  // with standard error about sqrt(96/60000) = 0.04. Bounds: 4 standard errors.
  double sum_squares = 0.0, sum_fourth = 0.0;
  for (int i = 0; i < atoms; ++i)
    for (int axis = 0; axis < 3; ++axis) {
      const double scaled_squared = system.masses[i] * std::pow(system.velocities[i][axis], 2) /
                                    (kt_of(temperature) * units::ev_per_a_amu_to_a_per_fs2);
      sum_squares += scaled_squared;
      sum_fourth += scaled_squared * scaled_squared;
    }
  const double second_moment = sum_squares / (3 * atoms);
  const double kurtosis = sum_fourth / (3 * atoms) / (second_moment * second_moment);
  std::printf("Maxwell-Boltzmann: <m v^2>/kT = %.5f (1 +- 0.0058), kurtosis %.4f (3 +- 0.04)\n", second_moment,
              kurtosis);
  CHECK(std::abs(second_moment - 1.0) < 4 * 0.0058);
  CHECK(std::abs(kurtosis - 3.0) < 4 * 0.04);
  CHECK(std::abs(kinetic_temperature(system, degrees_of_freedom(system, false)) / temperature - 1.0) < 4 * 0.0058);

  maxwell_boltzmann_velocities(system, {temperature, 2024, true, true});
  const double momentum = total_momentum(system).norm();  // amu A/fs; atoms carry about 0.01 each
  std::printf("Maxwell-Boltzmann: |total momentum| = %.3g amu A/fs after removal\n", momentum);
  CHECK(momentum < 1e-12);
  CHECK(kinetic_temperature(system, degrees_of_freedom(system, true)) == Approx(temperature).epsilon(1e-12));
  CHECK(degrees_of_freedom(system, true) == 3 * atoms - 3);

  // Same seed, same velocities; and the kinetic energy in eV of one argon atom at 1 A/fs.
  System again = system;
  maxwell_boltzmann_velocities(again, {temperature, 2024, true, true});
  CHECK(again.velocities == system.velocities);
  System single;
  single.add_atom("Ar", Vec3::Zero(), 39.948);
  single.velocities[0] = Vec3(1.0, 0.0, 0.0);
  CHECK(kinetic_energy(single) == Approx(0.5 * 39.948 * 103.6427).epsilon(1e-6));
  CHECK(degrees_of_freedom(single, true) == 3);
}

// Total energy (eV) after each of `steps` velocity-Verlet steps of `dt` from `start`.
std::vector<double> nve_energies(const System& start, double dt, long steps) {
  System system = start;
  LennardJonesLiquid lj(kArgonEpsilon, kArgonSigma, kArgonCutoff);
  ForceResult forces = lj.compute(system);
  auto nve = make_integrator("kind = \"nve\"\ntimestep = " + std::to_string(dt));
  nve->setup(system, forces);
  std::vector<double> energies;
  run(*nve, system, lj, forces, steps,
      [&](const System& s, const ForceResult& f) { energies.push_back(f.energy + kinetic_energy(s)); });
  return energies;
}

TEST_CASE("velocity Verlet conserves the energy of a Lennard-Jones liquid with O(dt^2) fluctuations", "[integrator][long]") {
  const System liquid = argon_liquid();
  const double temperature = kinetic_temperature(liquid, degrees_of_freedom(liquid, true));
  INFO("liquid at " << temperature << " K");
  CHECK(temperature > 60.0);
  CHECK(temperature < 120.0);

  // 10^4 steps of 5 fs (50 ps): the energy averaged over the last 1000 steps differs from that over the first
  // 1000 by less than 1e-4 of the total energy (the bound of the task; the shifted potential's force jump at
  // the cutoff is the main source of drift), and no single step strays by more than 1e-4 either.
  const std::vector<double> energies = nve_energies(liquid, 5.0, 10000);
  double first = 0.0, last = 0.0, largest_deviation = 0.0;
  for (int k = 0; k < 1000; ++k) {
    first += energies[k] / 1000;
    last += energies[energies.size() - 1000 + k] / 1000;
  }
  for (double energy : energies) largest_deviation = std::max(largest_deviation, std::abs(energy - energies[0]));
  const double drift = std::abs(last - first) / std::abs(first);
  std::printf("NVE 108 Ar, dt 5 fs, 10^4 steps: E = %.6f eV, relative drift %.3g, largest deviation %.3g\n", first,
              drift, largest_deviation / std::abs(first));
  CHECK(drift < 1e-4);
  CHECK(largest_deviation / std::abs(first) < 1e-4);

  // Same 10 ps at dt = 4 and 2 fs: the RMS fluctuation of the total energy scales as dt^2, so halving dt
  // divides it by 4 (accepted: 3.2 to 4.8, i.e. within 20%). Below 2 fs the fluctuation no longer falls as
  // dt^2 (at 1 fs it falls by 2.4 only): the jump of the shifted potential's force at the cutoff dominates.
  const double rms_4 = rms_deviation(nve_energies(liquid, 4.0, 2500));
  const double rms_2 = rms_deviation(nve_energies(liquid, 2.0, 5000));
  std::printf("NVE energy RMS fluctuation: dt 4 fs %.3g eV, 2 fs %.3g eV; ratio %.3f\n", rms_4, rms_2, rms_4 / rms_2);
  CHECK(rms_4 / rms_2 == Approx(4.0).epsilon(0.2));
}

TEST_CASE("velocity Verlet is time reversible", "[integrator]") {
  // Forward n steps, velocities negated, n steps back: the start is recovered up to round-off amplified by the
  // chaos of the liquid (Lyapunov time about 1 ps), hence a short 1 ps run for the liquid; the harmonic solid
  // is not chaotic and runs 10^4 steps. Bound: 1e-8 A on every coordinate.
  auto check_reversal = [](System system, ForceProvider& provider, double dt, long steps) {
    const std::vector<Vec3> start = system.positions;
    ForceResult forces = provider.compute(system);
    auto nve = make_integrator("kind = \"nve\"\ntimestep = " + std::to_string(dt));
    nve->setup(system, forces);
    run(*nve, system, provider, forces, steps);
    for (Vec3& velocity : system.velocities) velocity = -velocity;
    run(*nve, system, provider, forces, steps);
    double largest = 0.0;
    for (std::size_t i = 0; i < start.size(); ++i)
      largest = std::max(largest, (system.positions[i] - start[i]).cwiseAbs().maxCoeff());
    return largest;
  };
  LennardJonesLiquid lj(kArgonEpsilon, kArgonSigma, kArgonCutoff);
  const double liquid_error = check_reversal(argon_liquid(), lj, 5.0, 200);
  HarmonicLattice lattice(4, 3.0, 1.0, 5);
  System solid = lattice.make_system(40.0, 6);
  maxwell_boltzmann_velocities(solid, {300.0, 8, true, false});
  const double solid_error = check_reversal(solid, lattice, 2.0, 10000);
  std::printf("NVE reversal: liquid 200 x 5 fs %.3g A, harmonic solid 10^4 x 2 fs %.3g A\n", liquid_error, solid_error);
  CHECK(liquid_error < 1e-8);
  CHECK(solid_error < 1e-8);
}

// A run of 2n steps equals n steps, a checkpoint (state and system copied), a fresh integrator and force
// provider, and n more steps, bit for bit. Returns the system after the unsplit run. The cutoff is 7.5 A here
// so that the barostat may shrink the cell a little.
System check_restart(const std::string& input, const System& start, bool setup_before_load) {
  constexpr long n = 300;
  constexpr double cutoff = 7.5;
  LennardJonesLiquid lj(kArgonEpsilon, kArgonSigma, cutoff);
  System whole = start;
  ForceResult forces = lj.compute(whole);
  auto integrator = make_integrator(input);
  integrator->setup(whole, forces);
  run(*integrator, whole, lj, forces, 2 * n);

  System first_half = start;
  ForceResult first_forces = lj.compute(first_half);
  auto first = make_integrator(input);
  first->setup(first_half, first_forces);
  run(*first, first_half, lj, first_forces, n);
  const IntegratorState checkpoint = first->save_state();
  System second_half = first_half;
  first.reset();

  LennardJonesLiquid restarted_lj(kArgonEpsilon, kArgonSigma, cutoff);
  ForceResult second_forces = restarted_lj.compute(second_half);
  auto second = make_integrator(input);
  if (setup_before_load) {
    second->setup(second_half, second_forces);
    second->load_state(checkpoint);
  } else {
    second->load_state(checkpoint);
    second->setup(second_half, second_forces);
  }
  run(*second, second_half, restarted_lj, second_forces, n);

  CHECK(second_half.positions == whole.positions);
  CHECK(second_half.velocities == whole.velocities);
  CHECK(second_half.cell.lattice() == whole.cell.lattice());
  CHECK(second->extended_energy() == integrator->extended_energy());
  return whole;
}

TEST_CASE("a run split at a checkpoint is bit-identical to the unsplit run", "[integrator]") {
  const System liquid = argon_liquid();
  const std::vector<std::string> inputs = {
      "kind = \"nve\"\ntimestep = 5.0",
      "kind = \"nvt_nose_hoover\"\ntimestep = 5.0\ntemperature = 120.0\ntdamp = 200.0\nsuzuki_yoshida = 3\nnresn = 2",
      "kind = \"nvt_langevin\"\ntimestep = 5.0\ntemperature = 120.0\nfriction = 0.01\nseed = 11",
      "kind = \"nvt_csvr\"\ntimestep = 5.0\ntemperature = 120.0\ntdamp = 200.0\nseed = 12",
      "kind = \"npt\"\ntimestep = 5.0\ntemperature = 120.0\ntdamp = 200.0\npressure = 1000.0\npdamp = 1000.0",
      "kind = \"npt\"\ntimestep = 5.0\ntemperature = 120.0\ntdamp = 200.0\npressure = 1000.0\npdamp = 1000.0\n"
      "cell_mode = \"aniso\""};
  for (const std::string& input : inputs)
    for (bool setup_before_load : {true, false}) {
      INFO(input << "\nsetup before load_state: " << setup_before_load);
      const System end = check_restart(input, liquid, setup_before_load);
      // The barostat must actually have moved the cell for the comparison of cells to mean something.
      if (input.find("npt") != std::string::npos) CHECK(end.cell.volume() != liquid.cell.volume());
    }
  // A checkpoint of another integrator is refused.
  auto nose_hoover = make_integrator(inputs[1]);
  CHECK_THROWS_AS(nose_hoover->load_state(make_integrator(inputs[2])->save_state()), InputError);
}

}  // namespace
}  // namespace nqmd::test
