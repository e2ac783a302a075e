#include "app/build_info.hpp"

#include <fmt/format.h>

#include "potential/nequip/build_info.hpp"

namespace nqmd {

std::string version_text() {
  return fmt::format("nequip-md {} ({} build; libtorch {}, {})", NQMD_VERSION, NQMD_BUILD_TYPE, libtorch_version(),
                     libtorch_has_cuda() ? "CUDA available" : "CPU");
}

}  // namespace nqmd
