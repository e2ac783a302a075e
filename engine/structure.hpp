#pragma once
// [structure]: where the atoms come from, an extxyz file (any frame) or a built-in lattice.
#include "engine/config.hpp"
#include "io/extxyz.hpp"

namespace nqmd {

const SectionSchema& structure_section_schema();
// The initial frame described by a validated [structure] section (InputError with file:line on bad values).
Frame load_structure(const ConfigSection& section);

}  // namespace nqmd
