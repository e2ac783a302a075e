#pragma once
// What a minimiser moves: the atoms and, when the cell relaxes too, its strains, as one vector of generalised
// coordinates whose negative enthalpy gradient is the generalised force (ASE's UnitCellFilter / ExpCellFilter,
// LAMMPS fix box/relax).
//
// The cell is strained along the Cartesian axes by D = diag(exp(e_x), exp(e_y), exp(e_z)) from its initial
// lattice L0 (rows): L = L0 D, and atom i's unwrapped position is u_i = D s_i. The coordinates are the s_i (3 per
// atom, A) followed by the cell's: none (fixed cell), q = sqrt(3) N e for an isotropic strain e on all three axes,
// or q_a = N e_a per axis (N atoms: ASE's cell_factor, which makes a cell coordinate move like an atom's). With
// the virial W = -dE/d(strain) (potential/potential.hpp) the enthalpy H = E + P_target V has
//   -dH/ds_i = D f_i,   -dH/dq_a = (W_aa - P_target V) / N = V (P_a - P_target) / N,   P_a = W_aa / V,
// and isotropically -dH/dq = sqrt(3) V (P - P_target) / N with P = tr(W) / 3V (thermo.hpp, virial_pressure
// without the kinetic part: minimisation ignores velocities). The cell force of the convergence test is the
// largest |dH/dq|: the pressure of each axis within fmax N / V of the target.
#include <cstdint>

#include <Eigen/Dense>

#include "engine/system.hpp"
#include "integrators/integrator.hpp"

namespace nqmd {

enum class CellRelaxation { fixed, isotropic, per_axis };

class RelaxationProblem {
 public:
  struct Evaluation {
    double energy = 0.0;          // eV, the potential energy
    double enthalpy = 0.0;        // eV, energy + P_target V (energy with a fixed cell): what is minimised
    double max_atom_force = 0.0;  // eV/A, the largest |f_i| (Cartesian)
    double cell_force = 0.0;      // the largest |dH/dq| of the cell coordinates; 0 with a fixed cell
    double pressure = 0.0;        // eV/A^3, tr(W) / 3V; 0 without a fully periodic cell
    double volume = 0.0;          // A^3; 0 without a fully periodic cell
    double max_force() const { return max_atom_force > cell_force ? max_atom_force : cell_force; }
  };

  // Evaluates the system as it is (unwrapped positions and cell are the origin of the coordinates). Throws
  // InputError for a cell relaxation of a cell that is not periodic along all three axes.
  RelaxationProblem(System& system, ForceProvider& provider, CellRelaxation cell, double pressure_ev_per_a3);

  Eigen::Index dimension() const { return coordinates_.size(); }
  // The point of the last evaluation, its generalised force -dH/dx and its evaluation.
  const Eigen::VectorXd& coordinates() const { return coordinates_; }
  const Eigen::VectorXd& force() const { return force_; }
  const Evaluation& evaluation() const { return evaluation_; }
  std::uint64_t evaluations() const { return evaluations_; }

  // Moves the system (positions and cell) to `coordinates` and evaluates the forces there.
  const Evaluation& evaluate(const Eigen::VectorXd& coordinates);
  // How far a step moves: the largest |step_i| of an atom (A) or |step_q| of a cell coordinate.
  double largest_move(const Eigen::VectorXd& step) const;

 private:
  Vec3 axis_stretch(const Eigen::VectorXd& coordinates) const;  // exp(e_a)

  System& system_;
  ForceProvider& provider_;
  CellRelaxation cell_;
  double target_pressure_;  // eV/A^3
  Mat3 reference_lattice_;  // L0
  double atoms_;            // N, the cell coordinates' scale
  Eigen::VectorXd coordinates_;
  Eigen::VectorXd force_;
  Evaluation evaluation_;
  std::uint64_t evaluations_ = 0;
};

}  // namespace nqmd
