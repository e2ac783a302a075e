#pragma once
// Private (fused kernel): NequIP's self-connection (a linear map per species), forward and backward.
#include <torch/torch.h>

#include <stdexcept>
#include <vector>

#include "potential/nequip/detail/nequip_model_impl.hpp"
#include "potential/nequip/fused/layout.hpp"

namespace nqmd::nequip::fused {

// The self-connection: e3nn FullyConnectedTensorProduct of the features with the one-hot species, i.e. a linear
// map per species: out[o][m][w] += sum_u x[i][m][u] W_t[u][w].
template <typename T>
struct SelfConnection {
  struct Path {
    int in_block, out_block, mul_in, mul_out;
    Buffer<T> weight;  // [type][mul_in][mul_out], factor folded in
  };
  std::vector<Path> paths;

  static SelfConnection from(const detail::TensorProduct& tp, const torch::Tensor& weight, int num_types) {
    SelfConnection result;
    const torch::Tensor w = weight.detach().to(torch::kFloat64).contiguous();
    const double* values = w.data_ptr<double>();
    std::int64_t offset = 0;
    for (std::size_t k = 0; k < tp.paths().size(); ++k) {
      const auto& p = tp.paths()[k];
      const int mul_in = tp.irreps_in1()[static_cast<std::size_t>(p.i1)].mul;
      const int mul_out = tp.irreps_out()[static_cast<std::size_t>(p.i_out)].mul;
      if (p.w3j.defined() || tp.irreps_in2()[static_cast<std::size_t>(p.i2)].mul != num_types)
        throw std::logic_error("fused NequIP kernel: self-connection is not a per-species linear map");
      Path path{p.i1, p.i_out, mul_in, mul_out, Buffer<T>(static_cast<std::size_t>(num_types * mul_in * mul_out))};
      // Weight slice [mul_in, num_types, mul_out].
      for (int u = 0; u < mul_in; ++u)
        for (int t = 0; t < num_types; ++t)
          for (int v = 0; v < mul_out; ++v)
            path.weight[static_cast<std::size_t>((t * mul_in + u) * mul_out + v)] =
                static_cast<T>(values[offset + (u * num_types + t) * mul_out + v] * p.factor);
      offset += tp.weight_sizes()[k];
      result.paths.push_back(std::move(path));
    }
    return result;
  }
  void forward(const Features<T>& x, const std::vector<int>& types, Features<T>& y, int threads) const {
    for (const Path& p : paths) {
      const int dim = x.blocks[static_cast<std::size_t>(p.in_block)].dim();
#pragma omp parallel for num_threads(threads) schedule(static)
      for (std::size_t n = 0; n < x.nodes; ++n) {
        const T* w = p.weight.data() + static_cast<std::size_t>(types[n] * p.mul_in * p.mul_out);
        const T* in = x.at(static_cast<std::size_t>(p.in_block), n);
        T* out = y.at(static_cast<std::size_t>(p.out_block), n);
        for (int m = 0; m < dim; ++m)
          for (int u = 0; u < p.mul_in; ++u) {
            const T value = in[m * p.mul_in + u];
            const T* row = w + u * p.mul_out;
            T* target = out + m * p.mul_out;
            for (int v = 0; v < p.mul_out; ++v) target[v] += value * row[v];
          }
      }
    }
  }
  void backward(const Features<T>& gy, const std::vector<int>& types, Features<T>& gx, int threads) const {
    for (const Path& p : paths) {
      const int dim = gx.blocks[static_cast<std::size_t>(p.in_block)].dim();
#pragma omp parallel for num_threads(threads) schedule(static)
      for (std::size_t n = 0; n < gy.nodes; ++n) {
        const T* w = p.weight.data() + static_cast<std::size_t>(types[n] * p.mul_in * p.mul_out);
        const T* grad_out = gy.at(static_cast<std::size_t>(p.out_block), n);
        T* grad_in = gx.at(static_cast<std::size_t>(p.in_block), n);
        for (int m = 0; m < dim; ++m)
          for (int u = 0; u < p.mul_in; ++u) {
            const T* row = w + u * p.mul_out;
            const T* g = grad_out + m * p.mul_out;
            T sum = 0;
            for (int v = 0; v < p.mul_out; ++v) sum += g[v] * row[v];
            grad_in[m * p.mul_in + u] += sum;
          }
      }
    }
  }
};

}  // namespace nqmd::nequip::fused
