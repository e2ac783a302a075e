#pragma once
// Force providers, systems and statistics for the integrator tests (test_integrators*.cpp). The forces are
// computed here by brute force so that the integrator tests depend on nothing but the Integrator interface:
//   TetheredOscillators   independent 3D harmonic oscillators, atom i tied to its site by a spring k_i;
//   HarmonicLattice       a translation-invariant harmonic solid: vector springs between neighbours of a
//                         periodic cubic lattice graph (total momentum is conserved, all other modes are bound);
//   LennardJonesLiquid    O(N^2) minimum-image Lennard-Jones in an orthorhombic periodic cell, energy-shifted;
//   NoForces              an ideal gas.
#include <cmath>
#include <cstdint>
#include <memory>
#include <random>
#include <stdexcept>
#include <string>
#include <vector>

#include <toml++/toml.h>

#include "engine/config.hpp"
#include "engine/system.hpp"
#include "engine/units.hpp"
#include "integrators/integrator.hpp"
#include "integrators/velocities.hpp"

namespace nqmd::test {

inline double kt_of(double temperature_k) { return units::boltzmann_ev_per_k * temperature_k; }

// An integrator built through the registry from the body of an [integrator] section, as an input file would.
inline std::unique_ptr<Integrator> make_integrator(const std::string& section_body) {
  const toml::table document = toml::parse("[integrator]\n" + section_body);
  const toml::table* table = document["integrator"].as_table();
  const std::string kind = (*table)["kind"].value_or(std::string{});
  const auto* style = IntegratorRegistry::instance().find(kind);
  if (style == nullptr) throw std::runtime_error("no integrator style '" + kind + "'");
  const ConfigSection section(table, "test.toml", integrator_section_schema().merged_with(style->schema), "");
  return style->create(section);
}

class TetheredOscillators : public ForceProvider {
 public:
  TetheredOscillators(std::vector<Vec3> sites, std::vector<double> spring_constants)
      : sites_(std::move(sites)), spring_constants_(std::move(spring_constants)) {}

  const ForceResult& compute(System& system) override {
    result_.reset(system.size());
    for (std::size_t i = 0; i < system.size(); ++i) {
      const Vec3 displacement = system.positions[i] - sites_[i];
      result_.atom_energies[i] = 0.5 * spring_constants_[i] * displacement.squaredNorm();
      result_.energy += result_.atom_energies[i];
      result_.forces[i] = -spring_constants_[i] * displacement;
    }
    return result_;
  }
  const std::vector<Vec3>& sites() const { return sites_; }
  const std::vector<double>& spring_constants() const { return spring_constants_; }

 private:
  std::vector<Vec3> sites_;
  std::vector<double> spring_constants_;  // eV/A^2
  ForceResult result_;
};

// U = sum over bonds (i, j) of k_ij |u_j - u_i|^2 / 2 with u = x - site: 3N - 3 bound modes and free
// translation. Bonds join each site of an n x n x n periodic cubic lattice graph to its +x, +y, +z neighbours.
class HarmonicLattice : public ForceProvider {
 public:
  HarmonicLattice(int cells_per_side, double spacing, double mean_spring_constant, std::uint64_t seed) {
    std::mt19937_64 random(seed);
    std::uniform_real_distribution<double> spread(0.5, 1.5);
    const int n = cells_per_side;
    auto index = [n](int x, int y, int z) { return ((x + n) % n) * n * n + ((y + n) % n) * n + (z + n) % n; };
    for (int x = 0; x < n; ++x)
      for (int y = 0; y < n; ++y)
        for (int z = 0; z < n; ++z) {
          sites_.push_back(spacing * Vec3(x, y, z));
          for (int neighbour : {index(x + 1, y, z), index(x, y + 1, z), index(x, y, z + 1)})
            bonds_.push_back({index(x, y, z), neighbour, mean_spring_constant * spread(random)});
        }
  }

  // Atoms on the sites with masses spread uniformly in [mass/2, 3 mass/2] (breaking the lattice symmetry).
  System make_system(double mean_mass, std::uint64_t seed) const {
    std::mt19937_64 random(seed);
    std::uniform_real_distribution<double> spread(0.5, 1.5);
    System system;
    for (const Vec3& site : sites_) system.add_atom("Ar", site, mean_mass * spread(random));
    return system;
  }

