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

#include "engine/checkpoint.hpp"
#include "engine/neighbor_list.hpp"
#include "engine/observer.hpp"
#include "integrators/integrator.hpp"
#include "integrators/watchdog.hpp"
#include "potential/potential.hpp"

namespace nqmd {

struct CheckpointOptions {
  std::string path;            // empty: no checkpoints
  std::uint64_t every = 0;     // steps between checkpoints; 0: only at the end (and when stopping on an error)
};

// When the neighbour list is rebuilt, as LAMMPS' neigh_modify every/check: on steps that are multiples of `every`,
// and then only if an atom has moved more than skin/2 since the last build when `check` (the default, every = 1
// and check = true, is the safe criterion). Without check the list is rebuilt on schedule whatever the atoms did;
// a rebuild at which an atom had moved more than skin/2 is counted as dangerous (pairs may have been missed
// before it), as LAMMPS counts "dangerous builds".
struct NeighborSchedule {
  std::uint64_t every = 1;
  bool check = true;
};

// Wall seconds of the steps run, by stage (as LAMMPS' timing breakdown): the neighbour list (rebuild checks and
// builds), the potential, the integrator's own work (the rest of a step), the safety checks (finite values,
// watchdog, the saved last good state) and output (observers and checkpoints).
struct StepTimings {
  double neighbor = 0, potential = 0, integrator = 0, checks = 0, output = 0;
  std::uint64_t steps = 0;
  double total() const { return neighbor + potential + integrator + checks + output; }
};

class Simulation final : public ForceProvider {
 public:
  Simulation(System system, std::unique_ptr<Potential> potential, std::unique_ptr<Integrator> integrator,
             double neighbor_skin);

  void add_observer(std::unique_ptr<Observer> observer, std::uint64_t every);
  void set_checkpoints(CheckpointOptions options) { checkpoints_ = std::move(options); }
  void set_watchdog(const Watchdog& watchdog) { watchdog_ = watchdog; }
  // The watchdog with its extrapolation tally (null without one).
  const Watchdog* watchdog() const { return watchdog_ ? &*watchdog_ : nullptr; }
  void set_neighbor_schedule(NeighborSchedule schedule) { neighbor_schedule_ = schedule; }
  // Scheduled rebuilds (check = false) at which an atom had moved more than skin/2.
  std::uint64_t dangerous_builds() const { return dangerous_builds_; }
  const StepTimings& timings() const { return timings_; }

  // Fresh start: forces at the initial positions, integrator set-up (observers see step 0 when the run starts).
  void initialize();
  // Continue from a checkpoint of the same system (InputError if the atom count or species differ).
  void restore(const Checkpoint& checkpoint);
  // Advances to step `last_step`; observers see every multiple of their interval, including the first step
  // if it is one. On non-finite energies or forces it stops with an InputError naming the step and atom,
  // after writing a checkpoint of the last good step and flushing the observers. On a stop signal
  // (engine/stop_signals.hpp) it finishes the step, flushes, checkpoints and throws StopRequested.
  void run_until(std::uint64_t last_step);

  std::uint64_t step() const { return step_; }
  double time_fs() const { return time_fs_; }
  const System& system() const { return system_; }
  const ForceResult& forces() const { return forces_; }
  const NeighborList& neighbor_list() const { return neighbors_; }
  const Potential& potential() const { return *potential_; }
  ThermoState thermo() const;
  Checkpoint checkpoint() const;
  void write_checkpoint();

  const ForceResult& compute(System& system) override;

 private:
  struct ScheduledObserver {
    std::unique_ptr<Observer> observer;
    std::uint64_t every;
  };
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
  std::unique_ptr<Potential> potential_;
  std::unique_ptr<Integrator> integrator_;
  NeighborList neighbors_;
  NeighborSchedule neighbor_schedule_;
  std::uint64_t dangerous_builds_ = 0;
  StepTimings timings_;
  ForceResult forces_;
  std::vector<ScheduledObserver> observers_;
  CheckpointOptions checkpoints_;
  std::uint64_t step_ = 0;
  std::uint64_t step_being_computed_ = 0;  // for messages: the step whose forces are being evaluated
  double time_fs_ = 0.0;
  bool rebuild_next_ = true;
  bool initial_state_observed_ = false;
  GoodState last_good_;
  std::optional<Watchdog> watchdog_;
  bool potential_has_domain_ = false;  // the potential reports extrapolation (Potential::training_domain())
  std::uint64_t last_observed_step_ = 0;

  // Observers due at this step, or all of them (the last good step of a run that stops on an error).
  void observe(bool every_observer = false);
  void check_finite() const;
  void check_extrapolation();
  [[noreturn]] void stop_on_signal(int signal);
  void check_positions_sane(const System& system) const;
  void remember_good_state();
  void restore_good_state();
};

}  // namespace nqmd
