#include "potential/nequip/graph.hpp"

#include <string>

#include "engine/error.hpp"

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

}  // namespace nqmd::nequip
