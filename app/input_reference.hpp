#pragma once
#include <string>

namespace nqmd {

// docs/input-reference.md, generated from the schemas of every section and registered style, so that the
// reference always lists exactly the keys the parser accepts (`nequip-md input-reference` prints it).
std::string input_reference_markdown();

}  // namespace nqmd
