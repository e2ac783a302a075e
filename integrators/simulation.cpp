#include "integrators/simulation.hpp"

#include <chrono>
#include <cmath>

#include <fmt/format.h>

#include "engine/error.hpp"
#include "engine/stop_signals.hpp"
#include "integrators/velocities.hpp"
#include "engine/units.hpp"

namespace nqmd {
namespace {

using Clock = std::chrono::steady_clock;

// Seconds since `start`, which moves to now.
double lap(Clock::time_point& start) {
  const Clock::time_point now = Clock::now();
  const double seconds = std::chrono::duration<double>(now - start).count();
  start = now;
  return seconds;
}

}  // namespace

Simulation::Simulation(System system, std::unique_ptr<Potential> potential, std::unique_ptr<Integrator> integrator,
                       double neighbor_skin)
    : system_(std::move(system)),
      potential_(std::move(potential)),
      integrator_(std::move(integrator)),
      neighbors_(potential_->cutoff(), neighbor_skin, potential_->neighbor_list_kind()) {
  system_.validate();
  potential_->check_system(system_);
  potential_has_domain_ = !potential_->training_domain().empty();
}

void Simulation::add_observer(std::unique_ptr<Observer> observer, std::uint64_t every) {
  observers_.push_back({std::move(observer), every == 0 ? 1 : every});
}

const ForceResult& Simulation::compute(System& system) {
  Clock::time_point clock = Clock::now();
  bool rebuild = rebuild_next_;
  if (!rebuild && step_being_computed_ % neighbor_schedule_.every == 0) {
    const bool moved_too_far = neighbors_.needs_rebuild(system);
    rebuild = moved_too_far || !neighbor_schedule_.check;
    if (moved_too_far && !neighbor_schedule_.check) ++dangerous_builds_;
  }
  if (rebuild) {
    check_positions_sane(system);
    // Rebuilds are where atoms are wrapped back into the cell; image counters keep the unwrapped path.
    system.wrap_into_cell();
    neighbors_.build(system);
    rebuild_next_ = false;
  }
  timings_.neighbor += lap(clock);
  potential_->compute(system, neighbors_, forces_);
  timings_.potential += lap(clock);
  return forces_;
}

void Simulation::initialize() {
  step_ = step_being_computed_ = 0;
  time_fs_ = 0.0;
  rebuild_next_ = true;
  compute(system_);
  check_finite();
  check_extrapolation();
  integrator_->setup(system_, forces_);
  remember_good_state();
  initial_state_observed_ = false;
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
  forces_.energy = checkpoint.energy;
  forces_.atom_energies = checkpoint.atom_energies;
  forces_.forces = checkpoint.forces;
  forces_.virial = checkpoint.virial;
  step_ = checkpoint.step;
  time_fs_ = checkpoint.time_fs;
  rebuild_next_ = true;  // as the original run does right after writing this checkpoint
  integrator_->setup(system_, forces_);
  integrator_->load_state(checkpoint.integrator);
  remember_good_state();
  initial_state_observed_ = true;  // the run that wrote the checkpoint observed this step
  last_observed_step_ = step_;
}

void Simulation::run_until(std::uint64_t last_step) {
  if (!initial_state_observed_) {
    observe();
    initial_state_observed_ = true;
  }
  while (step_ < last_step) {
    Clock::time_point clock = Clock::now();
    const double inside_compute = timings_.neighbor + timings_.potential;
    try {
      step_being_computed_ = step_ + 1;
      integrator_->step(system_, *this, forces_);
      ++step_;
      time_fs_ = static_cast<double>(step_) * integrator_->timestep_fs();
      timings_.integrator += lap(clock) - (timings_.neighbor + timings_.potential - inside_compute);
      check_finite();
      check_extrapolation();
      if (watchdog_ && watchdog_->due(step_))
        watchdog_->check(step_, system_, forces_.forces, last_good_.positions, last_good_.images, neighbors_,
                         thermo().temperature);
    } catch (const InputError&) {
      // Stop at the last good step: observers see it (if they have not yet), the checkpoint keeps it.
      restore_good_state();
      if (last_observed_step_ != step_) observe(true);
      for (auto& scheduled : observers_) scheduled.observer->flush();
      if (!checkpoints_.path.empty()) write_checkpoint();
      throw;
    }
    timings_.checks += lap(clock);
    observe();
    for (auto& scheduled : observers_) scheduled.observer->after_step(step_);
    if (!checkpoints_.path.empty() && checkpoints_.every > 0 && step_ % checkpoints_.every == 0) write_checkpoint();
    timings_.output += lap(clock);
    remember_good_state();
    timings_.checks += lap(clock);
    ++timings_.steps;
    if (const int signal = pending_stop_signal()) stop_on_signal(signal);
  }
}

void Simulation::stop_on_signal(int signal) {
  for (auto& scheduled : observers_) scheduled.observer->flush();
  std::string saved = "no checkpoint file is configured";
  if (!checkpoints_.path.empty()) {
    write_checkpoint();
    saved = fmt::format("checkpoint written to {}; continue with --restart {}", checkpoints_.path, checkpoints_.path);
  }
  throw StopRequested(signal, fmt::format("stopped by {} after step {}; outputs flushed, {}", signal_name(signal),
                                          step_, saved));
}

void Simulation::check_positions_sane(const System& system) const {
  // An atom thousands of cells away (or at infinity) means the dynamics diverged; binning it would overflow.
  const double limit = 1e4 * std::max(1.0, system.cell.perpendicular_widths().maxCoeff()) + 1e6;
  for (std::size_t i = 0; i < system.size(); ++i)
    if (!system.positions[i].allFinite() || system.positions[i].cwiseAbs().maxCoeff() > limit)
      throw InputError(fmt::format("step {}: atom {} ({}) is at ({:.6g}, {:.6g}, {:.6g}) A, far outside the cell (the "
                                   "simulation blew up; try a smaller timestep or check the structure)",
                                   step_being_computed_, i, system.symbol(i),
                                   system.positions[i].x(), system.positions[i].y(), system.positions[i].z()));
}

void Simulation::check_finite() const {
  if (!std::isfinite(forces_.energy))
    throw InputError(fmt::format("step {}: the potential energy is {} (the simulation blew up; try a smaller "
                                 "timestep or check the structure)", step_being_computed_, forces_.energy));
  for (std::size_t i = 0; i < system_.size(); ++i) {
    if (!forces_.forces[i].allFinite() || !system_.positions[i].allFinite() || !system_.velocities[i].allFinite())
      throw InputError(fmt::format("step {}: atom {} ({}) has a non-finite force, position or velocity (the "
                                   "simulation blew up; try a smaller timestep or check the structure)",
                                   step_being_computed_, i, system_.symbol(i)));
  }
}

void Simulation::check_extrapolation() {
  if (watchdog_ && potential_has_domain_) watchdog_->check_extrapolation(step_, system_, forces_.extrapolation);
}

void Simulation::remember_good_state() {
  last_good_.positions = system_.positions;
  last_good_.velocities = system_.velocities;
  last_good_.images = system_.images;
  last_good_.forces = forces_;
  last_good_.integrator = integrator_->save_state();
  last_good_.step = step_;
  last_good_.time_fs = time_fs_;
}

void Simulation::restore_good_state() {
  system_.positions = last_good_.positions;
  system_.velocities = last_good_.velocities;
  system_.images = last_good_.images;
  forces_ = last_good_.forces;
  integrator_->load_state(last_good_.integrator);
  step_ = last_good_.step;
  time_fs_ = last_good_.time_fs;
}

ThermoState Simulation::thermo() const {
  ThermoState thermo;
  thermo.step = step_;
  thermo.time_fs = time_fs_;
  thermo.potential_energy = forces_.energy;
  thermo.kinetic_energy = kinetic_energy(system_);
  thermo.total_energy = thermo.potential_energy + thermo.kinetic_energy;
  thermo.conserved_energy = thermo.total_energy + integrator_->extended_energy();
  const std::size_t dof = degrees_of_freedom(system_, integrator_->conserves_momentum());
  thermo.degrees_of_freedom = static_cast<double>(dof);
  thermo.temperature = kinetic_temperature(thermo.kinetic_energy, dof);
  if (system_.cell.fully_periodic()) {
    // P V = (2 K + trace(virial)) / 3 (LAMMPS compute pressure, with its N_dof k T = 2 K).
    thermo.volume = system_.cell.volume();
    const double pressure = (2.0 * thermo.kinetic_energy + forces_.virial.trace()) / (3.0 * thermo.volume);
    thermo.pressure_bar = pressure * units::ev_per_a3_to_bar;
  }
  return thermo;
}

void Simulation::observe(bool every_observer) {
  bool any = every_observer;
  for (const auto& scheduled : observers_) any = any || step_ % scheduled.every == 0;
  if (!any) return;
  last_observed_step_ = step_;
  const ThermoState state = thermo();
  const StepData data{system_, forces_.forces, forces_.virial, state};
  for (auto& scheduled : observers_)
    if (every_observer || step_ % scheduled.every == 0) scheduled.observer->observe(data);
}

Checkpoint Simulation::checkpoint() const {
  Checkpoint checkpoint;
  checkpoint.system = system_;
  checkpoint.step = step_;
  checkpoint.time_fs = time_fs_;
  checkpoint.energy = forces_.energy;
  checkpoint.atom_energies = forces_.atom_energies;
  checkpoint.forces = forces_.forces;
  checkpoint.virial = forces_.virial;
  checkpoint.integrator = integrator_->save_state();
  return checkpoint;
}

void Simulation::write_checkpoint() {
  for (auto& scheduled : observers_) scheduled.observer->flush();
  nqmd::write_checkpoint(checkpoints_.path, checkpoint());
  rebuild_next_ = true;
}

}  // namespace nqmd
