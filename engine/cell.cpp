#include "engine/cell.hpp"

#include <cmath>

#include <fmt/format.h>

#include "engine/error.hpp"

namespace nqmd {
namespace {

constexpr double kDegenerateTolerance = 1e-10;  // relative to the product of the vector lengths

// Rank of the given rows, by Gram-Schmidt with a relative tolerance.
int independent_rows(const std::array<Vec3, 3>& rows, int count) {
  std::array<Vec3, 3> basis;
  int rank = 0;
  for (int r = 0; r < count; ++r) {
    Vec3 v = rows[r];
    const double norm = v.norm();
    if (norm == 0.0) continue;
    for (int b = 0; b < rank; ++b) v -= basis[b].dot(v) * basis[b];
    if (v.norm() > kDegenerateTolerance * norm) basis[rank++] = v.normalized();
  }
  return rank;
}

}  // namespace

Cell::Cell() : Cell(Mat3::Zero(), {false, false, false}) {}

Cell::Cell(const Mat3& lattice_rows, const std::array<bool, 3>& pbc) : lattice_(lattice_rows), pbc_(pbc) {
  if (!lattice_.allFinite()) throw InputError("cell has a non-finite lattice vector");
  static const char* kAxis = "abc";
  std::array<Vec3, 3> periodic_rows;
  int n_periodic = 0;
  for (int axis = 0; axis < 3; ++axis) {
    if (!pbc_[axis]) continue;
    if (lattice_.row(axis).norm() == 0.0)
      throw InputError(fmt::format("cell vector {} is zero but the cell is periodic along it (zero volume)", kAxis[axis]));
    periodic_rows[n_periodic++] = lattice_.row(axis).transpose();
  }
  if (independent_rows(periodic_rows, n_periodic) < n_periodic)
    throw InputError("periodic cell vectors are linearly dependent (zero cell volume)");
  const double det = lattice_.determinant();
  const double scale = lattice_.row(0).norm() * lattice_.row(1).norm() * lattice_.row(2).norm();
  if (scale > 0 && det < -kDegenerateTolerance * scale)
    throw InputError(fmt::format("cell is left-handed (negative volume {:.6g} A^3); reorder the lattice vectors", det));

  // Complete the lattice: keep every given row that adds a new direction (periodic rows first, then the
  // others), then fill the remaining non-periodic rows with unit vectors orthogonal to what is kept.
  completed_ = lattice_;
  std::array<bool, 3> kept{};
  std::array<Vec3, 3> kept_rows;
  int n_kept = 0;
  for (int pass = 0; pass < 2; ++pass) {
    for (int axis = 0; axis < 3; ++axis) {
      if (pbc_[axis] != (pass == 0)) continue;
      kept_rows[n_kept] = lattice_.row(axis).transpose();
      if (independent_rows(kept_rows, n_kept + 1) == n_kept + 1) {
        kept[axis] = true;
        ++n_kept;
      }
    }
  }
  for (int axis = 0; axis < 3; ++axis) {
    if (kept[axis]) continue;
    Vec3 candidate = Vec3::Zero();
    // Orthogonal complement of the rows kept so far: try each Cartesian axis, orthogonalise, take the longest.
    double best = -1.0;
    for (int e = 0; e < 3; ++e) {
      Vec3 v = Vec3::Unit(e);
      // Gram-Schmidt against the kept rows (they need not be orthogonal to each other).
      std::array<Vec3, 3> basis;
      int rank = 0;
      for (int k = 0; k < 3; ++k) {
        if (!kept[k]) continue;
        Vec3 b = completed_.row(k).transpose();
        for (int q = 0; q < rank; ++q) b -= basis[q].dot(b) * basis[q];
        basis[rank++] = b.normalized();
      }
      for (int q = 0; q < rank; ++q) v -= basis[q].dot(v) * basis[q];
      if (v.norm() > best) {
        best = v.norm();
        candidate = v.normalized();
      }
    }
    completed_.row(axis) = candidate.transpose();
    kept[axis] = true;
  }
  if (completed_.determinant() < 0) {
    // Keep the completed lattice right-handed: flip a filled-in row (never a given periodic one).
    for (int axis = 2; axis >= 0; --axis) {
      if (!pbc_[axis]) {
        completed_.row(axis) *= -1.0;
        break;
      }
    }
  }
  inverse_completed_ = completed_.inverse();
}

double Cell::volume() const {
  const double det = lattice_.determinant();
  const double scale = lattice_.row(0).norm() * lattice_.row(1).norm() * lattice_.row(2).norm();
  return (scale > 0 && std::abs(det) > kDegenerateTolerance * scale) ? std::abs(det) : 0.0;
}

Vec3 Cell::perpendicular_widths() const {
  const double v = std::abs(completed_.determinant());
  Vec3 widths;
  for (int axis = 0; axis < 3; ++axis) {
    const Vec3 a = completed_.row((axis + 1) % 3).transpose();
    const Vec3 b = completed_.row((axis + 2) % 3).transpose();
    widths[axis] = v / a.cross(b).norm();
  }
  return widths;
}

Vec3i Cell::wrap(Vec3& position) const {
  Vec3 f = to_fractional(position);
  Vec3i shift = Vec3i::Zero();
  for (int axis = 0; axis < 3; ++axis) {
    if (!pbc_[axis]) continue;
    const double n = std::floor(f[axis]);
    shift[axis] = static_cast<int>(n);
    f[axis] -= n;
    if (f[axis] >= 1.0) {  // floor rounding at the upper edge
      f[axis] -= 1.0;
      shift[axis] += 1;
    }
  }
  if (shift != Vec3i::Zero()) position -= shift_vector(shift);
  return shift;
}

}  // namespace nqmd
