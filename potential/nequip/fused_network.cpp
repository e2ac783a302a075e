#include "potential/nequip/fused_network.hpp"

#include <omp.h>
#include <torch/torch.h>

#include <Eigen/Core>
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <stdexcept>
#include <vector>

#include "potential/nequip/detail/nequip_model_impl.hpp"
#include "potential/nequip/wigner.hpp"

namespace nqmd::nequip {
namespace {

using detail::Activation;
using detail::NequipNetwork;

// Buffers aligned as Eigen aligns its own storage: where Eigen vectorises a sum (the small matrix products), it
// starts at the first aligned element, so the rounding then depends on the layout only, never on where the
// allocator put a buffer (results are bit-for-bit reproducible, as restarts need).
template <typename T>
using Buffer = std::vector<T, Eigen::aligned_allocator<T>>;
template <typename T>
using RowMatrix = Eigen::Matrix<T, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
template <typename T>
using MatrixMap = Eigen::Map<RowMatrix<T>>;
template <typename T>
using ConstMatrixMap = Eigen::Map<const RowMatrix<T>>;

// Edges per chunk of the edge passes: the radial MLP runs as matrix products over a chunk.
constexpr std::size_t kChunk = 64;

// One irreps block in the kernel's layout: per node [2l+1][mul] (component-major; e3nn stores [mul][2l+1]).
struct Block {
  int mul = 0;
  int l = 0;
  int dim() const { return 2 * l + 1; }
  std::size_t size() const { return static_cast<std::size_t>(mul) * static_cast<std::size_t>(2 * l + 1); }
};

std::vector<Block> blocks_of(const Irreps& irreps) {
  std::vector<Block> blocks;
  for (const auto& b : irreps.blocks()) blocks.push_back(Block{b.mul, b.ir.l});
  return blocks;
}

// (block, first channel) of the e3nn flat offset `offset` in `irreps`.
std::pair<int, int> locate(const Irreps& irreps, std::int64_t offset) {
  const std::vector<int> offsets = irreps.offsets();
  for (std::size_t b = 0; b < irreps.size(); ++b)
    if (offset >= offsets[b] && offset < offsets[b + 1])
      return {static_cast<int>(b), static_cast<int>((offset - offsets[b]) / irreps[b].ir.dim())};
  throw std::logic_error("fused NequIP kernel: offset outside the irreps");
}

std::vector<double> to_doubles(const torch::Tensor& t) {
  const torch::Tensor c = t.detach().to(torch::kFloat64).contiguous().reshape({-1});
  return std::vector<double>(c.data_ptr<double>(), c.data_ptr<double>() + c.numel());
}

// Node features: one array per block, [node][2l+1][mul].
template <typename T>
struct Features {
  std::vector<Block> blocks;
  std::vector<Buffer<T>> data;
  std::size_t nodes = 0;

