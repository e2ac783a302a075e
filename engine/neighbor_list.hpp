#pragma once
// Verlet neighbour list built by cell-list binning in fractional coordinates: O(N) for any triclinic cell,
// mixed periodicity (slabs), non-periodic clusters, and cells smaller than the cutoff (an atom then sees
// its own periodic images, and a neighbour may appear through several images: each image within the
// list radius is its own edge).
//
// Edges follow nequip and pair_nequip: (i, j, s) with r_ij = x_j - x_i + s . lattice, for the positions as
// they were at build time (unwrapped positions work; nothing is wrapped). The list radius is cutoff + skin;
// potentials keep the edges with |r_ij| < their cutoff. The list stays valid until an atom has moved more
// than skin/2 (Verlet criterion) or the cell or the atom count changes.
#include <array>
#include <cstddef>
#include <cstdint>
#include <vector>

#include "engine/system.hpp"

namespace nqmd {

enum class NeighborListKind {
  full,  // every pair in both directions: (i, j, s) and (j, i, -s)
  half,  // every pair once: i < j, or i == j with s lexicographically positive
};

class NeighborList {
 public:
  NeighborList(double cutoff, double skin, NeighborListKind kind = NeighborListKind::full);

  void build(const System& system);
  // True if never built, the atom count or cell changed, or an atom moved more than skin/2 since the build.
  bool needs_rebuild(const System& system) const;
  // Rebuilds if needed; returns whether it did.
  bool update(const System& system);

  double cutoff() const { return cutoff_; }
  double skin() const { return skin_; }
  NeighborListKind kind() const { return kind_; }
  std::size_t num_builds() const { return num_builds_; }
  // Different for every build of every neighbour list of the process (0: never built): what was computed from a
  // build (e.g. an order of the atoms) is still valid while the id is unchanged.
  std::uint64_t build_id() const { return build_id_; }
  // Positions and lattice the list was last built from (empty before the first build). A checkpoint keeps them so
  // that a restart builds the same list again instead of a new one at other positions (docs/reliability.md).
  const std::vector<Vec3>& built_positions() const { return built_positions_; }
  const Mat3& built_lattice() const { return built_lattice_; }

  // Edges sorted by centre atom: those of atom i are [offsets()[i], offsets()[i+1]).
  std::size_t num_edges() const { return neighbors_.size(); }
  const std::vector<std::size_t>& offsets() const { return offsets_; }
  const std::vector<int>& centers() const { return centers_; }
  const std::vector<int>& neighbors() const { return neighbors_; }
  const std::vector<Vec3i>& shifts() const { return shifts_; }
  // The vector of edge e, r_ij = x_j - x_i + s . cell (A), as nequip and pair_nequip define it.
  Vec3 edge_vector(const System& system, std::size_t e) const {
    return system.positions[neighbors_[e]] - system.positions[centers_[e]] + system.cell.shift_vector(shifts_[e]);
  }

 private:
  double cutoff_;
  double skin_;
  NeighborListKind kind_;
  std::size_t num_builds_ = 0;
  std::uint64_t build_id_ = 0;
  void count_build();
  std::vector<std::size_t> offsets_;
  std::vector<int> centers_;
  std::vector<int> neighbors_;
  std::vector<Vec3i> shifts_;
  // State at the last build, for the rebuild criterion.
  std::vector<Vec3> built_positions_;
  Mat3 built_lattice_ = Mat3::Zero();
  std::array<bool, 3> built_pbc_{};
  // Scratch kept between builds so that rebuilding allocates nothing in steady state.
  std::vector<Vec3> wrapped_fractional_;
  std::vector<Vec3i> wrap_shifts_;
  std::vector<int> bin_of_atom_;
  std::vector<int> bin_start_;
  std::vector<int> atoms_by_bin_;
  // Edges are found bin by bin (for cache locality) into per-chunk buffers, then copied into atom order.
  struct ChunkEdges {
    std::vector<int> neighbors;
    std::vector<Vec3i> shifts;
  };
  std::vector<Vec3> sorted_positions_;            // wrapped Cartesian positions, in bin order
  std::vector<Vec3i> sorted_wrap_shifts_;         // wrap_shifts_ in bin order
  std::vector<int> edge_counts_;                  // per atom
  std::vector<std::size_t> edge_begin_in_chunk_;  // per atom in bin order: its first edge in its chunk's buffer
  std::vector<int> chunk_first_bin_;
  std::vector<ChunkEdges> chunk_edges_;
};

}  // namespace nqmd
