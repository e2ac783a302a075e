#pragma once
// Private (fused kernel): e3nn o3.Linear (no biases) on the kernel's layout, forward and backward.
#include <torch/torch.h>

#include <Eigen/Core>
#include <utility>
#include <vector>

#include "potential/nequip/detail/nequip_model_impl.hpp"
#include "potential/nequip/fused/layout.hpp"

namespace nqmd::nequip::fused {

// e3nn o3.Linear: out[block o] = sum over paths into o of x[block i] W (path weight folded into W).
template <typename T>
struct Linear {
  std::vector<Block> in, out;
  struct Path {
    int in_block, out_block;
    RowMatrix<T> weight;  // [mul_in, mul_out]
  };
  std::vector<Path> paths;

  static Linear from(const detail::EquivariantLinear& linear) {
    Linear result;
    result.in = blocks_of(linear.irreps_in());
    result.out = blocks_of(linear.irreps_out());
    const torch::Tensor w = linear.weight().detach().to(torch::kFloat64).contiguous();
    for (const auto& p : linear.paths()) {
      const int mul_in = result.in[static_cast<std::size_t>(p.i_in)].mul;
      const int mul_out = result.out[static_cast<std::size_t>(p.i_out)].mul;
      Path path{p.i_in, p.i_out, RowMatrix<T>(mul_in, mul_out)};
      const double* values = w.data_ptr<double>() + p.offset;
      for (int u = 0; u < mul_in; ++u)
        for (int v = 0; v < mul_out; ++v) path.weight(u, v) = static_cast<T>(values[u * mul_out + v] * p.weight);
      result.paths.push_back(std::move(path));
    }
    return result;
  }
  // y = x W (y is reset). Each thread multiplies the rows of one range of nodes.
  void forward(const Features<T>& x, Features<T>& y, int threads) const {
    y.reset(out, x.nodes);
#pragma omp parallel for num_threads(threads) schedule(static)
    for (int t = 0; t < threads; ++t) {
      const auto [first, count] = node_range(x.nodes, t, threads);
      for (const Path& p : paths) {
        const Block& a = in[static_cast<std::size_t>(p.in_block)];
        const Block& b = out[static_cast<std::size_t>(p.out_block)];
        const auto dim = static_cast<std::size_t>(a.dim());
        const auto rows = static_cast<Eigen::Index>(count * dim);
        ConstMatrixMap<T> input(x.data[static_cast<std::size_t>(p.in_block)].data() + first * dim * a.mul, rows, a.mul);
        MatrixMap<T> output(y.data[static_cast<std::size_t>(p.out_block)].data() + first * dim * b.mul, rows, b.mul);
        output.noalias() += input * p.weight;
      }
    }
  }
  // gx += gy W^T (gx has layout `in`).
  void backward(const Features<T>& gy, Features<T>& gx, int threads) const {
#pragma omp parallel for num_threads(threads) schedule(static)
    for (int t = 0; t < threads; ++t) {
      const auto [first, count] = node_range(gy.nodes, t, threads);
      for (const Path& p : paths) {
        const Block& a = in[static_cast<std::size_t>(p.in_block)];
        const Block& b = out[static_cast<std::size_t>(p.out_block)];
        const auto dim = static_cast<std::size_t>(a.dim());
        const auto rows = static_cast<Eigen::Index>(count * dim);
        ConstMatrixMap<T> grad_out(gy.data[static_cast<std::size_t>(p.out_block)].data() + first * dim * b.mul, rows,
                                   b.mul);
        MatrixMap<T> grad_in(gx.data[static_cast<std::size_t>(p.in_block)].data() + first * dim * a.mul, rows, a.mul);
        grad_in.noalias() += grad_out * p.weight.transpose();
      }
    }
  }

 private:
  // Thread t's nodes of n split into `threads` contiguous ranges: (first node, count).
  static std::pair<std::size_t, std::size_t> node_range(std::size_t n, int t, int threads) {
    const std::size_t first = n * static_cast<std::size_t>(t) / static_cast<std::size_t>(threads);
    const std::size_t last = n * static_cast<std::size_t>(t + 1) / static_cast<std::size_t>(threads);
    return {first, last - first};
  }
};

}  // namespace nqmd::nequip::fused
