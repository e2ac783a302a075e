#pragma once
// The memory that what an input asks for may take. Sizes taken from input (atoms from lattice repeats and
// replicas, neighbour-list pairs from cutoffs and cells) are checked against it before anything is allocated, so
// that a mistyped count is one line naming the key and its cost, not an out-of-memory kill.
namespace nqmd {

// Bytes an atom of a run takes (positions, velocities, forces, images, species, masses, the neighbour list's
// per-atom scratch, the thermostat and trajectory buffers): the figure the atom-count checks use.
inline constexpr double kBytesPerAtom = 256.0;
// Bytes a neighbour-list pair takes: two indices and a shift, as much again while the list is sorted, and what
// a potential keeps per edge.
inline constexpr double kBytesPerPair = 64.0;

// Default: this machine's physical memory.
double memory_budget_bytes();
// For tests and fuzzers, which run under a memory limit of their own.
void set_memory_budget_bytes(double bytes);

}  // namespace nqmd
