#include "potential/nequip/training/statistics.hpp"

#include <Eigen/Cholesky>
#include <Eigen/Dense>
#include <algorithm>
#include <cmath>
#include <map>

#include "engine/error.hpp"

namespace nqmd::nequip {
namespace {

// torch.quantile with linear interpolation of sorted values.
double quantile(std::vector<double> values, double p) {
  std::sort(values.begin(), values.end());
  const double position = p * static_cast<double>(values.size() - 1);
  const auto below = static_cast<std::size_t>(std::floor(position));
  const std::size_t above = std::min(below + 1, values.size() - 1);
  return values[below] + (position - static_cast<double>(below)) * (values[above] - values[below]);
}

double unbiased_std(const std::vector<double>& values) {
  if (values.size() < 2) return 0.0;
  double mean = 0.0;
  for (double v : values) mean += v;
  mean /= static_cast<double>(values.size());
  double sum = 0.0;
  for (double v : values) sum += (v - mean) * (v - mean);
  return std::sqrt(sum / static_cast<double>(values.size() - 1));
}

}  // namespace

std::vector<double> per_species_energy_regression(const std::vector<std::vector<double>>& counts,
                                                  const std::vector<double>& energies, double alpha) {
  if (counts.empty()) throw InputError("per-species energies: no frame with an energy");
  const std::size_t types = counts.front().size();
  // Down-sampling by composition: three percentiles of the energies of each distinct composition.
  std::map<std::vector<double>, std::vector<double>> by_composition;
  for (std::size_t g = 0; g < counts.size(); ++g) by_composition[counts[g]].push_back(energies[g]);
  const double percentiles[] = {0.25, 0.5, 0.75};
  const auto rows = static_cast<Eigen::Index>(by_composition.size() * 3);
  Eigen::MatrixXd x(rows, static_cast<Eigen::Index>(types));
  Eigen::VectorXd y(rows);
  Eigen::Index row = 0;
  for (const auto& [composition, values] : by_composition)
    for (double p : percentiles) {
      for (std::size_t t = 0; t < types; ++t) x(row, static_cast<Eigen::Index>(t)) = composition[t];
      y(row++) = quantile(values, p);
    }
  const double norm = x.sum();
  x /= norm;
  y /= norm;
  const double y_mean = y.sum() / x.sum();
  const Eigen::VectorXd feature_rms = (x.array().square().colwise().mean()).sqrt().transpose();
  Eigen::MatrixXd a = x.transpose() * x;
  a.diagonal() += feature_rms * (alpha * alpha);
  const Eigen::VectorXd dy = y - x.rowwise().sum() * y_mean;
  const Eigen::LLT<Eigen::MatrixXd> cholesky(a);
  if (cholesky.info() != Eigen::Success)
    throw InputError("per-species energies: the energies cannot be regressed on the compositions (a species "
                     "never occurs?)");
  const Eigen::VectorXd mean = cholesky.solve(x.transpose() * dy);
  std::vector<double> result(types);
  for (std::size_t t = 0; t < types; ++t) result[t] = mean(static_cast<Eigen::Index>(t)) + y_mean;
  return result;
}

DatasetStatistics compute_statistics(const std::vector<const TrainingFrame*>& frames, int num_types) {
  DatasetStatistics stats;
  const auto types = static_cast<std::size_t>(num_types);
  double edges = 0.0, atoms = 0.0;
  double squares = 0.0;
  double components = 0.0;
  std::vector<double> species_squares(types, 0.0), species_components(types, 0.0);
  std::vector<double> per_atom_energies, total_energies;
  std::vector<std::vector<double>> compositions;
  std::vector<std::int64_t> atoms_of_type(types, 0);
  for (const TrainingFrame* frame : frames) {
    const AtomicGraph& g = frame->graph;
    edges += static_cast<double>(g.num_edges());
    atoms += static_cast<double>(g.num_atoms());
    for (std::size_t t = 0; t < types; ++t) atoms_of_type[t] += frame->type_counts[t];
    if (frame->forces) {
      for (std::size_t i = 0; i < g.num_atoms(); ++i) {
        const double s = (*frame->forces)[i].squaredNorm();
        const auto t = static_cast<std::size_t>(g.atom_types[i]);
        squares += s;
        components += 3.0;
        species_squares[t] += s;
        species_components[t] += 3.0;
      }
    }
    if (frame->energy) {
      total_energies.push_back(*frame->energy);
      per_atom_energies.push_back(*frame->energy / static_cast<double>(g.num_atoms()));
      compositions.emplace_back(frame->type_counts.begin(), frame->type_counts.end());
    }
  }
  for (std::size_t t = 0; t < types; ++t)
    if (atoms_of_type[t] == 0)
      throw InputError("training set: type " + std::to_string(t) + " never occurs in the training frames");
  stats.avg_num_neighbors = atoms > 0 ? edges / atoms : 0.0;
  stats.forces_rms = components > 0 ? std::sqrt(squares / components) : 0.0;
  stats.per_species_forces_rms.resize(types, 0.0);
  for (std::size_t t = 0; t < types; ++t)
    stats.per_species_forces_rms[t] =
        species_components[t] > 0 ? std::sqrt(species_squares[t] / species_components[t]) : 0.0;
  if (!per_atom_energies.empty()) {
    double sum = 0.0;
    for (double e : per_atom_energies) sum += e;
    stats.per_atom_energy_mean = sum / static_cast<double>(per_atom_energies.size());
    stats.per_atom_energy_std = unbiased_std(per_atom_energies);
    stats.total_energy_std = unbiased_std(total_energies);
    stats.per_species_energy_mean = per_species_energy_regression(compositions, total_energies);
  }
  return stats;
}

}  // namespace nqmd::nequip
