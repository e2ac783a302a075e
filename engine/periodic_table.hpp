#pragma once
#include <string>
#include <string_view>

namespace nqmd {

struct Element {
  std::string_view symbol;
  int atomic_number;
  double standard_mass_amu;  // IUPAC standard atomic weight (conventional value), as ase.data.atomic_masses
};

// Element by symbol ("Cu", case-sensitive as in ASE); throws InputError naming the symbol if unknown.
const Element& element_by_symbol(std::string_view symbol);
// Element by atomic number 1..118; throws InputError if out of range.
const Element& element_by_number(int atomic_number);
bool is_element_symbol(std::string_view symbol);

}  // namespace nqmd
