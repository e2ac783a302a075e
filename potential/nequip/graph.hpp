#pragma once
// One graph as a NequIP model sees it, and what the model returns. Torch-free.
//
// Edges follow nequip: edge e goes from centre i = edge_centers[e] to neighbour j = edge_neighbors[e] with
// r_ij = x_j - x_i + edge_cell_shifts[e] . cell (cell rows are lattice vectors; shifts are integer-valued).
#include <cstdint>
#include <optional>
#include <vector>

#include "engine/cell.hpp"

namespace nqmd {
struct System;
class NeighborList;
}  // namespace nqmd

namespace nqmd::nequip {

struct AtomicGraph {
  std::vector<Vec3> positions;              // A
  std::vector<std::int64_t> atom_types;     // nequip type index per atom
  std::vector<std::int64_t> edge_centers;   // edge_index[0]
  std::vector<std::int64_t> edge_neighbors; // edge_index[1]
  std::vector<Vec3> edge_cell_shifts;       // integer-valued lattice shifts
  Mat3 cell = Mat3::Zero();                 // zero for a non-periodic system
  // Which atoms contribute their energy (1) and which are only neighbours (0), as KIM's particleContributing:
  // the total energy is the sum over contributing atoms, and the forces on every atom are the derivatives of
  // that sum. Empty: every atom contributes.
  std::vector<std::uint8_t> contributing;

  std::size_t num_atoms() const { return positions.size(); }
  // r_ij of edge e: x_j - x_i + shift . cell.
  Vec3 edge_vector(std::size_t e) const {
    Vec3 r = positions[static_cast<std::size_t>(edge_neighbors[e])] - positions[static_cast<std::size_t>(edge_centers[e])];
    if (edge_cell_shifts[e] != Vec3::Zero()) r += cell.transpose() * edge_cell_shifts[e];
    return r;
  }
  std::size_t num_edges() const { return edge_centers.size(); }
  bool contributes(std::size_t i) const { return contributing.empty() || contributing[i] != 0; }
  // Throws InputError if the arrays disagree in length or an index or type is out of range.
  void validate(int num_types) const;
};

// Fills `graph` with the graph of `system` for a model of cutoff `r_max`: positions, the nequip type of each
// atom (type_of_species[system.species[i]]), the lattice (zero when no axis is periodic) and the edges of the
// full neighbour list `neighbors` (radius >= r_max) with |r_ij| < r_max (strict, as nequip and pair_nequip),
// grouped by centre. With `order` (a permutation of the atoms, e.g. engine/spatial_order.hpp), graph atom k is
// system atom order[k]; empty: the system's order. Reuses the graph's storage.
void build_graph(const System& system, const NeighborList& neighbors, double r_max,
                 const std::vector<std::int64_t>& type_of_species, AtomicGraph& graph,
                 const std::vector<std::size_t>& order = {});

struct ModelOutput {
  double total_energy = 0.0;           // eV
  std::vector<double> atomic_energies; // eV per atom
  std::vector<Vec3> forces;            // eV/A
  std::optional<Mat3> virial;          // eV (nequip's sign: virial = -dE/d(strain)); only if the model has it
};

}  // namespace nqmd::nequip
