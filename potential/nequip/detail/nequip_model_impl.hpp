#pragma once
// Private: the NequIP network (nequip 0.6.2 default builders on e3nn 0.5.1) as libtorch operations, built from a
// deployed model's config and weights. Includes torch.
#include <torch/torch.h>

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "io/yaml_config.hpp"
#include "potential/nequip/deployed.hpp"
#include "potential/nequip/irreps.hpp"

namespace nqmd::nequip::detail {

// Outputs of each stage, keyed as in intermediates_frame0.npz ("layer0_convnet:node_features", ...).
using Stages = std::map<std::string, torch::Tensor>;

// Scalar nonlinearity normalised by e3nn's normalize2mom constant.
struct Activation {
  enum class Kind { silu, ssp, tanh, abs } kind = Kind::silu;
  double constant = 1.0;
  static Activation from_name(const std::string& name, const std::string& where);
  bool is_odd() const { return kind == Kind::tanh; }
  bool is_even() const { return kind == Kind::abs; }
  torch::Tensor operator()(const torch::Tensor& x) const;
};

// e3nn o3.Linear without biases: every (i_in, i_out) pair of equal irreps, path weight 1/sqrt(fan_in).
class EquivariantLinear {
 public:
  EquivariantLinear() = default;
  EquivariantLinear(Irreps in, Irreps out, torch::Tensor weight, const std::string& name);
  // Number of weights of the map in -> out (sum over the paths of mul_in * mul_out).
  static std::int64_t weight_numel(const Irreps& in, const Irreps& out);
  torch::Tensor operator()(const torch::Tensor& x) const;  // [n, in.dim()] -> [n, out.dim()]
  const Irreps& irreps_in() const { return in_; }
  const Irreps& irreps_out() const { return out_; }
  const torch::Tensor& weight() const { return weight_; }
  // Block i_in -> block i_out with path weight `weight`; its [mul_in, mul_out] weights start at `offset`.
  struct Path {
    int i_in, i_out;
    double weight;
    std::int64_t offset;
  };
  const std::vector<Path>& paths() const { return paths_; }

 private:
  Irreps in_, out_;
  std::vector<Path> paths_;
  torch::Tensor weight_;
};

// One tensor-product instruction: output block i_out gets path_weight * C^{l1,l2,lout} x1[i1] x2[i2] with
// weights 'uvu' (per edge, [E, mul1*mul2] slice) or 'uvw' (shared, [mul1, mul2, mul_out] slice).
struct TensorProductPath {
  int i1, i2, i_out;
  double path_weight;
  // C scaled by the path weight, [(2l1+1)*(2l2+1), 2lout+1]; undefined when C is a multiple of the identity
  // (l1 = 0 or l2 = 0), which `factor` (path weight times that multiple) then stands for.
  torch::Tensor w3j;
  double factor = 1.0;
};

class TensorProduct {
 public:
  enum class Mode { uvu, uvw };
  TensorProduct() = default;
  // The instructions' path weights follow e3nn's 'component' irrep and 'element' path normalisation.
  TensorProduct(Irreps in1, Irreps in2, Irreps out, Mode mode, const std::vector<std::array<int, 3>>& instructions,
                const torch::TensorOptions& options);
  std::int64_t weight_numel() const { return weight_numel_; }
  const Irreps& irreps_in1() const { return in1_; }
  const Irreps& irreps_in2() const { return in2_; }
  const Irreps& irreps_out() const { return out_; }
  Mode mode() const { return mode_; }
  const std::vector<TensorProductPath>& paths() const { return paths_; }
  // The paths' consecutive slices of the weights, in path order.
  const std::vector<std::int64_t>& weight_sizes() const { return weight_sizes_; }
  // uvu: weight [batch, weight_numel]; uvw: weight [weight_numel] (shared).
  torch::Tensor operator()(const torch::Tensor& x1, const torch::Tensor& x2, const torch::Tensor& weight) const;

 private:
  Irreps in1_, in2_, out_;
  Mode mode_ = Mode::uvu;
  std::vector<TensorProductPath> paths_;
  std::int64_t weight_numel_ = 0;
  std::vector<std::int64_t> weight_sizes_;  // the paths' consecutive slices of the weights, in path order
};

// e3nn FullyConnectedNet without biases: hidden h <- act(h @ W / sqrt(h_in)), last layer linear.
struct FullyConnectedNet {
  std::vector<torch::Tensor> weights;
  Activation activation;
  torch::Tensor operator()(const torch::Tensor& x) const;
};

// e3nn Gate on the sorted concatenation scalars + gates + gated.
struct Gate {
  struct Slice {
    std::int64_t offset, mul, dim;
    Activation activation;  // scalars and gates only
  };
  std::vector<Slice> scalars, gates, gated;  // in their own (unsorted) order
  Irreps irreps_in, irreps_out;
  torch::Tensor operator()(const torch::Tensor& x) const;
};

struct ConvNetLayer {
  Irreps irreps_in, conv_out, irreps_mid;
  EquivariantLinear linear_1, linear_2;
  FullyConnectedNet fc;
  TensorProduct tp;
  bool use_sc = true;
  TensorProduct sc;
  torch::Tensor sc_weight;
  Gate gate;
  bool resnet = false;
};

class NequipNetwork {
 public:
  // Builds the network described by `metadata.config` with the weights in `state` (named as the unfrozen
  // deployed module's parameters and buffers). With `random_seed`, weights absent from `state` are drawn
  // instead (N(0,1) as e3nn initialises them; Bessel frequencies n pi; per-species scales in [0.5, 1.5] and
  // shifts N(0, 0.1); global scale 1), deterministically from the seed; without it they are InputErrors.
  NequipNetwork(const DeployedMetadata& metadata, const std::map<std::string, torch::Tensor>& state,
                std::optional<std::uint64_t> random_seed = std::nullopt);

