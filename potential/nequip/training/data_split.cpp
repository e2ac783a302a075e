#include "potential/nequip/training/data_split.hpp"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <optional>

#include <fmt/format.h>

#include "engine/error.hpp"
#include "io/extxyz.hpp"

namespace nqmd::nequip::training {
namespace {

std::int64_t count_of(std::int64_t count, double fraction, std::int64_t total) {
  if (count >= 0) return count;
  if (fraction >= 0) return static_cast<std::int64_t>(std::floor(fraction * static_cast<double>(total)));
  return -1;
}

}  // namespace

DataSplit load_and_split(const TrainingSettings& s, double r_max, std::vector<std::string>& type_names) {
  struct Source {
    std::string where;
    Frame frame;
  };
  auto read = [](const std::vector<std::string>& files) {
    std::vector<Source> out;
    for (const std::string& path : files) {
      ExtxyzReader reader(path);
      std::size_t index = 0;
      while (std::optional<Frame> f = reader.next()) out.push_back({path + ", frame " + std::to_string(index++), *f});
    }
    return out;
  };
  std::vector<Source> pool = read(s.files), validation = read(s.validation_files), test = read(s.test_files);
  if (type_names.empty()) {
    std::vector<std::string> symbols;
    for (const auto& src : pool)
      symbols.insert(symbols.end(), src.frame.system.species_symbols.begin(), src.frame.system.species_symbols.end());
    type_names = symbols_by_atomic_number(symbols);
  }
  const auto total = static_cast<std::int64_t>(pool.size());
  const std::int64_t n_test = std::max<std::int64_t>(0, count_of(s.n_test, s.test_fraction, total));
  std::int64_t n_train = count_of(s.n_train, s.train_fraction, total);
  std::int64_t n_val = s.validation_files.empty() ? count_of(s.n_val, s.val_fraction, total) : 0;
  if (n_train < 0) n_train = total - std::max<std::int64_t>(n_val, 0) - n_test;
  if (n_val < 0) n_val = total - n_train - n_test;
  if (n_train + n_val + n_test > total)
    throw InputError(fmt::format("[data]: the split asks for {} training + {} validation + {} test frames, but the "
                                 "data files hold {}",
                                 n_train, n_val, n_test, total));
  const std::vector<std::int64_t> perm = nequip_split_permutation(total, s.split_seed);
  auto convert = [&](const Source& src) {
    return make_training_frame(src.frame, src.where, s.keys, type_names, r_max);
  };
  // Training and validation frames come first in the permutation, as nequip takes them; test frames from its end,
  // so that the test set stays the same when n_train or n_val change (learning curves).
  DataSplit split;
  for (std::int64_t k = 0; k < total; ++k) {
    const Source& src = pool[static_cast<std::size_t>(perm[static_cast<std::size_t>(k)])];
    if (k < n_train) {
      split.train.push_back(convert(src));
    } else if (k < n_train + n_val) {
      split.validation.push_back(convert(src));
    } else if (k >= total - n_test) {
      split.test.push_back(convert(src));
    }
  }
  for (const auto& src : validation) split.validation.push_back(convert(src));
  for (const auto& src : test) split.test.push_back(convert(src));
  if (split.train.empty()) throw InputError("[data]: the training set is empty");
  if (split.validation.empty()) throw InputError("[data]: the validation set is empty");
  return split;
}

void check_labels(const std::vector<TrainingFrame>& frames, const TrainingSettings& s, const std::string& set) {
  bool any_virial = false;
  for (const TrainingFrame& f : frames) {
    if (s.force_weight > 0 && !f.forces)
      throw InputError(f.where + ": has no forces ('" + s.keys.forces + "'), but [loss] forces > 0");
    if (s.energy_weight > 0 && !f.energy)
      throw InputError(f.where + ": has no energy ('" + s.keys.energy + "'), but [loss] energy > 0");
    if (f.virial && f.volume > 0) any_virial = true;
  }
  if (s.stress_weight > 0 && !any_virial && set == "training")
    throw InputError("[loss] stress > 0, but no periodic training frame has a stress ('" + s.keys.stress +
                     "') or virial ('" + s.keys.virial + "')");
}


void check_species_are_trained(const DataSplit& split, const std::vector<std::string>& type_names) {
  const std::size_t types = type_names.size();
  std::vector<std::int64_t> in_train(types, 0);
  for (const auto& f : split.train)
    for (std::size_t t = 0; t < types; ++t) in_train[t] += f.type_counts[t];
  auto check = [&](const std::vector<TrainingFrame>& frames, const std::string& set) {
    for (const auto& f : frames)
      for (std::size_t t = 0; t < types; ++t)
        if (f.type_counts[t] > 0 && in_train[t] == 0)
          throw InputError(f.where + ": species " + type_names[t] + " of the " + set +
                           " set never occurs in the training frames");
  };
  check(split.validation, "validation");
  check(split.test, "test");
}

}  // namespace nqmd::nequip::training
