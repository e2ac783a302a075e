#pragma once
// [minimize] of a run: the minimiser named by `algorithm` (integrators/minimizer.hpp) relaxes the simulation's
// atoms (and cell) before the MD steps of a fresh run, printing progress every `print_every` steps and a summary.
// An unconverged minimisation is a warning with its numbers, or an InputError with require_converged = true.
#include "engine/config.hpp"
#include "engine/simulation.hpp"

namespace nqmd {

MinimizeReport run_minimization(const ConfigSection& section, Simulation& simulation);

}  // namespace nqmd
