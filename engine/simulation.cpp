#include "engine/simulation.hpp"

#include <cmath>
#include <limits>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "engine/error.hpp"
#include "engine/log.hpp"
#include "engine/stop_signals.hpp"
#include "engine/stopwatch.hpp"
#include "engine/thermo.hpp"
#include "engine/units.hpp"

namespace nqmd {

Simulation::Simulation(System system, std::unique_ptr<Potential> potential, std::unique_ptr<Integrator> integrator,
                       double neighbor_skin)
    : system_(std::move(system)), integrator_(std::move(integrator)), forces_(std::move(potential), neighbor_skin) {
  system_.validate();
  forces_.potential().check_system(system_);
  potential_has_domain_ = !forces_.potential().training_domain().empty();
}

StepTimings Simulation::timings() const {
  StepTimings timings = timings_;
  timings.neighbor = forces_.neighbor_seconds();
  timings.potential = forces_.potential_seconds();
  return timings;
}

void Simulation::initialize() {
  step_ = 0;
  time_fs_ = 0.0;
  forces_.set_step(0);
  forces_.rebuild_next();
  forces_.compute(system_);
  check_finite();
  check_extrapolation();
  integrator_->setup(system_, forces_.result());
  remember_good_state();
  last_observed_step_.reset();
}

MinimizeReport Simulation::minimize(Minimizer& minimizer, const MinimizeSettings& settings,
                                    const MinimizeMonitor& monitor) {
  begin_graceful_stops();
  forces_.set_step(0);
  forces_.rebuild_next();
  const MinimizeReport report = nqmd::minimize(system_, forces_, minimizer, settings, monitor);
  initialize();
  return report;
}

void Simulation::restore(const Checkpoint& checkpoint) {
  const System& saved = checkpoint.system;
  if (saved.size() != system_.size())
    throw InputError(fmt::format("checkpoint has {} atoms but the input describes {}: it belongs to another system",
                                 saved.size(), system_.size()));
  for (std::size_t i = 0; i < saved.size(); ++i)
    if (saved.symbol(i) != system_.symbol(i))
      throw InputError(fmt::format("checkpoint atom {} is {} but the input has {}: it belongs to another system", i,
                                   saved.symbol(i), system_.symbol(i)));
  system_ = saved;
  ForceResult& forces = forces_.result();
  forces.energy = checkpoint.energy;
  forces.atom_energies = checkpoint.atom_energies;
  forces.forces = checkpoint.forces;
  forces.virial = checkpoint.virial;
  step_ = checkpoint.step;
  time_fs_ = checkpoint.time_fs;
  // The list the original run had at this step, or (a checkpoint without one, or one written where the list was
  // to be rebuilt anyway) a new one at the next evaluation.
  if (!checkpoint.neighbor_list_positions.empty())
    forces_.restore_neighbor_list(system_, checkpoint.neighbor_list_positions, checkpoint.neighbor_list_cell);
  else
    forces_.rebuild_next();
  integrator_->setup(system_, forces);
  integrator_->load_state(checkpoint.integrator);
  remember_good_state();
  last_observed_step_ = step_;  // the run that wrote the checkpoint observed this step
}

void Simulation::run_until(std::uint64_t last_step) {
  begin_graceful_stops();
  if (last_observed_step_ != step_) observe(false, step_ == last_step);
  while (step_ < last_step) {
    Stopwatch clock;
    const double inside_forces = forces_.neighbor_seconds() + forces_.potential_seconds();
    try {
      forces_.set_step(step_ + 1);
      integrator_->step(system_, forces_, forces_.result());
      ++step_;
      time_fs_ = static_cast<double>(step_) * integrator_->timestep_fs();
      timings_.integrator += clock.lap() - (forces_.neighbor_seconds() + forces_.potential_seconds() - inside_forces);
      check_finite();
      check_extrapolation();
      if (watchdog_ && watchdog_->due(step_))
        watchdog_->check(step_, system_, forces_.result().forces, last_good_.positions, last_good_.images,
                         forces_.neighbor_list(), thermo().temperature);
    } catch (const InputError&) {
      // Stop at the last good step: observers see it (if they have not yet), the checkpoint keeps it.
      restore_good_state();
      if (last_observed_step_ != step_) observe(true);
      observers_.flush();
      if (!checkpoints_.path.empty()) write_checkpoint();
      throw;
    }
    timings_.checks += clock.lap();
    observe(false, step_ == last_step);
    observers_.after_step(step_);
    if (!checkpoints_.path.empty() && checkpoints_.every > 0 && step_ % checkpoints_.every == 0) write_checkpoint();
    timings_.output += clock.lap();
    remember_good_state();
    timings_.checks += clock.lap();
    ++timings_.steps;
    if (const int signal = pending_stop_signal()) stop_on_signal(signal);
  }
}

void Simulation::stop_on_signal(int signal) {
  observers_.flush();
  std::string saved = "no checkpoint file is configured";
  if (!checkpoints_.path.empty()) {
    write_checkpoint();
    saved = fmt::format("checkpoint written to {}; continue with --restart {}", checkpoints_.path, checkpoints_.path);
  }
  throw StopRequested(signal, fmt::format("stopped by {} after step {}; outputs flushed, {}", signal_name(signal),
                                          step_, saved));
}

void Simulation::check_finite() const {
  const ForceResult& forces = forces_.result();
  if (!std::isfinite(forces.energy)) {
    // Name the atoms whose energy or force is not finite (the first few), and the closest neighbour of the first.
    std::vector<std::string> atoms;
    std::size_t count = 0, first = system_.size();
    for (std::size_t i = 0; i < system_.size(); ++i) {
      const bool bad = !forces.forces[i].allFinite() ||
                       (forces.atom_energies.size() == system_.size() && !std::isfinite(forces.atom_energies[i]));
      if (!bad) continue;
      if (first == system_.size()) first = i;
      if (++count <= 5) atoms.push_back(fmt::format("{} ({})", i, system_.symbol(i)));
    }
    std::string where = "no atom is singled out";
    if (count > 0) {
      where = fmt::format("atom{} {}{}", count > 1 ? "s" : "", fmt::join(atoms, ", "),
                          count > 5 ? fmt::format(" and {} more", count - 5) : std::string());
      // The edges of the first atom as a centre (a half list may hold some of its pairs under the other atom).
      const NeighborList& neighbors = forces_.neighbor_list();
      double closest = std::numeric_limits<double>::infinity();
      int partner = -1;
      if (first + 1 < neighbors.offsets().size())
        for (std::size_t e = neighbors.offsets()[first]; e < neighbors.offsets()[first + 1]; ++e)
          if (const double distance = neighbors.edge_vector(system_, e).norm(); distance < closest) {
            closest = distance;
            partner = neighbors.neighbors()[e];
          }
      if (partner >= 0)
        where += fmt::format("; atom {} is {:.4g} A from atom {} ({})", first, closest, partner, system_.symbol(partner));
    }
    throw InputError(fmt::format("step {}: the potential energy is {}: {} (the simulation blew up; try a smaller "
                                 "timestep or check the structure)",
                                 step_, forces.energy, where));
  }
  for (std::size_t i = 0; i < system_.size(); ++i) {
    if (!forces.forces[i].allFinite() || !system_.positions[i].allFinite() || !system_.velocities[i].allFinite())
      throw InputError(fmt::format("step {}: atom {} ({}) has a non-finite force, position or velocity (the "
                                   "simulation blew up; try a smaller timestep or check the structure)",
                                   step_, i, system_.symbol(i)));
  }
}

void Simulation::check_extrapolation() {
  if (watchdog_ && potential_has_domain_)
    watchdog_->check_extrapolation(step_, system_, forces_.result().extrapolation);
}

void Simulation::remember_good_state() {
  last_good_.positions = system_.positions;
  last_good_.velocities = system_.velocities;
  last_good_.images = system_.images;
  last_good_.forces = forces_.result();
  last_good_.integrator = integrator_->save_state();
  last_good_.step = step_;
  last_good_.time_fs = time_fs_;
}

void Simulation::restore_good_state() {
  system_.positions = last_good_.positions;
  system_.velocities = last_good_.velocities;
  system_.images = last_good_.images;
  forces_.result() = last_good_.forces;
  integrator_->load_state(last_good_.integrator);
  step_ = last_good_.step;
  time_fs_ = last_good_.time_fs;
  forces_.rebuild_next();
}

ThermoState Simulation::thermo() const {
  ThermoState thermo;
  thermo.step = step_;
  thermo.time_fs = time_fs_;
  thermo.potential_energy = forces_.result().energy;
  thermo.kinetic_energy = kinetic_energy(system_);
  thermo.total_energy = thermo.potential_energy + thermo.kinetic_energy;
  thermo.conserved_energy = thermo.total_energy + integrator_->extended_energy();
  const std::size_t dof = degrees_of_freedom(system_, integrator_->conserves_momentum());
  thermo.degrees_of_freedom = static_cast<double>(dof);
  thermo.temperature = kinetic_temperature(thermo.kinetic_energy, dof);
  if (system_.cell.fully_periodic()) {
    thermo.volume = system_.cell.volume();
    thermo.pressure_bar =
        virial_pressure(thermo.kinetic_energy, forces_.result().virial, thermo.volume) * units::ev_per_a3_to_bar;
  }
  return thermo;
}

void Simulation::observe(bool every_observer, bool last_step) {
  if (!every_observer && !observers_.due(step_, last_step)) return;
  last_observed_step_ = step_;
  const ThermoState state = thermo();
  const StepData data{system_, forces_.result().forces, forces_.result().virial, state,
                      &forces_.result().atom_energies};
  observers_.observe(data, every_observer, last_step);
}

Checkpoint Simulation::checkpoint() const {
  const ForceResult& forces = forces_.result();
  Checkpoint checkpoint;
  checkpoint.system = system_;
  checkpoint.step = step_;
  checkpoint.time_fs = time_fs_;
  checkpoint.energy = forces.energy;
  checkpoint.atom_energies = forces.atom_energies;
  checkpoint.forces = forces.forces;
  checkpoint.virial = forces.virial;
  checkpoint.integrator = integrator_->save_state();
  // The list the next step uses, unless it is to be rebuilt anyway (after a failed step its build may belong to
  // positions that were then undone).
  const NeighborList& neighbors = forces_.neighbor_list();
  if (!forces_.rebuild_pending() && neighbors.built_positions().size() == system_.size()) {
    checkpoint.neighbor_list_positions = neighbors.built_positions();
    checkpoint.neighbor_list_cell = neighbors.built_lattice();
  }
  return checkpoint;
}

void Simulation::write_checkpoint() {
  observers_.flush();
  nqmd::write_checkpoint(checkpoints_.path, checkpoint());
  log::detail("checkpoint: step {} written to {} ({} neighbour list builds so far)", step_, checkpoints_.path,
              forces_.neighbor_list().num_builds());
}

}  // namespace nqmd
