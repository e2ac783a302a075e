#pragma once
// Private (fused kernel): the interaction's tensor product (e3nn TensorProduct 'uvu' of the node features with
// the edge spherical harmonics, weights from the radial MLP), one edge and one path at a time, forward and
// backward; the paths of a layer are built from the autograd network's layer.
#include <Eigen/Core>
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <utility>
#include <vector>

#include "potential/nequip/detail/nequip_model_impl.hpp"
#include "potential/nequip/fused/layout.hpp"
#include "potential/nequip/wigner.hpp"

namespace nqmd::nequip::fused {

// One tensor-product path: x1[in_block] (x) Y^{l2} -> l3, per-edge weights [mul] at weight_offset, written to
// channels [out_channel, out_channel + mul) of block out_block of the aggregated (linear_2 input) layout.
template <typename T>
struct TensorProductPath {
  struct Coefficient {
    int i, j, k;  // component of x1 (0..2l1), of Y (absolute index into the SH vector), of the output (0..2l3)
    T value;      // Clebsch-Gordan coefficient times the path weight
  };
  int in_block, mul, dim_in, l2, out_block, out_channel, out_mul, dim_out, weight_offset;
  std::vector<Coefficient> coefficients;
};

// The per-edge work of one path, with the channel count M known at compile time (0: p.mul at run time).
// Forward: out[k][u] (row stride p.out_mul) += sum over coefficients c of c.value Y[c.j] w[u] x[c.i][u].
template <typename T, int M>
void path_forward(const TensorProductPath<T>& p, const T* y, const T* x, const T* w, T* out, T* wx) {
  using Vec = Eigen::Array<T, M == 0 ? Eigen::Dynamic : M, 1>;
  const Eigen::Index mul = M == 0 ? p.mul : M;
  const Eigen::Map<const Vec> weights(w, mul);
  for (int i = 0; i < p.dim_in; ++i)
    Eigen::Map<Vec>(wx + i * mul, mul) = weights * Eigen::Map<const Vec>(x + i * mul, mul);
  for (const auto& c : p.coefficients)
    Eigen::Map<Vec>(out + c.k * p.out_mul, mul) += (c.value * y[c.j]) * Eigen::Map<const Vec>(wx + c.i * mul, mul);
}

// Backward, given g = d(E)/d(out): d(E)/d(w) into w_grad (written), d(E)/d(x) added to x_grad, d(E)/d(Y) added to
// y_grad. With t = x[c.i] * g[c.k]: w_grad += c.value Y[c.j] t, y_grad[c.j] += c.value sum_u w t, and
// x_grad[c.i] += c.value Y[c.j] w g[c.k]. `buffer` holds (2l3+1 + 2l2+1) * mul values.
template <typename T, int M>
void path_backward(const TensorProductPath<T>& p, const T* y, const T* x, const T* w, const T* g, T* w_grad, T* x_grad,
                   double* y_grad, T* buffer) {
  using Vec = Eigen::Array<T, M == 0 ? Eigen::Dynamic : M, 1>;
  const Eigen::Index mul = M == 0 ? p.mul : M;
  const Eigen::Map<const Vec> weights(w, mul);
  T* weighted_grad = buffer;               // w g[k], [2l3+1][mul]
  T* sh_terms = buffer + p.dim_out * mul;  // sum of c.value t per Y component, [2l2+1][mul]
  for (int k = 0; k < p.dim_out; ++k)
    Eigen::Map<Vec>(weighted_grad + k * mul, mul) = weights * Eigen::Map<const Vec>(g + k * p.out_mul, mul);
  const int first_sh = p.l2 * p.l2;
  std::fill(sh_terms, sh_terms + (2 * p.l2 + 1) * mul, T(0));
  Vec weight_grad = Vec::Zero(mul);
  for (const auto& c : p.coefficients) {
    const Vec t = Eigen::Map<const Vec>(x + c.i * mul, mul) * Eigen::Map<const Vec>(g + c.k * p.out_mul, mul);
    const T factor = c.value * y[c.j];
    weight_grad += factor * t;
    Eigen::Map<Vec>(sh_terms + (c.j - first_sh) * mul, mul) += c.value * t;
    Eigen::Map<Vec>(x_grad + c.i * mul, mul) += factor * Eigen::Map<const Vec>(weighted_grad + c.k * mul, mul);
  }
  Eigen::Map<Vec>(w_grad, mul) = weight_grad;
  for (int j = 0; j < 2 * p.l2 + 1; ++j) {
    // Summed from an object of Eigen's own (aligned) storage: a sum over a Map of unknown alignment would start
    // its vector loop at the first aligned element, so its rounding would depend on where the buffers lie.
    const Vec product = weights * Eigen::Map<const Vec>(sh_terms + j * mul, mul);
    y_grad[first_sh + j] += static_cast<double>(product.sum());
  }
}

template <typename T>
void path_forward(const TensorProductPath<T>& p, const T* y, const T* x, const T* w, T* out, T* wx) {
  switch (p.mul) {
    case 8:
      return path_forward<T, 8>(p, y, x, w, out, wx);
    case 16:
      return path_forward<T, 16>(p, y, x, w, out, wx);
    case 32:
      return path_forward<T, 32>(p, y, x, w, out, wx);
    case 64:
      return path_forward<T, 64>(p, y, x, w, out, wx);
    default:
      return path_forward<T, 0>(p, y, x, w, out, wx);
  }
}

template <typename T>
void path_backward(const TensorProductPath<T>& p, const T* y, const T* x, const T* w, const T* g, T* w_grad, T* x_grad,
                   double* y_grad, T* buffer) {
  switch (p.mul) {
    case 8:
      return path_backward<T, 8>(p, y, x, w, g, w_grad, x_grad, y_grad, buffer);
    case 16:
      return path_backward<T, 16>(p, y, x, w, g, w_grad, x_grad, y_grad, buffer);
    case 32:
      return path_backward<T, 32>(p, y, x, w, g, w_grad, x_grad, y_grad, buffer);
    case 64:
      return path_backward<T, 64>(p, y, x, w, g, w_grad, x_grad, y_grad, buffer);
    default:
      return path_backward<T, 0>(p, y, x, w, g, w_grad, x_grad, y_grad, buffer);
  }
}

// The paths of a layer's tensor product, and the layout they write into.
template <typename T>
struct InteractionPaths {
  std::vector<TensorProductPath<T>> paths;
  std::vector<Block> aggregated;  // linear_2's input layout: the simplified mid irreps
  std::size_t buffer = 0;         // scratch values path_forward and path_backward need
};

template <typename T>
InteractionPaths<T> interaction_paths(const detail::ConvNetLayer& source) {
  InteractionPaths<T> result;
  // The sorted mid irreps -> (block, channel) of their simplification, linear_2's input.
  const Irreps& mid = source.irreps_mid;
  const Irreps simplified = mid.simplify();
  result.aggregated = blocks_of(simplified);
  std::vector<std::pair<int, int>> mid_target(mid.size());
  for (std::size_t b = 0, s = 0, channel = 0; b < mid.size(); ++b) {
    if (b > 0 && !(mid[b].ir == mid[b - 1].ir)) ++s, channel = 0;
    while (simplified[s].ir != mid[b].ir) ++s;
    mid_target[b] = {static_cast<int>(s), static_cast<int>(channel)};
    channel += static_cast<std::size_t>(mid[b].mul);
  }
  const detail::TensorProduct& tp = source.tp;
  std::int64_t weight_offset = 0;
  for (std::size_t k = 0; k < tp.paths().size(); ++k) {
    const auto& p = tp.paths()[k];
    const int l1 = tp.irreps_in1()[static_cast<std::size_t>(p.i1)].ir.l;
    const int l2 = tp.irreps_in2()[static_cast<std::size_t>(p.i2)].ir.l;
    const int l3 = mid[static_cast<std::size_t>(p.i_out)].ir.l;
    TensorProductPath<T> path;
    path.in_block = p.i1;
    path.mul = tp.irreps_in1()[static_cast<std::size_t>(p.i1)].mul;
    path.dim_in = 2 * l1 + 1;
    path.l2 = l2;
    path.out_block = mid_target[static_cast<std::size_t>(p.i_out)].first;
    path.out_channel = mid_target[static_cast<std::size_t>(p.i_out)].second;
    path.out_mul = result.aggregated[static_cast<std::size_t>(path.out_block)].mul;
    path.dim_out = 2 * l3 + 1;
    path.weight_offset = static_cast<int>(weight_offset);
    weight_offset += tp.weight_sizes()[k];
    const std::vector<double>& c = wigner_3j(l1, l2, l3);
    for (int i = 0; i < 2 * l1 + 1; ++i)
      for (int j = 0; j < 2 * l2 + 1; ++j)
        for (int m = 0; m < 2 * l3 + 1; ++m) {
          const double value = c[static_cast<std::size_t>((i * (2 * l2 + 1) + j) * (2 * l3 + 1) + m)];
          if (std::abs(value) > 1e-14)
            path.coefficients.push_back({i, l2 * l2 + j, m, static_cast<T>(value * p.path_weight)});
        }
    const auto widest = static_cast<std::size_t>(std::max(path.dim_in, path.dim_out + 2 * l2 + 1));
    result.buffer = std::max(result.buffer, static_cast<std::size_t>(path.mul) * widest);
    result.paths.push_back(std::move(path));
  }
  return result;
}

}  // namespace nqmd::nequip::fused
