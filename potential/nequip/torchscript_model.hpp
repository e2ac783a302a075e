#pragma once
// backend = "torchscript": a nequip-deploy model evaluated by libtorch's TorchScript interpreter, called exactly
// as LAMMPS pair_nequip calls it (but with inputs in the model's dtype). Torch-free header.
#include <memory>
#include <string>

#include "potential/nequip/deployed.hpp"
#include "potential/nequip/graph.hpp"

namespace nqmd::nequip {

class TorchScriptModel {
 public:
  // Loads, sets eval mode and freezes (see detail/deployed_impl.hpp). Throws InputError naming the file.
  explicit TorchScriptModel(const std::string& path);
  ~TorchScriptModel();
  TorchScriptModel(TorchScriptModel&&) noexcept;
  TorchScriptModel& operator=(TorchScriptModel&&) noexcept;

  const DeployedMetadata& metadata() const;
  // Energies, forces and (StressForceOutput models) the virial of one graph. Inputs are passed in the model's
  // dtype; outputs are read as double.
  ModelOutput evaluate(const AtomicGraph& graph);
  // The same into `output`, reusing its vectors' storage.
  void evaluate(const AtomicGraph& graph, ModelOutput& output);
  // True if the model returns the virial (StressForceOutput).
  bool has_virial() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace nqmd::nequip
