// Reference pair potentials (lj, morse) built through the registry from TOML input: analytic dimers, mixing,
// forces and virial against finite differences, energy against a brute-force sum over periodic images, and
// input errors.
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <functional>
#include <memory>
#include <random>
#include <stdexcept>
#include <string>
#include <vector>

#include <catch2/catch.hpp>
#include <fmt/format.h>

#include "engine/config.hpp"
#include "engine/error.hpp"
#include "engine/neighbor_list.hpp"
#include "engine/system.hpp"
#include "potential/potential.hpp"

namespace {

using nqmd::Cell;
using nqmd::ForceResult;
using nqmd::Mat3;
using nqmd::Potential;
using nqmd::System;
using nqmd::Vec3;
using nqmd::Vec3i;

constexpr double kSkin = 1.0;  // A; the list holds edges up to cutoff + skin that the potentials must skip

// Parameters of the tests' inputs (Ar and Kr, eV and A).
constexpr double kEpsilonAr = 0.0104, kSigmaAr = 3.40;
constexpr double kEpsilonKr = 0.0140, kSigmaKr = 3.65;
constexpr double kCutoff = 8.5;

const char* const kLennardJonesInput = R"(kind = "lj"
species = ["Ar", "Kr"]
epsilon = [0.0104, 0.0140]
sigma = [3.40, 3.65]
cutoff = 8.5
)";

const char* const kMorseInput = R"(kind = "morse"
species = ["Ar", "Kr"]
d0 = [0.30, 0.40]
alpha = [1.3, 1.5]
r0 = [3.0, 3.3]
cutoff = 8.0
)";

double lennard_jones(double epsilon, double sigma, double r) {
  return 4.0 * epsilon * (std::pow(sigma / r, 12) - std::pow(sigma / r, 6));
}
double lennard_jones_derivative(double epsilon, double sigma, double r) {
  return 4.0 * epsilon * (-12.0 * std::pow(sigma / r, 12) + 6.0 * std::pow(sigma / r, 6)) / r;
}
double morse(double d0, double alpha, double r0, double r) {
  return d0 * (std::exp(-2.0 * alpha * (r - r0)) - 2.0 * std::exp(-alpha * (r - r0)));
}

std::string input_path(const std::string& label) {
  return (std::filesystem::temp_directory_path() / fmt::format("nqmd_pair_{}_{}.toml", label, ::getpid())).string();
}

// Writes "[potential]\n" + `section` to a temporary input file and builds the potential through the registry.
std::unique_ptr<Potential> make_potential(const std::string& section, const System& system) {
  const std::string path = input_path("ok");
  std::ofstream(path) << "[potential]\n" << section;
  const nqmd::InputFile input(path);
  auto potential = nqmd::PotentialRegistry::instance().create(input, nqmd::potential_section_schema(), system);
  std::filesystem::remove(path);
  return potential;
}

struct InputErrorOutcome {
  std::string path;
  std::string message;  // empty if no InputError was thrown
};

InputErrorOutcome input_error(const std::string& label, const std::string& section, const System& system) {
  InputErrorOutcome outcome{input_path(label), ""};
  std::ofstream(outcome.path) << "[potential]\n" << section;
  try {
    const nqmd::InputFile input(outcome.path);
    nqmd::PotentialRegistry::instance().create(input, nqmd::potential_section_schema(), system);
  } catch (const nqmd::InputError& error) {
    outcome.message = error.what();
  }
  std::filesystem::remove(outcome.path);
  return outcome;
}

ForceResult evaluate(Potential& potential, const System& system) {
  nqmd::NeighborList list(potential.cutoff(), kSkin, potential.neighbor_list_kind());
  list.build(system);
  ForceResult result;
  potential.compute(system, list, result);
  return result;
}

double energy_of(Potential& potential, const System& system) { return evaluate(potential, system).energy; }

// Periodic images to scan along each axis for atoms inside the cell (fractional coordinates in [0, 1)).
Vec3i image_range(const Cell& cell, double radius) {
  const Vec3 widths = cell.perpendicular_widths();
  Vec3i range = Vec3i::Zero();
  for (int axis = 0; axis < 3; ++axis)
    if (cell.periodic(axis)) range[axis] = static_cast<int>(std::ceil(radius / widths[axis])) + 1;
  return range;
}

