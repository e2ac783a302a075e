#include <algorithm>
#include <array>
#include <cmath>
#include <fstream>
#include <iterator>
#include <limits>
#include <map>
#include <random>
#include <sstream>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

#include <catch2/catch.hpp>
#include <omp.h>

#include "engine/neighbor_list.hpp"
#include "engine/spatial_order.hpp"
#include "test_paths.hpp"

using namespace nqmd;

namespace {

using EdgeKey = std::tuple<int, int, int, int, int>;  // centre i, neighbour j, shift s

EdgeKey edge_key(int i, int j, const Vec3i& s) { return {i, j, s[0], s[1], s[2]}; }

Vec3 edge_vector(const System& system, int i, int j, const Vec3i& s) {
  return system.positions[j] - system.positions[i] + system.cell.shift_vector(s);
}

bool lexicographically_positive(int s0, int s1, int s2) {
  if (s0 != 0) return s0 > 0;
  if (s1 != 0) return s1 > 0;
  return s2 > 0;
}

bool kept_in_half_list(const EdgeKey& edge) {
  const auto [i, j, s0, s1, s2] = edge;
  return i < j || (i == j && lexicographically_positive(s0, s1, s2));
}

// All-images O(N^2) reference: every edge (i, j, s) with |x_j - x_i + s . lattice| < radius, with its length.
// Along a periodic axis of width w, an image within the radius has |f_j - f_i + s| <= radius / w in fractional
// coordinates, so s lies within ceil(radius / w) + 1 of -round(f_j - f_i) (positions may be unwrapped).
std::map<EdgeKey, double> brute_force_edges(const System& system, double radius) {
  const Cell& cell = system.cell;
  const Mat3& lattice = cell.completed_lattice();
  const Mat3 to_fractional = lattice.transpose().inverse();
  std::array<int, 3> window{0, 0, 0};
  for (int axis = 0; axis < 3; ++axis) {
    if (!cell.periodic(axis)) continue;
    const Vec3 other1 = lattice.row((axis + 1) % 3).transpose();
    const Vec3 other2 = lattice.row((axis + 2) % 3).transpose();
    const double width = std::abs(lattice.determinant()) / other1.cross(other2).norm();
    window[axis] = static_cast<int>(std::ceil(radius / width)) + 1;
  }
  std::map<EdgeKey, double> edges;
  const int n = static_cast<int>(system.size());
  for (int i = 0; i < n; ++i) {
    for (int j = 0; j < n; ++j) {
      const Vec3 fractional_offset = to_fractional * (system.positions[j] - system.positions[i]);
      Vec3i centre = Vec3i::Zero();
      for (int axis = 0; axis < 3; ++axis)
        if (cell.periodic(axis)) centre[axis] = -static_cast<int>(std::lround(fractional_offset[axis]));
      for (int s0 = centre[0] - window[0]; s0 <= centre[0] + window[0]; ++s0)
        for (int s1 = centre[1] - window[1]; s1 <= centre[1] + window[1]; ++s1)
          for (int s2 = centre[2] - window[2]; s2 <= centre[2] + window[2]; ++s2) {
            const Vec3i s(s0, s1, s2);
            if (i == j && s == Vec3i::Zero()) continue;
            const double distance_squared = edge_vector(system, i, j, s).squaredNorm();
            if (distance_squared < radius * radius) edges[edge_key(i, j, s)] = std::sqrt(distance_squared);
          }
    }
  }
  return edges;
}

std::vector<EdgeKey> keys_of(const std::map<EdgeKey, double>& edges, bool half_only) {
  std::vector<EdgeKey> keys;
  for (const auto& [key, distance] : edges)
    if (!half_only || kept_in_half_list(key)) keys.push_back(key);
  return keys;
}

// The list's edges in list order.
std::vector<EdgeKey> edges_of(const NeighborList& list) {
  std::vector<EdgeKey> keys;
  for (std::size_t e = 0; e < list.num_edges(); ++e)
    keys.push_back(edge_key(list.centers()[e], list.neighbors()[e], list.shifts()[e]));
  return keys;
}

std::string describe(const std::vector<EdgeKey>& edges) {
  std::ostringstream out;
  out << edges.size() << " edges";
  for (std::size_t k = 0; k < std::min<std::size_t>(edges.size(), 6); ++k) {
    const auto [i, j, s0, s1, s2] = edges[k];
    out << (k == 0 ? ": " : ", ") << "(" << i << ", " << j << ", [" << s0 << " " << s1 << " " << s2 << "])";
  }
  return out.str();
}

// CSR layout: offsets bracket each centre's edges, and centers() agrees with them.
void check_csr_layout(const NeighborList& list, std::size_t n_atoms) {
  REQUIRE(list.offsets().size() == n_atoms + 1);
  REQUIRE(list.offsets().front() == 0);
  REQUIRE(list.offsets().back() == list.num_edges());
  REQUIRE(list.centers().size() == list.num_edges());
  REQUIRE(list.shifts().size() == list.num_edges());
  std::size_t misplaced = 0;
  for (std::size_t i = 0; i < n_atoms; ++i) {
    REQUIRE(list.offsets()[i] <= list.offsets()[i + 1]);
    for (std::size_t e = list.offsets()[i]; e < list.offsets()[i + 1]; ++e)
      if (list.centers()[e] != static_cast<int>(i)) ++misplaced;
  }
  CHECK(misplaced == 0);
}

// The list holds exactly the expected edges, each once.
void check_same_edges(const std::vector<EdgeKey>& listed, const std::vector<EdgeKey>& expected_sorted) {
  std::vector<EdgeKey> sorted = listed;
  std::sort(sorted.begin(), sorted.end());
  std::vector<EdgeKey> duplicates;
  for (std::size_t k = 1; k < sorted.size(); ++k)
    if (sorted[k] == sorted[k - 1]) duplicates.push_back(sorted[k]);
  sorted.erase(std::unique(sorted.begin(), sorted.end()), sorted.end());
  std::vector<EdgeKey> missing;
  std::vector<EdgeKey> extra;
  std::set_difference(expected_sorted.begin(), expected_sorted.end(), sorted.begin(), sorted.end(),
                      std::back_inserter(missing));
  std::set_difference(sorted.begin(), sorted.end(), expected_sorted.begin(), expected_sorted.end(),
                      std::back_inserter(extra));
  INFO("duplicated: " << describe(duplicates));
  INFO("missing: " << describe(missing));
  INFO("extra: " << describe(extra));
  CHECK(duplicates.empty());
  CHECK(missing.empty());
  CHECK(extra.empty());
}

// Full and half lists against the brute force, edge lengths included.
void check_against_brute_force(const System& system, double cutoff, double skin) {
  INFO("cutoff " << cutoff << " skin " << skin << ", " << system.size() << " atoms");
  const std::map<EdgeKey, double> reference = brute_force_edges(system, cutoff + skin);

  NeighborList full(cutoff, skin, NeighborListKind::full);
  full.build(system);
  check_csr_layout(full, system.size());
  const std::vector<EdgeKey> full_edges = edges_of(full);
  check_same_edges(full_edges, keys_of(reference, false));
  double worst_distance_error = 0.0;
  for (std::size_t e = 0; e < full_edges.size(); ++e) {
    const auto found = reference.find(full_edges[e]);
    if (found == reference.end()) continue;  // reported by check_same_edges
    const double distance = edge_vector(system, full.centers()[e], full.neighbors()[e], full.shifts()[e]).norm();
    worst_distance_error = std::max(worst_distance_error, std::abs(distance - found->second));
  }
  CHECK(worst_distance_error < 1e-12);

  NeighborList half(cutoff, skin, NeighborListKind::half);
  half.build(system);
  check_csr_layout(half, system.size());
  check_same_edges(edges_of(half), keys_of(reference, true));
  CHECK(full.num_edges() == 2 * half.num_edges());
}

const std::vector<std::pair<double, double>> kCutoffsAndSkins = {{2.5, 0.0}, {3.7, 0.3}, {5.0, 1.0}, {6.5, 0.0}};

void check_all_cutoffs(const System& system) {
  for (const auto& [cutoff, skin] : kCutoffsAndSkins) check_against_brute_force(system, cutoff, skin);
}

System make_system(const Cell& cell, const std::vector<Vec3>& positions) {
  System system;
  system.cell = cell;
  for (const Vec3& position : positions) system.add_atom("Ar", position);
  return system;
}

// Uniform random positions with fractional coordinates in [low, high) of the given lattice rows.
std::vector<Vec3> random_positions(const Mat3& lattice, int count, std::mt19937& rng, double low = 0.0,
                                   double high = 1.0) {
  std::uniform_real_distribution<double> uniform(low, high);
  std::vector<Vec3> positions;
  for (int k = 0; k < count; ++k) {
    const Vec3 fractional(uniform(rng), uniform(rng), uniform(rng));
    positions.push_back(lattice.transpose() * fractional);
  }
  return positions;
}

Vec3 random_direction(std::mt19937& rng) {
  std::normal_distribution<double> normal;
  return Vec3(normal(rng), normal(rng), normal(rng)).normalized();
}

// Lattice rows with tilts beyond half the box (b_x > a/2, |c_x| > a/2, c_y > b_y/2), rotated to a general orientation.
Mat3 sheared_lattice(double scale) {
  Mat3 lattice;
  lattice << 10.0, 0.0, 0.0,  //
      7.5, 9.0, 0.0,          //
      -6.5, 5.5, 9.5;
  const Mat3 rotation = Eigen::AngleAxisd(0.7, Vec3(1.0, 2.0, 3.0).normalized()).toRotationMatrix();
  return scale * lattice * rotation.transpose();
}

// test_frames.extxyz: count line, comment line with Lattice="9 numbers" (none: no cell) and pbc="T T T",
// then "Symbol x y z ..." lines.
std::string quoted_value(const std::string& comment, const std::string& key) {
  const std::string marker = key + "=\"";
  const std::size_t start = comment.find(marker);
  if (start == std::string::npos) return "";
  const std::size_t first = start + marker.size();
  return comment.substr(first, comment.find('"', first) - first);
}

std::vector<System> read_test_frames(const std::string& path) {
  std::ifstream in(path);
  REQUIRE(in.good());
  std::vector<System> frames;
  std::string line;
  while (std::getline(in, line)) {
    if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
    const int count = std::stoi(line);
    std::string comment;
    std::getline(in, comment);
    System system;
    const std::string lattice_text = quoted_value(comment, "Lattice");
    if (!lattice_text.empty()) {
      std::istringstream numbers(lattice_text);
      Mat3 lattice;
      for (int k = 0; k < 9; ++k) numbers >> lattice(k / 3, k % 3);
      std::array<bool, 3> pbc{true, true, true};
      std::istringstream flags(quoted_value(comment, "pbc"));
      std::string flag;
      for (int axis = 0; axis < 3 && flags >> flag; ++axis) pbc[axis] = flag == "T";
      system.cell = Cell(lattice, pbc);
    }
    for (int k = 0; k < count; ++k) {
      std::getline(in, line);
      std::istringstream atom(line);
      std::string symbol;
      Vec3 position;
      atom >> symbol >> position[0] >> position[1] >> position[2];
      system.add_atom(symbol, position);
    }
    frames.push_back(std::move(system));
  }
  return frames;
}

}  // namespace

