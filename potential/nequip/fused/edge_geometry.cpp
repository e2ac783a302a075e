#include "potential/nequip/fused/edge_geometry.hpp"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <utility>

#include "potential/nequip/fused/rounding.hpp"
#include "potential/nequip/wigner.hpp"

namespace nqmd::nequip::fused {
namespace {

// sin(x) and cos(x) written so that loops over them vectorise: reduction by multiples of pi/2 with pi/2 in three
// parts (Cody and Waite) and fdlibm's minimax polynomials of sin and cos on [-pi/4, pi/4]; within 2 ulp for
// |x| < 1e5 (the Bessel arguments here are below 100).
inline void vector_sincos(double x, double& sine, double& cosine) {
  std::uint64_t q;  // the quadrant's low bits
  const double quadrant = round_with_bits(x * 0.63661977236758134308, q);
  const double r = ((x - quadrant * 1.57079632673412561417e+00) - quadrant * 6.07710050630396597660e-11) -
                   quadrant * 2.02226624871116645580e-21;
  const double r2 = r * r;
  const double s = r + r * r2 *
                           (-1.66666666666666324348e-01 +
                            r2 * (8.33333333332248946124e-03 +
                                  r2 * (-1.98412698298579493134e-04 +
                                        r2 * (2.75573137070700676789e-06 +
                                              r2 * (-2.50507602534068634195e-08 + r2 * 1.58969099521155010221e-10)))));
  const double c = 1.0 - 0.5 * r2 +
                   r2 * r2 *
                       (4.16666666666666019037e-02 +
                        r2 * (-1.38888888888741095749e-03 +
                              r2 * (2.48015872894767294178e-05 +
                                    r2 * (-2.75573143513906633035e-07 +
                                          r2 * (2.08757232129817482790e-09 + r2 * -1.13596475577881948265e-11)))));
  const bool swap = (q & 1) != 0;
  const double sin_value = swap ? c : s, cos_value = swap ? s : c;
  sine = (q & 2) != 0 ? -sin_value : sin_value;
  cosine = ((q + 1) & 2) != 0 ? -cos_value : cos_value;
}

// x^p for the polynomial cutoff: repeated products for the usual integer p, std::pow otherwise.
inline double cutoff_power(double x, double p) {
  if (p == std::floor(p) && p >= 0 && p <= 16) {
    double result = 1.0;
    for (int k = 0; k < static_cast<int>(p); ++k) result *= x;
    return result;
  }
  return std::pow(x, p);
}

}  // namespace

template <typename T>
EdgeGeometry<T>::EdgeGeometry(double r_max, double cutoff_p, int lmax, std::vector<double> bessel_weights)
    : r_max_(r_max), cutoff_p_(cutoff_p), lmax_(lmax), bessel_weights_(std::move(bessel_weights)) {
  num_sh_ = static_cast<std::size_t>((lmax_ + 1) * (lmax_ + 1));
  sh_constants_.assign(static_cast<std::size_t>(lmax_ + 1), 1.0);
  sh_couplings_.resize(static_cast<std::size_t>(lmax_ + 1));
  for (int l = 1; l <= lmax_; ++l) {
    sh_constants_[static_cast<std::size_t>(l)] = spherical_harmonics_recursion_constant(l);
    if (l >= 2) sh_couplings_[static_cast<std::size_t>(l)] = wigner_3j(l - 1, 1, l);
  }
}

template <typename T>
void EdgeGeometry<T>::spherical_harmonics(const Vec3& u, double* y) const {
  y[0] = 1.0;
  if (lmax_ >= 1)
    for (int k = 0; k < 3; ++k) y[1 + k] = sh_constants_[1] * u[k];
  for (int l = 2; l <= lmax_; ++l) {
    const std::vector<double>& cg = sh_couplings_[static_cast<std::size_t>(l)];
    const int prev = (l - 1) * (l - 1), cur = l * l;
    for (int m = 0; m < 2 * l + 1; ++m) {
      double sum = 0;
      for (int a = 0; a < 2 * l - 1; ++a)
        for (int b = 0; b < 3; ++b)
          sum += cg[static_cast<std::size_t>((a * 3 + b) * (2 * l + 1) + m)] * y[prev + a] * u[b];
      y[cur + m] = sh_constants_[static_cast<std::size_t>(l)] * sum;
    }
  }
}

// Edge vectors, lengths, spherical harmonics and radial embedding (with its derivative), edges sorted by centre.
template <typename T>
void EdgeGeometry<T>::forward(const AtomicGraph& graph, int threads) {
  const std::size_t num_atoms = graph.num_atoms(), num_edges = graph.num_edges();
  // Counting sort of the edges by centre atom (stable).
  std::vector<std::size_t> start(num_atoms + 1, 0);
  for (std::int64_t c : graph.edge_centers) ++start[static_cast<std::size_t>(c) + 1];
  for (std::size_t a = 0; a < num_atoms; ++a) start[a + 1] += start[a];
  order.resize(num_edges);
  {
    std::vector<std::size_t> next(start.begin(), start.end() - 1);
    for (std::size_t e = 0; e < num_edges; ++e) order[next[static_cast<std::size_t>(graph.edge_centers[e])]++] = e;
  }
  // Threads get contiguous ranges of centres with about equal numbers of edges.
  thread_edges.assign(static_cast<std::size_t>(threads) + 1, num_edges);
  thread_edges[0] = 0;
  for (int t = 1; t < threads; ++t) {
    const std::size_t target = num_edges * static_cast<std::size_t>(t) / static_cast<std::size_t>(threads);
    const std::size_t atom =
        static_cast<std::size_t>(std::upper_bound(start.begin(), start.end(), target) - start.begin()) - 1;
    thread_edges[static_cast<std::size_t>(t)] =
        std::max(start[std::min(atom, num_atoms)], thread_edges[static_cast<std::size_t>(t) - 1]);
  }
  types.resize(num_atoms);
  for (std::size_t a = 0; a < num_atoms; ++a) types[a] = static_cast<int>(graph.atom_types[a]);

  const std::size_t nb = bessel_weights_.size();
  centers.resize(num_edges);
  neighbors.resize(num_edges);
  vectors.resize(3 * num_edges);
  lengths.resize(num_edges);
  sh.resize(num_sh_ * num_edges);
  embedding_values.resize(nb * num_edges);
  embedding_slopes.resize(nb * num_edges);
  sh_grads.assign(num_sh_ * num_edges, 0.0);
  embedding_grads.assign(nb * num_edges, 0.0);
  const Mat3 lattice_t = graph.cell.transpose();
  const double p = cutoff_p_;
  const double a_coef = (p + 1.0) * (p + 2.0) / 2.0, b_coef = p * (p + 2.0), c_coef = p * (p + 1.0) / 2.0;
#pragma omp parallel num_threads(threads)
  {
    std::vector<double> y(num_sh_);
#pragma omp for schedule(static)
    for (std::size_t s = 0; s < num_edges; ++s) {
      const std::size_t e = order[s];
      const auto i = static_cast<std::size_t>(graph.edge_centers[e]),
                 j = static_cast<std::size_t>(graph.edge_neighbors[e]);
      centers[s] = static_cast<int>(i);
      neighbors[s] = static_cast<int>(j);
      const Vec3 r = graph.positions[j] - graph.positions[i] + lattice_t * graph.edge_cell_shifts[e];
      const double length = r.norm();
      for (int k = 0; k < 3; ++k) vectors[3 * s + static_cast<std::size_t>(k)] = r[k];
      lengths[s] = length;
      spherical_harmonics(r / std::max(length, 1e-12), y.data());
      for (std::size_t k = 0; k < num_sh_; ++k) sh[s * num_sh_ + k] = static_cast<T>(y[k]);
      // BesselBasis x PolynomialCutoff and its derivative in r.
      const double x = length / r_max_;
      double f = 0, df = 0;
      if (x < 1.0) {
        const double x_p1 = cutoff_power(x, p - 1.0), x_p = x_p1 * x, x_p2 = x_p * x, x_p3 = x_p2 * x;
        f = 1.0 - a_coef * x_p + b_coef * x_p2 - c_coef * x_p3;
        df = (-a_coef * p * x_p1 + b_coef * (p + 1.0) * x_p - c_coef * (p + 2.0) * x_p2) / r_max_;
      }
      const double inverse = 1.0 / length, two_over_r_max = 2.0 / r_max_;
      T* values = embedding_values.data() + s * nb;
      double* slopes = embedding_slopes.data() + s * nb;
#pragma omp simd
      for (std::size_t n = 0; n < nb; ++n) {
        const double w = bessel_weights_[n] / r_max_;
        double sine, cosine;
        vector_sincos(bessel_weights_[n] * length / r_max_, sine, cosine);
        const double b = two_over_r_max * (sine * inverse);
        const double db = two_over_r_max * (w * cosine * length - sine) * inverse * inverse;
        values[n] = static_cast<T>(b * f);
        slopes[n] = db * f + b * df;
      }
    }
  }
}

template <typename T>
void EdgeGeometry<T>::backward(int threads) {
  const std::size_t num_edges = lengths.size();
  const std::size_t nb = bessel_weights_.size();
  edge_grads.resize(3 * num_edges);
#pragma omp parallel num_threads(threads)
  {
    std::vector<double> y(num_sh_), y_grad(num_sh_);
#pragma omp for schedule(static)
    for (std::size_t s = 0; s < num_edges; ++s) {
      const double length = lengths[s];
      const Vec3 r(vectors[3 * s], vectors[3 * s + 1], vectors[3 * s + 2]);
      const Vec3 u = r / std::max(length, 1e-12);
      double radial = 0;
      for (std::size_t n = 0; n < nb; ++n) radial += embedding_grads[s * nb + n] * embedding_slopes[s * nb + n];
      // Backward through the recursion Y^l = c_l C (Y^{l-1} (x) u), from l_max down.
      spherical_harmonics(u, y.data());
      for (std::size_t k = 0; k < num_sh_; ++k) y_grad[k] = sh_grads[s * num_sh_ + k];
      Vec3 u_grad = Vec3::Zero();
      for (int l = lmax_; l >= 2; --l) {
        const std::vector<double>& cg = sh_couplings_[static_cast<std::size_t>(l)];
        const double c_l = sh_constants_[static_cast<std::size_t>(l)];
        const std::size_t prev = static_cast<std::size_t>((l - 1) * (l - 1)), cur = static_cast<std::size_t>(l * l);
        for (int m = 0; m < 2 * l + 1; ++m) {
          const double g = c_l * y_grad[cur + static_cast<std::size_t>(m)];
          if (g == 0.0) continue;
          for (int a = 0; a < 2 * l - 1; ++a)
            for (int b = 0; b < 3; ++b) {
              const double c = cg[static_cast<std::size_t>((a * 3 + b) * (2 * l + 1) + m)] * g;
              y_grad[prev + static_cast<std::size_t>(a)] += c * u[b];
              u_grad[b] += c * y[prev + static_cast<std::size_t>(a)];
            }
        }
      }
      if (lmax_ >= 1)
        for (int k = 0; k < 3; ++k) u_grad[k] += sh_constants_[1] * y_grad[static_cast<std::size_t>(1 + k)];
      // u = r/|r|: d(u)/d(r) = (I - u u^T)/|r|.
      const Vec3 g = radial * u + (u_grad - u_grad.dot(u) * u) / std::max(length, 1e-12);
      for (int k = 0; k < 3; ++k) edge_grads[3 * s + static_cast<std::size_t>(k)] = g[k];
    }
  }
}

template class EdgeGeometry<float>;
template class EdgeGeometry<double>;

}  // namespace nqmd::nequip::fused
