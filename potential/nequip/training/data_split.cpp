#include "potential/nequip/training/data_split.hpp"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <functional>
#include <map>
#include <optional>

#include <fmt/format.h>

#include "engine/error.hpp"
#include "io/extxyz.hpp"

namespace nqmd::nequip::training {
namespace {

struct Source {
  std::string where;
  Frame frame;
};

std::vector<Source> read_frames(const std::vector<std::string>& files) {
  std::vector<Source> out;
  for (const std::string& path : files) {
    ExtxyzReader reader(path);
    std::size_t index = 0;
    while (std::optional<Frame> f = reader.next()) out.push_back({path + ", frame " + std::to_string(index++), *f});
  }
  return out;
}

std::int64_t count_of(std::int64_t count, double fraction, std::int64_t total) {
  if (count >= 0) return count;
  if (fraction >= 0) return static_cast<std::int64_t>(std::floor(fraction * static_cast<double>(total)));
  return -1;
}

bool contains(const std::vector<std::string>& names, const std::string& name) {
  return std::find(names.begin(), names.end(), name) != names.end();
}

// The split by the values of s.split_key: validation and test groups in file order, the training frames from
// nequip's permutation of the remaining pool.
void split_by_groups(const TrainingSettings& s, const std::vector<Source>& frames,
                     const std::function<TrainingFrame(const Source&)>& convert, DataSplit& split) {
  if (!s.validation_files.empty() || !s.test_files.empty() || s.n_val >= 0 || s.val_fraction >= 0 || s.n_test > 0 ||
      s.test_fraction > 0)
    throw InputError("[data]: split_key takes the validation and test frames from groups: no n_val, n_test, "
                     "val_fraction, test_fraction, validation_files or test_files with it");
  for (const std::string& group : s.test_groups)
    if (contains(s.validation_groups, group))
      throw InputError("[data] test_groups: '" + group + "' is in validation_groups too");
  const std::string& key = s.split_key;
  std::vector<std::string> values;  // in order of appearance
  std::map<std::string, std::int64_t> frames_of;
  std::vector<const Source*> validation, test, pool;
  for (const Source& src : frames) {
    const std::string* value = src.frame.find_info(key);
    if (value == nullptr) throw InputError(src.where + ": has no info key '" + key + "' (split_key)");
    if (frames_of[*value]++ == 0) values.push_back(*value);
    if (contains(s.validation_groups, *value)) {
      validation.push_back(&src);
    } else if (contains(s.test_groups, *value)) {
      test.push_back(&src);
    } else {
      pool.push_back(&src);
    }
  }
  auto check_present = [&](const std::vector<std::string>& groups, const std::string& list) {
    for (const std::string& group : groups) {
      if (frames_of.count(group) > 0) continue;
      const std::size_t shown = values.size() <= 6 ? values.size() : 4;
      std::string existing;
      for (std::size_t k = 0; k < shown; ++k) existing += (k > 0 ? ", '" : "'") + values[k] + "'";
      if (shown < values.size()) existing += fmt::format(", ... ({} values)", values.size());
      throw InputError(fmt::format("[data] {}: no frame has {} = '{}' (values: {})", list, key, group, existing));
    }
  };
  check_present(s.validation_groups, "validation_groups");
  check_present(s.test_groups, "test_groups");
  if (validation.empty())
    throw InputError("[data]: split_key '" + key + "' needs validation_groups (the validation set is empty)");
  const auto pool_size = static_cast<std::int64_t>(pool.size());
  if (pool_size == 0)
    throw InputError("[data]: every group of split_key '" + key +
                     "' is in validation_groups or test_groups: no training frames are left");
  std::int64_t n_train = count_of(s.n_train, s.train_fraction, pool_size);
  if (n_train < 0) n_train = pool_size;
  if (n_train > pool_size)
    throw InputError(fmt::format("[data]: n_train = {}, but the training groups of split_key '{}' hold {} frames",
                                 n_train, key, pool_size));

  const std::vector<std::int64_t> perm = nequip_split_permutation(pool_size, s.split_seed);
  for (std::int64_t k = 0; k < n_train; ++k)
    split.train.push_back(convert(*pool[static_cast<std::size_t>(perm[static_cast<std::size_t>(k)])]));
  for (const Source* src : validation) split.validation.push_back(convert(*src));
  for (const Source* src : test) split.test.push_back(convert(*src));

  auto listing = [&](const std::vector<std::string>& groups) {
    std::string out;
    for (const std::string& group : groups)
      out += fmt::format("{}{} ({})", out.empty() ? "" : ", ", group, frames_of[group]);
    return out;
  };
  split.notes.push_back(fmt::format("split by {}: validation {}", key, listing(s.validation_groups)));
  if (!s.test_groups.empty()) split.notes.push_back(fmt::format("split by {}: test {}", key, listing(s.test_groups)));
  const auto training_groups = std::count_if(values.begin(), values.end(), [&](const std::string& value) {
    return !contains(s.validation_groups, value) && !contains(s.test_groups, value);
  });
  split.notes.push_back(fmt::format("split by {}: training {} of the {} frames of the {} other group{}", key, n_train,
                                    pool_size, training_groups, training_groups == 1 ? "" : "s"));
}

}  // namespace

DataSplit load_and_split(const TrainingSettings& s, double r_max, std::vector<std::string>& type_names) {
  if (s.split_key.empty() && (!s.validation_groups.empty() || !s.test_groups.empty()))
    throw InputError("[data]: validation_groups and test_groups need split_key");
  std::vector<Source> pool = read_frames(s.files), validation = read_frames(s.validation_files),
                      test = read_frames(s.test_files);
  if (type_names.empty()) {
    std::vector<std::string> symbols;
    for (const auto& src : pool)
      symbols.insert(symbols.end(), src.frame.system.species_symbols.begin(), src.frame.system.species_symbols.end());
    type_names = symbols_by_atomic_number(symbols);
  }
  auto convert = [&](const Source& src) {
    return make_training_frame(src.frame, src.where, s.keys, type_names, r_max);
  };
  DataSplit split;
  if (!s.split_key.empty()) {
    split_by_groups(s, pool, convert, split);
    if (split.train.empty()) throw InputError("[data]: the training set is empty");
    return split;
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
  // Training and validation frames come first in the permutation, as nequip takes them; test frames from its end,
  // so that the test set stays the same when n_train or n_val change (learning curves).
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
