#pragma once
// Private (fused kernel): e3nn's Gate nonlinearity on the kernel's layout, forward and backward.
#include <algorithm>
#include <vector>

#include "potential/nequip/detail/nequip_model_impl.hpp"
#include "potential/nequip/fused/layout.hpp"
#include "potential/nequip/fused/nonlinearity.hpp"

namespace nqmd::nequip::fused {

// e3nn Gate: act(scalars), and each gated channel times act(its gate).
template <typename T>
struct Gate {
  struct Slice {
    int block, channel, mul;     // in the conv output layout
    int out_block, out_channel;  // in the gate's output layout (unused for gates)
    Nonlinearity act;
  };
  std::vector<Slice> scalars, gates, gated;
  std::vector<Block> in, out;
  int num_gates = 0;

  static Gate from(const detail::Gate& gate) {
    Gate result;
    result.in = blocks_of(gate.irreps_in);
    result.out = blocks_of(gate.irreps_out);
    std::int64_t out_offset = 0;
    auto slice = [&](const detail::Gate::Slice& s, bool has_output) {
      const auto [block, channel] = locate(gate.irreps_in, s.offset);
      Slice r{block, channel, static_cast<int>(s.mul), -1, -1, nonlinearity_of(s.activation)};
      if (has_output) {
        const auto [out_block, out_channel] = locate(gate.irreps_out, out_offset);
        r.out_block = out_block, r.out_channel = out_channel;
        out_offset += s.mul * s.dim;
      }
      return r;
    };
    for (const auto& s : gate.scalars) result.scalars.push_back(slice(s, true));
    for (const auto& g : gate.gates) {
      result.gates.push_back(slice(g, false));
      result.num_gates += static_cast<int>(g.mul);
    }
    for (const auto& g : gate.gated) result.gated.push_back(slice(g, true));
    return result;
  }

  void forward(const Features<T>& x, Features<T>& y, int threads) const {
    y.reset(out, x.nodes);
#pragma omp parallel num_threads(threads)
    {
      std::vector<T> gate_values(static_cast<std::size_t>(num_gates));
#pragma omp for schedule(static)
      for (std::size_t n = 0; n < x.nodes; ++n) {
        for (const Slice& s : scalars) {
          const T* in_values = x.at(static_cast<std::size_t>(s.block), n) + s.channel;
          T* out_values = y.at(static_cast<std::size_t>(s.out_block), n) + s.out_channel;
          for (int u = 0; u < s.mul; ++u) out_values[u] = s.act.value(in_values[u]);
        }
        int g = 0;
        for (const Slice& s : gates) {
          const T* in_values = x.at(static_cast<std::size_t>(s.block), n) + s.channel;
          for (int u = 0; u < s.mul; ++u) gate_values[static_cast<std::size_t>(g++)] = s.act.value(in_values[u]);
        }
        g = 0;
        for (const Slice& s : gated) {
          const int in_mul = in[static_cast<std::size_t>(s.block)].mul;
          const int out_mul = out[static_cast<std::size_t>(s.out_block)].mul;
          const int dim = in[static_cast<std::size_t>(s.block)].dim();
          const T* in_values = x.at(static_cast<std::size_t>(s.block), n) + s.channel;
          T* out_values = y.at(static_cast<std::size_t>(s.out_block), n) + s.out_channel;
          for (int m = 0; m < dim; ++m)
            for (int u = 0; u < s.mul; ++u)
              out_values[m * out_mul + u] = in_values[m * in_mul + u] * gate_values[static_cast<std::size_t>(g + u)];
          g += s.mul;
        }
      }
    }
  }

  // gx = d(out)/d(x)^T gy for the pre-activation values x (gx is reset).
  void backward(const Features<T>& x, const Features<T>& gy, Features<T>& gx, int threads) const {
    gx.reset(in, x.nodes);
#pragma omp parallel num_threads(threads)
    {
      std::vector<T> gate_values(static_cast<std::size_t>(num_gates)), gate_grads(static_cast<std::size_t>(num_gates));
#pragma omp for schedule(static)
      for (std::size_t n = 0; n < x.nodes; ++n) {
        for (const Slice& s : scalars) {
          const T* in_values = x.at(static_cast<std::size_t>(s.block), n) + s.channel;
          const T* grad_out = gy.at(static_cast<std::size_t>(s.out_block), n) + s.out_channel;
          T* grad_in = gx.at(static_cast<std::size_t>(s.block), n) + s.channel;
          for (int u = 0; u < s.mul; ++u) grad_in[u] += grad_out[u] * s.act.derivative(in_values[u]);
        }
        int g = 0;
        for (const Slice& s : gates) {
          const T* in_values = x.at(static_cast<std::size_t>(s.block), n) + s.channel;
          for (int u = 0; u < s.mul; ++u) gate_values[static_cast<std::size_t>(g++)] = s.act.value(in_values[u]);
        }
        std::fill(gate_grads.begin(), gate_grads.end(), T(0));
        g = 0;
        for (const Slice& s : gated) {
          const int in_mul = in[static_cast<std::size_t>(s.block)].mul;
          const int out_mul = out[static_cast<std::size_t>(s.out_block)].mul;
          const int dim = in[static_cast<std::size_t>(s.block)].dim();
          const T* in_values = x.at(static_cast<std::size_t>(s.block), n) + s.channel;
          const T* grad_out = gy.at(static_cast<std::size_t>(s.out_block), n) + s.out_channel;
          T* grad_in = gx.at(static_cast<std::size_t>(s.block), n) + s.channel;
          for (int m = 0; m < dim; ++m)
            for (int u = 0; u < s.mul; ++u) {
              const T go = grad_out[m * out_mul + u];
              grad_in[m * in_mul + u] += go * gate_values[static_cast<std::size_t>(g + u)];
              gate_grads[static_cast<std::size_t>(g + u)] += go * in_values[m * in_mul + u];
            }
          g += s.mul;
        }
        g = 0;
        for (const Slice& s : gates) {
          const T* in_values = x.at(static_cast<std::size_t>(s.block), n) + s.channel;
          T* grad_in = gx.at(static_cast<std::size_t>(s.block), n) + s.channel;
          for (int u = 0; u < s.mul; ++u, ++g)
            grad_in[u] += gate_grads[static_cast<std::size_t>(g)] * s.act.derivative(in_values[u]);
        }
      }
    }
  }
};

}  // namespace nqmd::nequip::fused
