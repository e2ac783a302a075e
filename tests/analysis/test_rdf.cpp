#include <algorithm>
#include <cmath>
#include <map>
#include <random>
#include <string>
#include <vector>

#include <catch2/catch.hpp>

#include "analysis/rdf.hpp"
#include "analysis_test_support.hpp"
#include "engine/error.hpp"

using namespace nqmd;
using namespace nqmd::analysis;
using nqmd::test::make_frame;

namespace {

constexpr double kPi = 3.14159265358979323846;

// Uniform random points in a cell: an ideal gas.
std::vector<Vec3> uniform_points(const Cell& cell, std::size_t count, std::mt19937_64& generator) {
  std::uniform_real_distribution<double> uniform(0.0, 1.0);
  std::vector<Vec3> points(count);
  for (Vec3& point : points)
    point = cell.to_cartesian(Vec3(uniform(generator), uniform(generator), uniform(generator)));
  return points;
}

// Index of the largest g among the bins whose centres lie in [low, high].
std::size_t argmax_in(const RdfResult& rdf, const std::vector<double>& g, double low, double high) {
  std::size_t best = 0;
  double best_value = -1.0;
  for (std::size_t k = 0; k < rdf.r.size(); ++k)
    if (rdf.r[k] >= low && rdf.r[k] <= high && g[k] > best_value) {
      best_value = g[k];
      best = k;
    }
  return best;
}

std::size_t argmin_in(const RdfResult& rdf, const std::vector<double>& g, double low, double high) {
  std::size_t best = 0;
  double best_value = 1e300;
  for (std::size_t k = 0; k < rdf.r.size(); ++k)
    if (rdf.r[k] >= low && rdf.r[k] <= high && g[k] < best_value) {
      best_value = g[k];
      best = k;
    }
  return best;
}

// All-images O(N^2) reference histogram, normalised as documented in rdf.hpp, averaged over the frames.
struct BruteForceRdf {
  std::map<std::pair<std::string, std::string>, std::vector<double>> g;  // key ("", "") is the total
  std::map<std::pair<std::string, std::string>, std::vector<double>> coordination;
};

BruteForceRdf brute_force_rdf(const std::vector<std::string>& symbols, const std::vector<TrajectoryFrame>& frames,
                              double r_max, std::size_t bins) {
  BruteForceRdf reference;
  const double dr = r_max / static_cast<double>(bins);
  std::map<std::string, double> count_of;
  for (const std::string& s : symbols) count_of[s] += 1.0;
  const double n = static_cast<double>(symbols.size());
  auto pair_count = [&](const std::string& a, const std::string& b) {
    if (a.empty()) return n * (n - 1.0);
    return a == b ? count_of[a] * (count_of[a] - 1.0) : count_of[a] * count_of[b];
  };
  std::vector<std::pair<std::string, std::string>> keys{{"", ""}};
  for (const auto& [a, na] : count_of)
    for (const auto& [b, nb] : count_of) keys.emplace_back(a, b);
  for (const auto& key : keys) {
    reference.g[key].assign(bins, 0.0);
    reference.coordination[key].assign(bins, 0.0);
  }
  for (const TrajectoryFrame& frame : frames) {
    const Mat3& lattice = frame.cell.lattice();
    const Vec3 widths = frame.cell.perpendicular_widths();
    std::array<int, 3> reach{};
    for (int axis = 0; axis < 3; ++axis) reach[axis] = static_cast<int>(std::ceil(r_max / widths[axis])) + 1;
    std::map<std::pair<std::string, std::string>, std::vector<double>> histogram;
    for (const auto& key : keys) histogram[key].assign(bins, 0.0);
    for (std::size_t i = 0; i < symbols.size(); ++i)
      for (std::size_t j = 0; j < symbols.size(); ++j)
        for (int s0 = -reach[0]; s0 <= reach[0]; ++s0)
          for (int s1 = -reach[1]; s1 <= reach[1]; ++s1)
            for (int s2 = -reach[2]; s2 <= reach[2]; ++s2) {
              if (i == j && s0 == 0 && s1 == 0 && s2 == 0) continue;
              const Vec3 shift = lattice.transpose() * Vec3(s0, s1, s2);
              const double distance = (frame.positions[j] - frame.positions[i] + shift).norm();
              if (distance >= r_max) continue;
              const std::size_t bin = static_cast<std::size_t>(distance / dr);
              histogram[{"", ""}][bin] += 1.0;
              histogram[{symbols[i], symbols[j]}][bin] += 1.0;
            }
    const double volume = frame.cell.volume();
    for (const auto& key : keys) {
      const double centres = key.first.empty() ? n : count_of[key.first];
      double running = 0.0;
      for (std::size_t k = 0; k < bins; ++k) {
        const double shell = 4.0 / 3.0 * kPi * (std::pow((k + 1) * dr, 3) - std::pow(k * dr, 3));
        reference.g[key][k] += histogram[key][k] * volume / (pair_count(key.first, key.second) * shell) / frames.size();
        running += histogram[key][k] / centres;
        reference.coordination[key][k] += running / frames.size();
      }
    }
  }
  return reference;
}

}  // namespace