TEST_CASE("neighbour list of a random cubic cell equals the brute force", "[neighbor]") {
  std::mt19937 rng(11);
  const Mat3 lattice = 11.3 * Mat3::Identity();
  check_all_cutoffs(make_system(Cell(lattice, {true, true, true}), random_positions(lattice, 50, rng)));
}

TEST_CASE("neighbour list of a larger cubic cell with many bins equals the brute force", "[neighbor]") {
  std::mt19937 rng(12);
  const Mat3 lattice = 28.0 * Mat3::Identity();
  const System system = make_system(Cell(lattice, {true, true, true}), random_positions(lattice, 700, rng));
  check_against_brute_force(system, 5.0, 1.0);
  check_against_brute_force(system, 2.5, 0.5);
}

TEST_CASE("neighbour list of a strongly sheared triclinic cell equals the brute force", "[neighbor]") {
  std::mt19937 rng(13);
  const Mat3 lattice = sheared_lattice(1.0);
  check_all_cutoffs(make_system(Cell(lattice, {true, true, true}), random_positions(lattice, 60, rng)));
  const Mat3 large = sheared_lattice(2.2);
  check_against_brute_force(make_system(Cell(large, {true, true, true}), random_positions(large, 400, rng)), 4.0, 0.5);
}

TEST_CASE("neighbour list of a slab with vacuum (pbc T T F) equals the brute force", "[neighbor]") {
  std::mt19937 rng(14);
  Mat3 lattice;
  lattice << 9.0, 0.0, 0.0,  //
      2.0, 8.5, 0.0,         //
      1.0, 1.5, 30.0;
  std::uniform_real_distribution<double> in_plane(-1.0, 2.0);  // unwrapped along the periodic axes
  std::uniform_real_distribution<double> height(8.0, 14.0);
  std::vector<Vec3> positions;
  for (int k = 0; k < 45; ++k) {
    const Vec3 planar = lattice.row(0).transpose() * in_plane(rng) + lattice.row(1).transpose() * in_plane(rng);
    positions.push_back(planar + Vec3(0.0, 0.0, height(rng)));
  }
  positions.push_back(Vec3(3.0, 2.0, 26.0));   // above the slab, alone
  positions.push_back(Vec3(1.0, 1.0, -40.0));  // below the cell, out of reach
  check_all_cutoffs(make_system(Cell(lattice, {true, true, false}), positions));
}