  struct Result {
    torch::Tensor total_energy;   // [1, 1]
    torch::Tensor atomic_energy;  // [N, 1]
    torch::Tensor forces;         // [N, 3]
    torch::Tensor virial;         // [1, 3, 3]; undefined unless requested
  };
  // Inputs as nequip takes them (pos [N,3], atom_types [N], edge_index [2,E], edge_cell_shift [E,3], cell [3,3]);
  // floating inputs are cast to the model dtype. `stages`, if given, receives every intermediate output.
  // `contributing` (int64 indices of the contributing atoms, AtomicGraph::contributing), if defined: the total
  // energy and its derivatives are those of the sum over these atoms only.
  Result forward(const torch::Tensor& pos, const torch::Tensor& atom_types, const torch::Tensor& edge_index,
                 const torch::Tensor& edge_cell_shift, const torch::Tensor& cell, bool compute_virial,
                 Stages* stages = nullptr, const torch::Tensor& contributing = {}) const;

  // A batch of frames as one disjoint graph (for training): pos [N,3], atom_types [N], edge_index [2,E],
  // edge_cell_shift [E,3], cells [B,3,3], atom_frame [N] (frame of each atom, 0..B-1). Returns the energies of
  // the frames [B] and forces [N,3] (and virials [B,3,3] if `virial`) in the model's internal units, i.e.
  // before the global scale (nequip trains against labels divided by it). With `create_graph` the results stay
  // differentiable with respect to the weights (force training needs the second derivative).
  struct BatchResult {
    torch::Tensor energy;  // [B]
    torch::Tensor forces;  // [N,3]
    torch::Tensor virial;  // [B,3,3]; undefined unless requested
  };
  BatchResult forward_batch(const torch::Tensor& pos, const torch::Tensor& atom_types, const torch::Tensor& edge_index,
                            const torch::Tensor& edge_cell_shift, const torch::Tensor& cells,
                            const torch::Tensor& atom_frame, std::int64_t num_frames, bool virial,
                            bool create_graph) const;
  // The weights training updates, by parameter name (the tensors the network computes with, so in-place updates
  // act on it): every weight except the per-species and global scales and shifts, unless the config makes them
  // trainable (nequip's BesselBasis_trainable, per_species_rescale_{scales,shifts}_trainable). Float64 models
  // only (InputError otherwise).
  std::vector<std::pair<std::string, torch::Tensor>> trainable_parameters() const;
  double global_scale() const { return has_global_scale_ ? global_scale_ : 1.0; }

  bool stress_output() const { return stress_output_; }
  const std::vector<ConvNetLayer>& layers() const { return layers_; }
  torch::ScalarType dtype() const { return dtype_; }
  double r_max() const { return r_max_; }
  // The pieces of the network, for the fused kernel (fused_network.cpp) that recomputes them by hand.
  int num_types() const { return num_types_; }
  double cutoff_p() const { return cutoff_p_; }
  double avg_num_neighbors() const { return avg_num_neighbors_; }
  const Irreps& irreps_edge_sh() const { return irreps_edge_sh_; }
  const torch::Tensor& bessel_weights() const { return bessel_weights_; }
  const EquivariantLinear& chemical_embedding() const { return chemical_embedding_; }
  const EquivariantLinear& conv_to_output_hidden() const { return conv_to_output_hidden_; }
  const EquivariantLinear& output_hidden_to_scalar() const { return output_hidden_to_scalar_; }
  const torch::Tensor& per_species_scales() const { return per_species_scales_; }  // may be undefined
  const torch::Tensor& per_species_shifts() const { return per_species_shifts_; }  // may be undefined
  bool has_global_shift() const { return has_global_shift_; }
  double global_shift() const { return global_shift_; }
  // Every weight the network uses, as given (or drawn), by parameter name: what a native model file stores.
  const std::map<std::string, torch::Tensor>& weights() const { return weights_; }

 private:
  // Per-atom energies [N,1] (float64, after the per-species scale and shift); `edge_shift_vectors` [E,3] are the
  // Cartesian lattice translations edge_cell_shift . cell of the edges.
  torch::Tensor energy_graph(const torch::Tensor& pos, const torch::Tensor& atom_types,
                             const torch::Tensor& edge_index, const torch::Tensor& edge_shift_vectors,
                             Stages* stages) const;

  torch::ScalarType dtype_ = torch::kFloat64;
  int num_types_ = 0;
  double r_max_ = 0;
  double cutoff_p_ = 6;
  double avg_num_neighbors_ = 1;
  bool stress_output_ = false;
  Irreps irreps_edge_sh_;
  torch::Tensor bessel_weights_;
  EquivariantLinear chemical_embedding_;
  std::vector<ConvNetLayer> layers_;
  EquivariantLinear conv_to_output_hidden_, output_hidden_to_scalar_;
  torch::Tensor per_species_scales_, per_species_shifts_;  // default dtype (float64); may be undefined
  double global_scale_ = 1.0;
  bool has_global_scale_ = false;
  double global_shift_ = 0.0;  // RescaleOutput's shift of total_energy (absent by default)
  bool has_global_shift_ = false;
  bool bessel_trainable_ = true;
  bool per_species_scales_trainable_ = false;
  bool per_species_shifts_trainable_ = false;
  std::map<std::string, torch::Tensor> weights_;
};

}  // namespace nqmd::nequip::detail
