// Physics of random-weight native models (float64): invariance and equivariance under rotations, reflections
// (parity models), translations and permutations; forces and virial against finite differences; a smooth
// cutoff.
#include "torch_catch.hpp"

#include <cmath>
#include <numeric>
#include <random>

#include "engine/neighbor_list.hpp"
#include "engine/system.hpp"
#include "potential/nequip/nequip_model.hpp"

using nqmd::Mat3;
using nqmd::Vec3;
using nqmd::nequip::ModelOutput;
using nqmd::nequip::NequipModel;

namespace {

struct ModelCase {
  int l_max;
  bool parity;
  std::string builder;  // ForceOutput or StressForceOutput (the virial is computed either way)
};

std::string random_config(const ModelCase& c) {
  return "model_builders:\n  - SimpleIrrepsConfig\n  - EnergyModel\n  - PerSpeciesRescale\n  - " + c.builder +
         "\n  - RescaleEnergyEtc\nr_max: 3.6\nnum_layers: 2\nl_max: " + std::to_string(c.l_max) +
         "\nparity: " + (c.parity ? "true" : "false") +
         "\nnum_features: 4\nnum_basis: 6\ninvariant_layers: 1\ninvariant_neurons: 8\nPolynomialCutoff_p: 6\n"
         "avg_num_neighbors: 8.0\nresnet: true\n";
}

// Both ways of computing forces: the fused kernel (hand-written backward, what MD runs) and autograd.
const nqmd::nequip::Kernel kKernels[] = {nqmd::nequip::Kernel::fused, nqmd::nequip::Kernel::autograd};

const std::vector<ModelCase> kCases{{1, true, "ForceOutput"},
                                    {2, true, "StressForceOutput"},
                                    {3, true, "ForceOutput"},
                                    {2, false, "ForceOutput"}};

// A perturbed fcc crystal (2x1x1 conventional cells, 8 atoms) in a sheared cell, random Cu/Au.
nqmd::System crystal(std::mt19937& rng) {
  std::normal_distribution<double> normal(0.0, 0.1);
  Mat3 lattice;
  lattice << 7.4, 0.0, 0.0, 0.4, 3.7, 0.0, -0.3, 0.2, 3.8;
  nqmd::System system;
  system.cell = nqmd::Cell(lattice, {true, true, true});
  const double basis[4][3] = {{0, 0, 0}, {0.25, 0.5, 0}, {0.25, 0, 0.5}, {0, 0.5, 0.5}};
  std::bernoulli_distribution coin(0.5);
  for (int copy = 0; copy < 2; ++copy)
    for (const auto& site : basis) {
      const Vec3 fractional(site[0] + 0.5 * copy, site[1], site[2]);
      system.add_atom(coin(rng) ? "Cu" : "Au",
                      system.cell.to_cartesian(fractional) + Vec3(normal(rng), normal(rng), normal(rng)));
    }
  return system;
}

// The model's outputs for a system, with the graph from a full neighbour list filtered to |r| < r_max.
ModelOutput evaluate(NequipModel& model, const nqmd::System& system) {
  const double r_max = model.metadata().r_max;
  nqmd::NeighborList list(r_max, 0.2, nqmd::NeighborListKind::full);
  list.build(system);
  nqmd::nequip::AtomicGraph graph;
  graph.positions = system.positions;
  for (std::size_t i = 0; i < system.size(); ++i) graph.atom_types.push_back(system.symbol(i) == "Cu" ? 0 : 1);
  graph.cell = system.cell.any_periodic() ? system.cell.lattice() : Mat3::Zero();
  for (std::size_t e = 0; e < list.num_edges(); ++e) {
    const int i = list.centers()[e], j = list.neighbors()[e];
    const Vec3 r = system.positions[j] - system.positions[i] + system.cell.shift_vector(list.shifts()[e]);
    if (r.norm() >= r_max) continue;
    graph.edge_centers.push_back(i);
    graph.edge_neighbors.push_back(j);
    graph.edge_cell_shifts.push_back(list.shifts()[e].cast<double>());
  }
  ModelOutput out;
  model.evaluate(graph, true, out);
  return out;
}

double max_force(const ModelOutput& out) {
  double m = 0;
  for (const Vec3& f : out.forces) m = std::max(m, f.cwiseAbs().maxCoeff());
  return m;
}

// The system under x -> Q x (Q orthogonal), cell rows likewise.
nqmd::System transformed(const nqmd::System& system, const Mat3& q) {
  nqmd::System out = system;
  for (Vec3& x : out.positions) x = q * x;
  const Mat3 lattice = system.cell.lattice() * q.transpose();
  out.cell = q.determinant() > 0 ? nqmd::Cell(lattice, system.cell.pbc())
                                  // A reflected cell is left-handed: list its vectors in another order.
                                  : nqmd::Cell((Mat3() << lattice.row(1), lattice.row(0), lattice.row(2)).finished(),
                                               system.cell.pbc());
  return out;
}

Mat3 random_rotation(std::mt19937& rng) {
  std::normal_distribution<double> normal(0.0, 1.0);
  return Eigen::Quaterniond(normal(rng), normal(rng), normal(rng), normal(rng)).normalized().toRotationMatrix();
}

// Strain x -> x (1 + eps) of positions and cell (rows).
nqmd::System strained(const nqmd::System& system, const Mat3& eps) {
  nqmd::System out = system;
  const Mat3 deformation = Mat3::Identity() + eps;
  for (Vec3& x : out.positions) x = deformation.transpose() * x;
  out.cell = nqmd::Cell(system.cell.lattice() * deformation, system.cell.pbc());
  return out;
}

}  // namespace