// Calls visit(i, j, r) for every (i, j, s) with r = x_j - x_i + s . lattice, |r| < radius, except i == j, s == 0:
// every pair twice, as a full neighbour list would hold it.
void for_each_image_pair(const System& system, double radius, const std::function<void(int, int, double)>& visit) {
  const Vec3i range = image_range(system.cell, radius);
  for (int i = 0; i < static_cast<int>(system.size()); ++i)
    for (int j = 0; j < static_cast<int>(system.size()); ++j)
      for (int s0 = -range[0]; s0 <= range[0]; ++s0)
        for (int s1 = -range[1]; s1 <= range[1]; ++s1)
          for (int s2 = -range[2]; s2 <= range[2]; ++s2) {
            const Vec3i shift(s0, s1, s2);
            if (i == j && shift.isZero()) continue;
            const double r = (system.positions[j] - system.positions[i] + system.cell.shift_vector(shift)).norm();
            if (r < radius) visit(i, j, r);
          }
}

// Atoms drawn uniformly in `box` (rows span the region), alternating between `symbols`, kept at least
// `min_distance` from every other atom and image.
System random_system(const Cell& cell, const Mat3& box, int atoms, double min_distance, unsigned seed) {
  const std::array<const char*, 2> symbols{"Ar", "Kr"};
  std::mt19937 generator(seed);
  std::uniform_real_distribution<double> unit(0.0, 1.0);
  System system;
  system.cell = cell;
  for (int attempt = 0; static_cast<int>(system.size()) < atoms; ++attempt) {
    if (attempt > 100000) throw std::runtime_error("cannot place the random atoms");
    const Vec3 candidate = box.transpose() * Vec3(unit(generator), unit(generator), unit(generator));
    const Vec3i range = image_range(cell, min_distance);
    bool too_close = false;
    for (int s0 = -range[0]; s0 <= range[0]; ++s0)
      for (int s1 = -range[1]; s1 <= range[1]; ++s1)
        for (int s2 = -range[2]; s2 <= range[2]; ++s2) {
          const Vec3 image = candidate + cell.shift_vector(Vec3i(s0, s1, s2));
          if (!(s0 == 0 && s1 == 0 && s2 == 0) && (image - candidate).norm() < min_distance) too_close = true;
          for (const Vec3& position : system.positions)
            if ((image - position).norm() < min_distance) too_close = true;
        }
    if (!too_close) system.add_atom(symbols[system.size() % symbols.size()], candidate);
  }
  return system;
}

// Triclinic, two species, every perpendicular width (about 7 A) below the cutoffs: atoms see their own images.
System small_triclinic_system() {
  Mat3 lattice;
  lattice << 7.6, 0.0, 0.0, 1.3, 7.2, 0.0, -1.1, 0.9, 7.4;
  return random_system(Cell(lattice, {true, true, true}), lattice, 8, 3.0, 20240611);
}

// Periodic along a and b only; atoms spread over 8 A along z.
System slab_system() {
  Mat3 lattice;
  lattice << 7.6, 0.0, 0.0, 1.3, 7.2, 0.0, 0.0, 0.0, 0.0;
  Mat3 box = lattice;
  box.row(2) = Vec3(0.0, 0.0, 8.0);
  return random_system(Cell(lattice, {true, true, false}), box, 10, 3.0, 77);
}

System cluster_system() { return random_system(Cell(), Mat3::Identity() * 10.0, 12, 3.0, 4242); }

System dimer(const char* first, const char* second, const Vec3& separation) {
  System system;
  system.add_atom(first, Vec3(0.5, -0.25, 1.0));
  system.add_atom(second, Vec3(0.5, -0.25, 1.0) + separation);
  return system;
}

// max |F - F_fd| / max |F| with F_fd = -dE/dx by central differences.
double relative_force_error(Potential& potential, System system, double step) {
  const ForceResult result = evaluate(potential, system);
  double max_error = 0.0;
  double max_force = 0.0;
  for (std::size_t atom = 0; atom < system.size(); ++atom)
    for (int axis = 0; axis < 3; ++axis) {
      const double original = system.positions[atom][axis];
      system.positions[atom][axis] = original + step;
      const double energy_plus = energy_of(potential, system);
      system.positions[atom][axis] = original - step;
      const double energy_minus = energy_of(potential, system);
      system.positions[atom][axis] = original;
      const double finite_difference = -(energy_plus - energy_minus) / (2.0 * step);
      max_error = std::max(max_error, std::abs(result.forces[atom][axis] - finite_difference));
      max_force = std::max(max_force, std::abs(result.forces[atom][axis]));
    }
  return max_error / max_force;
}