TEST_CASE("neighbour list of a non-periodic cluster equals the brute force", "[neighbor]") {
  std::mt19937 rng(15);
  std::vector<Vec3> positions = random_positions(9.0 * Mat3::Identity(), 40, rng);
  positions.push_back(Vec3(35.0, -20.0, 10.0));  // isolated atom
  check_all_cutoffs(make_system(Cell(), positions));

  // Far from the origin, in a flat layer (zero extent along z).
  std::vector<Vec3> far_layer;
  std::uniform_real_distribution<double> uniform(0.0, 12.0);
  for (int k = 0; k < 40; ++k) far_layer.push_back(Vec3(1000.0 + uniform(rng), -500.0 + uniform(rng), 200.0));
  check_all_cutoffs(make_system(Cell(), far_layer));
}

TEST_CASE("neighbour list of cells smaller than the cutoff sees self-images and repeated images", "[neighbor]") {
  std::mt19937 rng(16);
  Mat3 tiny;
  tiny << 2.6, 0.0, 0.0,  //
      0.1, 2.6, 0.0,      //
      0.0, 0.05, 2.6;
  const Cell periodic(tiny, {true, true, true});
  const System two_atoms = make_system(periodic, {Vec3(0.1, 0.2, 0.3), Vec3(1.4, 1.2, 1.5)});
  check_all_cutoffs(two_atoms);

  NeighborList list(5.0, 0.0);
  list.build(two_atoms);
  int self_images = 0;
  std::map<std::pair<int, int>, int> images_per_pair;
  for (std::size_t e = 0; e < list.num_edges(); ++e) {
    if (list.centers()[e] == list.neighbors()[e]) ++self_images;
    ++images_per_pair[{list.centers()[e], list.neighbors()[e]}];
  }
  CHECK(self_images > 0);
  CHECK(images_per_pair[{0, 1}] > 1);

  check_all_cutoffs(make_system(periodic, {Vec3(0.3, 0.4, 0.5)}));
  check_all_cutoffs(make_system(Cell(sheared_lattice(0.3), {true, true, true}),
                                random_positions(sheared_lattice(0.3), 3, rng)));
  check_all_cutoffs(make_system(Cell(tiny, {true, false, true}), random_positions(tiny, 4, rng, -1.0, 2.0)));
}

