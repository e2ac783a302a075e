#pragma once
// Checkpoint of the stochastic thermostats (nvt_langevin, nvt_csvr): integers "random" (the generator) and
// reals "heat_removed" (the energy the thermostat has taken out, their extended energy).
#include "integrators/integrator.hpp"
#include "integrators/random_stream.hpp"

namespace nqmd {

void save_stochastic_state(IntegratorState& state, const RandomStream& random, double heat_removed_ev);
// Throws InputError if either entry is missing or malformed.
void load_stochastic_state(const IntegratorState& state, RandomStream& random, double& heat_removed_ev);

}  // namespace nqmd
