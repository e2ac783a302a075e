#include "app/build_info.hpp"

#include <fmt/format.h>

#ifdef NQMD_HAVE_NEQUIP
#include "potential/nequip/build_info.hpp"
#endif

namespace nqmd {

std::string version_text() {
#ifdef NQMD_HAVE_NEQUIP
  return fmt::format("nequip-md {} ({} build; libtorch {}, {})", NQMD_VERSION, NQMD_BUILD_TYPE, libtorch_version(),
                     libtorch_has_cuda() ? "CUDA available" : "CPU");
#else
  return fmt::format("nequip-md {} ({} build; without libtorch: no NequIP potential)", NQMD_VERSION, NQMD_BUILD_TYPE);
#endif
}

}  // namespace nqmd
