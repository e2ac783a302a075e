#pragma once
// backend = "native": NequIP (nequip 0.6.2 default builders on e3nn 0.5.1) reimplemented on libtorch tensors,
// built from a deployed file's config and weights (read through TorchScript, no Python), from a native model
// file written by save() (docs/nequip.md), or with random weights from a config. Reproduces the deployed model
// to float64 rounding. Every model can return the virial: -dE/d(strain) by autograd through a symmetric
// displacement, as nequip's StressOutput computes it. Torch-free header.
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "io/npz.hpp"
#include "potential/nequip/deployed.hpp"
#include "potential/nequip/fused_network.hpp"
#include "potential/nequip/graph.hpp"
#include "potential/nequip/model_options.hpp"
#include "potential/nequip/training_domain.hpp"

namespace nqmd::nequip {

namespace detail {
class NequipNetwork;
}

struct ModelOptions {
  // A float64 model may run in float32 (weights rounded, per-species scales and shifts kept in float64 as
  // nequip-deploy --override model_dtype does); asking float64 of a float32 model is an InputError.
  Precision dtype = Precision::model_default;
  // fused (default): the hand-written forward and backward of fused_network.hpp, which MD runs; autograd: the
  // libtorch network differentiated by autograd (the reference the fused kernel is tested against, and what
  // training uses). A model with a feature the fused kernel lacks runs with autograd and says why (kernel_note()).
  Kernel kernel = Kernel::fused;
};

class NequipModel {
 public:
  // A nequip-deploy .pth or a native model file (told apart by content). Throws InputError naming the file
  // (see TorchScriptModel) or an unsupported config setting.
  explicit NequipModel(const std::string& path, const ModelOptions& options = {});
  // A model of the architecture that `config_yaml` describes (nequip's config keys: r_max, num_layers, l_max,
  // parity, num_features, num_basis, invariant_layers, invariant_neurons, PolynomialCutoff_p, avg_num_neighbors,
  // model_builders, nonlinearities, model_dtype ...), with random weights drawn from `seed` (see NequipNetwork).
  // Weights named in `fixed_weights` (parameter name -> values in the parameter's shape, row-major) take those
  // values instead; training sets the data-derived scales and shifts this way.
  static NequipModel random(const std::string& config_yaml, const std::vector<std::string>& type_names,
                            std::uint64_t seed,
                            const std::map<std::string, std::vector<double>>& fixed_weights = {});
  ~NequipModel();
  NequipModel(NequipModel&&) noexcept;
  NequipModel& operator=(NequipModel&&) noexcept;

  // Writes the native model file (metadata, config and every weight, bit for bit); InputError if it cannot.
  // `extra` arrays are appended (a training checkpoint is a model file with its optimiser state).
  void save(const std::string& path, const std::vector<std::pair<std::string, NpyArray>>& extra = {}) const;
  // True if `path` is a native model file written by save().
  static bool is_native_file(const std::string& path);

  const DeployedMetadata& metadata() const;
  // The closest pair distances of the training data (written by `nequip-md train`); empty for nequip-deploy files
  // and native files written before the record existed.
  const TrainingDomain& training_domain() const;
  // Sets the record save() writes (InputError if its number of types is not the model's).
  void set_training_domain(TrainingDomain domain);
  // The number of interaction layers: an atom's energy depends on atoms up to num_layers() x r_max away.
  int num_layers() const;
  // True for StressForceOutput models (their deployed file returns the virial).
  bool has_virial() const;
  // Energies and forces, and the virial for StressForceOutput models.
  ModelOutput evaluate(const AtomicGraph& graph);
  // Energies and forces, and the virial if `virial` (any model), into `output` (its vectors are reused).
  void evaluate(const AtomicGraph& graph, bool virial, ModelOutput& output);

  // The network itself, for tests that compare stages (torch users only).
  const detail::NequipNetwork& network() const;
  // Switches the kernel. The fused kernel copies the weights when it is selected: weights changed in place
  // afterwards (training) are seen by autograd only.
  void set_kernel(Kernel kernel);
  // What evaluate() runs; kernel_note() says why a model asked to run fused does not.
  Kernel kernel() const;
  const std::string& kernel_note() const;
  // The fused kernel (for its per-stage profile), or nullptr when the model runs with autograd.
  FusedNetwork* fused_network();

 private:
  NequipModel();
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace nqmd::nequip
