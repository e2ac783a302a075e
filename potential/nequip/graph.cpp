#include "potential/nequip/graph.hpp"

#include <stdexcept>
#include <string>

#include "engine/error.hpp"
#include "engine/neighbor_list.hpp"
#include "engine/system.hpp"

namespace nqmd::nequip {

void AtomicGraph::validate(int num_types) const {
  const std::size_t n = num_atoms();
  if (atom_types.size() != n) {
    throw InputError("NequIP graph: " + std::to_string(atom_types.size()) + " atom types for " + std::to_string(n) +
                     " atoms");
  }
  for (std::int64_t t : atom_types) {
    if (t < 0 || t >= num_types) {
      throw InputError("NequIP graph: atom type " + std::to_string(t) + " outside 0.." + std::to_string(num_types - 1));
    }
  }
  if (!contributing.empty() && contributing.size() != n) {
    throw InputError("NequIP graph: " + std::to_string(contributing.size()) + " contributing flags for " +
                     std::to_string(n) + " atoms");
  }
  if (edge_neighbors.size() != num_edges() || edge_cell_shifts.size() != num_edges()) {
    throw InputError("NequIP graph: edge arrays disagree in length");
  }
  for (std::size_t e = 0; e < num_edges(); ++e) {
    const std::int64_t i = edge_centers[e];
    const std::int64_t j = edge_neighbors[e];
    if (i < 0 || j < 0 || static_cast<std::size_t>(i) >= n || static_cast<std::size_t>(j) >= n) {
      throw InputError("NequIP graph: edge " + std::to_string(e) + " refers to an atom outside 0.." +
                       std::to_string(n) + "-1");
    }
  }
}

void build_graph(const System& system, const NeighborList& neighbors, double r_max,
                 const std::vector<std::int64_t>& type_of_species, AtomicGraph& graph,
                 const std::vector<std::size_t>& order) {
  const std::size_t n = system.size();
  const bool reordered = !order.empty();
  if (reordered && order.size() != n)
    throw std::logic_error("build_graph: an order of " + std::to_string(order.size()) + " atoms for " +
                           std::to_string(n));
  if (neighbors.offsets().size() != n + 1)
    throw std::logic_error("build_graph: a neighbour list of " +
                           std::to_string(neighbors.offsets().empty() ? 0 : neighbors.offsets().size() - 1) +
                           " atoms for a system of " + std::to_string(n));
  std::vector<std::int64_t> rank;
  if (reordered) {
    rank.resize(n);
    for (std::size_t k = 0; k < n; ++k) rank[order[k]] = static_cast<std::int64_t>(k);
  }
  graph.positions.resize(n);
  graph.atom_types.resize(n);
  for (std::size_t k = 0; k < n; ++k) {
    const std::size_t i = reordered ? order[k] : k;
    graph.positions[k] = system.positions[i];
    graph.atom_types[k] = type_of_species[static_cast<std::size_t>(system.species[i])];
  }
  graph.cell = system.cell.any_periodic() ? system.cell.lattice() : Mat3::Zero();
  graph.edge_centers.clear();
  graph.edge_neighbors.clear();
  graph.edge_cell_shifts.clear();
  const std::vector<std::size_t>& offsets = neighbors.offsets();
  const std::vector<int>& others = neighbors.neighbors();
  const std::vector<Vec3i>& shifts = neighbors.shifts();
  const double r_max_squared = r_max * r_max;
  for (std::size_t k = 0; k < n; ++k) {
    const std::size_t i = reordered ? order[k] : k;
    for (std::size_t e = offsets[i]; e < offsets[i + 1]; ++e) {
      if (neighbors.edge_vector(system, e).squaredNorm() >= r_max_squared) continue;
      const auto j = static_cast<std::size_t>(others[e]);
      graph.edge_centers.push_back(static_cast<std::int64_t>(k));
      graph.edge_neighbors.push_back(reordered ? rank[j] : static_cast<std::int64_t>(j));
      graph.edge_cell_shifts.push_back(shifts[e].cast<double>());
    }
  }
}

}  // namespace nqmd::nequip