TEST_CASE("RDF of an ideal gas is 1 within its block error bars", "[analysis]") {
  const Cell cell = nqmd::test::orthorhombic_cell(10.0, 10.0, 10.0);
  const std::size_t atoms = 100;
  std::vector<std::string> symbols(atoms, "Ar");
  RdfOptions options;
  options.bins = 50;  // r_max defaults to half the width, 5 A: dr = 0.1 A
  RadialDistribution rdf(symbols, options);
  std::mt19937_64 generator(7);
  for (int frame = 0; frame < 400; ++frame) rdf.accumulate(make_frame(cell, uniform_points(cell, atoms, generator)));
  const RdfResult result = rdf.finalize();

  CHECK(result.r_max == Approx(5.0));
  CHECK(result.frames == 400);
  CHECK(result.blocks >= 8);
  CHECK(result.blocks < 16);
  CHECK(result.blocks * result.frames_per_block <= 400);
  // Tolerance from the error bars: every bin beyond 1 A (at least ~12 pairs per frame and bin) within 5 standard
  // errors of 1, and the mean squared deviation in units of the error close to 1 (a chi^2 per bin).
  double chi_squared = 0.0;
  std::size_t tested = 0;
  for (std::size_t k = 0; k < result.r.size(); ++k) {
    if (result.r[k] < 1.0) continue;
    const double z = (result.total.g[k] - 1.0) / result.total.g_error[k];
    INFO("r = " << result.r[k] << " g = " << result.total.g[k] << " +- " << result.total.g_error[k]);
    CHECK(std::abs(z) < 5.0);
    chi_squared += z * z;
    ++tested;
  }
  const double chi_squared_per_bin = chi_squared / tested;
  INFO("chi^2 per bin = " << chi_squared_per_bin << " over " << tested << " bins, " << result.blocks << " blocks");
  CHECK(chi_squared_per_bin > 0.5);
  CHECK(chi_squared_per_bin < 2.0);
  // Coordination number at r_max: (N - 1) / V * 4/3 pi r^3.
  const double expected = (atoms - 1) / cell.volume() * 4.0 / 3.0 * kPi * std::pow(5.0, 3);
  CHECK(std::abs(result.total.coordination.back() - expected) < 5.0 * result.total.coordination_error.back());
  CHECK(result.partial("Ar", "Ar").g == result.total.g);
}