TEST_CASE("physics: rotations, reflections, translations and permutations (random models, l_max 1-3, both kernels)",
          "[nequip][physics]") {
  std::mt19937 rng(2024);
  for (const nqmd::nequip::Kernel kernel : kKernels)
    for (const ModelCase& c : kCases) {
      INFO(nqmd::nequip::name(kernel) << " l_max " << c.l_max << " parity " << c.parity);
      NequipModel model = NequipModel::random(random_config(c), {"Cu", "Au"}, 100 + c.l_max);
      model.set_kernel(kernel);
      const nqmd::System system = crystal(rng);
      const ModelOutput ref = evaluate(model, system);
      const double e_scale = std::max(1.0, std::abs(ref.total_energy));
      const double f_scale = max_force(ref);
      const double w_scale = ref.virial->cwiseAbs().maxCoeff();
      REQUIRE(f_scale > 1e-3);
      REQUIRE(w_scale > 1e-3);
      double worst_e = 0, worst_f = 0, worst_w = 0;
      std::vector<Mat3> transforms;
      for (int k = 0; k < 3; ++k) transforms.push_back(random_rotation(rng));
      if (c.parity) {
        transforms.push_back(-Mat3::Identity());
        transforms.push_back(Eigen::Vector3d(1, 1, -1).asDiagonal() * random_rotation(rng));
      }
      for (const Mat3& q : transforms) {
        const ModelOutput out = evaluate(model, transformed(system, q));
        worst_e = std::max(worst_e, std::abs(out.total_energy - ref.total_energy) / e_scale);
        for (std::size_t i = 0; i < system.size(); ++i)
          worst_f = std::max(worst_f, (out.forces[i] - q * ref.forces[i]).cwiseAbs().maxCoeff() / f_scale);
        worst_w = std::max(worst_w, (*out.virial - q * *ref.virial * q.transpose()).cwiseAbs().maxCoeff() / w_scale);
      }
      WARN(nqmd::nequip::name(kernel) << " l_max " << c.l_max << " parity " << c.parity << ": E=" << ref.total_energy
                  << " eV, max |F|=" << f_scale << "; under O(3): relative |dE| " << worst_e << ", |dF| " << worst_f << ", |dW| " << worst_w);
      CHECK(worst_e < 1e-12);
      CHECK(worst_f < 1e-12);
      CHECK(worst_w < 1e-12);

      // Translation, with atoms leaving the cell (positions are not wrapped).
      nqmd::System moved = system;
      for (Vec3& x : moved.positions) x += Vec3(1.3, -2.1, 0.7);
      const ModelOutput translated = evaluate(model, moved);
      CHECK(std::abs(translated.total_energy - ref.total_energy) < 1e-12 * e_scale);
      for (std::size_t i = 0; i < system.size(); ++i)
        CHECK((translated.forces[i] - ref.forces[i]).cwiseAbs().maxCoeff() < 1e-12 * f_scale);

      // Permutation.
      std::vector<std::size_t> order(system.size());
      std::iota(order.begin(), order.end(), 0);
      std::shuffle(order.begin(), order.end(), rng);
      nqmd::System permuted = system;
      for (std::size_t k = 0; k < order.size(); ++k) {
        permuted.positions[k] = system.positions[order[k]];
        permuted.species[k] = system.species[order[k]];
      }
      const ModelOutput shuffled = evaluate(model, permuted);
      CHECK(std::abs(shuffled.total_energy - ref.total_energy) < 1e-12 * e_scale);
      for (std::size_t k = 0; k < order.size(); ++k) {
        CHECK((shuffled.forces[k] - ref.forces[order[k]]).cwiseAbs().maxCoeff() < 1e-12 * f_scale);
        CHECK(std::abs(shuffled.atomic_energies[k] - ref.atomic_energies[order[k]]) < 1e-12 * e_scale);
      }
    }
}

