#pragma once
// Test helpers: frames and expected outputs of ../shared/reference/nequip-0.6.2/<model>/reference.npz.
#include <algorithm>
#include <cmath>
#include <optional>
#include <string>

#include "io/npz.hpp"
#include "potential/nequip/graph.hpp"
#include "test_paths.hpp"

namespace nqmd::test {

inline std::string nequip_path(const std::string& relative) {
  return shared_path("reference/nequip-0.6.2/" + relative);
}

struct ReferenceFrame {
  nequip::AtomicGraph graph;
  nequip::ModelOutput expected;
};

inline ReferenceFrame reference_frame(const nqmd::NpzFile& npz, int frame) {
  const std::string f = std::to_string(frame) + "_";
  ReferenceFrame out;
  nequip::AtomicGraph& g = out.graph;
  const auto pos = npz.get(f + "pos").to_double();
  for (std::size_t i = 0; i < pos.size() / 3; ++i) g.positions.emplace_back(pos[3 * i], pos[3 * i + 1], pos[3 * i + 2]);
  g.atom_types = npz.get(f + "atom_types").to_int64();
  const auto index = npz.get(f + "edge_index").to_int64();
  const std::size_t num_edges = index.size() / 2;
  g.edge_centers.assign(index.begin(), index.begin() + static_cast<std::ptrdiff_t>(num_edges));
  g.edge_neighbors.assign(index.begin() + static_cast<std::ptrdiff_t>(num_edges), index.end());
  const auto shifts = npz.get(f + "edge_cell_shift").to_double();
  for (std::size_t e = 0; e < num_edges; ++e) g.edge_cell_shifts.emplace_back(shifts[3 * e], shifts[3 * e + 1], shifts[3 * e + 2]);
  const auto cell = npz.get(f + "cell").to_double();
  for (int r = 0; r < 3; ++r)
    for (int c = 0; c < 3; ++c) g.cell(r, c) = cell[static_cast<std::size_t>(3 * r + c)];

  nequip::ModelOutput& x = out.expected;
  x.total_energy = npz.get(f + "total_energy").to_double().at(0);
  x.atomic_energies = npz.get(f + "atomic_energy").to_double();
  const auto forces = npz.get(f + "forces").to_double();
  for (std::size_t i = 0; i < forces.size() / 3; ++i) x.forces.emplace_back(forces[3 * i], forces[3 * i + 1], forces[3 * i + 2]);
  if (npz.contains(f + "virial")) {
    const auto v = npz.get(f + "virial").to_double();
    Mat3 m;
    for (int r = 0; r < 3; ++r)
      for (int c = 0; c < 3; ++c) m(r, c) = v[static_cast<std::size_t>(3 * r + c)];
    x.virial = m;
  }
  return out;
}

// Largest absolute differences between two outputs.
struct OutputDifference {
  double energy = 0, atomic = 0, forces = 0, virial = 0;
  void include(const OutputDifference& o) {
    energy = std::max(energy, o.energy);
    atomic = std::max(atomic, o.atomic);
    forces = std::max(forces, o.forces);
    virial = std::max(virial, o.virial);
  }
};

inline OutputDifference compare(const nequip::ModelOutput& got, const nequip::ModelOutput& want) {
  OutputDifference d;
  d.energy = std::abs(got.total_energy - want.total_energy);
  d.atomic = got.atomic_energies.size() == want.atomic_energies.size() ? 0.0 : INFINITY;
  for (std::size_t i = 0; i < std::min(got.atomic_energies.size(), want.atomic_energies.size()); ++i)
    d.atomic = std::max(d.atomic, std::abs(got.atomic_energies[i] - want.atomic_energies[i]));
  d.forces = got.forces.size() == want.forces.size() ? 0.0 : INFINITY;
  for (std::size_t i = 0; i < std::min(got.forces.size(), want.forces.size()); ++i)
    d.forces = std::max(d.forces, (got.forces[i] - want.forces[i]).cwiseAbs().maxCoeff());
  if (want.virial) d.virial = got.virial ? (*got.virial - *want.virial).cwiseAbs().maxCoeff() : INFINITY;
  return d;
}

}  // namespace nqmd::test
