#pragma once
// Metadata of a model written by nequip-deploy (the TorchScript archive's extra files), read as LAMMPS
// pair_nequip reads them. Torch-free.
#include <string>
#include <vector>

namespace nqmd::nequip {

struct DeployedMetadata {
  std::string path;            // the deployed file
  std::string nequip_version;  // never empty (loading fails otherwise)
  double r_max = 0.0;          // A
  int n_species = 0;
  std::vector<std::string> type_names;  // index = nequip type
  std::string model_dtype;     // "float64" or "float32" ("float64" when absent, nequip < 0.6)
  std::string default_dtype;
  std::string fusion_strategy; // e.g. "DYNAMIC,3"
  bool allow_tf32 = false;
  std::string config;          // the training config as YAML text (may be empty)
};

}  // namespace nqmd::nequip
