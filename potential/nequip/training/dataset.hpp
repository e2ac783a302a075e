#pragma once
// Training data: labelled extxyz frames as NequIP graphs (built once, with the model's cutoff), and their
// split into training, validation and test sets. Torch-free.
//
// Conventions: energies eV, forces eV/A, virial eV with nequip's sign (virial = -dE/d(strain)); the stress of
// an extxyz frame is ASE's (stress = (1/V) dE/d(strain)), so virial = -stress * V.
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "io/extxyz.hpp"
#include "potential/nequip/graph.hpp"

namespace nqmd::nequip {

// Where the labels are in a frame and how to convert them to eV, A.
struct LabelKeys {
  std::string energy = "energy";  // info key (e.g. energy, REF_energy, free_energy)
  std::string forces = "forces";  // per-atom column, 3 reals
  std::string stress = "stress";  // info key, 9 values or Voigt 6 (ASE order and sign)
  std::string virial = "virial";  // info key, 9 values (used when the frame has no stress)
  double energy_to_ev = 1.0;      // multiplies energies, forces and virials
  double length_to_angstrom = 1.0;  // multiplies positions and cells (forces are divided by it)
  double stress_to_ev_per_a3 = 1.0;  // multiplies the stress
};

struct TrainingFrame {
  std::string where;  // "FILE, frame K" (K counted from 0, as ASE's index)
  AtomicGraph graph;
  std::optional<double> energy;             // eV
  std::optional<std::vector<Vec3>> forces;  // eV/A
  std::optional<Mat3> virial;               // eV
  double volume = 0.0;                      // A^3; 0 unless fully periodic
  std::vector<std::int64_t> type_counts;    // atoms of each type
};

// The distinct chemical symbols among `symbols`, ordered by atomic number (nequip's default type order).
std::vector<std::string> symbols_by_atomic_number(std::vector<std::string> symbols);

// The frame as a training graph with types from `type_names` (chemical symbols; a species not in it is an
// InputError naming the frame), labels read by `keys`, edges with |r| < r_max. Non-finite labels are
// InputErrors naming the frame and the label.
TrainingFrame make_training_frame(const Frame& frame, const std::string& where, const LabelKeys& keys,
                                  const std::vector<std::string>& type_names, double r_max);

// The permutation nequip 0.6.2 splits a data set with (torch.randperm(n) from a CPU generator seeded with
// `seed`, as nequip's dataset_seed): training = the first n_train, validation = the next n_val.
std::vector<std::int64_t> nequip_split_permutation(std::int64_t n, std::uint64_t seed);

}  // namespace nqmd::nequip
