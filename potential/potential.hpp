#pragma once
// How forces arise: a Potential maps a System and its neighbour list to energy, per-atom energies, forces
// and the virial. Units: eV, eV/A. Virial convention (as nequip and ASE): virial = -dE/d(strain), a full 3x3
// tensor, so that stress = -virial / V and pressure = (N k_B T + trace(virial)/3) / V for a periodic system.
#include <memory>
#include <string>
#include <vector>

#include "engine/config.hpp"
#include "engine/neighbor_list.hpp"
#include "engine/registry.hpp"
#include "engine/system.hpp"

namespace nqmd {

struct ForceResult {
  double energy = 0.0;               // eV
  std::vector<double> atom_energies; // eV per atom; they sum to energy
  std::vector<Vec3> forces;          // eV/A
  Mat3 virial = Mat3::Zero();        // eV, -dE/d(strain)

  void reset(std::size_t atoms) {
    energy = 0.0;
    atom_energies.assign(atoms, 0.0);
    forces.assign(atoms, Vec3::Zero());
    virial.setZero();
  }
};

class Potential {
 public:
  virtual ~Potential() = default;
  // Interaction range (A): edges with |r_ij| < cutoff() matter.
  virtual double cutoff() const = 0;
  virtual NeighborListKind neighbor_list_kind() const { return NeighborListKind::half; }
  // Throws InputError if the system holds species this potential does not describe (naming them).
  virtual void check_system(const System& system) const = 0;
  // Fills `result` (sized by the potential) for the positions and cell of `system`; `neighbors` was built
  // for this system with a radius of at least cutoff().
  virtual void compute(const System& system, const NeighborList& neighbors, ForceResult& result) = 0;
};

// [potential] kind = "...": styles receive their validated section and the system they will act on.
using PotentialRegistry = StyleRegistry<Potential, const System&>;
// Keys every [potential] section has (kind); each style adds its own.
const SectionSchema& potential_section_schema();

}  // namespace nqmd
