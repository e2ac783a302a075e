#pragma once
// What is simulated: atoms (species, masses, positions, velocities) in a cell. Positions are Cartesian (A),
// velocities A/fs, masses amu. Integer image counters make unwrapped coordinates exact across wraps:
// unwrapped(i) = positions[i] + images[i] . lattice.
#include <array>
#include <string>
#include <string_view>
#include <vector>

#include "engine/cell.hpp"

namespace nqmd {

// The most atoms a structure built or read from input may have (lattice repeat, replicate, structure files): far
// beyond what one process runs, and small enough that a mistyped count is refused before memory runs out (see
// also engine/memory_budget.hpp).
constexpr double kMostAtoms = 50e6;

class System {
 public:
  Cell cell;
  std::vector<int> species;                 // per atom: index into species_symbols
  std::vector<std::string> species_symbols; // distinct chemical symbols, in order of first appearance
  std::vector<double> masses;               // per atom (amu)
  std::vector<Vec3> positions;              // A
  std::vector<Vec3> velocities;             // A/fs
  std::vector<Vec3i> images;                // periodic image counters

  std::size_t size() const { return positions.size(); }
  // Appends an atom with zero velocity and image; the mass defaults to the element's standard mass.
  void add_atom(std::string_view symbol, const Vec3& position, double mass_amu = -1.0);
  // Index of a chemical symbol in species_symbols, adding it if new.
  int species_index(std::string_view symbol);
  const std::string& symbol(std::size_t atom) const { return species_symbols[species[atom]]; }
  // The chemical symbol of every atom, in atom order.
  std::vector<std::string> symbols() const;

  Vec3 unwrapped_position(std::size_t atom) const { return positions[atom] + cell.shift_vector(images[atom]); }
  // Moves every atom into the cell along periodic axes, keeping unwrapped positions unchanged.
  void wrap_into_cell();

  // Throws InputError if the per-atom arrays disagree in length or hold non-finite numbers or masses <= 0.
  void validate() const;
};

// The supercell of `copies[a]` copies along each lattice vector (LAMMPS `replicate`, ASE `atoms.repeat`): atoms in
// the order of the lattice builder, copy (i, j, k) outer and atoms inner, each with its species, mass and velocity.
// Unwrapped positions are kept as LAMMPS replicate keeps them: an atom with image n in copy i is in copy
// (i + n) mod copies with image floor((i + n) / copies) of the supercell. Throws InputError for more than one copy
// along a non-periodic axis.
System replicate(const System& system, const std::array<int, 3>& copies);

}  // namespace nqmd