TEST_CASE("neighbour list accepts unwrapped positions several cells away", "[neighbor]") {
  std::mt19937 rng(17);
  const Mat3 lattice = sheared_lattice(1.0);
  std::vector<Vec3> positions = random_positions(lattice, 50, rng);
  std::uniform_int_distribution<int> cells(-5, 5);
  for (Vec3& position : positions) position += lattice.transpose() * Vec3(cells(rng), cells(rng), cells(rng));
  check_all_cutoffs(make_system(Cell(lattice, {true, true, true}), positions));
}

TEST_CASE("neighbour list handles atoms exactly on cell faces and exact distance ties", "[neighbor]") {
  // A grid of spacing 2 A in an 8 A cube, including both faces (0 and 8) and a copy at -8: distances of exactly
  // 2 and 4 A are excluded by the strict < when they equal the list radius.
  std::vector<Vec3> grid;
  for (double x : {0.0, 2.0, 8.0})
    for (double y : {0.0, 4.0, 8.0})
      for (double z : {-8.0, 0.0, 6.0}) grid.push_back(Vec3(x, y, z));
  const System cube = make_system(Cell(8.0 * Mat3::Identity(), {true, true, true}), grid);
  check_all_cutoffs(cube);
  for (const auto& [cutoff, skin] : std::vector<std::pair<double, double>>{{2.0, 0.0}, {4.0, 0.0}, {3.5, 0.5}})
    check_against_brute_force(cube, cutoff, skin);

  // Fractional coordinates 0, 1/2 and 1 of a sheared cell.
  const Mat3 lattice = sheared_lattice(1.0);
  std::vector<Vec3> on_faces;
  for (double a : {0.0, 0.5, 1.0})
    for (double b : {0.0, 1.0})
      for (double c : {0.0, 0.5, 1.0}) on_faces.push_back(lattice.transpose() * Vec3(a, b, c));
  check_all_cutoffs(make_system(Cell(lattice, {true, true, true}), on_faces));
}

