#pragma once
// The run loop: a System moved by an Integrator under a Potential, with the neighbour list kept valid by the
// Verlet skin criterion, observers called every N steps, and checkpoints from which a run continues bit for
// bit. A checkpoint is a rebuild point: after writing one, the next force evaluation rebuilds the neighbour
// list, exactly as a run restarted from that checkpoint does, so both sum forces in the same order.
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "engine/force_evaluation.hpp"
#include "engine/observer.hpp"
#include "engine/watchdog.hpp"
#include "integrators/integrator.hpp"
#include "integrators/minimizer.hpp"
#include "io/checkpoint.hpp"
#include "potential/potential.hpp"

namespace nqmd {

struct CheckpointOptions {
  std::string path;            // empty: no checkpoints
  std::uint64_t every = 0;     // steps between checkpoints; 0: only at the end (and when stopping on an error)
};

// Wall seconds of the steps run, by stage (as LAMMPS' timing breakdown): the neighbour list (rebuild checks and
// builds), the potential, the integrator's own work (the rest of a step), the safety checks (finite values,
// watchdog, the saved last good state) and output (observers and checkpoints).
struct StepTimings {
  double neighbor = 0, potential = 0, integrator = 0, checks = 0, output = 0;
  std::uint64_t steps = 0;
  double total() const { return neighbor + potential + integrator + checks + output; }
};

class Simulation {
 public:
  Simulation(System system, std::unique_ptr<Potential> potential, std::unique_ptr<Integrator> integrator,
             double neighbor_skin);

  void add_observer(std::unique_ptr<Observer> observer, std::uint64_t every) {
    observers_.add(std::move(observer), every);
  }
  void set_checkpoints(CheckpointOptions options) { checkpoints_ = std::move(options); }
  void set_watchdog(const Watchdog& watchdog) { watchdog_ = watchdog; }
  // The watchdog with its extrapolation tally (null without one).
  const Watchdog* watchdog() const { return watchdog_ ? &*watchdog_ : nullptr; }
  void set_neighbor_schedule(NeighborSchedule schedule) { forces_.set_schedule(schedule); }
  // Scheduled rebuilds (check = false) at which an atom had moved more than skin/2.
  std::uint64_t dangerous_builds() const { return forces_.dangerous_builds(); }
  StepTimings timings() const;

  // Fresh start: forces at the initial positions, integrator set-up (observers see step 0 when the run starts).
  void initialize();
  // Energy minimisation before a fresh run (integrators/minimizer.hpp): moves the atoms (and the cell) to a
  // minimum, velocities untouched, then initialize()s there, so that step 0 is the minimised state.
  MinimizeReport minimize(Minimizer& minimizer, const MinimizeSettings& settings, const MinimizeMonitor& monitor = {});
  // Continue from a checkpoint of the same system (InputError if the atom count or species differ).
  void restore(const Checkpoint& checkpoint);
  // Advances to step `last_step`; observers see every multiple of their interval, including the first step
  // if it is one, and those that ask for it (thermo) see `last_step` too. On non-finite energies or forces it stops with an InputError naming the step and atom,
  // after writing a checkpoint of the last good step and flushing the observers. On a stop signal
  // (engine/stop_signals.hpp) it finishes the step, flushes, checkpoints and throws StopRequested.
  void run_until(std::uint64_t last_step);

  std::uint64_t step() const { return step_; }
  double time_fs() const { return time_fs_; }
  const System& system() const { return system_; }
  const ForceResult& forces() const { return forces_.result(); }
  const NeighborList& neighbor_list() const { return forces_.neighbor_list(); }
  const Potential& potential() const { return forces_.potential(); }
  ThermoState thermo() const;
  Checkpoint checkpoint() const;
  void write_checkpoint();

 private:
  // State of the last completed step, kept to write a clean checkpoint if the next step blows up.
  struct GoodState {
    std::vector<Vec3> positions, velocities;
    std::vector<Vec3i> images;
    ForceResult forces;
    IntegratorState integrator;
    std::uint64_t step = 0;
    double time_fs = 0.0;
  };

  System system_;
  std::unique_ptr<Integrator> integrator_;
  ForceEvaluation forces_;
  ObserverSchedule observers_;
  std::optional<std::uint64_t> last_observed_step_;  // none before a fresh run observes its step 0
  CheckpointOptions checkpoints_;
  std::optional<Watchdog> watchdog_;
  bool potential_has_domain_ = false;  // the potential reports extrapolation (Potential::training_domain())
  std::uint64_t step_ = 0;
  double time_fs_ = 0.0;
  GoodState last_good_;
  StepTimings timings_;  // all but the neighbour list and the potential, which forces_ times

  // Observers due at this step, or all of them (the last good step of a run that stops on an error);
  // `last_step`: this is the last step of the run.
  void observe(bool every_observer = false, bool last_step = false);
  void check_finite() const;
  void check_extrapolation();
  [[noreturn]] void stop_on_signal(int signal);
  void remember_good_state();
  void restore_good_state();
};

}  // namespace nqmd
