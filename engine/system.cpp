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