TEST_CASE("neighbour list survives a huge vacuum without allocating huge bin arrays", "[neighbor]") {
  std::mt19937 rng(18);
  const Mat3 box = 1e5 * Mat3::Identity();
  std::vector<Vec3> positions = random_positions(6.0 * Mat3::Identity(), 20, rng);
  positions.push_back(Vec3(5e4, 5e4, 5e4));
  check_against_brute_force(make_system(Cell(box, {true, true, true}), positions), 4.0, 1.0);
  positions.push_back(Vec3(-3e6, 2e6, 1e6));
  check_against_brute_force(make_system(Cell(), positions), 4.0, 1.0);
}

TEST_CASE("neighbour list of no atoms or one isolated atom is empty", "[neighbor]") {
  NeighborList list(4.0, 1.0);
  list.build(make_system(Cell(), {}));
  CHECK(list.num_edges() == 0);
  CHECK(list.offsets().size() == 1);
  list.build(make_system(Cell(), {Vec3(1.0, 2.0, 3.0)}));
  CHECK(list.num_edges() == 0);
  CHECK(list.offsets().size() == 2);
}

TEST_CASE("neighbour list reproduces nequip's edge counts on the reference test frames", "[neighbor]") {
  const std::vector<System> frames = read_test_frames(test::shared_path("reference/nequip-0.6.2/test_frames.extxyz"));
  REQUIRE(frames.size() == 7);
  const std::vector<std::pair<double, std::vector<std::size_t>>> expected = {
      {4.0, {568, 568, 478, 92, 36, 476, 104}},
      {5.0, {1358, 1306, 1140, 162, 84, 996, 172}},
      {3.5, {398, 384, 326, 92, 24, 328, 98}},
  };
  for (const auto& [radius, counts] : expected) {
    for (std::size_t frame = 0; frame < frames.size(); ++frame) {
      INFO("frame " << frame << ", r_max " << radius);
      NeighborList list(radius, 0.0);
      list.build(frames[frame]);
      CHECK(list.num_edges() == counts[frame]);
      check_against_brute_force(frames[frame], radius, 0.0);
    }
  }
}