  const ForceResult& compute(System& system) override {
    result_.reset(system.size());
    for (const Bond& bond : bonds_) {
      const Vec3 stretch = (system.positions[bond.j] - sites_[bond.j]) - (system.positions[bond.i] - sites_[bond.i]);
      const double energy = 0.5 * bond.spring_constant * stretch.squaredNorm();
      result_.energy += energy;
      result_.atom_energies[bond.i] += 0.5 * energy;
      result_.atom_energies[bond.j] += 0.5 * energy;
      result_.forces[bond.i] += bond.spring_constant * stretch;
      result_.forces[bond.j] -= bond.spring_constant * stretch;
    }
    return result_;
  }

 private:
  struct Bond {
    int i;
    int j;
    double spring_constant;  // eV/A^2
  };
  std::vector<Vec3> sites_;
  std::vector<Bond> bonds_;
  ForceResult result_;
};

// Lennard-Jones, U = 4 eps ((s/r)^12 - (s/r)^6) - U(r_c) for r < r_c, over minimum images in an orthorhombic
// fully periodic cell (r_c must stay below half the shortest side; checked on every call). The virial is
// sum over pairs r_ij (x) F_j with r_ij = x_j - x_i, so P = (2K + tr virial) / 3V.
class LennardJonesLiquid : public ForceProvider {
 public:
  LennardJonesLiquid(double epsilon, double sigma, double cutoff)
      : epsilon_(epsilon), sigma_(sigma), cutoff_(cutoff), shift_(pair_energy(cutoff * cutoff)) {}

  const ForceResult& compute(System& system) override {
    result_.reset(system.size());
    const Vec3 box = system.cell.lattice().diagonal();
    if (2.0 * cutoff_ > box.minCoeff()) throw std::runtime_error("Lennard-Jones cutoff exceeds half the box");
    const Vec3 inverse_box = box.cwiseInverse();
    const double cutoff_squared = cutoff_ * cutoff_;
    for (std::size_t i = 0; i < system.size(); ++i) {
      for (std::size_t j = i + 1; j < system.size(); ++j) {
        Vec3 r = system.positions[j] - system.positions[i];
        for (int axis = 0; axis < 3; ++axis) r[axis] -= box[axis] * std::nearbyint(r[axis] * inverse_box[axis]);
        const double r2 = r.squaredNorm();
        if (r2 >= cutoff_squared) continue;
        const double s2 = sigma_ * sigma_ / r2;
        const double s6 = s2 * s2 * s2;
        const double energy = 4.0 * epsilon_ * (s6 * s6 - s6) - shift_;
        const Vec3 force_on_j = (24.0 * epsilon_ * (2.0 * s6 * s6 - s6) / r2) * r;
        result_.energy += energy;
        result_.atom_energies[i] += 0.5 * energy;
        result_.atom_energies[j] += 0.5 * energy;
        result_.forces[j] += force_on_j;
        result_.forces[i] -= force_on_j;
        result_.virial += r * force_on_j.transpose();
      }
    }
    return result_;
  }

 private:
  double pair_energy(double r2) const {
    const double s2 = sigma_ * sigma_ / r2;
    const double s6 = s2 * s2 * s2;
    return 4.0 * epsilon_ * (s6 * s6 - s6);
  }
  double epsilon_;
  double sigma_;
  double cutoff_;
  double shift_;
  ForceResult result_;
};

class NoForces : public ForceProvider {
 public:
  const ForceResult& compute(System& system) override {
    result_.reset(system.size());
    return result_;
  }