// The system deformed by x -> (1 + strain) x: positions and lattice rows alike.
System strained(const System& system, const Mat3& strain) {
  const Mat3 deformation = Mat3::Identity() + strain;
  System deformed = system;
  for (Vec3& position : deformed.positions) position = deformation * position;
  if (system.cell.any_periodic())
    deformed.cell = Cell(system.cell.lattice() * deformation.transpose(), system.cell.pbc());
  return deformed;
}

// max |W_ab - W_fd,ab| / max |W| over all 9 components, W_fd,ab = -dE/d(eps_ab) for the symmetric strain
// eps_ab = eps_ba = step / 2 (step on the diagonal).
double relative_virial_error(Potential& potential, const System& system, double step) {
  const Mat3 virial = evaluate(potential, system).virial;
  Mat3 finite_difference;
  for (int a = 0; a < 3; ++a)
    for (int b = 0; b < 3; ++b) {
      Mat3 strain = Mat3::Zero();
      strain(a, b) += 0.5 * step;
      strain(b, a) += 0.5 * step;
      const double energy_plus = energy_of(potential, strained(system, strain));
      const double energy_minus = energy_of(potential, strained(system, -strain));
      finite_difference(a, b) = -(energy_plus - energy_minus) / (2.0 * step);
    }
  return (virial - finite_difference).cwiseAbs().maxCoeff() / virial.cwiseAbs().maxCoeff();
}

// Edges of a fresh half list with i == j (an atom and its own image) that lie inside `cutoff`.
int self_image_pairs(const System& system, double cutoff) {
  nqmd::NeighborList list(cutoff, kSkin, nqmd::NeighborListKind::half);
  list.build(system);
  int count = 0;
  for (std::size_t edge = 0; edge < list.num_edges(); ++edge) {
    const int i = list.centers()[edge];
    if (i != list.neighbors()[edge]) continue;
    if (system.cell.shift_vector(list.shifts()[edge]).norm() < cutoff) ++count;
  }
  return count;
}

}  // namespace

TEST_CASE("lj and morse are registered potential styles", "[potential]") {
  const std::vector<std::string> names = nqmd::PotentialRegistry::instance().names();
  CHECK(std::count(names.begin(), names.end(), "lj") == 1);
  CHECK(std::count(names.begin(), names.end(), "morse") == 1);
  const System argon = dimer("Ar", "Ar", Vec3(4.0, 0.0, 0.0));
  auto potential = make_potential(kLennardJonesInput, argon);
  CHECK(potential->cutoff() == kCutoff);
  CHECK(potential->neighbor_list_kind() == nqmd::NeighborListKind::half);
}

TEST_CASE("lj dimer: analytic energy, force, per-atom energies and virial", "[potential]") {
  const Vec3 direction = Vec3(1.0, 2.0, 2.0) / 3.0;
  System system = dimer("Ar", "Ar", 4.0 * direction);
  auto potential = make_potential(kLennardJonesInput, system);

  for (double r : {3.0, 3.4, 3.9, 5.0, 8.4}) {
    system = dimer("Ar", "Ar", r * direction);
    const ForceResult result = evaluate(*potential, system);
    const double energy = lennard_jones(kEpsilonAr, kSigmaAr, r);
    const double derivative = lennard_jones_derivative(kEpsilonAr, kSigmaAr, r);
    CHECK(result.energy == Approx(energy).epsilon(1e-13));
    CHECK(result.atom_energies[0] == Approx(0.5 * energy).epsilon(1e-13));
    CHECK(result.atom_energies[1] == Approx(0.5 * energy).epsilon(1e-13));
    // Atom 1 sits at +r along `direction`: F_1 = -dE/dr direction, F_0 = -F_1.
    CHECK((result.forces[1] + derivative * direction).norm() <= 1e-13 * std::abs(derivative));
    CHECK((result.forces[0] + result.forces[1]).norm() <= 1e-15);
    // W = -dE/dr r direction direction^T.
    const Mat3 virial = -derivative * r * direction * direction.transpose();
    CHECK((result.virial - virial).norm() <= 1e-13 * virial.norm());
  }

  SECTION("minimum -epsilon at 2^(1/6) sigma") {
    system = dimer("Ar", "Ar", std::pow(2.0, 1.0 / 6.0) * kSigmaAr * direction);
    const ForceResult result = evaluate(*potential, system);
    CHECK(result.energy == Approx(-kEpsilonAr).epsilon(1e-14));
    CHECK(result.forces[0].norm() <= 1e-15);
  }
  SECTION("nothing at or beyond the cutoff, although the list holds the pair (skin)") {
    // Along an axis, so that |r| is the cutoff exactly (r * direction would round |r| to either side of it).
    for (double r : {kCutoff, kCutoff + 0.5 * kSkin}) {
      system = dimer("Ar", "Ar", Vec3(r, 0.0, 0.0));
      const ForceResult result = evaluate(*potential, system);
      CHECK(result.energy == 0.0);
      CHECK(result.forces[0].isZero());
    }
  }
  SECTION("shift = true subtracts E(rc) and leaves forces unchanged") {
    auto shifted = make_potential(std::string(kLennardJonesInput) + "shift = true\n", system);
    for (double r : {3.3, 6.0, 8.49}) {
      system = dimer("Ar", "Ar", r * direction);
      const ForceResult plain = evaluate(*potential, system);
      const ForceResult result = evaluate(*shifted, system);
      const double energy = lennard_jones(kEpsilonAr, kSigmaAr, r) - lennard_jones(kEpsilonAr, kSigmaAr, kCutoff);
      CHECK(result.energy == Approx(energy).epsilon(1e-12));
      CHECK((result.forces[1] - plain.forces[1]).norm() == 0.0);
    }
  }
}