TEST_CASE("neighbour list rebuild criterion", "[neighbor]") {
  std::mt19937 rng(19);
  const Mat3 lattice = sheared_lattice(1.0);
  System system = make_system(Cell(lattice, {true, true, true}), random_positions(lattice, 40, rng));
  const double skin = 0.8;
  NeighborList list(4.0, skin);
  CHECK(list.needs_rebuild(system));
  CHECK(list.update(system));
  CHECK(list.num_builds() == 1);
  CHECK_FALSE(list.needs_rebuild(system));

  const Vec3 start = system.positions[7];
  const Vec3 direction = random_direction(rng);
  system.positions[7] = start + 0.49 * skin * direction;
  CHECK_FALSE(list.needs_rebuild(system));
  CHECK_FALSE(list.update(system));
  CHECK(list.num_builds() == 1);
  system.positions[7] = start + 0.51 * skin * direction;
  CHECK(list.needs_rebuild(system));
  CHECK(list.update(system));
  CHECK(list.num_builds() == 2);
  CHECK_FALSE(list.needs_rebuild(system));

  SECTION("a changed cell") {
    system.cell = Cell(1.001 * lattice, {true, true, true});
    CHECK(list.needs_rebuild(system));
  }
  SECTION("changed periodicity") {
    system.cell = Cell(lattice, {true, true, false});
    CHECK(list.needs_rebuild(system));
  }
  SECTION("a changed atom count") {
    system.add_atom("Ar", Vec3(1.0, 1.0, 1.0));
    CHECK(list.needs_rebuild(system));
  }
  SECTION("wrapping an atom across the cell") {
    system.positions[3] += lattice.row(0).transpose();
    CHECK(list.needs_rebuild(system));
  }
}

TEST_CASE("neighbour list stays valid after moves within half the skin", "[neighbor]") {
  std::mt19937 rng(20);
  Mat3 tiny;
  tiny << 2.6, 0.0, 0.0,  //
      0.1, 2.6, 0.0,      //
      0.0, 0.05, 2.6;
  const Mat3 lattice = sheared_lattice(1.2);
  std::vector<Vec3> unwrapped = random_positions(lattice, 60, rng, -3.0, 4.0);
  const std::vector<System> systems = {
      make_system(Cell(lattice, {true, true, true}), unwrapped),
      make_system(Cell(tiny, {true, true, true}), {Vec3(0.1, 0.2, 0.3), Vec3(1.4, 1.2, 1.5)}),
      make_system(Cell(lattice, {true, false, true}), random_positions(lattice, 50, rng)),
      make_system(Cell(), random_positions(8.0 * Mat3::Identity(), 40, rng)),
  };
  const double cutoff = 4.0;
  const double skin = 1.0;
  std::uniform_real_distribution<double> fraction_of_limit(0.0, 0.49);
  for (std::size_t which = 0; which < systems.size(); ++which) {
    for (NeighborListKind kind : {NeighborListKind::full, NeighborListKind::half}) {
      INFO("system " << which << (kind == NeighborListKind::full ? ", full" : ", half"));
      System system = systems[which];
      NeighborList list(cutoff, skin, kind);
      list.build(system);
      for (Vec3& position : system.positions) position += fraction_of_limit(rng) * skin * random_direction(rng);
      CHECK_FALSE(list.update(system));
      CHECK(list.num_builds() == 1);

      std::vector<EdgeKey> within_cutoff;
      for (std::size_t e = 0; e < list.num_edges(); ++e) {
        const int i = list.centers()[e];
        const int j = list.neighbors()[e];
        if (edge_vector(system, i, j, list.shifts()[e]).squaredNorm() < cutoff * cutoff)
          within_cutoff.push_back(edge_key(i, j, list.shifts()[e]));
      }
      check_same_edges(within_cutoff, keys_of(brute_force_edges(system, cutoff), kind == NeighborListKind::half));
    }
  }
}

