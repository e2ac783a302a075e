#include "potential/nequip/build_info.hpp"

#include <torch/cuda.h>
#include <torch/version.h>

namespace nqmd {

std::string libtorch_version() { return TORCH_VERSION; }
bool libtorch_has_cuda() { return torch::cuda::is_available(); }

}  // namespace nqmd
