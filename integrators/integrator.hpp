#pragma once
// How atoms move. An Integrator advances the System by one time step, asking a ForceProvider for forces at
// the new positions. Units: time fs, velocities A/fs, forces eV/A, masses amu (acceleration = F/m times
// units::ev_per_a_amu_to_a_per_fs2). Integrators with extra dynamical variables (thermostat chains, barostat,
// random number generator) expose them as named arrays for checkpoints, so that a restarted run continues
// bit for bit.
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "engine/config.hpp"
#include "engine/named_arrays.hpp"
#include "engine/registry.hpp"
#include "engine/system.hpp"
#include "potential/potential.hpp"

namespace nqmd {

// Computes forces for the current positions of the system (updating neighbour lists as needed).
class ForceProvider {
 public:
  virtual ~ForceProvider() = default;
  virtual const ForceResult& compute(System& system) = 0;
};

// Checkpointable state: named arrays of doubles and of unsigned 64-bit integers (RNG states).
using IntegratorState = NamedArrays;

class Integrator {
 public:
  virtual ~Integrator() = default;
  virtual double timestep_fs() const = 0;
  // Called once before the first step, with forces already computed for the initial positions.
  virtual void setup(System& system, const ForceResult& forces) = 0;
  // One step: on entry `forces` holds the forces at the current positions; on exit, at the new ones.
  virtual void step(System& system, ForceProvider& provider, ForceResult& forces) = 0;
  // Energy of the extended-system variables (thermostat/barostat, or the heat a stochastic thermostat
  // removed), so that potential + kinetic + this is conserved (eV).
  virtual double extended_energy() const { return 0.0; }
  // Whether total momentum is conserved (then the kinetic temperature uses 3N - 3 degrees of freedom).
  virtual bool conserves_momentum() const { return true; }
  virtual IntegratorState save_state() const { return {}; }
  virtual void load_state(const IntegratorState& /*state*/) {}
};

// [integrator] kind = "...": styles receive their validated section (kind and timestep are common keys).
using IntegratorRegistry = StyleRegistry<Integrator>;
const SectionSchema& integrator_section_schema();

}  // namespace nqmd
