#pragma once
// The fused NequIP kernel that MD runs: the network of detail::NequipNetwork (whose weights it copies at
// construction), computed without autograd. Per interaction layer, one pass over the edges (sorted by centre
// atom, in chunks) evaluates the radial MLP, the tensor product with the spherical harmonics and the scatter to
// the centre; the forces and the virial come from a hand-written backward pass of the same structure (the radial
// MLP of a chunk is recomputed there instead of stored). Node features are stored per irreps block as
// [node][2l+1][channel], so that every inner loop runs over contiguous channels. The autograd network stays the
// reference (tests compare the two on every model) and the path for training. docs/performance.md.
// Torch-free header.
#include <cstddef>
#include <map>
#include <memory>
#include <string>

#include "potential/nequip/graph.hpp"

namespace nqmd::nequip {

namespace detail {
class NequipNetwork;
}

// Wall seconds per stage, summed over the calls since profiling was switched on. Inside the parallel edge passes
// the times are those of thread 0 (with one thread: the whole work).
struct FusedProfile {
  std::map<std::string, double> seconds;
  int calls = 0;
  // Floating-point operations of the matrix products, tensor products and their backward passes (a multiply-add
  // counts 2), summed over the calls: the work that sets the kernel's floor.
  double flops = 0;
};

class FusedNetwork {
 public:
  // The fused kernel of `network` (float32 or float64 as the network), or nullptr with `reason` set when the
  // network has a feature the kernel does not implement (the caller then uses the autograd network).
  static std::unique_ptr<FusedNetwork> create(const detail::NequipNetwork& network, std::string* reason);
  virtual ~FusedNetwork() = default;

  // What NequipModel::evaluate returns: energies and forces, and the virial if `virial`, with `threads` OpenMP
  // threads. `graph` must have been validated.
  virtual void evaluate(const AtomicGraph& graph, bool virial, int threads, ModelOutput& output) = 0;

  // The memory the radial MLP's outputs and slopes may take to be kept from the forward pass for the backward
  // pass (default 256 MiB); above it they are recomputed there. Results agree to rounding either way.
  virtual void set_kept_radial_limit(std::size_t bytes) = 0;

  // Timing per stage: `enable` switches it on or off and clears the record.
  virtual void set_profiling(bool enable) = 0;
  virtual const FusedProfile& profile() const = 0;
};

}  // namespace nqmd::nequip