TEST_CASE("lj cross pairs: Lorentz-Berthelot mixing, explicit pair values and pair cutoffs", "[potential]") {
  const Vec3 direction(0.0, 0.6, 0.8);
  System system = dimer("Ar", "Kr", 4.0 * direction);

  SECTION("mixing: minimum -sqrt(eps_Ar eps_Kr) at 2^(1/6) (sigma_Ar + sigma_Kr)/2, zero at the mixed sigma") {
    auto potential = make_potential(kLennardJonesInput, system);
    const double sigma = 0.5 * (kSigmaAr + kSigmaKr);
    const double epsilon = std::sqrt(kEpsilonAr * kEpsilonKr);
    system = dimer("Ar", "Kr", std::pow(2.0, 1.0 / 6.0) * sigma * direction);
    ForceResult result = evaluate(*potential, system);
    CHECK(result.energy == Approx(-epsilon).epsilon(1e-14));
    CHECK(result.forces[0].norm() <= 1e-15);
    system = dimer("Kr", "Ar", sigma * direction);
    result = evaluate(*potential, system);
    CHECK(std::abs(result.energy) <= 1e-16);
    system = dimer("Kr", "Ar", 4.7 * direction);
    CHECK(evaluate(*potential, system).energy == Approx(lennard_jones(epsilon, sigma, 4.7)).epsilon(1e-13));
  }
  SECTION("pair_epsilon and pair_sigma replace mixing, in either order of the pair name") {
    auto potential = make_potential(std::string(kLennardJonesInput) +
                                        "pair_epsilon = { \"Kr-Ar\" = 0.02 }\npair_sigma = { \"Ar-Kr\" = 3.3 }\n",
                                    system);
    for (double r : {3.2, 4.1, 7.0}) {
      system = dimer("Ar", "Kr", r * direction);
      CHECK(evaluate(*potential, system).energy == Approx(lennard_jones(0.02, 3.3, r)).epsilon(1e-13));
      system = dimer("Kr", "Ar", r * direction);
      CHECK(evaluate(*potential, system).energy == Approx(lennard_jones(0.02, 3.3, r)).epsilon(1e-13));
    }
    system = dimer("Kr", "Kr", 4.1 * direction);
    CHECK(evaluate(*potential, system).energy == Approx(lennard_jones(kEpsilonKr, kSigmaKr, 4.1)).epsilon(1e-13));
  }
  SECTION("pair_cutoff applies to its pair only; cutoff() is the largest") {
    const std::string section = std::string(kLennardJonesInput) + "pair_cutoff = { \"Ar-Kr\" = 6.0, \"Kr-Kr\" = 9.5 }\n";
    auto potential = make_potential(section, system);
    CHECK(potential->cutoff() == 9.5);
    system = dimer("Ar", "Kr", 6.2 * direction);
    CHECK(evaluate(*potential, system).energy == 0.0);
    system = dimer("Ar", "Ar", 6.2 * direction);
    CHECK(evaluate(*potential, system).energy == Approx(lennard_jones(kEpsilonAr, kSigmaAr, 6.2)).epsilon(1e-13));
    system = dimer("Kr", "Kr", 9.0 * direction);
    CHECK(evaluate(*potential, system).energy == Approx(lennard_jones(kEpsilonKr, kSigmaKr, 9.0)).epsilon(1e-13));
  }
}

