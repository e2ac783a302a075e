#include "integrators/initial_velocities.hpp"

#include <fmt/format.h>

#include "engine/log.hpp"
#include "integrators/velocities.hpp"

namespace nqmd {

const SectionSchema& velocities_section_schema() {
  static const SectionSchema schema{
      "velocities",
      "Initial velocities of a fresh run (ignored on --restart). Without this section: the structure's "
      "velocities if it has them, else zero.",
      {KeySpec("kind", KeyType::string,
               "maxwell_boltzmann: random at `temperature`; structure: from the structure file; zero: at rest")
           .one_of({"maxwell_boltzmann", "structure", "zero"}),
       KeySpec("temperature", KeyType::real, "Maxwell-Boltzmann temperature (K)").at_least(0.0).at_most(1e7),
       KeySpec("seed", KeyType::integer, "random seed of the Maxwell-Boltzmann draw").defaults_to(std::int64_t{42}),
       KeySpec("zero_momentum", KeyType::boolean, "remove the total momentum after the draw").defaults_to(true),
       KeySpec("exact_temperature", KeyType::boolean, "rescale so the kinetic temperature equals `temperature` exactly")
           .defaults_to(true)}};
  return schema;
}

void initialize_velocities(const ConfigSection& section, System& system, bool structure_has_velocities,
                           bool momentum_conserved) {
  const std::string kind = section.has("kind") ? section.string("kind") : (structure_has_velocities ? "structure" : "zero");
  if (kind != "maxwell_boltzmann")
    for (const char* key : {"temperature", "seed", "zero_momentum", "exact_temperature"})
      if (section.has(key)) section.fail(key, fmt::format("applies only to kind = \"maxwell_boltzmann\", not \"{}\"", kind));
  if (kind == "structure") {
    if (!structure_has_velocities)
      section.fail("kind", "the structure has no velocities (extxyz columns `momenta` or `velocities`)");
    return;
  }
  if (kind == "zero") {
    if (!section.has("kind"))
      log::info("velocities: the structure has none and there is no [velocities] section: the atoms start at rest "
                "(0 K); [velocities] kind = \"maxwell_boltzmann\" starts them at a temperature");
    for (Vec3& velocity : system.velocities) velocity.setZero();
    return;
  }
  if (!section.has("temperature")) section.fail("temperature", "is required with kind = \"maxwell_boltzmann\"");
  MaxwellBoltzmannOptions options;
  options.temperature_k = section.real("temperature");
  options.seed = static_cast<std::uint64_t>(section.integer("seed"));
  options.zero_momentum = section.boolean("zero_momentum");
  options.exact_temperature = false;
  maxwell_boltzmann_velocities(system, options);
  // Rescale with the degrees of freedom the integrator's temperature uses.
  if (section.boolean("exact_temperature"))
    rescale_to_temperature(system, options.temperature_k, degrees_of_freedom(system, momentum_conserved));
}

}  // namespace nqmd
