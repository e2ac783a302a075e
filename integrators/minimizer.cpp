#include "integrators/minimizer.hpp"

#include <algorithm>
#include <cmath>

#include <fmt/format.h>

#include "engine/error.hpp"
#include "engine/units.hpp"

namespace nqmd {

void require_finite(const RelaxationProblem& problem, std::uint64_t step) {
  if (!std::isfinite(problem.evaluation().enthalpy) || !problem.force().allFinite())
    throw InputError(fmt::format("[minimize] step {}: the energy or a force is not finite (atoms too close? check the "
                                 "structure)",
                                 step));
}

MinimizeReport minimize(System& system, ForceProvider& provider, Minimizer& minimizer,
                        const MinimizeSettings& settings, const MinimizeMonitor& monitor) {
  RelaxationProblem problem(system, provider, settings.cell, settings.pressure_bar / units::ev_per_a3_to_bar);
  MinimizeReport report;
  report.outcome = minimizer.minimize(problem, settings, monitor);
  const RelaxationProblem::Evaluation& last = problem.evaluation();
  report.energy = last.energy;
  report.enthalpy = last.enthalpy;
  report.max_atom_force = last.max_atom_force;
  report.cell_force = last.cell_force;
  report.pressure_bar = last.pressure * units::ev_per_a3_to_bar;
  report.volume = last.volume;
  return report;
}

const SectionSchema& minimize_section_schema() {
  static const SectionSchema schema = [] {
    std::vector<std::string> algorithms = MinimizerRegistry::instance().names();
    std::sort(algorithms.begin(), algorithms.end());
    return SectionSchema{
        "minimize",
        "Energy minimisation before the MD steps of a fresh run (not on --restart), as LAMMPS `minimize` or ASE's "
        "FIRE: the atoms (and with `cell = true` the cell, towards `pressure`) move downhill until no atom force is "
        "larger than `fmax`. Velocities are neither used nor changed. With the cell, the enthalpy E + P V is "
        "minimised and the cell force must also be below fmax: V |P_a - pressure| / N for each axis a, with "
        "P_a = W_aa / V from the virial W (isotropic: sqrt(3) V |P - pressure| / N), as ASE's UnitCellFilter with "
        "cell_factor = N. docs/minimization.md.",
        {KeySpec("algorithm", KeyType::string,
                 "fire (Bitzek et al. 2006, ASE's parameters) or cg (Polak-Ribiere conjugate gradients with a "
                 "backtracking quadratic line search: the energy decreases at every step)")
             .one_of(algorithms)
             .defaults_to("fire"),
         KeySpec("fmax", KeyType::real, "converged when the largest atomic force norm is below this (eV/A)")
             .greater_than(0.0)
             .defaults_to(0.01),
         KeySpec("max_steps", KeyType::integer, "most iterations (a CG line search is one)")
             .at_least(1)
             .at_most(1e9)
             .defaults_to(std::int64_t{1000}),
         KeySpec("max_step", KeyType::real,
                 "largest move of an atom in one step (A); FIRE scales its step down to it, CG's first trial step")
             .greater_than(0.0)
             .defaults_to(0.2),
         KeySpec("cell", KeyType::boolean, "relax the cell too (a cell periodic along a, b and c)").defaults_to(false),
         KeySpec("cell_mode", KeyType::string,
                 "with cell = true: isotropic (one strain for all axes) or aniso (x, y and z lengths apart; "
                 "shear is not relaxed)")
             .one_of({"iso", "aniso"})
             .defaults_to("iso"),
         KeySpec("pressure", KeyType::real, "target pressure of the cell relaxation (bar)").defaults_to(0.0),
         KeySpec("require_converged", KeyType::boolean,
                 "an unconverged minimisation is an error instead of a warning")
             .defaults_to(false),
         KeySpec("print_every", KeyType::integer, "steps between progress lines; 0: only the summary")
             .at_least(0)
             .defaults_to(std::int64_t{100})}};
  }();
  return schema;
}

MinimizeSettings minimize_settings(const ConfigSection& section) {
  MinimizeSettings settings;
  settings.fmax = section.real("fmax");
  settings.max_steps = static_cast<std::uint64_t>(section.integer("max_steps"));
  settings.max_step = section.real("max_step");
  if (section.boolean("cell")) {
    settings.cell = section.string("cell_mode") == "aniso" ? CellRelaxation::per_axis : CellRelaxation::isotropic;
    settings.pressure_bar = section.real("pressure");
  } else {
    for (const char* key : {"cell_mode", "pressure"})
      if (section.has(key)) section.fail(key, "applies only with cell = true");
  }
  return settings;
}

std::unique_ptr<Minimizer> create_minimizer(const ConfigSection& section) {
  const std::string algorithm = section.string("algorithm");
  const MinimizerRegistry::Style* style = MinimizerRegistry::instance().find(algorithm);
  if (style == nullptr) section.fail("algorithm", fmt::format("unknown algorithm '{}'", algorithm));
  return style->create(section);
}

}  // namespace nqmd