TEST_CASE("morse dimer: analytic energy, minimum -D0 at r0, mixing and shift", "[potential]") {
  const Vec3 direction = Vec3(2.0, -1.0, 2.0) / 3.0;
  System system = dimer("Ar", "Ar", 3.0 * direction);
  auto potential = make_potential(kMorseInput, system);

  system = dimer("Ar", "Ar", 3.0 * direction);
  ForceResult result = evaluate(*potential, system);
  CHECK(result.energy == Approx(-0.30).epsilon(1e-14));
  CHECK(result.forces[0].norm() <= 1e-15);

  for (double r : {2.5, 3.6, 5.0, 7.9}) {
    system = dimer("Ar", "Ar", r * direction);
    result = evaluate(*potential, system);
    CHECK(result.energy == Approx(morse(0.30, 1.3, 3.0, r)).epsilon(1e-13));
    CHECK(result.atom_energies[0] == Approx(0.5 * morse(0.30, 1.3, 3.0, r)).epsilon(1e-13));
    // dE/dr = 2 alpha D0 x (1 - x), x = exp(-alpha (r - r0)); F_1 = -dE/dr direction.
    const double x = std::exp(-1.3 * (r - 3.0));
    const double derivative = 2.0 * 1.3 * 0.30 * x * (1.0 - x);
    CHECK((result.forces[1] + derivative * direction).norm() <= 1e-13 * std::abs(derivative));
  }
  // Cross pair: D0 = sqrt(0.30 * 0.40), alpha = 1.4, r0 = 3.15.
  system = dimer("Kr", "Ar", 3.15 * direction);
  CHECK(evaluate(*potential, system).energy == Approx(-std::sqrt(0.12)).epsilon(1e-14));
  system = dimer("Kr", "Ar", 4.4 * direction);
  CHECK(evaluate(*potential, system).energy == Approx(morse(std::sqrt(0.12), 1.4, 3.15, 4.4)).epsilon(1e-13));

  auto shifted = make_potential(std::string(kMorseInput) + "shift = true\n", system);
  system = dimer("Kr", "Kr", 4.4 * direction);
  CHECK(evaluate(*shifted, system).energy ==
        Approx(morse(0.40, 1.5, 3.3, 4.4) - morse(0.40, 1.5, 3.3, 8.0)).epsilon(1e-12));
}

TEST_CASE("pair forces are -dE/dx by central differences", "[potential]") {
  const double step = 1e-5;  // A
  const System triclinic = small_triclinic_system();
  REQUIRE(self_image_pairs(triclinic, kCutoff) > 0);
  const System slab = slab_system();
  const System cluster = cluster_system();
  for (const std::string& section :
       {std::string(kLennardJonesInput), std::string(kLennardJonesInput) + "shift = true\n", std::string(kMorseInput)}) {
    auto potential = make_potential(section, triclinic);
    INFO(section);
    CHECK(relative_force_error(*potential, triclinic, step) < 1e-7);
    CHECK(relative_force_error(*potential, slab, step) < 1e-7);
    CHECK(relative_force_error(*potential, cluster, step) < 1e-7);
  }
}

TEST_CASE("pair virial is -dE/d(strain) by central differences, all 9 components", "[potential]") {
  const double step = 1e-6;
  const System triclinic = small_triclinic_system();
  const System slab = slab_system();
  const System cluster = cluster_system();
  for (const std::string& section :
       {std::string(kLennardJonesInput), std::string(kLennardJonesInput) + "shift = true\n", std::string(kMorseInput)}) {
    auto potential = make_potential(section, triclinic);
    INFO(section);
    CHECK(relative_virial_error(*potential, triclinic, step) < 1e-7);
    CHECK(relative_virial_error(*potential, slab, step) < 1e-7);
    CHECK(relative_virial_error(*potential, cluster, step) < 1e-7);
    const Mat3 virial = evaluate(*potential, triclinic).virial;
    CHECK((virial - virial.transpose()).cwiseAbs().maxCoeff() <= 1e-14 * virial.cwiseAbs().maxCoeff());
  }
}

