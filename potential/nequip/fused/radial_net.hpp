#pragma once
// Private (fused kernel): the radial MLP of an interaction layer (e3nn FullyConnectedNet without biases), run
// over a chunk of edges as small matrix products, forward (optionally keeping the activation slopes) and
// backward.
#include <torch/torch.h>

#include <Eigen/Core>
#include <algorithm>
#include <cmath>
#include <cstddef>
#include <vector>

#include "potential/nequip/detail/nequip_model_impl.hpp"
#include "potential/nequip/fused/layout.hpp"
#include "potential/nequip/fused/nonlinearity.hpp"

namespace nqmd::nequip::fused {

// Doubles (or floats) per vector register of the instruction set this is compiled for.
template <typename T>
constexpr int kVectorLanes = (
#if defined(__AVX512F__)
                                 64
#elif defined(__AVX__)
                                 32
#else
                                 16
#endif
                                 ) / static_cast<int>(sizeof(T));

// Rows multiply_fixed<T, C> computes at once: enough that about 8 independent accumulator registers hide the
// latency of the fused multiply-adds (4 cycles, 2 per cycle), which a single row of 8 or 16 doubles (2 or 4
// registers on AVX2) leaves idle half or more of the time.
template <typename T, int C>
constexpr int kRowsAtOnce = std::max(1, std::min(8, 8 * kVectorLanes<T> / C));

// out [R, C] = in [R, depth] w [depth, C] for R rows at once, each row accumulating in registers.
template <typename T, int C, int R>
void multiply_rows(const T* w, std::size_t depth, const T* in, T* out) {
  using Row = Eigen::Array<T, C, 1>;
  Row acc[R];
  for (int r = 0; r < R; ++r) acc[r].setZero();
  for (std::size_t k = 0; k < depth; ++k) {
    const Row wk = Eigen::Map<const Row>(w + k * C);
    for (int r = 0; r < R; ++r) acc[r] += in[static_cast<std::size_t>(r) * depth + k] * wk;
  }
  for (int r = 0; r < R; ++r) Eigen::Map<Row>(out + static_cast<std::size_t>(r) * C) = acc[r];
}

// out [rows, C] = in [rows, depth] w [depth, C] with C known at compile time, kRowsAtOnce rows together (each
// row's sum runs over k in the same order whatever the blocking).
template <typename T, int C>
void multiply_fixed(const T* w, std::size_t depth, const T* in, std::size_t rows, T* out) {
  constexpr int R = kRowsAtOnce<T, C>;
  std::size_t e = 0;
  for (; e + R <= rows; e += R) multiply_rows<T, C, R>(w, depth, in + e * depth, out + e * C);
  for (; e < rows; ++e) multiply_rows<T, C, 1>(w, depth, in + e * depth, out + e * C);
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


// Per-thread buffers of the radial MLP over a chunk of edges.
template <typename T>
struct RadialScratch {
  std::vector<Buffer<T>> slopes;  // activation slopes per hidden layer, [chunk][width]
  Buffer<T> hidden, weights, weight_grads, grad_a, grad_b;
  // Where the chunk's outputs [count][outputs()] and slopes [count][width(k)] are: in the buffers above, or in the
  // storage that forward() filled and attach() pointed to.
  const T* outputs = nullptr;
  std::vector<const T*> slopes_of;
};

// The radial MLP (e3nn FullyConnectedNet without biases), weights divided by sqrt(fan_in) as in its forward.
template <typename T>
struct RadialNet {
  std::vector<RowMatrix<T>> weights, transposed;
  Nonlinearity act;

  static RadialNet from(const detail::FullyConnectedNet& fc) {
    RadialNet result;
    result.act = nonlinearity_of(fc.activation);
    for (const torch::Tensor& w : fc.weights) {
      const torch::Tensor scaled =
          (w.detach().to(torch::kFloat64) / std::sqrt(static_cast<double>(w.size(0)))).contiguous();
      RowMatrix<T> m(scaled.size(0), scaled.size(1));
      for (Eigen::Index r = 0; r < m.rows(); ++r)
        for (Eigen::Index c = 0; c < m.cols(); ++c)
          m(r, c) = static_cast<T>(scaled.data_ptr<double>()[r * m.cols() + c]);
      result.transposed.push_back(m.transpose());
      result.weights.push_back(std::move(m));
    }
    return result;
  }
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

  // Values per edge that backward() needs from the forward pass: the outputs and every hidden layer's slopes.
  std::size_t kept_per_edge() const {
    std::size_t n = outputs();
    for (std::size_t k = 0; k + 1 < weights.size(); ++k) n += width(k);
    return n;
  }
  // The layout of the kept values of `count` edges: the outputs at offset 0, then hidden layer k's slopes here.
  std::size_t kept_slopes_offset(std::size_t k, std::size_t count) const {
    std::size_t n = outputs();
    for (std::size_t layer = 0; layer < k; ++layer) n += width(layer);
    return count * n;
  }

  // The per-edge tensor-product weights of `count` edges (at most kChunk), from their radial embeddings `inputs`
  // [count][weights[0].rows()], to scratch.outputs. With `keep_slopes`, the activation slopes go to
  // scratch.slopes_of for backward(). With `kept` [count * kept_per_edge()], outputs and slopes (always) are
  // written there instead of into the scratch buffers, so that a later attach() finds them without a copy.
  void forward(const T* inputs, std::size_t count, RadialScratch<T>& scratch, bool keep_slopes,
               T* kept = nullptr) const {
    const std::size_t last = weights.size() - 1;
    const std::size_t half = kChunk * max_hidden_width();
    if (scratch.hidden.size() < 2 * half) scratch.hidden.resize(2 * half);
    scratch.slopes.resize(last);
    scratch.slopes_of.resize(last);
    const T* h = inputs;
    for (std::size_t k = 0; k < last; ++k) {
      // Alternate halves of `hidden`: layer k reads layer k-1's activations while writing its own.
      T* activated = scratch.hidden.data() + (k % 2) * half;
      product(k, h, count, activated);
      T* slopes = nullptr;
      if (kept) {
        slopes = kept + kept_slopes_offset(k, count);
      } else if (keep_slopes) {
        scratch.slopes[k].resize(kChunk * width(k));
        slopes = scratch.slopes[k].data();
      }
      act.apply(activated, count * width(k), slopes);
      scratch.slopes_of[k] = slopes;
      h = activated;
    }
    T* out = kept;
    if (!out) {
      scratch.weights.resize(kChunk * outputs());
      out = scratch.weights.data();
    }
    product(last, h, count, out);
    scratch.outputs = out;
  }

  // Points scratch.outputs and scratch.slopes_of at what forward(..., kept) wrote for the same `count` edges.
  void attach(const T* kept, std::size_t count, RadialScratch<T>& scratch) const {
    scratch.outputs = kept;
    scratch.slopes_of.resize(weights.size() - 1);
    for (std::size_t k = 0; k + 1 < weights.size(); ++k) scratch.slopes_of[k] = kept + kept_slopes_offset(k, count);
  }

  // Given scratch.weight_grads = d(E)/d(weights) of the chunk and the slopes of forward(..., true): adds
  // d(E)/d(inputs) to `input_grads` [count][weights[0].rows()].
  void backward(std::size_t count, RadialScratch<T>& scratch, double* input_grads) const {
    const std::size_t last = weights.size() - 1;
    // grad_a and grad_b alternate as d(E)/d(input of layer k).
    const T* grad_out = scratch.weight_grads.data();
    for (std::size_t k = last + 1; k-- > 0;) {
      const auto in_width = static_cast<std::size_t>(weights[k].rows());
      Buffer<T>& target = (k % 2 == 0) ? scratch.grad_a : scratch.grad_b;
      if (target.size() < kChunk * in_width) target.resize(kChunk * in_width);
      transposed_product(k, grad_out, count, target.data());
      if (k > 0) {
        // Through the activation of hidden layer k-1 (its slopes from the forward pass).
        const T* slope = scratch.slopes_of[k - 1];
        T* g = target.data();
        const std::size_t n = count * in_width;
#pragma omp simd
        for (std::size_t q = 0; q < n; ++q) g[q] *= slope[q];
        grad_out = g;
      } else {
        for (std::size_t q = 0; q < count * in_width; ++q) input_grads[q] += static_cast<double>(target[q]);
      }
    }
  }
};

}  // namespace nqmd::nequip::fused
