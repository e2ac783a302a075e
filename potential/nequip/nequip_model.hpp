#pragma once
// backend = "native": NequIP (nequip 0.6.2 default builders on e3nn 0.5.1) reimplemented on libtorch tensors,
// built from a nequip-deploy file's config and weights (read through TorchScript, no Python). Reproduces the
// deployed model to float64 rounding. Torch-free header.
#include <memory>
#include <string>

#include "potential/nequip/deployed.hpp"
#include "potential/nequip/graph.hpp"

namespace nqmd::nequip {

namespace detail {
class NequipNetwork;
}

class NequipModel {
 public:
  // Throws InputError naming the file (see TorchScriptModel) or naming an unsupported config setting.
  explicit NequipModel(const std::string& deployed_path);
  ~NequipModel();
  NequipModel(NequipModel&&) noexcept;
  NequipModel& operator=(NequipModel&&) noexcept;

  const DeployedMetadata& metadata() const;
  // True for StressForceOutput models (the virial is then returned by evaluate).
  bool has_virial() const;
  ModelOutput evaluate(const AtomicGraph& graph);

  // The network itself, for tests that compare stages (torch users only).
  const detail::NequipNetwork& network() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace nqmd::nequip
