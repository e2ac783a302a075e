#pragma once
// An order of atoms that keeps neighbours close in memory: atoms binned on a grid of cubes of side `bin_width`
// (over the box that holds them), the bins ranked along a Z-order (Morton) curve, atoms of one bin in their
// index order. Kernels that gather neighbour data per atom (the NequIP message passing) read it from cache
// instead of memory when they visit atoms in this order; LAMMPS sorts atoms in memory for the same reason
// (atom_modify sort). Deterministic: a function of the positions only.
#include <cstddef>
#include <vector>

#include "engine/cell.hpp"

namespace nqmd {

// order[k] is the index of the k-th atom along the curve. Non-finite positions go last, in index order.
std::vector<std::size_t> spatial_order(const std::vector<Vec3>& positions, double bin_width);

}  // namespace nqmd
