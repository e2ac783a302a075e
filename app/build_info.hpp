#pragma once
#include <string>

namespace nqmd {

// "nequip-md 0.1.0 (Release build; libtorch 1.13.1, CPU)"
std::string version_text();

}  // namespace nqmd
