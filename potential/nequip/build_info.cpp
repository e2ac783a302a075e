#include "potential/nequip/build_info.hpp"

#include <torch/cuda.h>
#include <torch/utils.h>
#include <torch/version.h>

namespace nqmd {

std::string libtorch_version() { return TORCH_VERSION; }
bool libtorch_has_cuda() { return torch::cuda::is_available(); }
void set_libtorch_threads(int threads) { torch::set_num_threads(threads); }

}  // namespace nqmd
