#pragma once
// `nequip-md train train.toml`: [data], [model], [loss], [optimizer], [scheduler], [training], [output] ->
// potential/nequip/training (the fit itself) -> model files, per-epoch CSV, a learning-curve figure.
#include <string>
#include <vector>

#include "engine/config.hpp"

namespace nqmd {

struct TrainRequest {
  std::string input_path;
  bool resume = false;  // continue from OUTPUT/checkpoint.npz exactly
  bool force = false;   // replace the files of an earlier training in the output directory
};

// Throws InputError (file, line and key) on bad input.
void run_training(const TrainRequest& request);

// The sections of a training input, for validation and the input reference.
std::vector<const SectionSchema*> train_input_sections();

}  // namespace nqmd
