#pragma once
// Simulation cell: three lattice vectors as the rows of a 3x3 matrix (ASE, nequip and extxyz convention) and
// per-axis periodicity. A Cartesian position x (row vector) and its fractional coordinates f obey x = f * lattice.
// Any triclinic shape is allowed. Non-periodic axes may have a zero or arbitrary vector (a cluster has no cell
// at all); for them a "completed" lattice fills in a unit vector orthogonal to the others so that fractional
// coordinates stay defined.
#include <array>

#include <Eigen/Dense>

namespace nqmd {

using Vec3 = Eigen::Vector3d;
using Vec3i = Eigen::Vector3i;
using Mat3 = Eigen::Matrix3d;

class Cell {
 public:
  // No cell: non-periodic in every direction (a molecule or cluster).
  Cell();
  // Throws InputError if a periodic axis has a zero vector, the periodic vectors are linearly dependent
  // (zero volume), or the cell is left-handed (negative volume).
  Cell(const Mat3& lattice_rows, const std::array<bool, 3>& pbc);

  const Mat3& lattice() const { return lattice_; }
  const std::array<bool, 3>& pbc() const { return pbc_; }
  bool periodic(int axis) const { return pbc_[axis]; }
  bool any_periodic() const { return pbc_[0] || pbc_[1] || pbc_[2]; }
  bool fully_periodic() const { return pbc_[0] && pbc_[1] && pbc_[2]; }
  // Lattice with non-periodic degenerate rows replaced by unit vectors orthogonal to the others.
  const Mat3& completed_lattice() const { return completed_; }

  // Volume of the given lattice (A^3); 0 when the lattice is degenerate (e.g. no cell).
  double volume() const;
  // Distance between opposite faces along each axis of the completed lattice: V / |a_j x a_k| (A).
  Vec3 perpendicular_widths() const;

  Vec3 to_fractional(const Vec3& cartesian) const { return inverse_completed_.transpose() * cartesian; }
  Vec3 to_cartesian(const Vec3& fractional) const { return completed_.transpose() * fractional; }
  // Cartesian vector of an integer lattice shift s: s . lattice.
  Vec3 shift_vector(const Vec3i& shift) const { return lattice_.transpose() * shift.cast<double>(); }

  // Moves x into [0,1) fractional along periodic axes; returns the integer shift n with x_old = x_new + n . lattice.
  Vec3i wrap(Vec3& position) const;

 private:
  Mat3 lattice_;
  Mat3 completed_;
  Mat3 inverse_completed_;
  std::array<bool, 3> pbc_;
};

}  // namespace nqmd
