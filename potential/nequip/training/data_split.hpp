#pragma once
// The frames of a training: read from the settings' extxyz files, split into training, validation and test sets
// as nequip splits them, and checked for the labels and species the training needs. Torch-free.
#include <string>
#include <vector>

#include "potential/nequip/training/dataset.hpp"
#include "potential/nequip/training/trainer.hpp"

namespace nqmd::nequip::training {

struct DataSplit {
  std::vector<TrainingFrame> train, validation, test;
  std::vector<std::string> notes;  // for the log: which groups went where (split_key)
};

// The frames of settings.files split after nequip's permutation, with those of the explicit validation and test
// files, or split by the groups of settings.split_key; graphs with cutoff `r_max`. Empty `type_names` are set to
// every species of the data by atomic number. InputError if the split asks for more frames than there are, or
// leaves the training or validation set empty; with split_key also for a frame without the key, a group no frame
// has, or a group in both validation_groups and test_groups.
DataSplit load_and_split(const TrainingSettings& settings, double r_max, std::vector<std::string>& type_names);

// InputError naming the frame if a frame lacks a label with a nonzero loss weight, or (for the training set) if
// the stress is trained but no periodic frame has one.
void check_labels(const std::vector<TrainingFrame>& frames, const TrainingSettings& settings, const std::string& set);

// InputError naming the frame if a validation or test frame holds a species no training frame has.
void check_species_are_trained(const DataSplit& split, const std::vector<std::string>& type_names);

}  // namespace nqmd::nequip::training
