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

// An atom whose environment lies outside the data a machine-learned potential was fitted to: its neighbour
// `neighbor` is `distance` A away, closer than any pair of the same two species in the training data
// (`closest_trained` A; +inf if the training data had no such pair within the cutoff).
struct ExtrapolationEvent {
  std::size_t atom = 0, neighbor = 0;
  double distance = 0.0;
  double closest_trained = 0.0;
  // How far inside the closest trained distance the pair is (A; +inf for a pair of species never seen within the
  // cutoff): what "deeper" and "worst" mean for these events.
  double depth() const { return closest_trained - distance; }
};

// "atom 3 (O) is 0.8120 A from atom 7 (H), 8.66% closer than any O-H pair in the training data (0.8890 A)".
std::string describe_extrapolation(const ExtrapolationEvent& event, const System& system);

struct ForceResult {
  double energy = 0.0;               // eV
  std::vector<double> atom_energies; // eV per atom; they sum to energy
  std::vector<Vec3> forces;          // eV/A
  Mat3 virial = Mat3::Zero();        // eV, -dE/d(strain)
  // Atoms outside the potential's training domain in this configuration, one entry per atom (its neighbour with
  // the largest depth()), in atom order; always empty for potentials without a domain.
  std::vector<ExtrapolationEvent> extrapolation;

  void reset(std::size_t atoms) {
    energy = 0.0;
    atom_energies.assign(atoms, 0.0);
    forces.assign(atoms, Vec3::Zero());
    virial.setZero();
    extrapolation.clear();
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
  // Potentials fitted to data that know where their training data lies (the closest pair of each two species)
  // describe it here, and compute() lists the atoms outside it in ForceResult::extrapolation; "" otherwise.
  virtual std::string training_domain() const { return ""; }
};

// [potential] kind = "...": styles receive their validated section and the system they will act on.
using PotentialRegistry = StyleRegistry<Potential, const System&>;
// Keys every [potential] section has (kind); each style adds its own.
const SectionSchema& potential_section_schema();

}  // namespace nqmd
