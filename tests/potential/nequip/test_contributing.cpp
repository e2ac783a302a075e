// Masked evaluation (AtomicGraph::contributing), what the KIM model driver runs on every MPI rank: a periodic
// cell evaluated directly against the non-periodic cluster of its atoms (contributing) and every periodic image
// within num_layers x r_max of them (ghosts). Energy, forces summed back from ghosts to their owners and virial
// must agree to rounding; ghosts reach several images deep when the cell is smaller than the shell. Graphs are
// built by brute force here, independently of the engine's neighbour list.
#include "torch_catch.hpp"

#include <cmath>
#include <random>

#include "engine/error.hpp"
#include "potential/nequip/nequip_model.hpp"
#include "potential/nequip/torchscript_model.hpp"
#include "reference_data.hpp"

using nqmd::Mat3;
using nqmd::Vec3;
using nqmd::nequip::AtomicGraph;
using nqmd::nequip::Kernel;
using nqmd::nequip::ModelOptions;
using nqmd::nequip::ModelOutput;
using nqmd::nequip::NequipModel;
using nqmd::test::nequip_path;

namespace {

struct Crystal {
  Mat3 lattice;  // rows are lattice vectors
  std::vector<Vec3> positions;
  std::vector<std::int64_t> types;  // 0 Cu, 1 Au
};

// A perturbed, slightly sheared fcc crystal of n x n x n conventional cells (a = 3.8 A), random Cu/Au.
Crystal crystal(int n, std::uint32_t seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<double> normal(0.0, 0.12);
  std::bernoulli_distribution coin(0.4);
  const double a = 3.8;
  Crystal c;
  c.lattice << n * a, 0.0, 0.0, 0.3, n * a, 0.0, -0.2, 0.25, n * a;
  const double basis[4][3] = {{0, 0, 0}, {0.5, 0.5, 0}, {0.5, 0, 0.5}, {0, 0.5, 0.5}};
  for (int x = 0; x < n; ++x)
    for (int y = 0; y < n; ++y)
      for (int z = 0; z < n; ++z)
        for (const auto& site : basis) {
          const Vec3 fractional((x + site[0]) / n, (y + site[1]) / n, (z + site[2]) / n);
          c.positions.push_back(c.lattice.transpose() * fractional + Vec3(normal(rng), normal(rng), normal(rng)));
          c.types.push_back(coin(rng) ? 1 : 0);
        }
  return c;
}

// Lattice translations n . lattice with |n_k| <= reach on each axis.
std::vector<Vec3> images(int reach) {
  std::vector<Vec3> out;
  for (int a = -reach; a <= reach; ++a)
    for (int b = -reach; b <= reach; ++b)
      for (int c = -reach; c <= reach; ++c) out.emplace_back(a, b, c);
  return out;
}

// The periodic graph: every pair (i, j + shift) with 0 < |r| < r_max.
AtomicGraph periodic_graph(const Crystal& c, double r_max, int reach) {
  AtomicGraph g;
  g.positions = c.positions;
  g.atom_types = c.types;
  g.cell = c.lattice;
  for (std::size_t i = 0; i < c.positions.size(); ++i)
    for (const Vec3& shift : images(reach))
      for (std::size_t j = 0; j < c.positions.size(); ++j) {
        const Vec3 r = c.positions[j] - c.positions[i] + c.lattice.transpose() * shift;
        const double d = r.norm();
        if (d <= 0 || d >= r_max) continue;
        g.edge_centers.push_back(static_cast<std::int64_t>(i));
        g.edge_neighbors.push_back(static_cast<std::int64_t>(j));
        g.edge_cell_shifts.push_back(shift);
      }
  return g;
}

// The cluster: the cell's atoms (contributing, first) and every image within `shell` of one of them (ghosts),
// no cell; owner[k] is the cell atom that node k is an image of.
AtomicGraph cluster_graph(const Crystal& c, double r_max, double shell, int reach, std::vector<std::size_t>& owner) {
  AtomicGraph g;
  const std::size_t n = c.positions.size();
  g.positions = c.positions;
  g.atom_types = c.types;
  g.contributing.assign(n, 1);
  owner.resize(n);
  for (std::size_t i = 0; i < n; ++i) owner[i] = i;
  for (const Vec3& shift : images(reach)) {
    if (shift == Vec3::Zero()) continue;
    for (std::size_t j = 0; j < n; ++j) {
      const Vec3 x = c.positions[j] + c.lattice.transpose() * shift;
      bool near = false;
      for (std::size_t i = 0; i < n && !near; ++i) near = (x - c.positions[i]).norm() < shell;
      if (!near) continue;
      g.positions.push_back(x);
      g.atom_types.push_back(c.types[j]);
      g.contributing.push_back(0);
      owner.push_back(j);
    }
  }
  const std::size_t m = g.positions.size();
  for (std::size_t i = 0; i < m; ++i)
    for (std::size_t j = 0; j < m; ++j) {
      const double d = (g.positions[j] - g.positions[i]).norm();
      if (i == j || d >= r_max) continue;
      g.edge_centers.push_back(static_cast<std::int64_t>(i));
      g.edge_neighbors.push_back(static_cast<std::int64_t>(j));
      g.edge_cell_shifts.push_back(Vec3::Zero());
    }
  return g;
}

struct Agreement {
  double energy = 0, forces = 0, virial = 0;  // relative: |dE|/|E|, max |dF| / max |F|, max |dW| / max |W|
};

Agreement compare(const ModelOutput& periodic, const ModelOutput& cluster, const std::vector<std::size_t>& owner) {
  std::vector<Vec3> summed(periodic.forces.size(), Vec3::Zero());
  for (std::size_t k = 0; k < cluster.forces.size(); ++k) summed[owner[k]] += cluster.forces[k];
  double max_force = 0, max_diff = 0;
  for (std::size_t i = 0; i < summed.size(); ++i) {
    max_force = std::max(max_force, periodic.forces[i].cwiseAbs().maxCoeff());
    max_diff = std::max(max_diff, (summed[i] - periodic.forces[i]).cwiseAbs().maxCoeff());
  }
  Agreement a;
  a.energy = std::abs(cluster.total_energy - periodic.total_energy) / std::abs(periodic.total_energy);
  a.forces = max_diff / max_force;
  a.virial = (*cluster.virial - *periodic.virial).cwiseAbs().maxCoeff() / periodic.virial->cwiseAbs().maxCoeff();
  return a;
}

}  // namespace

