#include "integrators/integrator.hpp"

namespace nqmd {

const SectionSchema& integrator_section_schema() {
  static const SectionSchema schema{
      "integrator",
      "How atoms move. `kind` selects the integrator; `timestep` is common to all; other keys belong to the kind.",
      {KeySpec("kind", KeyType::string, "integrator style (nve, nvt_nose_hoover, nvt_langevin, ...)").require(),
       KeySpec("timestep", KeyType::real, "time step (fs)").greater_than(0.0).defaults_to(1.0)}};
  return schema;
}

}  // namespace nqmd