TEST_CASE("partial RDFs of a two-species ideal gas add up to the total", "[analysis]") {
  const Cell cell = nqmd::test::orthorhombic_cell(9.0, 10.0, 11.0);
  const std::size_t n_li = 30, n_o = 50, atoms = n_li + n_o;
  std::vector<std::string> symbols(atoms, "O");
  for (std::size_t i = 0; i < n_li; ++i) symbols[2 * i] = "Li";  // interleaved species
  RdfOptions options;
  options.bins = 40;
  RadialDistribution rdf(symbols, options);
  std::mt19937_64 generator(11);
  for (int frame = 0; frame < 100; ++frame) rdf.accumulate(make_frame(cell, uniform_points(cell, atoms, generator)));
  const RdfResult result = rdf.finalize();
  REQUIRE(result.partials.size() == 4);

  const double n = atoms;
  const std::map<std::string, double> count{{"Li", double(n_li)}, {"O", double(n_o)}};
  double largest_mole_fraction_gap = 0.0;
  for (std::size_t k = 0; k < result.r.size(); ++k) {
    double exact_sum = 0.0;
    double mole_fraction_sum = 0.0;
    for (const RdfCurve& curve : result.partials) {
      const double na = count.at(curve.species_a), nb = count.at(curve.species_b);
      const double pairs = curve.species_a == curve.species_b ? na * (na - 1) : na * nb;
      CHECK(curve.pair_count == pairs);
      exact_sum += pairs / (n * (n - 1)) * curve.g[k];
      mole_fraction_sum += (na / n) * (nb / n) * curve.g[k];
    }
    // Exact with the pair-count weights; with x_a x_b up to terms of order 1/N.
    CHECK(exact_sum == Approx(result.total.g[k]).margin(1e-12).epsilon(1e-12));
    largest_mole_fraction_gap = std::max(largest_mole_fraction_gap, std::abs(mole_fraction_sum - result.total.g[k]));
  }
  INFO("largest |sum x_a x_b g_ab - g| = " << largest_mole_fraction_gap);
  CHECK(largest_mole_fraction_gap < 2.0 / n);
  // Coordination numbers: n_ab = (N_b or N_a - 1) / V * 4/3 pi r^3 for an ideal gas, within 5 errors.
  const double sphere = 4.0 / 3.0 * kPi * std::pow(result.r_max, 3) / cell.volume();
  const RdfCurve& li_o = result.partial("Li", "O");
  const RdfCurve& o_li = result.partial("O", "Li");
  CHECK(std::abs(li_o.coordination.back() - n_o * sphere) < 5.0 * li_o.coordination_error.back());
  CHECK(std::abs(o_li.coordination.back() - n_li * sphere) < 5.0 * o_li.coordination_error.back());
  CHECK(li_o.g == o_li.g);
}

TEST_CASE("RDF of a thermal fcc crystal: shell positions and 12 nearest neighbours", "[analysis]") {
  const double a = 4.05;
  const Cell cell = nqmd::test::orthorhombic_cell(4 * a, 4 * a, 4 * a);
  const std::vector<Vec3> lattice_sites = nqmd::test::fcc_conventional_positions(a, 4, 4, 4);
  std::vector<std::string> symbols(lattice_sites.size(), "Al");
  RdfOptions options;
  options.r_max = 8.0;
  options.bins = 160;  // dr = 0.05 A
  RadialDistribution rdf(symbols, options);
  std::mt19937_64 generator(3);
  std::normal_distribution<double> thermal(0.0, 0.04);
  for (int frame = 0; frame < 20; ++frame) {
    std::vector<Vec3> positions = lattice_sites;
    for (Vec3& x : positions) x += Vec3(thermal(generator), thermal(generator), thermal(generator));
    rdf.accumulate(make_frame(cell, positions));
  }
  const RdfResult result = rdf.finalize();

  const std::vector<double> shells{a / std::sqrt(2.0), a, a * std::sqrt(1.5), a * std::sqrt(2.0)};
  for (double shell : shells) {
    const std::size_t peak = argmax_in(result, result.total.g, shell - 0.3, shell + 0.3);
    INFO("shell " << shell << " A: peak at " << result.r[peak] << " A, g = " << result.total.g[peak]);
    CHECK(std::abs(result.r[peak] - shell) <= result.bin_width);
  }
  const std::size_t first_minimum = argmin_in(result, result.total.g, shells[0], shells[1]);
  const std::size_t second_minimum = argmin_in(result, result.total.g, shells[1], shells[2]);
  INFO("first minimum at " << result.r[first_minimum] << " A");
  CHECK(result.total.coordination[first_minimum] == Approx(12.0).margin(1e-12));
  CHECK(result.total.coordination[second_minimum] == Approx(18.0).margin(1e-12));
  CHECK(result.total.coordination_error[first_minimum] == Approx(0.0).margin(1e-12));
}