 private:
  ForceResult result_;
};

// Argon parameters of the Lennard-Jones tests (eV, A).
inline constexpr double kArgonEpsilon = 0.0104;
inline constexpr double kArgonSigma = 3.4;
inline constexpr double kArgonCutoff = 8.5;
// Liquid argon near its boiling point: 1.37 g/cm^3 = 0.02065 atoms/A^3 (reduced density 0.81), 90 K.
inline constexpr double kArgonLiquidDensity = 0.02065;
inline constexpr double kArgonLiquidTemperature = 90.0;

// 4 cells^3 argon atoms on an fcc lattice at the given number density (1/A^3), in a cubic periodic cell.
inline System argon_fcc(int cells, double density) {
  const double lattice_constant = std::cbrt(4.0 / density);
  const double side = cells * lattice_constant;
  System system;
  system.cell = Cell(side * Mat3::Identity(), {true, true, true});
  const Vec3 basis[4] = {{0, 0, 0}, {0.5, 0.5, 0}, {0.5, 0, 0.5}, {0, 0.5, 0.5}};
  for (int x = 0; x < cells; ++x)
    for (int y = 0; y < cells; ++y)
      for (int z = 0; z < cells; ++z)
        for (const Vec3& offset : basis) system.add_atom("Ar", lattice_constant * (Vec3(x, y, z) + offset));
  return system;
}

// Runs `steps` steps, calling observe(system, forces) after each.
template <typename Observer>
void run(Integrator& integrator, System& system, ForceProvider& provider, ForceResult& forces, long steps,
         Observer&& observe) {
  for (long s = 0; s < steps; ++s) {
    integrator.step(system, provider, forces);
    observe(system, forces);
  }
}

inline void run(Integrator& integrator, System& system, ForceProvider& provider, ForceResult& forces, long steps) {
  run(integrator, system, provider, forces, steps, [](const System&, const ForceResult&) {});
}

// 108 argon atoms (3 x 3 x 3 fcc cells) melted and equilibrated as a liquid at 90 K: Langevin dynamics (5 fs)
// for 2 ps at 300 K and 8 ps at 90 K, from Maxwell-Boltzmann velocities; total momentum removed at the end.
inline System argon_liquid() {
  System system = argon_fcc(3, kArgonLiquidDensity);
  maxwell_boltzmann_velocities(system, {300.0, 7, true, false});
  LennardJonesLiquid lj(kArgonEpsilon, kArgonSigma, kArgonCutoff);
  ForceResult forces = lj.compute(system);
  auto hot = make_integrator("kind = \"nvt_langevin\"\ntimestep = 5.0\ntemperature = 300.0\nfriction = 0.01\nseed = 3");
  hot->setup(system, forces);
  run(*hot, system, lj, forces, 400);
  auto cool = make_integrator("kind = \"nvt_langevin\"\ntimestep = 5.0\ntemperature = 90.0\nfriction = 0.01\nseed = 4");
  cool->setup(system, forces);
  run(*cool, system, lj, forces, 1600);
  remove_total_momentum(system);
  return system;
}

struct Estimate {
  double mean = 0.0;
  double error = 0.0;  // standard error of the mean
};

// Mean of a time series and its standard error from the scatter of `blocks` block means (blocks must be long
// compared with the correlation time).
inline Estimate block_average(const std::vector<double>& series, int blocks = 20) {
  const std::size_t block_length = series.size() / blocks;
  std::vector<double> means;
  for (int b = 0; b < blocks; ++b) {
    double sum = 0.0;
    for (std::size_t k = b * block_length; k < (b + 1) * block_length; ++k) sum += series[k];
    means.push_back(sum / block_length);
  }
  double mean = 0.0;
  for (double m : means) mean += m / blocks;
  double scatter = 0.0;
  for (double m : means) scatter += (m - mean) * (m - mean);
  return {mean, std::sqrt(scatter / (blocks - 1) / blocks)};
}

// Variance of a time series with a block error: the block average of the squared deviations from the mean.
inline Estimate block_variance(const std::vector<double>& series, int blocks = 20) {
  double mean = 0.0;
  for (double x : series) mean += x / series.size();
  std::vector<double> squared_deviations;
  squared_deviations.reserve(series.size());
  for (double x : series) squared_deviations.push_back((x - mean) * (x - mean));
  return block_average(squared_deviations, blocks);
}

inline double rms_deviation(const std::vector<double>& series) {
  double mean = 0.0;
  for (double x : series) mean += x / series.size();
  double sum = 0.0;
  for (double x : series) sum += (x - mean) * (x - mean);
  return std::sqrt(sum / series.size());
}

}  // namespace nqmd::test
