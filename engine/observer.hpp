#pragma once
// Observers see the simulation every N steps (step 0 included): thermo output, trajectories, on-the-fly
// analysis. They read; they never change the state.
#include <cstdint>
#include <memory>
#include <vector>

#include "engine/system.hpp"

namespace nqmd {

// Instantaneous thermodynamic state. Energies eV, temperature K, pressure bar, volume A^3 (0 without a cell).
struct ThermoState {
  std::uint64_t step = 0;
  double time_fs = 0.0;
  double potential_energy = 0.0;
  double kinetic_energy = 0.0;
  double total_energy = 0.0;
  double conserved_energy = 0.0;  // total + the integrator's extended-system energy
  double temperature = 0.0;
  double pressure_bar = 0.0;      // kinetic + virial; 0 for a system that is not fully periodic
  double volume = 0.0;
  double degrees_of_freedom = 0.0;
};

struct StepData {
  const System& system;
  const std::vector<Vec3>& forces;  // eV/A
  const Mat3& virial;               // eV
  const ThermoState& thermo;
  const std::vector<double>* atom_energies = nullptr;  // eV per atom (they sum to the potential energy)
};

class Observer {
 public:
  virtual ~Observer() = default;
  virtual void observe(const StepData& data) = 0;
  // Called after every step, observed or not: for cheap bookkeeping such as a progress bar.
  virtual void after_step(std::uint64_t /*step*/) {}
  // Makes everything written so far durable (before a checkpoint, at a signal, at the end).
  virtual void flush() {}
  // Whether it also sees the last step of a run that is not a multiple of its interval (thermo output does, as
  // LAMMPS prints thermo on the last step of every run).
  virtual bool observes_last_step() const { return false; }
};

// The observers of a run, each called every N steps (N >= 1; 0 is taken as 1).
class ObserverSchedule {
 public:
  void add(std::unique_ptr<Observer> observer, std::uint64_t every);
  // Whether an observer is due at `step` (`last_step`: the last step of the run).
  bool due(std::uint64_t step, bool last_step = false) const;
  // Calls the observers due at data.thermo.step, or every observer (the last good step of a run that stops).
  void observe(const StepData& data, bool every_observer = false, bool last_step = false);
  void after_step(std::uint64_t step);
  void flush();

 private:
  struct Scheduled {
    std::unique_ptr<Observer> observer;
    std::uint64_t every;
  };
  std::vector<Scheduled> observers_;
};

}  // namespace nqmd
