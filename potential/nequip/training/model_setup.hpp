#pragma once
// The model a training starts from: a new one of the settings' architecture with random weights and the training
// data's normalisation (nequip's avg_num_neighbors, per-species scales and shifts, global scale), or the initial
// model of a fine-tuning or a resumed training. Torch-free.
#include <optional>
#include <string>
#include <vector>

#include "potential/nequip/nequip_model.hpp"
#include "potential/nequip/training/data_split.hpp"
#include "potential/nequip/training/trainer.hpp"

namespace nqmd::nequip::training {

// `initial` if given, else a new model for the types `type_names` normalised on the training frames; either way
// with the training frames' closest pairs (merged with those the initial model knows) as its training domain.
// Appends what it decided (normalisation, closest pairs) to `notes`.
NequipModel model_to_train(const TrainingSettings& settings, std::optional<NequipModel> initial,
                           const DataSplit& split, const std::vector<std::string>& type_names,
                           std::vector<std::string>& notes);

}  // namespace nqmd::nequip::training
