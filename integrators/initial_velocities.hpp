#pragma once
// [velocities]: how a fresh run starts moving: Maxwell-Boltzmann at a temperature, the velocities stored
// in the structure file, or at rest.
#include "engine/config.hpp"
#include "engine/extxyz.hpp"

namespace nqmd {

const SectionSchema& velocities_section_schema();
// Sets frame.system's velocities as the section says; `momentum_conserved` decides the degrees of freedom
// used to rescale to the exact target temperature (3N - 3 or 3N).
void initialize_velocities(const ConfigSection& section, Frame& frame, bool momentum_conserved);

}  // namespace nqmd
