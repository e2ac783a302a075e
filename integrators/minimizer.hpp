#pragma once
// Energy minimisation (LAMMPS `minimize`, ASE's optimisers): a Minimizer moves the generalised coordinates of a
// RelaxationProblem (integrators/relaxation_problem.hpp: the atoms and, optionally, the cell's strains) downhill
// until the largest force is below fmax. Algorithms register a name, as integrators do: `fire`
// (minimize_fire.cpp) and `cg` (minimize_cg.cpp). Forces come from the ForceProvider, so every potential works.
// Minimisation ignores velocities: they are neither used nor changed (as in LAMMPS and ASE).
#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "engine/config.hpp"
#include "engine/registry.hpp"
#include "engine/system.hpp"
#include "integrators/integrator.hpp"
#include "integrators/relaxation_problem.hpp"

namespace nqmd {

struct MinimizeSettings {
  double fmax = 0.01;          // eV/A: converged when no atom force (nor cell force) is larger
  std::uint64_t max_steps = 1000;
  double max_step = 0.2;       // A: the largest move of a generalised coordinate in one step
  CellRelaxation cell = CellRelaxation::fixed;
  double pressure_bar = 0.0;   // target pressure of a cell relaxation
};

// One iteration of a minimiser, after its new point was evaluated.
struct MinimizeProgress {
  std::uint64_t step = 0;
  double enthalpy = 0.0;    // eV: E + P_target V (E with a fixed cell)
  double max_force = 0.0;   // eV/A: the convergence measure, RelaxationProblem::Evaluation::max_force()
};
using MinimizeMonitor = std::function<void(const MinimizeProgress&)>;

// What a minimiser reached: its iterations (a CG line search is one), force evaluations, and why it stopped.
struct MinimizeOutcome {
  std::uint64_t steps = 0;
  std::uint64_t evaluations = 0;
  bool converged = false;
  std::string stop_reason;  // "fmax reached", "max_steps reached", "line search found no lower energy"
};

class Minimizer {
 public:
  virtual ~Minimizer() = default;
  // Starts from the problem's current coordinates; on return the system holds the last accepted point, with the
  // provider's forces evaluated there.
  virtual MinimizeOutcome minimize(RelaxationProblem& problem, const MinimizeSettings& settings,
                                   const MinimizeMonitor& monitor) = 0;
};

// InputError "[minimize] step N: ..." if the problem's last evaluation has a non-finite energy or force.
void require_finite(const RelaxationProblem& problem, std::uint64_t step);

// The final state of a minimisation, in the units a user reads.
struct MinimizeReport {
  MinimizeOutcome outcome;
  double energy = 0.0;          // eV, potential energy
  double enthalpy = 0.0;        // eV, E + P_target V (equals energy with a fixed cell)
  double max_atom_force = 0.0;  // eV/A
  double cell_force = 0.0;      // eV/A-like, RelaxationProblem::Evaluation::cell_force
  double pressure_bar = 0.0;    // virial pressure (no kinetic part); 0 without a periodic cell
  double volume = 0.0;          // A^3; 0 without a periodic cell
};

// Minimises `system` with `minimizer`; the system ends at the minimum (velocities untouched).
MinimizeReport minimize(System& system, ForceProvider& provider, Minimizer& minimizer,
                        const MinimizeSettings& settings, const MinimizeMonitor& monitor = {});

// [minimize] algorithm = "...": the styles receive the validated section (their keys are the common ones).
using MinimizerRegistry = StyleRegistry<Minimizer>;
const SectionSchema& minimize_section_schema();
// The settings of a validated [minimize] section.
MinimizeSettings minimize_settings(const ConfigSection& section);
// The minimiser `algorithm` names.
std::unique_ptr<Minimizer> create_minimizer(const ConfigSection& section);

}  // namespace nqmd
