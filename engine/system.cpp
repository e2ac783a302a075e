#include "engine/system.hpp"

#include <cmath>

#include <fmt/format.h>

#include "engine/error.hpp"
#include "engine/periodic_table.hpp"

namespace nqmd {

int System::species_index(std::string_view symbol) {
  for (std::size_t k = 0; k < species_symbols.size(); ++k)
    if (species_symbols[k] == symbol) return static_cast<int>(k);
  element_by_symbol(symbol);  // throws for an unknown element
  species_symbols.emplace_back(symbol);
  return static_cast<int>(species_symbols.size() - 1);
}

void System::add_atom(std::string_view symbol, const Vec3& position, double mass_amu) {
  const int index = species_index(symbol);
  species.push_back(index);
  masses.push_back(mass_amu > 0 ? mass_amu : element_by_symbol(symbol).standard_mass_amu);
  positions.push_back(position);
  velocities.push_back(Vec3::Zero());
  images.push_back(Vec3i::Zero());
}

std::vector<std::string> System::symbols() const {
  std::vector<std::string> per_atom;
  per_atom.reserve(size());
  for (std::size_t i = 0; i < size(); ++i) per_atom.push_back(symbol(i));
  return per_atom;
}

void System::wrap_into_cell() {
  for (std::size_t i = 0; i < size(); ++i) images[i] += cell.wrap(positions[i]);
}

System replicate(const System& system, const std::array<int, 3>& copies) {
  for (int axis = 0; axis < 3; ++axis) {
    if (copies[axis] < 1) throw InputError("replicate needs at least one copy along every axis");
    if (copies[axis] > 1 && !system.cell.periodic(axis))
      throw InputError(fmt::format("cannot replicate along the non-periodic axis {}", "abc"[axis]));
  }
  Mat3 lattice = system.cell.lattice();
  for (int axis = 0; axis < 3; ++axis) lattice.row(axis) *= copies[axis];
  System supercell;
  supercell.cell = Cell(lattice, system.cell.pbc());
  supercell.species_symbols = system.species_symbols;
  const std::size_t total = system.size() * static_cast<std::size_t>(copies[0] * copies[1] * copies[2]);
  supercell.species.reserve(total);
  supercell.masses.reserve(total);
  supercell.positions.reserve(total);
  supercell.velocities.reserve(total);
  supercell.images.reserve(total);
  const Vec3i counts(copies[0], copies[1], copies[2]);
  for (int i = 0; i < copies[0]; ++i)
    for (int j = 0; j < copies[1]; ++j)
      for (int k = 0; k < copies[2]; ++k)
        for (std::size_t atom = 0; atom < system.size(); ++atom) {
          // Unwrapped, the copy is the atom shifted by (i, j, k) cells: (i, j, k) + n = counts * image + cell.
          const Vec3i unwrapped_cell = Vec3i(i, j, k) + system.images[atom];
          Vec3i image, cell;
          for (int axis = 0; axis < 3; ++axis) {
            const int quotient = unwrapped_cell[axis] / counts[axis];
            image[axis] = unwrapped_cell[axis] % counts[axis] < 0 ? quotient - 1 : quotient;
            cell[axis] = unwrapped_cell[axis] - image[axis] * counts[axis];
          }
          supercell.species.push_back(system.species[atom]);
          supercell.masses.push_back(system.masses[atom]);
          supercell.positions.push_back(system.positions[atom] + system.cell.shift_vector(cell));
          supercell.velocities.push_back(system.velocities[atom]);
          supercell.images.push_back(image);
        }
  return supercell;
}

void System::validate() const {
  const std::size_t n = size();
  if (species.size() != n || masses.size() != n || velocities.size() != n || images.size() != n)
    throw InputError(fmt::format("system arrays disagree in length ({} positions, {} species, {} masses, {} velocities)",
                                 n, species.size(), masses.size(), velocities.size()));
  for (std::size_t i = 0; i < n; ++i) {
    if (species[i] < 0 || species[i] >= static_cast<int>(species_symbols.size()))
      throw InputError(fmt::format("atom {} has an invalid species index", i));
    if (!(masses[i] > 0) || !std::isfinite(masses[i]))
      throw InputError(fmt::format("atom {} ({}) has mass {} amu; masses must be positive", i, symbol(i), masses[i]));
    if (!positions[i].allFinite()) throw InputError(fmt::format("atom {} ({}) has a non-finite position", i, symbol(i)));
    if (!velocities[i].allFinite()) throw InputError(fmt::format("atom {} ({}) has a non-finite velocity", i, symbol(i)));
  }
}

}  // namespace nqmd
