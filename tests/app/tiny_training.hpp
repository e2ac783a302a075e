#pragma once
// The input of a tiny `nequip-md train` (12 Cu/Au frames of the nequip reference data, a 1-layer model of 4
// features; an epoch takes a few tens of milliseconds) shared by the training tests.
#include <string>

#include <fmt/format.h>

#include "test_paths.hpp"

namespace nqmd::test {

inline std::string tiny_training_input(int epochs) {
  return fmt::format(R"([data]
files = ["{}"]
n_train = 12
n_val = 4
n_test = 4

[model]
r_max = 4.0
num_layers = 1
l_max = 1
num_features = 4
num_basis = 4
invariant_layers = 1
invariant_neurons = 8

[training]
max_epochs = {}
batch_size = 3
threads = 1
)",
                     shared_path("reference/nequip-0.6.2/data/train_mixed.extxyz"), epochs);
}

}  // namespace nqmd::test
