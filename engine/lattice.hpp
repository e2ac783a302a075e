#pragma once
// Built-in crystal lattices for quick starts: fcc, bcc, hcp, diamond and simple cubic, repeated along the
// three lattice vectors. Species are assigned to the basis sites in turn (["Cu"] makes pure Cu;
// ["Na", "Cl"] on sc alternates per site of the cell).
#include <array>
#include <cstddef>
#include <string>
#include <vector>

#include "engine/system.hpp"

namespace nqmd {

struct LatticeSpec {
  std::string kind;               // fcc, bcc, hcp, diamond, sc
  double lattice_constant = 0.0;  // a (A)
  double c = 0.0;                 // hcp only (A); 0 means the ideal sqrt(8/3) a
  std::array<int, 3> repeat{1, 1, 1};
  std::vector<std::string> species;
};

const std::vector<std::string>& lattice_kinds();
// Sites in the conventional cell of a lattice kind (fcc 4, bcc 2, hcp 2, diamond 8, sc 1; 0 for an unknown kind):
// a repeated lattice has this times the product of its repeats atoms.
std::size_t lattice_basis_size(const std::string& kind);
// Throws InputError for an unknown kind, a non-positive constant or repeat, or an empty species list.
System build_lattice(const LatticeSpec& spec);

}  // namespace nqmd
