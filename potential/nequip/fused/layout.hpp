#pragma once
// Private (fused kernel): the storage layout the kernel's operations share. Node features are stored per irreps
// block as [node][2l+1][channel], so that every inner loop runs over contiguous channels.
#include <Eigen/Core>
#include <cstddef>
#include <cstdint>
#include <stdexcept>
#include <utility>
#include <vector>

#include "potential/nequip/irreps.hpp"

namespace nqmd::nequip::fused {

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

inline std::vector<Block> blocks_of(const Irreps& irreps) {
  std::vector<Block> blocks;
  for (const auto& b : irreps.blocks()) blocks.push_back(Block{b.mul, b.ir.l});
  return blocks;
}

// (block, first channel) of the e3nn flat offset `offset` in `irreps`.
inline std::pair<int, int> locate(const Irreps& irreps, std::int64_t offset) {
  const std::vector<int> offsets = irreps.offsets();
  for (std::size_t b = 0; b < irreps.size(); ++b)
    if (offset >= offsets[b] && offset < offsets[b + 1])
      return {static_cast<int>(b), static_cast<int>((offset - offsets[b]) / irreps[b].ir.dim())};
  throw std::logic_error("fused NequIP kernel: offset outside the irreps");
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

}  // namespace nqmd::nequip::fused
