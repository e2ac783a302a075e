#pragma once
// Private (fused kernel): the edges' geometry. Forward: the edges sorted by centre atom (each thread then owns a
// contiguous range of centres), their vectors and lengths, spherical harmonics and radial embedding (Bessel
// basis times polynomial cutoff, with its derivative in r). Backward: d(E)/d(edge vector) from the gradients
// the layers leave on the spherical harmonics and the embedding. Torch-free.
#include <cstddef>
#include <vector>

#include "engine/cell.hpp"
#include "potential/nequip/fused/layout.hpp"
#include "potential/nequip/graph.hpp"

namespace nqmd::nequip::fused {

template <typename T>
class EdgeGeometry {
 public:
  EdgeGeometry() = default;
  // Bessel basis of frequencies `bessel_weights` on [0, r_max) times nequip's PolynomialCutoff(p = cutoff_p);
  // e3nn spherical harmonics up to lmax ('component' normalisation, of the unit vector).
  EdgeGeometry(double r_max, double cutoff_p, int lmax, std::vector<double> bessel_weights);

  // Fills every per-edge array below for `graph`, with `threads` OpenMP threads; zeroes the gradients.
  void forward(const AtomicGraph& graph, int threads);
  // edge_grads = d(E)/d(edge vector) from sh_grads and embedding_grads (summed over the layers by then).
  void backward(int threads);

  int lmax() const { return lmax_; }
  std::size_t num_sh() const { return num_sh_; }
  std::size_t num_basis() const { return bessel_weights_.size(); }

  // Per call (storage reused), edges in sorted position s.
  std::vector<std::size_t> order;         // sorted position -> graph edge
  std::vector<std::size_t> thread_edges;  // edge range of each thread: [thread_edges[t], thread_edges[t + 1])
  std::vector<int> centers, neighbors, types;  // types: per atom
  std::vector<double> vectors, lengths;           // [E][3], [E]
  Buffer<T> sh, embedding_values;                 // [E][num_sh], [E][num_basis]
  std::vector<double> embedding_slopes;           // d(embedding)/dr, [E][num_basis]
  std::vector<double> sh_grads, embedding_grads;  // d(E)/d(Y), d(E)/d(embedding), summed over layers
  std::vector<double> edge_grads;                 // d(E)/d(edge vector), [E][3]

 private:
  // e3nn SphericalHarmonics(normalize=True, 'component') of the unit vector u by its recursion, into y[num_sh_].
  void spherical_harmonics(const Vec3& u, double* y) const;

  double r_max_ = 0, cutoff_p_ = 6;
  int lmax_ = 0;
  std::size_t num_sh_ = 1;
  std::vector<double> bessel_weights_;
  std::vector<double> sh_constants_;               // c_l of the recursion, index l
  std::vector<std::vector<double>> sh_couplings_;  // C^{l-1,1,l}, index l >= 2
};

extern template class EdgeGeometry<float>;
extern template class EdgeGeometry<double>;

}  // namespace nqmd::nequip::fused
