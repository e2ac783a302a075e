#include "potential/potential.hpp"

namespace nqmd {

const SectionSchema& potential_section_schema() {
  static const SectionSchema schema{
      "potential",
      "How forces arise. `kind` selects the potential style; the other keys belong to that style.",
      {KeySpec("kind", KeyType::string, "potential style (lj, morse, nequip, ...)").require()}};
  return schema;
}

}  // namespace nqmd
