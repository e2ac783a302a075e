#pragma once
#include <string>

namespace nqmd {

// Version of the libtorch nequip-md was built against, e.g. "1.13.1", and whether it can use CUDA.
std::string libtorch_version();
bool libtorch_has_cuda();
// Sets the threads of libtorch's intra-op pool (torch::set_num_threads), for torch-free callers.
void set_libtorch_threads(int threads);

}  // namespace nqmd