TEST_CASE("physics: forces and virial equal finite differences of the energy (both kernels)", "[nequip][physics]") {
  std::mt19937 rng(7);
  for (const nqmd::nequip::Kernel kernel : kKernels)
    for (const ModelCase& c : kCases) {
      INFO(nqmd::nequip::name(kernel) << " l_max " << c.l_max << " parity " << c.parity);
      NequipModel model = NequipModel::random(random_config(c), {"Cu", "Au"}, 200 + c.l_max);
      model.set_kernel(kernel);
      const nqmd::System system = crystal(rng);
      const ModelOutput ref = evaluate(model, system);
      const double h = 1e-5;
      double worst_f = 0;
      for (std::size_t i : {std::size_t{0}, std::size_t{3}, std::size_t{6}})
        for (int d = 0; d < 3; ++d) {
          nqmd::System plus = system, minus = system;
          plus.positions[i][d] += h;
          minus.positions[i][d] -= h;
          const double derivative =
              (evaluate(model, plus).total_energy - evaluate(model, minus).total_energy) / (2 * h);
          worst_f = std::max(worst_f, std::abs(ref.forces[i][d] + derivative));
        }
      double worst_w = 0;
      for (int a = 0; a < 3; ++a)
        for (int b = a; b < 3; ++b) {
          Mat3 eps = Mat3::Zero();
          eps(a, b) += 0.5 * h;
          eps(b, a) += 0.5 * h;
          const double derivative =
              (evaluate(model, strained(system, eps)).total_energy -
               evaluate(model, strained(system, -eps)).total_energy) /
              (2 * h);
          worst_w = std::max(worst_w, std::abs((*ref.virial)(a, b) + derivative));
          CHECK(std::abs((*ref.virial)(a, b) - (*ref.virial)(b, a)) < 1e-10);
        }
      WARN(nqmd::nequip::name(kernel) << " l_max " << c.l_max << " parity " << c.parity << ": max |F + dE/dx| " << worst_f
                  << " eV/A (|F| up to " << max_force(ref) << "), max |W + dE/deps| " << worst_w
                  << " eV (|W| up to " << ref.virial->cwiseAbs().maxCoeff() << ")");
      CHECK(worst_f < 1e-6 * std::max(1.0, max_force(ref)));
      CHECK(worst_w < 1e-6 * std::max(1.0, ref.virial->cwiseAbs().maxCoeff()));
    }
}

TEST_CASE("physics: energy and force are continuous as a neighbour crosses r_max", "[nequip][physics]") {
  NequipModel model = NequipModel::random(random_config({2, true, "ForceOutput"}), {"Cu", "Au"}, 5);
  const double r_max = model.metadata().r_max;
  // A bonded pair, and a third atom approaching along x towards the cutoff of atom 1.
  auto at = [&](double distance) {
    nqmd::System system;
    system.add_atom("Cu", Vec3(0, 0, 0));
    system.add_atom("Au", Vec3(2.5, 0.3, 0));
    system.add_atom("Cu", Vec3(2.5 + distance, 0.3, 0.0));
    return evaluate(model, system);
  };
  const ModelOutput outside = at(r_max + 1e-3);
  double previous_gap = 0, previous_force = 0;
  for (double delta : {1e-1, 1e-2, 1e-3}) {
    const ModelOutput inside = at(r_max - delta);
    const double gap = std::abs(inside.total_energy - outside.total_energy);
    const double force = inside.forces[2].norm();
    WARN("r_max - " << delta << ": |E - E(outside)| = " << gap << " eV, |F| on the crossing atom = " << force
                    << " eV/A");
    if (previous_gap > 0) {
      // PolynomialCutoff(p = 6) vanishes with its first two derivatives: E ~ delta^3, F ~ delta^2.
      CHECK(gap < previous_gap / 200);
      CHECK(force < previous_force / 30);
    }
    previous_gap = gap;
    previous_force = force;
  }
  CHECK(previous_gap < 1e-7);
  CHECK(outside.forces[2].norm() == 0.0);  // beyond r_max the atom has no edge at all
}
