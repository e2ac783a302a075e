#pragma once
// Data-set statistics NequIP normalises with, computed as nequip 0.6.2 computes them on the training set.
// Torch-free.
#include <vector>

#include "potential/nequip/training/dataset.hpp"

namespace nqmd::nequip {

struct DatasetStatistics {
  double avg_num_neighbors = 0.0;  // edges per atom (nequip's avg_num_neighbors: auto)
  // dataset_forces_rms: sqrt of the mean of every squared force component (eV/A).
  double forces_rms = 0.0;
  // dataset_per_species_forces_rms: the same over the atoms of each type.
  std::vector<double> per_species_forces_rms;
  // dataset_per_atom_total_energy_mean / _std (unbiased): of E/N over the frames (eV/atom).
  double per_atom_energy_mean = 0.0;
  double per_atom_energy_std = 0.0;
  // dataset_total_energy_std (unbiased, eV).
  double total_energy_std = 0.0;
  // dataset_per_species_total_energy_mean: energy per atom of each type from the frames' total energies against
  // their compositions (nequip's ridge regression, see per_species_energy_regression).
  std::vector<double> per_species_energy_mean;
};

// Statistics of `frames` (those without energies or forces are left out of the energy or force statistics).
// InputError if a type never occurs, or the energies cannot be regressed on the compositions.
DatasetStatistics compute_statistics(const std::vector<const TrainingFrame*>& frames, int num_types);

// nequip 0.6.2's solver for per-species energies: each distinct composition contributes its energies' 25th,
// 50th and 75th percentiles (torch.quantile, linear); then, with X the counts and y the energies both divided by
// sum(X), mu = sum(y)/sum(X) and the ridge solution (X^T X + alpha^2 diag(rms of X's columns))^-1 X^T (y - X 1 mu)
// + mu, with alpha = 0.001. `counts` is one row of type counts per frame.
std::vector<double> per_species_energy_regression(const std::vector<std::vector<double>>& counts,
                                                  const std::vector<double>& energies, double alpha = 0.001);

}  // namespace nqmd::nequip
