#pragma once
// The threads of a run: OpenMP's (the neighbour list, the fused NequIP kernel) and, when built with NequIP,
// libtorch's intra-op pool.

namespace nqmd {

// Sets OpenMP's thread count for what follows (threads > 0).
void set_openmp_threads(int threads);

}  // namespace nqmd
