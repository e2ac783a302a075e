#include "engine/minimization.hpp"

#include <fmt/format.h>

#include "engine/error.hpp"
#include "engine/log.hpp"
#include "engine/stop_signals.hpp"

namespace nqmd {
namespace {

std::string describe(const MinimizeReport& report, const MinimizeSettings& settings) {
  std::string text = fmt::format("{} steps ({} force evaluations), energy {:.10g} eV, largest force {:.4g} eV/A",
                                 report.outcome.steps, report.outcome.evaluations, report.energy,
                                 report.max_atom_force);
  if (settings.cell != CellRelaxation::fixed)
    text += fmt::format(", cell force {:.4g}, pressure {:.6g} bar, volume {:.6f} A^3, enthalpy {:.10g} eV",
                        report.cell_force, report.pressure_bar, report.volume, report.enthalpy);
  return text;
}

}  // namespace

MinimizeReport run_minimization(const ConfigSection& section, Simulation& simulation) {
  const MinimizeSettings settings = minimize_settings(section);
  if (settings.cell != CellRelaxation::fixed && !simulation.system().cell.fully_periodic())
    section.fail("cell", "needs a cell periodic along all three axes");
  const std::unique_ptr<Minimizer> minimizer = create_minimizer(section);
  const auto print_every = static_cast<std::uint64_t>(section.integer("print_every"));
  const std::string algorithm = section.string("algorithm");
  log::info("minimize: {}, fmax {} eV/A, at most {} steps{}", algorithm, settings.fmax, settings.max_steps,
            settings.cell == CellRelaxation::fixed ? ""
            : fmt::format(", cell {} towards {} bar", section.string("cell_mode"), settings.pressure_bar));
  const MinimizeReport report = simulation.minimize(*minimizer, settings, [&](const MinimizeProgress& progress) {
    if (print_every > 0 && progress.step % print_every == 0)
      log::info("minimize: step {:6d}  enthalpy {:.10g} eV  fmax {:.4g} eV/A", progress.step, progress.enthalpy,
                progress.max_force);
    if (const int signal = pending_stop_signal())
      throw StopRequested(signal, fmt::format("stopped by {} at minimisation step {}, before the MD started (no "
                                              "checkpoint: rerun the input to minimise again)",
                                              signal_name(signal), progress.step));
  });
  if (report.outcome.converged) {
    log::info("minimize: converged (fmax {} eV/A) after {}", settings.fmax, describe(report, settings));
    return report;
  }
  const std::string message = fmt::format("minimize: not converged ({}; fmax {} eV/A) after {}",
                                          report.outcome.stop_reason, settings.fmax, describe(report, settings));
  if (section.boolean("require_converged"))
    section.fail("require_converged", message);
  log::warn("{}", message);
  return report;
}

}  // namespace nqmd
