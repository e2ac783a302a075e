#include "integrators/relaxation_problem.hpp"

#include <algorithm>
#include <cmath>

#include "engine/error.hpp"
#include "engine/thermo.hpp"

namespace nqmd {
namespace {

Eigen::Index cell_coordinates(CellRelaxation cell) {
  switch (cell) {
    case CellRelaxation::fixed: return 0;
    case CellRelaxation::isotropic: return 1;
    case CellRelaxation::per_axis: return 3;
  }
  return 0;
}

}  // namespace

RelaxationProblem::RelaxationProblem(System& system, ForceProvider& provider, CellRelaxation cell,
                                     double pressure_ev_per_a3)
    : system_(system),
      provider_(provider),
      cell_(cell),
      target_pressure_(pressure_ev_per_a3),
      reference_lattice_(system.cell.lattice()),
      atoms_(static_cast<double>(std::max<std::size_t>(system.size(), 1))) {
  if (cell_ != CellRelaxation::fixed && !system.cell.fully_periodic())
    throw InputError("[minimize] cell = true needs a cell periodic along all three axes");
  const Eigen::Index atom_coordinates = 3 * static_cast<Eigen::Index>(system.size());
  coordinates_ = Eigen::VectorXd::Zero(atom_coordinates + cell_coordinates(cell_));
  for (std::size_t i = 0; i < system.size(); ++i)
    coordinates_.segment<3>(3 * static_cast<Eigen::Index>(i)) = system.unwrapped_position(i);
  evaluate(Eigen::VectorXd(coordinates_));
}

Vec3 RelaxationProblem::axis_stretch(const Eigen::VectorXd& coordinates) const {
  const Eigen::Index first = 3 * static_cast<Eigen::Index>(system_.size());
  switch (cell_) {
    case CellRelaxation::fixed: return Vec3::Ones();
    case CellRelaxation::isotropic: return Vec3::Constant(std::exp(coordinates[first] / (std::sqrt(3.0) * atoms_)));
    case CellRelaxation::per_axis: return (coordinates.segment<3>(first) / atoms_).array().exp().matrix();
  }
  return Vec3::Ones();
}

const RelaxationProblem::Evaluation& RelaxationProblem::evaluate(const Eigen::VectorXd& coordinates) {
  coordinates_ = coordinates;
  const Vec3 stretch = axis_stretch(coordinates);
  if (cell_ != CellRelaxation::fixed)
    system_.cell = Cell(reference_lattice_ * stretch.asDiagonal(), system_.cell.pbc());
  // Positions keep the system's image counters (the force provider may have wrapped atoms): u_i = D s_i.
  for (std::size_t i = 0; i < system_.size(); ++i)
    system_.positions[i] = stretch.cwiseProduct(coordinates.segment<3>(3 * static_cast<Eigen::Index>(i))) -
                           system_.cell.shift_vector(system_.images[i]);
  const ForceResult& result = provider_.compute(system_);
  ++evaluations_;

  evaluation_ = Evaluation{};
  evaluation_.energy = result.energy;
  force_.resize(coordinates_.size());
  for (std::size_t i = 0; i < system_.size(); ++i) {
    force_.segment<3>(3 * static_cast<Eigen::Index>(i)) = stretch.cwiseProduct(result.forces[i]);
    evaluation_.max_atom_force = std::max(evaluation_.max_atom_force, result.forces[i].norm());
  }
  if (system_.cell.fully_periodic()) {
    evaluation_.volume = system_.cell.volume();
    evaluation_.pressure = virial_pressure(0.0, result.virial, evaluation_.volume);
  }
  const Eigen::Index first = 3 * static_cast<Eigen::Index>(system_.size());
  const double volume = evaluation_.volume;
  if (cell_ == CellRelaxation::isotropic) {
    force_[first] = std::sqrt(3.0) * volume * (evaluation_.pressure - target_pressure_) / atoms_;
  } else if (cell_ == CellRelaxation::per_axis) {
    for (int axis = 0; axis < 3; ++axis)
      force_[first + axis] = (result.virial(axis, axis) - target_pressure_ * volume) / atoms_;
  }
  if (cell_ != CellRelaxation::fixed) evaluation_.cell_force = force_.tail(force_.size() - first).cwiseAbs().maxCoeff();
  evaluation_.enthalpy = evaluation_.energy + (cell_ == CellRelaxation::fixed ? 0.0 : target_pressure_ * volume);
  return evaluation_;
}

double RelaxationProblem::largest_move(const Eigen::VectorXd& step) const {
  const Eigen::Index first = 3 * static_cast<Eigen::Index>(system_.size());
  double largest = 0.0;
  for (Eigen::Index i = 0; i < first; i += 3) largest = std::max(largest, step.segment<3>(i).norm());
  for (Eigen::Index k = first; k < step.size(); ++k) largest = std::max(largest, std::abs(step[k]));
  return largest;
}

}  // namespace nqmd