TEST_CASE("contributing mask: a cluster with its ghost shell equals the periodic cell", "[nequip][contributing]") {
  struct Case {
    int cells;        // n x n x n conventional fcc cells
    int reach;        // images searched on each axis
    const char* what;
  };
  for (Kernel kernel : {Kernel::fused, Kernel::autograd}) {
    ModelOptions options;
    options.kernel = kernel;
    NequipModel model(nequip_path("modelA/deployed.pth"), options);
    REQUIRE(model.kernel() == kernel);
    const double r_max = model.metadata().r_max;
    const double shell = model.num_layers() * r_max;
    REQUIRE(model.num_layers() == 2);
    for (const Case c : {Case{3, 2, "108 atoms, shell narrower than the cell"},
                         Case{2, 3, "32 atoms, cell 7.6 A < shell 8 A: ghosts two images deep"}}) {
      if (kernel == Kernel::autograd && c.cells == 3) continue;  // the autograd check stays small
      const Crystal crystal_cell = crystal(c.cells, 7u + static_cast<std::uint32_t>(c.cells));
      std::vector<std::size_t> owner;
      const AtomicGraph cluster = cluster_graph(crystal_cell, r_max, shell, c.reach, owner);
      ModelOutput periodic, masked;
      model.evaluate(periodic_graph(crystal_cell, r_max, c.reach), true, periodic);
      model.evaluate(cluster, true, masked);
      const Agreement a = compare(periodic, masked, owner);
      INFO(c.what << ", " << (kernel == Kernel::fused ? "fused" : "autograd") << ": " << cluster.num_atoms()
                  << " nodes; relative differences: energy " << a.energy << ", forces " << a.forces << ", virial "
                  << a.virial);
      CHECK(cluster.num_atoms() > 4 * crystal_cell.positions.size());
      CHECK(a.energy < 1e-12);
      CHECK(a.forces < 1e-12);
      CHECK(a.virial < 1e-12);
      // Every ghost's energy is computed but left out: the unmasked cluster is a different (larger) energy.
      AtomicGraph unmasked = cluster;
      unmasked.contributing.clear();
      ModelOutput all;
      model.evaluate(unmasked, false, all);
      CHECK(std::abs(all.total_energy - periodic.total_energy) > 1.0);
    }
  }
}

TEST_CASE("contributing mask: all atoms contributing is bit-identical to no mask", "[nequip][contributing]") {
  NequipModel model(nequip_path("modelA/deployed.pth"));
  const Crystal c = crystal(2, 3);
  AtomicGraph graph = periodic_graph(c, model.metadata().r_max, 1);
  ModelOutput plain, masked;
  model.evaluate(graph, true, plain);
  graph.contributing.assign(graph.num_atoms(), 1);
  model.evaluate(graph, true, masked);
  CHECK(masked.total_energy == plain.total_energy);
  CHECK(masked.forces == plain.forces);
  CHECK(*masked.virial == *plain.virial);
}

TEST_CASE("contributing mask: refused by the TorchScript backend, checked in length", "[nequip][contributing]") {
  nqmd::nequip::TorchScriptModel torchscript(nequip_path("modelA/deployed.pth"));
  const Crystal c = crystal(2, 5);
  AtomicGraph graph = periodic_graph(c, 4.0, 1);
  graph.contributing.assign(graph.num_atoms(), 1);
  CHECK_THROWS_WITH(torchscript.evaluate(graph), Catch::Contains("non-contributing") && Catch::Contains("native"));
  NequipModel model(nequip_path("modelA/deployed.pth"));
  graph.contributing.pop_back();
  ModelOutput out;
  CHECK_THROWS_AS(model.evaluate(graph, false, out), nqmd::InputError);
}
