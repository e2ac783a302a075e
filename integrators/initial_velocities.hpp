#pragma once
// [velocities]: how a fresh run starts moving: Maxwell-Boltzmann at a temperature, the velocities stored
// in the structure file, or at rest.
#include "engine/config.hpp"
#include "engine/system.hpp"

namespace nqmd {

const SectionSchema& velocities_section_schema();
// Sets the system's velocities as the section says (kept when they come from the structure file, which
// `structure_has_velocities` tells); `momentum_conserved` decides the degrees of freedom used to rescale to the
// exact target temperature (3N - 3 or 3N).
void initialize_velocities(const ConfigSection& section, System& system, bool structure_has_velocities,
                           bool momentum_conserved);

}  // namespace nqmd