TEST_CASE("RDF in a triclinic cell equals the orthorhombic cell with the same atoms", "[analysis]") {
  SECTION("perfect fcc: primitive cell repeated 4x4x4 against the conventional cell 4x2x2 (64 atoms each)") {
    const double a = 3.61;
    const Cell triclinic = nqmd::test::fcc_primitive_supercell(a, 4);
    const Cell orthorhombic = nqmd::test::orthorhombic_cell(4 * a, 2 * a, 2 * a);
    const std::vector<Vec3> triclinic_atoms = nqmd::test::fcc_primitive_positions(a, 4);
    const std::vector<Vec3> orthorhombic_atoms = nqmd::test::fcc_conventional_positions(a, 4, 2, 2);
    REQUIRE(triclinic_atoms.size() == orthorhombic_atoms.size());
    REQUIRE(triclinic.volume() == Approx(orthorhombic.volume()).epsilon(1e-12));
    RdfOptions options;
    options.r_max = 6.0;  // beyond half of every width: needs images in both cells
    options.bins = 120;
    options.periodic_images = true;
    std::vector<std::string> symbols(triclinic_atoms.size(), "Cu");
    RadialDistribution first(symbols, options), second(symbols, options);
    first.accumulate(make_frame(triclinic, triclinic_atoms));
    second.accumulate(make_frame(orthorhombic, orthorhombic_atoms));
    const RdfResult g_triclinic = first.finalize(), g_orthorhombic = second.finalize();
    for (std::size_t k = 0; k < g_triclinic.r.size(); ++k) {
      CHECK(g_triclinic.total.g[k] == Approx(g_orthorhombic.total.g[k]).epsilon(1e-10).margin(1e-10));
      CHECK(g_triclinic.total.coordination[k] == Approx(g_orthorhombic.total.coordination[k]).margin(1e-10));
    }
    // 12 + 6 + 24 + 12 + 24 neighbours in the shells below 6 A.
    CHECK(g_triclinic.total.coordination.back() == Approx(78.0).margin(1e-12));
  }
  SECTION("thermal fcc: the same periodic system described by a sheared cell, minimum image and all images") {
    const double a = 3.61;
    const Cell orthorhombic = nqmd::test::orthorhombic_cell(3 * a, 3 * a, 3 * a);
    // Unimodular rows (L1, L1 + L2, L2 + L3): the same lattice of periodic images, a skewed cell.
    Mat3 sheared = orthorhombic.lattice();
    sheared.row(2) += sheared.row(1);
    sheared.row(1) += sheared.row(0);
    const Cell triclinic(sheared, {true, true, true});
    const std::vector<Vec3> sites = nqmd::test::fcc_conventional_positions(a, 3, 3, 3);
    std::vector<std::string> symbols(sites.size(), "Cu");
    for (bool images : {false, true}) {
      RdfOptions options;
      options.r_max = images ? 7.0 : 0.5 * triclinic.perpendicular_widths().minCoeff();
      options.bins = 100;
      options.periodic_images = images;
      RadialDistribution first(symbols, options), second(symbols, options);
      std::mt19937_64 generator(5);
      std::normal_distribution<double> thermal(0.0, 0.1);
      for (int frame = 0; frame < 3; ++frame) {
        std::vector<Vec3> positions = sites;
        for (Vec3& x : positions) x += Vec3(thermal(generator), thermal(generator), thermal(generator));
        first.accumulate(make_frame(triclinic, positions));
        second.accumulate(make_frame(orthorhombic, positions));
      }
      const RdfResult g_triclinic = first.finalize(), g_orthorhombic = second.finalize();
      INFO("periodic images: " << images << ", r_max = " << options.r_max);
      for (std::size_t k = 0; k < g_triclinic.r.size(); ++k)
        CHECK(g_triclinic.total.g[k] == Approx(g_orthorhombic.total.g[k]).epsilon(1e-10).margin(1e-10));
    }
  }
}

