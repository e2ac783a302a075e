#pragma once
// Private: the training frames as tensors, batches of them as one disjoint graph, and nequip's loss on a batch.
// Includes torch.
#include <torch/torch.h>

#include <cstddef>
#include <cstdint>
#include <vector>

#include "potential/nequip/detail/nequip_model_impl.hpp"
#include "potential/nequip/training/dataset.hpp"
#include "potential/nequip/training/metrics.hpp"
#include "potential/nequip/training/trainer.hpp"

namespace nqmd::nequip::training {

// One frame's tensors, built once.
struct FrameTensors {
  torch::Tensor pos, types, edge_index, shifts, cell, forces, virial;
  double energy = 0.0;
  bool has_energy = false, has_forces = false, has_virial = false;
  double volume = 0.0;
  std::int64_t atoms = 0;
};

FrameTensors frame_tensors(const TrainingFrame& frame);
std::vector<FrameTensors> frame_tensors(const std::vector<TrainingFrame>& frames);

// Frames concatenated into one disjoint graph.
struct Batch {
  torch::Tensor pos, types, edge_index, shifts, cells, atom_frame;
  torch::Tensor forces, energy, virial, atoms, volume;  // labels: forces [N,3], energy [B], virial [B,3,3]
  torch::Tensor energy_mask, virial_mask, force_mask;     // which frames (atoms) carry each label
  std::int64_t frames = 0;
};

// The frames all[indices[begin]] ... all[indices[end - 1]] as one batch.
Batch make_batch(const std::vector<FrameTensors>& all, const std::vector<std::int64_t>& indices, std::size_t begin,
                 std::size_t end);

// Frames in their order, in batches of `batch_size` (validation and test sets).
std::vector<Batch> fixed_batches(const std::vector<FrameTensors>& frames, std::size_t batch_size);

struct LossTerms {
  torch::Tensor total, forces, energy, stress;
};

// nequip's loss in the model's internal units (labels divided by the global scale `scale`): force MSE per
// component, per-atom energy MSE, stress MSE per component, weighted by the settings' coefficients; adds the
// losses and the errors in physical units to `metrics`.
LossTerms batch_loss(const detail::NequipNetwork& network, const Batch& batch, const TrainingSettings& settings,
                     double scale, bool want_virial, bool create_graph, EpochMetrics& metrics);

}  // namespace nqmd::nequip::training
