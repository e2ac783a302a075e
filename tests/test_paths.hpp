#pragma once
// Where tests find the project's sources and the shared reference data (../shared beside the repository).
#include <string>

namespace nqmd::test {

inline std::string shared_path(const std::string& relative) { return std::string(NQMD_SHARED_DIR) + "/" + relative; }
inline std::string source_path(const std::string& relative) { return std::string(NQMD_SOURCE_DIR) + "/" + relative; }

}  // namespace nqmd::test