TEST_CASE("RDF beyond half the cell width with images equals the brute-force all-images histogram", "[analysis]") {
  Mat3 lattice;
  lattice << 4.0, 0.0, 0.0, 1.3, 3.5, 0.0, 0.7, -0.9, 3.8;
  const Cell cell(lattice, {true, true, true});
  const std::vector<std::string> symbols{"Li", "O", "O", "Li", "O", "Li", "O"};
  std::mt19937_64 generator(13);
  std::vector<TrajectoryFrame> frames;
  for (int frame = 0; frame < 3; ++frame)
    frames.push_back(make_frame(cell, uniform_points(cell, symbols.size(), generator)));
  RdfOptions options;
  options.r_max = 7.5;  // about twice the smallest width
  options.bins = 30;
  options.periodic_images = true;
  RadialDistribution rdf(symbols, options);
  for (const TrajectoryFrame& frame : frames) rdf.accumulate(frame);
  const RdfResult result = rdf.finalize();
  const BruteForceRdf reference = brute_force_rdf(symbols, frames, options.r_max, options.bins);

  std::vector<const RdfCurve*> curves{&result.total};
  for (const RdfCurve& curve : result.partials) curves.push_back(&curve);
  double total_neighbours = 0.0;
  for (const RdfCurve* curve : curves) {
    const auto key = std::make_pair(curve->species_a, curve->species_b);
    for (std::size_t k = 0; k < result.r.size(); ++k) {
      INFO(curve->species_a << "-" << curve->species_b << " bin " << k);
      CHECK(curve->g[k] == Approx(reference.g.at(key)[k]).epsilon(1e-10).margin(1e-12));
      CHECK(curve->coordination[k] == Approx(reference.coordination.at(key)[k]).epsilon(1e-10).margin(1e-12));
    }
  }
  total_neighbours = result.total.coordination.back();
  INFO("neighbours within 7.5 A: " << total_neighbours);
  CHECK(total_neighbours > 100.0);  // many images of every atom, its own included

  // Without images the same r_max is refused.
  options.periodic_images = false;
  RadialDistribution minimum_image(symbols, options);
  CHECK_THROWS_WITH(minimum_image.accumulate(frames[0]),
                    Catch::Contains("r_max = 7.5 A exceeds half the smallest perpendicular cell width") &&
                        Catch::Contains("allow periodic images"));
}

TEST_CASE("RDF input errors", "[analysis]") {
  const Cell cell = nqmd::test::orthorhombic_cell(10.0, 10.0, 10.0);
  std::mt19937_64 generator(17);
  const std::vector<std::string> symbols(10, "Ar");

  SECTION("a frame with another atom count") {
    RadialDistribution rdf(symbols);
    rdf.accumulate(make_frame(cell, uniform_points(cell, 10, generator)));
    rdf.accumulate(make_frame(cell, uniform_points(cell, 10, generator)));
    CHECK_THROWS_WITH(rdf.accumulate(make_frame(cell, uniform_points(cell, 9, generator))),
                      Catch::Contains("frame 2 has 9 atoms but the trajectory has 10"));
  }
  SECTION("a non-periodic system needs a volume, and r_max") {
    const Cell cluster;
    const std::vector<Vec3> points = uniform_points(cell, 10, generator);
    RadialDistribution rdf(symbols);
    CHECK_THROWS_WITH(rdf.accumulate(make_frame(cluster, points)), Catch::Contains("needs a volume"));
    RdfOptions options;
    options.volume = 1000.0;
    RadialDistribution without_r_max(symbols, options);
    CHECK_THROWS_WITH(without_r_max.accumulate(make_frame(cluster, points)), Catch::Contains("give r_max"));
    options.r_max = 6.0;
    RadialDistribution with_volume(symbols, options);
    with_volume.accumulate(make_frame(cluster, points));
    CHECK(with_volume.finalize().mean_volume == 1000.0);
    RadialDistribution volume_for_periodic(symbols, options);
    CHECK_THROWS_WITH(volume_for_periodic.accumulate(make_frame(cell, points)),
                      Catch::Contains("periodic along every axis"));
  }
  SECTION("a species not in the trajectory") {
    const Trajectory trajectory = [&] {
      Trajectory t = nqmd::test::make_trajectory({"Li", "O", "O"}, {6.94, 16.0, 16.0});
      t.frames.push_back(make_frame(cell, uniform_points(cell, 3, generator)));
      t.frames.push_back(make_frame(cell, uniform_points(cell, 3, generator)));
      return t;
    }();
    const RdfResult result = compute_rdf(trajectory);
    CHECK_THROWS_WITH(result.partial("Na", "O"),
                      Catch::Contains("species 'Na' is not in the trajectory (it has Li, O)"));
    CHECK(result.frames == 2);
    CHECK(result.blocks == 2);
    // A single Li atom: g_LiLi has no pairs; reported as zero with a warning.
    CHECK(result.partial("Li", "Li").pair_count == 0.0);
    CHECK(std::any_of(result.warnings.begin(), result.warnings.end(),
                      [](const std::string& w) { return w.find("single Li atom") != std::string::npos; }));
  }
  SECTION("no frames") {
    RadialDistribution rdf(symbols);
    CHECK_THROWS_WITH(rdf.finalize(), Catch::Contains("no frames"));
  }
}