TEST_CASE("neighbour list edge order does not depend on the number of threads", "[neighbor]") {
  std::mt19937 rng(21);
  const Mat3 lattice = sheared_lattice(4.0);
  const System system =
      make_system(Cell(lattice, {true, true, false}), random_positions(lattice, 3000, rng, -1.0, 1.0));
  const int threads_before = omp_get_max_threads();
  std::vector<std::vector<EdgeKey>> results;
  for (int threads : {1, 2, 3}) {
    omp_set_num_threads(threads);
    NeighborList list(4.5, 0.5);
    list.build(system);
    results.push_back(edges_of(list));
    list.build(system);
    CHECK(edges_of(list) == results.back());
  }
  omp_set_num_threads(threads_before);
  CHECK(results[0] == results[1]);
  CHECK(results[0] == results[2]);
}

TEST_CASE("spatial order: a permutation that puts neighbours close in the order", "[neighbor][spatial_order]") {
  // A simple cubic lattice of 24^3 points (spacing 2 A) in shuffled order; the neighbours of each atom are the six
  // points 2 A away.
  const int side = 24;
  std::vector<Vec3> lattice;
  for (int x = 0; x < side; ++x)
    for (int y = 0; y < side; ++y)
      for (int z = 0; z < side; ++z) lattice.emplace_back(2.0 * x, 2.0 * y, 2.0 * z);
  std::vector<std::size_t> shuffle(lattice.size());
  for (std::size_t k = 0; k < shuffle.size(); ++k) shuffle[k] = k;
  std::shuffle(shuffle.begin(), shuffle.end(), std::mt19937(5));
  std::vector<Vec3> positions;
  for (std::size_t k : shuffle) positions.push_back(lattice[k]);

  const std::vector<std::size_t> order = spatial_order(positions, 4.0);
  std::vector<std::size_t> sorted = order;
  std::sort(sorted.begin(), sorted.end());
  for (std::size_t k = 0; k < sorted.size(); ++k) REQUIRE(sorted[k] == k);
  CHECK(spatial_order(positions, 4.0) == order);  // a function of the positions

  // Median distance in the order between an atom and its lattice neighbours: the Z-order curve keeps most of them
  // within a few bins (a bin holds 8 atoms here); the shuffled order scatters them over the whole system.
  std::vector<std::size_t> rank(order.size()), atom_at(lattice.size());
  for (std::size_t k = 0; k < order.size(); ++k) rank[order[k]] = k;
  for (std::size_t a = 0; a < shuffle.size(); ++a) atom_at[shuffle[a]] = a;
  std::vector<std::size_t> ordered_gaps, shuffled_gaps;
  for (int x = 0; x + 1 < side; ++x)
    for (int y = 0; y < side; ++y)
      for (int z = 0; z < side; ++z) {
        const std::size_t a = atom_at[static_cast<std::size_t>((x * side + y) * side + z)];
        const std::size_t b = atom_at[static_cast<std::size_t>(((x + 1) * side + y) * side + z)];
        ordered_gaps.push_back(rank[a] > rank[b] ? rank[a] - rank[b] : rank[b] - rank[a]);
        shuffled_gaps.push_back(a > b ? a - b : b - a);
      }
  auto median = [](std::vector<std::size_t> v) {
    std::nth_element(v.begin(), v.begin() + static_cast<std::ptrdiff_t>(v.size() / 2), v.end());
    return v[v.size() / 2];
  };
  INFO("median gap: spatial order " << median(ordered_gaps) << ", shuffled " << median(shuffled_gaps));
  CHECK(median(ordered_gaps) <= 64);
  CHECK(median(shuffled_gaps) > 2000);

  // Non-finite positions go last in index order; an empty system has an empty order.
  positions[3] = Vec3(std::nan(""), 0, 0);
  positions[1] = Vec3(0, std::numeric_limits<double>::infinity(), 0);
  const std::vector<std::size_t> with_bad = spatial_order(positions, 4.0);
  CHECK(with_bad[with_bad.size() - 2] == 1);
  CHECK(with_bad.back() == 3);
  CHECK(spatial_order({}, 4.0).empty());
}