  // Zero features of layout `layout` for `n` nodes (storage is reused between calls).
  void reset(const std::vector<Block>& layout, std::size_t n) {
    blocks = layout;
    nodes = n;
    data.resize(layout.size());
    for (std::size_t b = 0; b < layout.size(); ++b) data[b].assign(n * layout[b].size(), T(0));
  }
  T* at(std::size_t block, std::size_t node) { return data[block].data() + node * blocks[block].size(); }
  const T* at(std::size_t block, std::size_t node) const { return data[block].data() + node * blocks[block].size(); }
  void add(const Features& other, int threads = 1) {
    for (std::size_t b = 0; b < data.size(); ++b) {
      T* target = data[b].data();
      const T* source = other.data[b].data();
#pragma omp parallel for num_threads(threads) schedule(static)
      for (std::size_t k = 0; k < data[b].size(); ++k) target[k] += source[k];
    }
  }
  void divide_by(T divisor, int threads) {
    for (auto& block : data) {
      T* values = block.data();
#pragma omp parallel for num_threads(threads) schedule(static)
      for (std::size_t k = 0; k < block.size(); ++k) values[k] /= divisor;
    }
  }
};

// exp(x) written so that loops over it vectorise (the C library's exp does not without -ffast-math): Cody-Waite
// reduction x = n ln2 + r, |r| <= ln2/2, and the Taylor series of e^r to below the last bit (degree 13 in double,
// 7 in float), times 2^n built from its exponent bits. Within 2 ulp of std::exp; arguments are clamped to the
// finite range.
inline double vector_exp(double x) {
  x = std::min(std::max(x, -708.0), 709.0);
  const double n = std::nearbyint(x * 1.4426950408889634);
  const double r = (x - n * 6.93147180369123816490e-01) - n * 1.90821492927058770002e-10;
  double p = 1.0 / 6227020800.0;  // 1/13!
  for (double d :
       {479001600.0, 39916800.0, 3628800.0, 362880.0, 40320.0, 5040.0, 720.0, 120.0, 24.0, 6.0, 2.0, 1.0, 1.0})
    p = p * r + 1.0 / d;
  const auto bits = static_cast<std::uint64_t>(static_cast<std::int64_t>(n) + 1023) << 52;
  double scale;
  std::memcpy(&scale, &bits, sizeof scale);
  return p * scale;
}
inline float vector_exp(float x) {
  x = std::min(std::max(x, -87.0f), 88.0f);
  const float n = std::nearbyint(x * 1.44269504f);
  const float r = (x - n * 0.693359375f) - n * -2.12194440e-4f;
  float p = 1.0f / 5040.0f;  // 1/7!
  for (float d : {720.0f, 120.0f, 24.0f, 6.0f, 2.0f, 1.0f, 1.0f}) p = p * r + 1.0f / d;
  const auto bits = static_cast<std::uint32_t>(static_cast<std::int32_t>(n) + 127) << 23;
  float scale;
  std::memcpy(&scale, &bits, sizeof scale);
  return p * scale;
}

// sin(x) and cos(x) written so that loops over them vectorise: reduction by multiples of pi/2 with pi/2 in three
// parts (Cody and Waite) and fdlibm's minimax polynomials of sin and cos on [-pi/4, pi/4]; within 2 ulp for
// |x| < 1e5 (the Bessel arguments here are below 100).
inline void vector_sincos(double x, double& sine, double& cosine) {
  const double quadrant = std::nearbyint(x * 0.63661977236758134308);
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
  const auto q = static_cast<std::int64_t>(quadrant);
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

// A normalised scalar nonlinearity (e3nn normalize2mom constant) and its derivative, as torch computes them.
struct Nonlinearity {
  Activation::Kind kind = Activation::Kind::silu;
  double constant = 1.0;

  template <typename T>
  T value(T x) const {
    const T c = static_cast<T>(constant);
    switch (kind) {
      case Activation::Kind::silu:
        return x / (T(1) + std::exp(-x)) * c;
      case Activation::Kind::ssp:  // softplus with torch's threshold 20, minus log 2
        return ((x > T(20) ? x : std::log1p(std::exp(x))) - static_cast<T>(std::log(2.0))) * c;
      case Activation::Kind::tanh:
        return std::tanh(x) * c;
      case Activation::Kind::abs:
        return std::abs(x) * c;
    }
    return x;
  }
  // x[q] <- value(x[q]) and, if `slopes`, slopes[q] = derivative at the old x[q], for q < n (silu vectorised).
  template <typename T>
  void apply(T* x, std::size_t n, T* slopes) const {
    if (kind != Activation::Kind::silu) {
      for (std::size_t q = 0; q < n; ++q) {
        if (slopes) slopes[q] = derivative(x[q]);
        x[q] = value(x[q]);
      }
      return;
    }
    const T c = static_cast<T>(constant);
    if (slopes) {
#pragma omp simd
      for (std::size_t q = 0; q < n; ++q) {
        const T v = x[q];
        const T sigmoid = T(1) / (T(1) + vector_exp(-v));
        slopes[q] = sigmoid * (T(1) + v * (T(1) - sigmoid)) * c;
        x[q] = v * sigmoid * c;
      }
    } else {
#pragma omp simd
      for (std::size_t q = 0; q < n; ++q) x[q] = x[q] / (T(1) + vector_exp(-x[q])) * c;
    }
  }
  template <typename T>
  T derivative(T x) const {
    const T c = static_cast<T>(constant);
    switch (kind) {
      case Activation::Kind::silu: {
        const T s = T(1) / (T(1) + std::exp(-x));
        return s * (T(1) + x * (T(1) - s)) * c;
      }
      case Activation::Kind::ssp:
        return (x > T(20) ? T(1) : T(1) / (T(1) + std::exp(-x))) * c;
      case Activation::Kind::tanh: {
        const T t = std::tanh(x);
        return (T(1) - t * t) * c;
      }
      case Activation::Kind::abs:
        return (x > T(0) ? T(1) : (x < T(0) ? T(-1) : T(0))) * c;
    }
    return T(1);
  }
};

Nonlinearity nonlinearity_of(const Activation& a) { return Nonlinearity{a.kind, a.constant}; }

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

// out [rows, C] = in [rows, depth] w [depth, C] with C known at compile time: each output row accumulates in
// registers.
template <typename T, int C>
void multiply_fixed(const T* w, std::size_t depth, const T* in, std::size_t rows, T* out) {
  using Row = Eigen::Array<T, C, 1>;
  for (std::size_t e = 0; e < rows; ++e) {
    Row acc = Row::Zero();
    const T* a = in + e * depth;
    for (std::size_t k = 0; k < depth; ++k) acc += a[k] * Eigen::Map<const Row>(w + k * C);
    Eigen::Map<Row>(out + e * C) = acc;
  }
}

// out [rows, w.cols()] = in [rows, w.rows()] w: Eigen's blocked product for large weight matrices; for the small
// ones of radial networks (Eigen's packing would cost more than the product) a register-blocked loop.
template <typename T>
void multiply(const RowMatrix<T>& w, const T* in, std::size_t rows, T* out) {
  const auto depth = static_cast<std::size_t>(w.rows());
  switch (w.cols()) {
    case 4:
      return multiply_fixed<T, 4>(w.data(), depth, in, rows, out);
    case 6:
      return multiply_fixed<T, 6>(w.data(), depth, in, rows, out);
    case 8:
      return multiply_fixed<T, 8>(w.data(), depth, in, rows, out);
    case 12:
      return multiply_fixed<T, 12>(w.data(), depth, in, rows, out);
    case 16:
      return multiply_fixed<T, 16>(w.data(), depth, in, rows, out);
    case 24:
      return multiply_fixed<T, 24>(w.data(), depth, in, rows, out);
    case 32:
      return multiply_fixed<T, 32>(w.data(), depth, in, rows, out);
    case 40:
      return multiply_fixed<T, 40>(w.data(), depth, in, rows, out);
    case 48:
      return multiply_fixed<T, 48>(w.data(), depth, in, rows, out);
    case 64:
      return multiply_fixed<T, 64>(w.data(), depth, in, rows, out);
    default:
      MatrixMap<T>(out, static_cast<Eigen::Index>(rows), w.cols()).noalias() =
          ConstMatrixMap<T>(in, static_cast<Eigen::Index>(rows), w.rows()) * w;
  }
}

// The radial MLP (e3nn FullyConnectedNet without biases), weights divided by sqrt(fan_in) as in its forward.
template <typename T>
struct RadialNet {
  std::vector<RowMatrix<T>> weights, transposed;
  Nonlinearity act;
  // out [rows, width(k)] = in [rows, weights[k].rows()] weights[k]
  void product(std::size_t k, const T* in, std::size_t rows, T* out) const { multiply(weights[k], in, rows, out); }
  // out [rows, weights[k].rows()] = in [rows, width(k)] weights[k]^T
  void transposed_product(std::size_t k, const T* in, std::size_t rows, T* out) const {
    multiply(transposed[k], in, rows, out);
  }
  std::size_t width(std::size_t k) const { return static_cast<std::size_t>(weights[k].cols()); }
  std::size_t outputs() const { return width(weights.size() - 1); }
  std::size_t max_hidden_width() const {
    std::size_t w = 0;
    for (std::size_t k = 0; k + 1 < weights.size(); ++k) w = std::max(w, width(k));
    return w;
  }
};

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

template <typename T>
struct Layer {
  Linear<T> linear_1, linear_2;
  bool use_sc = false;
  SelfConnection<T> sc;
  RadialNet<T> radial;
  std::vector<TensorProductPath<T>> paths;
  std::vector<Block> aggregated;  // linear_2's input layout
  Gate<T> gate;
  bool resnet = false;
  std::size_t path_buffer = 0;  // scratch values path_forward and path_backward need
};

// Per-thread buffers of the edge passes.
template <typename T>
struct Scratch {
  std::vector<Buffer<T>> slopes;  // radial MLP activation slopes per hidden layer, [chunk][width]
  Buffer<T> hidden, weights, weight_grads, grad_a, grad_b, path_buffer;
  Features<T> x1_grad;  // this thread's share of d(E)/d(x1)
};

using Clock = std::chrono::steady_clock;

template <typename T>
class FusedNetworkT final : public FusedNetwork {
 public:
  explicit FusedNetworkT(const NequipNetwork& network);
  void evaluate(const AtomicGraph& graph, bool virial, int threads, ModelOutput& output) override;
  void set_profiling(bool enable) override {
    profiling_ = enable;
    profile_ = FusedProfile();
  }
  const FusedProfile& profile() const override { return profile_; }

 private:
  void geometry(const AtomicGraph& graph, int threads);
  void edge_forward(const Layer<T>& layer, std::size_t begin, std::size_t end, const Features<T>& x1,
                    Features<T>& aggregated, Scratch<T>& scratch, bool timed);
  void edge_backward(const Layer<T>& layer, std::size_t begin, std::size_t end, const Features<T>& x1,
                     const Features<T>& aggregated_grad, Scratch<T>& scratch, bool timed);
  void radial_forward(const RadialNet<T>& net, std::size_t first_edge, std::size_t count, Scratch<T>& scratch,
                      bool slopes) const;
  void radial_backward(const RadialNet<T>& net, std::size_t first_edge, std::size_t count, Scratch<T>& scratch);
  double flop_count(std::size_t num_atoms, std::size_t num_edges) const;
  // e3nn SphericalHarmonics(normalize=True, 'component') of the unit vector u by its recursion, into y[num_sh_].
  void spherical_harmonics(const Vec3& u, double* y) const;
  void add_time(const char* stage, Clock::time_point& start) {
    const Clock::time_point now = Clock::now();
    profile_.seconds[stage] += std::chrono::duration<double>(now - start).count();
    start = now;
  }

  // The model.
  int num_types_ = 0;
  double r_max_ = 0, cutoff_p_ = 6, neighbor_norm_ = 1;
  int lmax_ = 0;
  std::size_t num_sh_ = 1;
  std::vector<double> bessel_weights_;
  std::vector<double> sh_constants_;               // c_l of the recursion, index l
  std::vector<std::vector<double>> sh_couplings_;  // C^{l-1,1,l}, index l >= 2
  Linear<T> embedding_, to_hidden_, to_scalar_;
  std::vector<Layer<T>> layers_;
  std::vector<double> species_scales_, species_shifts_;
  double global_scale_ = 1, global_shift_ = 0;
  bool has_global_shift_ = false;

  // Per call (storage reused): edges sorted by centre, their geometry, and what the backward pass needs.
  std::vector<std::size_t> order_;         // sorted position -> graph edge
  std::vector<std::size_t> thread_edges_;  // edge range of each thread: [thread_edges_[t], thread_edges_[t + 1])
  std::vector<int> centers_, neighbors_, types_;
  std::vector<double> vectors_, lengths_;           // [E][3], [E]
  Buffer<T> sh_, embedding_values_;                 // [E][num_sh], [E][num_basis]
  std::vector<double> embedding_slopes_;            // d(embedding)/dr, [E][num_basis]
  std::vector<double> sh_grads_, embedding_grads_;  // d(E)/d(Y), d(E)/d(embedding), summed over layers
  std::vector<double> edge_grads_;                  // d(E)/d(edge vector), [E][3]
  std::vector<Features<T>> x1_, conv_;              // per layer: linear_1 output, gate input
  std::vector<Scratch<T>> scratch_;
  Features<T> h_, next_, aggregated_, grad_h_, grad_conv_, grad_aggregated_, grad_x1_, sc_;

  bool profiling_ = false;
  FusedProfile profile_;
};

template <typename T>
FusedNetworkT<T>::FusedNetworkT(const NequipNetwork& network) {
  num_types_ = network.num_types();
  r_max_ = network.r_max();
  cutoff_p_ = network.cutoff_p();
  neighbor_norm_ = std::sqrt(network.avg_num_neighbors());
  lmax_ = network.irreps_edge_sh().lmax();
  num_sh_ = static_cast<std::size_t>((lmax_ + 1) * (lmax_ + 1));
  bessel_weights_ = to_doubles(network.bessel_weights());
  sh_constants_.assign(static_cast<std::size_t>(lmax_ + 1), 1.0);
  sh_couplings_.resize(static_cast<std::size_t>(lmax_ + 1));
  for (int l = 1; l <= lmax_; ++l) {
    sh_constants_[static_cast<std::size_t>(l)] = spherical_harmonics_recursion_constant(l);
    if (l >= 2) sh_couplings_[static_cast<std::size_t>(l)] = wigner_3j(l - 1, 1, l);
  }
  embedding_ = Linear<T>::from(network.chemical_embedding());
  to_hidden_ = Linear<T>::from(network.conv_to_output_hidden());
  to_scalar_ = Linear<T>::from(network.output_hidden_to_scalar());
  for (const detail::ConvNetLayer& source : network.layers()) {
    Layer<T> layer;
    layer.linear_1 = Linear<T>::from(source.linear_1);
    layer.linear_2 = Linear<T>::from(source.linear_2);
    layer.use_sc = source.use_sc;
    if (source.use_sc) layer.sc = SelfConnection<T>::from(source.sc, source.sc_weight, num_types_);
    layer.radial.act = nonlinearity_of(source.fc.activation);
    for (const torch::Tensor& w : source.fc.weights) {
      const torch::Tensor scaled =
          (w.detach().to(torch::kFloat64) / std::sqrt(static_cast<double>(w.size(0)))).contiguous();
      RowMatrix<T> m(scaled.size(0), scaled.size(1));
      for (Eigen::Index r = 0; r < m.rows(); ++r)
        for (Eigen::Index c = 0; c < m.cols(); ++c)
          m(r, c) = static_cast<T>(scaled.data_ptr<double>()[r * m.cols() + c]);
      layer.radial.transposed.push_back(m.transpose());
      layer.radial.weights.push_back(std::move(m));
    }
    // The sorted mid irreps -> (block, channel) of their simplification, linear_2's input.
    const Irreps& mid = source.irreps_mid;
    const Irreps simplified = mid.simplify();
    layer.aggregated = blocks_of(simplified);
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
      path.out_mul = layer.aggregated[static_cast<std::size_t>(path.out_block)].mul;
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
      layer.path_buffer =
          std::max(layer.path_buffer, static_cast<std::size_t>(path.mul) *
                                          static_cast<std::size_t>(std::max(path.dim_in, path.dim_out + 2 * l2 + 1)));
      layer.paths.push_back(std::move(path));
    }
    layer.gate = Gate<T>::from(source.gate);
    layer.resnet = source.resnet;
    layers_.push_back(std::move(layer));
  }
  const int n = num_types_;
  species_scales_ = network.per_species_scales().defined() ? to_doubles(network.per_species_scales())
                                                           : std::vector<double>(static_cast<std::size_t>(n), 1.0);
  species_shifts_ = network.per_species_shifts().defined() ? to_doubles(network.per_species_shifts())
                                                           : std::vector<double>(static_cast<std::size_t>(n), 0.0);
  global_scale_ = network.global_scale();
  has_global_shift_ = network.has_global_shift();
  global_shift_ = network.global_shift();
}

template <typename T>
void FusedNetworkT<T>::spherical_harmonics(const Vec3& u, double* y) const {
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
void FusedNetworkT<T>::geometry(const AtomicGraph& graph, int threads) {
  const std::size_t num_atoms = graph.num_atoms(), num_edges = graph.num_edges();
  // Counting sort of the edges by centre atom (stable).
  std::vector<std::size_t> start(num_atoms + 1, 0);
  for (std::int64_t c : graph.edge_centers) ++start[static_cast<std::size_t>(c) + 1];
  for (std::size_t a = 0; a < num_atoms; ++a) start[a + 1] += start[a];
  order_.resize(num_edges);
  {
    std::vector<std::size_t> next(start.begin(), start.end() - 1);
    for (std::size_t e = 0; e < num_edges; ++e) order_[next[static_cast<std::size_t>(graph.edge_centers[e])]++] = e;
  }
  // Threads get contiguous ranges of centres with about equal numbers of edges.
  thread_edges_.assign(static_cast<std::size_t>(threads) + 1, num_edges);
  thread_edges_[0] = 0;
  for (int t = 1; t < threads; ++t) {
    const std::size_t target = num_edges * static_cast<std::size_t>(t) / static_cast<std::size_t>(threads);
    const std::size_t atom =
        static_cast<std::size_t>(std::upper_bound(start.begin(), start.end(), target) - start.begin()) - 1;
    thread_edges_[static_cast<std::size_t>(t)] =
        std::max(start[std::min(atom, num_atoms)], thread_edges_[static_cast<std::size_t>(t) - 1]);
  }
  types_.resize(num_atoms);
  for (std::size_t a = 0; a < num_atoms; ++a) types_[a] = static_cast<int>(graph.atom_types[a]);

  const std::size_t nb = bessel_weights_.size();
  centers_.resize(num_edges);
  neighbors_.resize(num_edges);
  vectors_.resize(3 * num_edges);
  lengths_.resize(num_edges);
  sh_.resize(num_sh_ * num_edges);
  embedding_values_.resize(nb * num_edges);
  embedding_slopes_.resize(nb * num_edges);
  sh_grads_.assign(num_sh_ * num_edges, 0.0);
  embedding_grads_.assign(nb * num_edges, 0.0);
  const Mat3 lattice_t = graph.cell.transpose();
  const double p = cutoff_p_;
  const double a_coef = (p + 1.0) * (p + 2.0) / 2.0, b_coef = p * (p + 2.0), c_coef = p * (p + 1.0) / 2.0;
#pragma omp parallel num_threads(threads)
  {
    std::vector<double> y(num_sh_);
#pragma omp for schedule(static)
    for (std::size_t s = 0; s < num_edges; ++s) {
      const std::size_t e = order_[s];
      const auto i = static_cast<std::size_t>(graph.edge_centers[e]),
                 j = static_cast<std::size_t>(graph.edge_neighbors[e]);
      centers_[s] = static_cast<int>(i);
      neighbors_[s] = static_cast<int>(j);
      const Vec3 r = graph.positions[j] - graph.positions[i] + lattice_t * graph.edge_cell_shifts[e];
      const double length = r.norm();
      for (int k = 0; k < 3; ++k) vectors_[3 * s + static_cast<std::size_t>(k)] = r[k];
      lengths_[s] = length;
      spherical_harmonics(r / std::max(length, 1e-12), y.data());
      for (std::size_t k = 0; k < num_sh_; ++k) sh_[s * num_sh_ + k] = static_cast<T>(y[k]);
      // BesselBasis x PolynomialCutoff and its derivative in r.
      const double x = length / r_max_;
      double f = 0, df = 0;
      if (x < 1.0) {
        const double x_p1 = cutoff_power(x, p - 1.0), x_p = x_p1 * x, x_p2 = x_p * x, x_p3 = x_p2 * x;
        f = 1.0 - a_coef * x_p + b_coef * x_p2 - c_coef * x_p3;
        df = (-a_coef * p * x_p1 + b_coef * (p + 1.0) * x_p - c_coef * (p + 2.0) * x_p2) / r_max_;
      }
      const double inverse = 1.0 / length, two_over_r_max = 2.0 / r_max_;
      T* values = embedding_values_.data() + s * nb;
      double* slopes = embedding_slopes_.data() + s * nb;
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
void FusedNetworkT<T>::radial_forward(const RadialNet<T>& net, std::size_t first_edge, std::size_t count,
                                      Scratch<T>& scratch, bool slopes) const {
  const std::size_t nb = bessel_weights_.size();
  const std::size_t last = net.weights.size() - 1;
  const std::size_t half = kChunk * net.max_hidden_width();
  if (scratch.hidden.size() < 2 * half) scratch.hidden.resize(2 * half);
  scratch.slopes.resize(last);
  const T* h = embedding_values_.data() + first_edge * nb;
  for (std::size_t k = 0; k <= last; ++k) {
    if (k == last) {
      scratch.weights.resize(kChunk * net.width(k));
      net.product(k, h, count, scratch.weights.data());
      break;
    }
    // Alternate halves of `hidden`: layer k reads layer k-1's activations while writing its own.
    T* activated = scratch.hidden.data() + (k % 2) * half;
    net.product(k, h, count, activated);
    const std::size_t n = count * net.width(k);
    if (slopes) {
      scratch.slopes[k].resize(kChunk * net.width(k));
      net.act.apply(activated, n, scratch.slopes[k].data());
    } else {
      net.act.apply(activated, n, static_cast<T*>(nullptr));
    }
    h = activated;
  }
}

template <typename T>
void FusedNetworkT<T>::radial_backward(const RadialNet<T>& net, std::size_t first_edge, std::size_t count,
                                       Scratch<T>& scratch) {
  const std::size_t nb = bessel_weights_.size();
  const std::size_t last = net.weights.size() - 1;
  // grad_a and grad_b alternate as d(E)/d(input of layer k).
  const T* grad_out = scratch.weight_grads.data();
  for (std::size_t k = last + 1; k-- > 0;) {
    const auto in_width = static_cast<std::size_t>(net.weights[k].rows());
    Buffer<T>& target = (k % 2 == 0) ? scratch.grad_a : scratch.grad_b;
    if (target.size() < kChunk * in_width) target.resize(kChunk * in_width);
    net.transposed_product(k, grad_out, count, target.data());
    if (k > 0) {
      // Through the activation of hidden layer k-1 (its slopes were kept by the recomputed forward pass).
      const T* slope = scratch.slopes[k - 1].data();
      T* g = target.data();
      const std::size_t n = count * in_width;
#pragma omp simd
      for (std::size_t q = 0; q < n; ++q) g[q] *= slope[q];
      grad_out = g;
    } else {
      double* sink = embedding_grads_.data() + first_edge * nb;
      for (std::size_t q = 0; q < count * nb; ++q) sink[q] += static_cast<double>(target[q]);
    }
  }
}

template <typename T>
void FusedNetworkT<T>::edge_forward(const Layer<T>& layer, std::size_t begin, std::size_t end, const Features<T>& x1,
                                    Features<T>& aggregated, Scratch<T>& scratch, bool timed) {
  Clock::time_point clock = Clock::now();
  const std::size_t numel = layer.radial.outputs();
  scratch.path_buffer.resize(layer.path_buffer);
  for (std::size_t chunk = begin; chunk < end; chunk += kChunk) {
    const std::size_t count = std::min(kChunk, end - chunk);
    radial_forward(layer.radial, chunk, count, scratch, false);
    if (timed) add_time("radial MLP (forward)", clock);
    for (std::size_t q = 0; q < count; ++q) {
      const std::size_t s = chunk + q;
      const auto i = static_cast<std::size_t>(centers_[s]), j = static_cast<std::size_t>(neighbors_[s]);
      const T* y = sh_.data() + s * num_sh_;
      const T* w = scratch.weights.data() + q * numel;
      for (const TensorProductPath<T>& p : layer.paths)
        path_forward(p, y, x1.at(static_cast<std::size_t>(p.in_block), j), w + p.weight_offset,
                     aggregated.at(static_cast<std::size_t>(p.out_block), i) + p.out_channel,
                     scratch.path_buffer.data());
    }
    if (timed) add_time("tensor product + scatter (forward)", clock);
  }
}

template <typename T>
void FusedNetworkT<T>::edge_backward(const Layer<T>& layer, std::size_t begin, std::size_t end, const Features<T>& x1,
                                     const Features<T>& aggregated_grad, Scratch<T>& scratch, bool timed) {
  Clock::time_point clock = Clock::now();
  const std::size_t numel = layer.radial.outputs();
  Features<T>& x1_grad = scratch.x1_grad;
  scratch.path_buffer.resize(layer.path_buffer);
  for (std::size_t chunk = begin; chunk < end; chunk += kChunk) {
    const std::size_t count = std::min(kChunk, end - chunk);
    radial_forward(layer.radial, chunk, count, scratch, true);  // recomputed, not stored
    if (timed) add_time("radial MLP (recomputed in backward)", clock);
    scratch.weight_grads.resize(kChunk * numel);
    for (std::size_t q = 0; q < count; ++q) {
      const std::size_t s = chunk + q;
      const auto i = static_cast<std::size_t>(centers_[s]), j = static_cast<std::size_t>(neighbors_[s]);
      const T* y = sh_.data() + s * num_sh_;
      double* y_grad = sh_grads_.data() + s * num_sh_;
      const T* w = scratch.weights.data() + q * numel;
      T* w_grad = scratch.weight_grads.data() + q * numel;
      for (const TensorProductPath<T>& p : layer.paths)
        path_backward(p, y, x1.at(static_cast<std::size_t>(p.in_block), j), w + p.weight_offset,
                      aggregated_grad.at(static_cast<std::size_t>(p.out_block), i) + p.out_channel,
                      w_grad + p.weight_offset, x1_grad.at(static_cast<std::size_t>(p.in_block), j), y_grad,
                      scratch.path_buffer.data());
    }
    if (timed) add_time("tensor product (backward)", clock);
    radial_backward(layer.radial, chunk, count, scratch);
    if (timed) add_time("radial MLP (backward)", clock);
  }
}

template <typename T>
void FusedNetworkT<T>::evaluate(const AtomicGraph& graph, bool virial, int threads, ModelOutput& output) {
  threads = std::max(1, threads);
  const std::size_t num_atoms = graph.num_atoms(), num_edges = graph.num_edges();
  Clock::time_point clock = Clock::now();
  auto stage = [&](const char* name) {
    if (profiling_) add_time(name, clock);
  };
  geometry(graph, threads);
  stage("edge geometry, spherical harmonics, radial basis");
  if (scratch_.size() < static_cast<std::size_t>(threads)) scratch_.resize(static_cast<std::size_t>(threads));

  // Forward.
  Features<T> one_hot;
  one_hot.reset({Block{num_types_, 0}}, num_atoms);
  for (std::size_t a = 0; a < num_atoms; ++a) one_hot.at(0, a)[types_[a]] = T(1);
  embedding_.forward(one_hot, h_, threads);
  x1_.resize(layers_.size());
  conv_.resize(layers_.size());
  const T norm = static_cast<T>(neighbor_norm_);
  for (std::size_t k = 0; k < layers_.size(); ++k) {
    const Layer<T>& layer = layers_[k];
    layer.linear_1.forward(h_, x1_[k], threads);
    stage("linear, self-connection, gate (forward)");
    aggregated_.reset(layer.aggregated, num_atoms);
    // Each range of centres by one thread (a range's centres are written by it alone).
#pragma omp parallel num_threads(threads)
    for (int t = omp_get_thread_num(); t < threads; t += omp_get_num_threads())
      edge_forward(layer, thread_edges_[static_cast<std::size_t>(t)], thread_edges_[static_cast<std::size_t>(t) + 1],
                   x1_[k], aggregated_, scratch_[static_cast<std::size_t>(t)], profiling_ && t == 0);
    if (profiling_) clock = Clock::now();
    aggregated_.divide_by(norm, threads);
    layer.linear_2.forward(aggregated_, conv_[k], threads);
    if (layer.use_sc) layer.sc.forward(h_, types_, conv_[k], threads);
    layer.gate.forward(conv_[k], next_, threads);
    if (layer.resnet) next_.add(h_, threads);
    std::swap(h_, next_);
    stage("linear, self-connection, gate (forward)");
  }
  Features<T> hidden, atomic;
  to_hidden_.forward(h_, hidden, threads);
  to_scalar_.forward(hidden, atomic, threads);
  output.atomic_energies.resize(num_atoms);
  double total = 0;
  for (std::size_t a = 0; a < num_atoms; ++a) {
    const auto t = static_cast<std::size_t>(types_[a]);
    const double e = species_shifts_[t] + species_scales_[t] * static_cast<double>(atomic.at(0, a)[0]);
    total += e;
    output.atomic_energies[a] = e * global_scale_;
  }
  output.total_energy = total * global_scale_ + (has_global_shift_ ? global_shift_ : 0.0);

  // Backward: d(sum of the per-atom energies before the global scale)/d(everything).
  Features<T> atomic_grad, hidden_grad;
  atomic_grad.reset(to_scalar_.out, num_atoms);
  for (std::size_t a = 0; a < num_atoms; ++a)
    atomic_grad.at(0, a)[0] = static_cast<T>(species_scales_[static_cast<std::size_t>(types_[a])]);
  hidden_grad.reset(to_scalar_.in, num_atoms);
  to_scalar_.backward(atomic_grad, hidden_grad, threads);
  grad_h_.reset(to_hidden_.in, num_atoms);
  to_hidden_.backward(hidden_grad, grad_h_, threads);
  stage("output head and backward of the node operations");
  for (std::size_t k = layers_.size(); k-- > 0;) {
    const Layer<T>& layer = layers_[k];
    layer.gate.backward(conv_[k], grad_h_, grad_conv_, threads);
    // d/d(layer input): the resnet term, the self-connection and (below) linear_1.
    Features<T>& grad_in = next_;
    grad_in.reset(layer.linear_1.in, num_atoms);
    if (layer.resnet) grad_in.add(grad_h_, threads);
    if (layer.use_sc) layer.sc.backward(grad_conv_, types_, grad_in, threads);
    grad_aggregated_.reset(layer.aggregated, num_atoms);
    layer.linear_2.backward(grad_conv_, grad_aggregated_, threads);
    grad_aggregated_.divide_by(norm, threads);
    stage("output head and backward of the node operations");
    // The neighbours' gradients d(E)/d(x1) go to per-range buffers, summed afterwards.
#pragma omp parallel num_threads(threads)
    for (int t = omp_get_thread_num(); t < threads; t += omp_get_num_threads()) {
      Scratch<T>& scratch = scratch_[static_cast<std::size_t>(t)];
      scratch.x1_grad.reset(layer.linear_1.out, num_atoms);
      edge_backward(layer, thread_edges_[static_cast<std::size_t>(t)], thread_edges_[static_cast<std::size_t>(t) + 1],
                    x1_[k], grad_aggregated_, scratch, profiling_ && t == 0);
    }
    if (profiling_) clock = Clock::now();
    Features<T>& grad_x1 = scratch_[0].x1_grad;
    for (int t = 1; t < threads; ++t) grad_x1.add(scratch_[static_cast<std::size_t>(t)].x1_grad, threads);
    layer.linear_1.backward(grad_x1, grad_in, threads);
    std::swap(grad_h_, grad_in);
    stage("output head and backward of the node operations");
  }

  // d(E)/d(edge vector) from the spherical harmonics and the radial embedding; forces and virial.
  const std::size_t nb = bessel_weights_.size();
  edge_grads_.resize(3 * num_edges);
#pragma omp parallel num_threads(threads)
  {
    std::vector<double> y(num_sh_), y_grad(num_sh_);
#pragma omp for schedule(static)
    for (std::size_t s = 0; s < num_edges; ++s) {
      const double length = lengths_[s];
      const Vec3 r(vectors_[3 * s], vectors_[3 * s + 1], vectors_[3 * s + 2]);
      const Vec3 u = r / std::max(length, 1e-12);
      double radial = 0;
      for (std::size_t n = 0; n < nb; ++n) radial += embedding_grads_[s * nb + n] * embedding_slopes_[s * nb + n];
      // Backward through the recursion Y^l = c_l C (Y^{l-1} (x) u), from l_max down.
      spherical_harmonics(u, y.data());
      for (std::size_t k = 0; k < num_sh_; ++k) y_grad[k] = sh_grads_[s * num_sh_ + k];
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
      for (int k = 0; k < 3; ++k) edge_grads_[3 * s + static_cast<std::size_t>(k)] = g[k];
    }
  }
  output.forces.assign(num_atoms, Vec3::Zero());
  Mat3 raw = Mat3::Zero();
  for (std::size_t s = 0; s < num_edges; ++s) {
    const Vec3 g(edge_grads_[3 * s], edge_grads_[3 * s + 1], edge_grads_[3 * s + 2]);
    // r_ij = x_j - x_i + shift: d(E)/d(x_j) = g, d(E)/d(x_i) = -g.
    output.forces[static_cast<std::size_t>(centers_[s])] += g * global_scale_;
    output.forces[static_cast<std::size_t>(neighbors_[s])] -= g * global_scale_;
    if (virial) raw += Vec3(vectors_[3 * s], vectors_[3 * s + 1], vectors_[3 * s + 2]) * g.transpose();
  }
  if (virial) {
    // d(E)/d(strain) through x -> x (1 + (eps + eps^T)/2): the symmetric part; nequip's virial is its negative.
    output.virial = -0.5 * (raw + raw.transpose()) * global_scale_;
  } else {
    output.virial.reset();
  }
  stage("forces and virial from the edge gradients");
  if (profiling_) {
    ++profile_.calls;
    profile_.flops += flop_count(num_atoms, num_edges);
  }
}

template <typename T>
double FusedNetworkT<T>::flop_count(std::size_t num_atoms, std::size_t num_edges) const {
  const auto n = static_cast<double>(num_atoms), e = static_cast<double>(num_edges);
  auto linear = [&](const Linear<T>& l) {  // forward and backward
    double madds = 0;
    for (const auto& p : l.paths)
      madds += static_cast<double>(l.in[static_cast<std::size_t>(p.in_block)].dim()) *
               static_cast<double>(p.weight.rows() * p.weight.cols());
    return 4.0 * n * madds;
  };
  double flops = linear(embedding_) / 2 + linear(to_hidden_) + linear(to_scalar_);
  for (const Layer<T>& layer : layers_) {
    flops += linear(layer.linear_1) + linear(layer.linear_2);
    for (const auto& p : layer.sc.paths)
      flops +=
          4.0 * n *
          static_cast<double>(layer.linear_1.in[static_cast<std::size_t>(p.in_block)].dim() * p.mul_in * p.mul_out);
    double radial = 0;
    for (const auto& w : layer.radial.weights) radial += static_cast<double>(w.rows() * w.cols());
    flops += 3.0 * 2.0 * e * radial;  // forward, recomputed forward, backward
    for (const auto& p : layer.paths) {
      const double cm = static_cast<double>(p.coefficients.size()) * p.mul, dm = static_cast<double>(p.dim_out) * p.mul;
      flops += e * (2 * cm + 2 * dm + 6 * cm + 4 * dm);  // forward; recompute, weight and input gradients
    }
  }
  return flops;
}

}  // namespace

std::unique_ptr<FusedNetwork> FusedNetwork::create(const NequipNetwork& network, std::string* reason) {
  auto refuse = [&](const std::string& why) -> std::unique_ptr<FusedNetwork> {
    if (reason) *reason = why;
    return nullptr;
  };
  const Irreps& sh = network.irreps_edge_sh();
  for (std::size_t b = 0; b < sh.size(); ++b)
    if (sh[b].mul != 1 || sh[b].ir.l != static_cast<int>(b))
      return refuse("edge spherical harmonics " + sh.to_string() + " are not 1x0 + 1x1 + ... in order");
  for (const auto& layer : network.layers()) {
    if (layer.tp.mode() != detail::TensorProduct::Mode::uvu) return refuse("an interaction tensor product is not uvu");
    if (layer.fc.weights.empty()) return refuse("a layer has no radial network");
  }
  if (network.dtype() == torch::kFloat64) return std::make_unique<FusedNetworkT<double>>(network);
  if (network.dtype() == torch::kFloat32) return std::make_unique<FusedNetworkT<float>>(network);
  return refuse("model dtype is neither float32 nor float64");
}

}  // namespace nqmd::nequip
