#pragma once
// Private: loading a nequip-deploy TorchScript file. Includes torch.
#include <torch/script.h>

#include <string>

#include "potential/nequip/deployed.hpp"
#include "potential/nequip/graph.hpp"

namespace nqmd::nequip::detail {

struct DeployedModule {
  torch::jit::Module module;
  DeployedMetadata metadata;
};

// Loads the module and its extra files on the CPU as pair_nequip does: errors (missing, truncated or
// non-TorchScript file, empty nequip_version, bad r_max/n_species/type_names) are one-line InputErrors naming
// the file. The fusion strategy and TF32 flag are applied, the module is put in eval mode and, if `freeze` and
// it has the attribute "training", frozen (pair_nequip freezes; the native port reads the unfrozen weights).
DeployedModule load_deployed(const std::string& path, bool freeze);

torch::ScalarType dtype_from_name(const std::string& name, const std::string& path);

// A graph as nequip's input tensors (float64 pos [N,3], edge_cell_shift [E,3], cell [3,3]; int64 atom_types [N],
// edge_index [2,E]).
struct GraphTensors {
  torch::Tensor pos, atom_types, edge_index, edge_cell_shift, cell;
};
GraphTensors graph_tensors(const AtomicGraph& graph);

// Model outputs (any floating dtype) read as double: total_energy [1,1], atomic_energy [N,1], forces [N,3] and,
// if defined, virial [1,3,3].
ModelOutput model_output(const torch::Tensor& total_energy, const torch::Tensor& atomic_energy,
                         const torch::Tensor& forces, const torch::Tensor& virial);
// The same into `out`, reusing its vectors' storage; out.virial is reset when `virial` is undefined.
void model_output(const torch::Tensor& total_energy, const torch::Tensor& atomic_energy, const torch::Tensor& forces,
                  const torch::Tensor& virial, ModelOutput& out);

}  // namespace nqmd::nequip::detail
