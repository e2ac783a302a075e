#pragma once
// The NequIP model of a command line (`evaluate`, `ipi`): --model, --backend, --dtype, --species-map, --threads,
// --training-data, loaded the same way by every command that takes them.
#include <memory>
#include <string>
#include <vector>

namespace nqmd {

namespace nequip {
class NequipPotential;
}

struct ModelArguments {
  std::string model;
  std::string backend = "native";
  std::string dtype;             // "" for the model's own
  std::string species_map;       // "Cu=Cu,Au=Au", "" for matching by name
  int threads = 0;
  std::vector<std::string> training_data;  // extxyz training frames for a model file without a record
};

// Loads the model; InputError naming the option (--model, --species-map, ...) for a bad file or value, and
// "COMMAND: this nequip-md was built without NequIP (libtorch)" in a build without it.
std::unique_ptr<nequip::NequipPotential> load_nequip_model(const ModelArguments& arguments, const std::string& command);

}  // namespace nqmd
