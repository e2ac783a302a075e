#include "app/model_arguments.hpp"

#include "engine/error.hpp"
#ifdef NQMD_HAVE_NEQUIP
#include "potential/nequip/nequip_potential.hpp"
#endif

namespace nqmd {

std::unique_ptr<nequip::NequipPotential> load_nequip_model(const ModelArguments& arguments, const std::string& command) {
#ifndef NQMD_HAVE_NEQUIP
  (void)arguments;
  throw InputError(command + ": this nequip-md was built without NequIP (libtorch)");
#else
  (void)command;
  nequip::PotentialOptions options;
  options.model = arguments.model;
  options.backend = nequip::parse_backend(arguments.backend, "--backend");
  options.dtype = nequip::parse_precision(arguments.dtype, "--dtype");
  options.threads = arguments.threads;
  options.model_where = "--model";
  options.species_map_where = "--species-map";
  if (!arguments.species_map.empty())
    options.species_map = nequip::parse_species_map(arguments.species_map, "--species-map");
  options.training_data = arguments.training_data;
  options.training_data_where = "--training-data";
  return std::make_unique<nequip::NequipPotential>(options);
#endif
}

}  // namespace nqmd