TEST_CASE("pair sums: per-atom energies add up to the energy, forces to zero", "[potential]") {
  const System triclinic = small_triclinic_system();
  for (const std::string& section : {std::string(kLennardJonesInput), std::string(kMorseInput)}) {
    auto potential = make_potential(section, triclinic);
    for (const System& system : {triclinic, slab_system(), cluster_system()}) {
      const ForceResult result = evaluate(*potential, system);
      double atom_energy_sum = 0.0;
      Vec3 force_sum = Vec3::Zero();
      double max_force = 0.0;
      for (std::size_t atom = 0; atom < system.size(); ++atom) {
        atom_energy_sum += result.atom_energies[atom];
        force_sum += result.forces[atom];
        max_force = std::max(max_force, result.forces[atom].norm());
      }
      CHECK(std::abs(atom_energy_sum - result.energy) <= 1e-14 * std::abs(result.energy));
      CHECK(force_sum.norm() <= 1e-14 * max_force);
    }
  }
}

TEST_CASE("pair energy equals a brute-force double loop over all periodic images", "[potential]") {
  // Mixed Ar-Kr epsilon, explicit Ar-Kr sigma and cutoff, shifted energies.
  const std::string section = std::string(kLennardJonesInput) +
                              "pair_sigma = { \"Ar-Kr\" = 3.5 }\npair_cutoff = { \"Kr-Ar\" = 7.9 }\nshift = true\n";
  auto reference_pair_energy = [](const std::string& a, const std::string& b, double r) {
    double epsilon = kEpsilonAr, sigma = kSigmaAr, cutoff = kCutoff;
    if (a != b) {
      epsilon = std::sqrt(kEpsilonAr * kEpsilonKr);
      sigma = 3.5;
      cutoff = 7.9;
    } else if (a == "Kr") {
      epsilon = kEpsilonKr;
      sigma = kSigmaKr;
    }
    return r < cutoff ? lennard_jones(epsilon, sigma, r) - lennard_jones(epsilon, sigma, cutoff) : 0.0;
  };
  Mat3 lattice;
  lattice << 11.0, 0.0, 0.0, 2.5, 10.2, 0.0, 1.4, -2.0, 10.8;
  const System larger = random_system(Cell(lattice, {true, true, true}), lattice, 24, 3.0, 99);
  for (const System& system : {small_triclinic_system(), larger, slab_system()}) {
    auto potential = make_potential(section, system);
    const ForceResult result = evaluate(*potential, system);
    // E = 1/2 sum_i sum_(j, s) != (i, 0) E_ij(|x_j - x_i + s . lattice|); atom i gets the half of its pairs.
    double energy = 0.0;
    std::vector<double> atom_energies(system.size(), 0.0);
    for_each_image_pair(system, kCutoff, [&](int i, int j, double r) {
      const double half = 0.5 * reference_pair_energy(system.symbol(i), system.symbol(j), r);
      energy += half;
      atom_energies[i] += half;
    });
    CHECK(result.energy == Approx(energy).epsilon(1e-12));
    double max_atom_error = 0.0;
    for (std::size_t atom = 0; atom < system.size(); ++atom)
      max_atom_error = std::max(max_atom_error, std::abs(result.atom_energies[atom] - atom_energies[atom]));
    CHECK(max_atom_error <= 1e-12 * std::abs(energy));
  }
}

TEST_CASE("pair potentials use current positions with a list built before the atoms moved", "[potential]") {
  System system = small_triclinic_system();
  auto potential = make_potential(kMorseInput, system);
  nqmd::NeighborList list(potential->cutoff(), kSkin, potential->neighbor_list_kind());
  list.build(system);
  std::mt19937 generator(5);
  std::uniform_real_distribution<double> displacement(-0.25, 0.25);  // |d| < skin / 2
  for (Vec3& position : system.positions) position += Vec3(displacement(generator), displacement(generator), 0.0);
  REQUIRE_FALSE(list.needs_rebuild(system));
  ForceResult with_old_list;
  potential->compute(system, list, with_old_list);
  const ForceResult with_new_list = evaluate(*potential, system);
  CHECK(with_old_list.energy == Approx(with_new_list.energy).epsilon(1e-13));
  CHECK((with_old_list.virial - with_new_list.virial).norm() <= 1e-13 * with_new_list.virial.norm());
}

