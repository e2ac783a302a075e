#pragma once
// Synthetic trajectories for the analysis tests: crystals, ideal gases, random walks, oscillators.
#include <array>
#include <cmath>
#include <random>
#include <string>
#include <vector>

#include "engine/cell.hpp"
#include "io/trajectory.hpp"

namespace nqmd::test {

inline Cell orthorhombic_cell(double a, double b, double c) {
  Mat3 lattice = Mat3::Zero();
  lattice(0, 0) = a;
  lattice(1, 1) = b;
  lattice(2, 2) = c;
  return Cell(lattice, {true, true, true});
}

// Atoms of an fcc crystal (lattice constant a) in the conventional cubic cell repeated nx x ny x nz times.
inline std::vector<Vec3> fcc_conventional_positions(double a, int nx, int ny, int nz) {
  const std::array<Vec3, 4> basis{Vec3(0, 0, 0), Vec3(0, 0.5, 0.5), Vec3(0.5, 0, 0.5), Vec3(0.5, 0.5, 0)};
  std::vector<Vec3> positions;
  for (int i = 0; i < nx; ++i)
    for (int j = 0; j < ny; ++j)
      for (int k = 0; k < nz; ++k)
        for (const Vec3& b : basis) positions.push_back(a * (Vec3(i, j, k) + b));
  return positions;
}

// The fcc primitive cell (rows a/2 (0,1,1), (1,0,1), (1,1,0)) repeated n times along each vector, and its atoms.
inline Cell fcc_primitive_supercell(double a, int n) {
  Mat3 lattice;
  lattice << 0, 1, 1, 1, 0, 1, 1, 1, 0;
  return Cell(0.5 * a * n * lattice, {true, true, true});
}
inline std::vector<Vec3> fcc_primitive_positions(double a, int n) {
  Mat3 lattice;
  lattice << 0, 1, 1, 1, 0, 1, 1, 1, 0;
  lattice *= 0.5 * a;
  std::vector<Vec3> positions;
  for (int i = 0; i < n; ++i)
    for (int j = 0; j < n; ++j)
      for (int k = 0; k < n; ++k) positions.push_back(lattice.transpose() * Vec3(i, j, k));
  return positions;
}

inline TrajectoryFrame make_frame(const Cell& cell, std::vector<Vec3> positions, double time_fs = 0.0,
                                  std::vector<Vec3> velocities = {}) {
  TrajectoryFrame frame;
  frame.cell = cell;
  frame.time_fs = time_fs;
  frame.positions = std::move(positions);
  frame.velocities = std::move(velocities);
  return frame;
}

inline Trajectory make_trajectory(const std::vector<std::string>& symbols, const std::vector<double>& masses) {
  Trajectory trajectory;
  trajectory.source = "synthetic";
  trajectory.symbols = symbols;
  trajectory.masses = masses;
  return trajectory;
}

// Independent 3D Gaussian random walks with diffusion coefficient d (A^2/fs): per frame interval dt each
// Cartesian step has variance 2 d dt. Unwrapped positions [frame][atom], starting on a grid.
inline std::vector<std::vector<Vec3>> random_walks(std::size_t atoms, std::size_t frames, double d_a2_per_fs,
                                                   double dt_fs, unsigned seed) {
  std::mt19937_64 generator(seed);
  std::normal_distribution<double> step(0.0, std::sqrt(2.0 * d_a2_per_fs * dt_fs));
  std::vector<std::vector<Vec3>> positions(frames, std::vector<Vec3>(atoms));
  for (std::size_t i = 0; i < atoms; ++i) positions[0][i] = Vec3(1.5 * i, 0.7 * i, -0.3 * i);
  for (std::size_t k = 1; k < frames; ++k)
    for (std::size_t i = 0; i < atoms; ++i)
      positions[k][i] = positions[k - 1][i] + Vec3(step(generator), step(generator), step(generator));
  return positions;
}

}  // namespace nqmd::test
