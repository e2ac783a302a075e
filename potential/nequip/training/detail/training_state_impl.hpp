#pragma once
// Private: everything a training carries from one epoch to the next besides the model's weights, and its
// checkpoint. A checkpoint (checkpoint.npz) is the model file of the weights being trained with this state appended
// under "training/..." keys; `nequip-md train --resume` continues from it exactly. Includes torch.
#include <cstddef>
#include <random>
#include <string>
#include <vector>

#include "potential/nequip/nequip_model.hpp"
#include "potential/nequip/training/detail/optimizer_impl.hpp"
#include "potential/nequip/training/trainer.hpp"

namespace nqmd::nequip::training {

struct TrainingState {
  // A fresh state for the trainable parameters `params` (named `parameter_names`, as the model names them), with
  // records of `metric_columns` metrics (TrainingReport::columns).
  TrainingState(const TrainingSettings& settings, std::vector<std::string> parameter_names,
                const std::vector<torch::Tensor>& params, std::size_t metric_columns);

  std::vector<std::string> parameter_names;
  std::size_t metric_columns;
  Adam adam;
  MovingAverage ema;
  Plateau plateau;
  std::mt19937_64 rng;                  // shuffles the training frames
  int epoch = 0;                        // epochs done
  double wall = 0.0;                    // s of training until the end of epoch `epoch`, over resumed runs
  int epochs_without_improvement = 0;
  double best_validation_loss;
  int best_epoch = 0;
  std::vector<EpochRecord> records;     // one per epoch done

  // Writes `model` (with the weights being trained) and this state to `path`, atomically.
  void save(const NequipModel& model, const std::string& path) const;
  // Reads the state from a checkpoint written by save() for the same parameters; InputError if a key is missing or
  // its records do not have `metric_columns` metrics (written with other settings).
  void load(const std::string& path);
};

}  // namespace nqmd::nequip::training