TEST_CASE("pair potential input errors name the file and the key", "[potential]") {
  using Catch::Matchers::Contains;
  const System argon_krypton = dimer("Ar", "Kr", Vec3(4.0, 0.0, 0.0));

  SECTION("a pair naming an unknown species") {
    const auto outcome =
        input_error("unknown_pair", std::string(kLennardJonesInput) + "pair_epsilon = { \"Ar-Xe\" = 0.01 }\n",
                    argon_krypton);
    CHECK_THAT(outcome.message, Contains(outcome.path + ":7:") && Contains("pair_epsilon") && Contains("'Xe'"));
  }
  SECTION("a malformed pair name") {
    const auto outcome =
        input_error("bad_pair", std::string(kLennardJonesInput) + "pair_sigma = { \"ArKr\" = 3.5 }\n", argon_krypton);
    CHECK_THAT(outcome.message, Contains(outcome.path) && Contains("pair_sigma") && Contains("\"A-B\""));
  }
  SECTION("the same pair twice") {
    const auto outcome = input_error(
        "twice", std::string(kMorseInput) + "pair_r0 = { \"Ar-Kr\" = 3.1, \"Kr-Ar\" = 3.2 }\n", argon_krypton);
    CHECK_THAT(outcome.message, Contains(outcome.path) && Contains("pair_r0") && Contains("twice"));
  }
  SECTION("per-species arrays of the wrong length") {
    const auto outcome = input_error("length",
                                     "kind = \"lj\"\nspecies = [\"Ar\", \"Kr\"]\nepsilon = [0.0104, 0.0140]\n"
                                     "sigma = [3.40]\ncutoff = 8.5\n",
                                     argon_krypton);
    CHECK_THAT(outcome.message,
               Contains(outcome.path + ":5:") && Contains("sigma") && Contains("expected 2 values"));
  }
  SECTION("a negative sigma") {
    const auto outcome = input_error("negative",
                                     "kind = \"lj\"\nspecies = [\"Ar\", \"Kr\"]\nepsilon = [0.0104, 0.0140]\n"
                                     "sigma = [3.40, -3.65]\ncutoff = 8.5\n",
                                     argon_krypton);
    CHECK_THAT(outcome.message, Contains(outcome.path + ":5:") && Contains("sigma") && Contains("> 0"));
  }
  SECTION("a zero epsilon in a pair table") {
    const auto outcome =
        input_error("zero", std::string(kLennardJonesInput) + "pair_epsilon = { \"Ar-Kr\" = 0.0 }\n", argon_krypton);
    CHECK_THAT(outcome.message, Contains(outcome.path) && Contains("pair_epsilon") && Contains("> 0"));
  }
  SECTION("an unknown key, with a suggestion") {
    const auto outcome = input_error("unknown_key", std::string(kLennardJonesInput) + "sigam = [3.4, 3.65]\n",
                                     argon_krypton);
    CHECK_THAT(outcome.message, Contains(outcome.path + ":7:") && Contains("sigam") && Contains("did you mean 'sigma'"));
  }
  SECTION("a missing per-species array") {
    const auto outcome = input_error("missing", "kind = \"morse\"\nspecies = [\"Ar\"]\nd0 = [0.3]\nr0 = [3.0]\ncutoff = 8.0\n",
                                     dimer("Ar", "Ar", Vec3(3.0, 0.0, 0.0)));
    CHECK_THAT(outcome.message, Contains(outcome.path) && Contains("alpha"));
  }
  SECTION("a species listed twice") {
    const auto outcome = input_error(
        "duplicate", "kind = \"lj\"\nspecies = [\"Ar\", \"Ar\"]\nepsilon = [0.01, 0.01]\nsigma = [3.4, 3.4]\ncutoff = 8.5\n",
        argon_krypton);
    CHECK_THAT(outcome.message, Contains(outcome.path + ":3:") && Contains("species") && Contains("twice"));
  }
  SECTION("a species of the system that the potential does not describe") {
    System system = argon_krypton;
    system.add_atom("Xe", Vec3(0.0, 4.0, 0.0));
    const auto outcome = input_error("system_species", kMorseInput, system);
    CHECK_THAT(outcome.message, Contains(outcome.path + ":3:") && Contains("species") && Contains("Xe") &&
                                    Contains("does not describe"));
  }
}
