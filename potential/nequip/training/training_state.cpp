#include "potential/nequip/training/detail/training_state_impl.hpp"

#include <limits>
#include <sstream>
#include <utility>

#include "engine/error.hpp"
#include "io/npz.hpp"
#include "potential/nequip/detail/tensor_npy_impl.hpp"

namespace nqmd::nequip::training {
namespace {

// What a checkpoint holds besides the model, key by key in the order written: save() and load() both walk this
// one list, with a visitor that writes or reads each field. `State` is TrainingState, const for saving.
template <class State, class Visitor>
void visit_fields(State& state, Visitor& visit) {
  visit.scalar("training/lr", state.adam.lr);
  visit.scalar("training/adam_step", state.adam.step);
  visit.scalar("training/ema_updates", state.ema.updates);
  for (std::size_t k = 0; k < state.parameter_names.size(); ++k) {
    const std::string& name = state.parameter_names[k];
    visit.tensor("training/adam_m/" + name, state.adam.exp_avg[k]);
    visit.tensor("training/adam_v/" + name, state.adam.exp_avg_sq[k]);
    visit.tensor("training/adam_vmax/" + name, state.adam.max_exp_avg_sq[k]);
    visit.tensor("training/ema/" + name, state.ema.shadow[k]);
  }
  visit.scalar("training/plateau_best", state.plateau.best);
  visit.scalar("training/plateau_bad_epochs", state.plateau.bad_epochs);
  visit.scalar("training/epoch", state.epoch);
  visit.scalar("training/wall", state.wall);
  visit.scalar("training/epochs_without_improvement", state.epochs_without_improvement);
  visit.scalar("training/best_validation_loss", state.best_validation_loss);
  visit.scalar("training/best_epoch", state.best_epoch);
  visit.random_generator("training/rng", state.rng);
  visit.records("training/records", state.records);
}

// Numbers are stored as float64 arrays of one value; the generator as its text; the records as one row per epoch:
// epoch, wall, learning rate, then the metrics.
struct FieldWriter {
  std::size_t metric_columns;
  std::vector<std::pair<std::string, NpyArray>> arrays;

  template <class Number>
  void scalar(const std::string& key, const Number& value) {
    arrays.emplace_back(key, detail::tensor_array(torch::tensor({static_cast<double>(value)}, torch::kFloat64)));
  }
  void tensor(const std::string& key, const torch::Tensor& value) {
    arrays.emplace_back(key, detail::tensor_array(value));
  }
  void random_generator(const std::string& key, const std::mt19937_64& rng) {
    std::ostringstream text;
    text << rng;
    arrays.emplace_back(key, text_array(text.str()));
  }
  void records(const std::string& key, const std::vector<EpochRecord>& records) {
    const std::size_t width = metric_columns + 3;
    std::vector<double> values;
    for (const auto& r : records) {
      values.push_back(r.epoch);
      values.push_back(r.wall);
      values.push_back(r.learning_rate);
      values.insert(values.end(), r.values.begin(), r.values.end());
    }
    NpyArray array = detail::tensor_array(torch::tensor(values, torch::kFloat64));
    array.shape = {records.size(), width};
    arrays.emplace_back(key, array);
  }
};

struct FieldReader {
  const NpzFile& file;
  std::string where;
  std::size_t metric_columns;

  template <class Number>
  void scalar(const std::string& key, Number& value) {
    value = static_cast<Number>(file.get(key).to_double().at(0));
  }
  void tensor(const std::string& key, torch::Tensor& value) { value = detail::array_tensor(file.get(key), where); }
  void random_generator(const std::string& key, std::mt19937_64& rng) {
    std::istringstream(file.get(key).text()) >> rng;
  }
  void records(const std::string& key, std::vector<EpochRecord>& records) {
    const NpyArray& array = file.get(key);
    const std::vector<double> values = array.to_double();
    const std::size_t width = array.shape.size() == 2 ? array.shape[1] : 0;
    if (width != metric_columns + 3)
      throw InputError(where + " was written with other settings (metric columns differ)");
    records.clear();
    for (std::size_t r = 0; r < array.shape[0]; ++r) {
      EpochRecord record;
      record.epoch = static_cast<int>(values[r * width]);
      record.wall = values[r * width + 1];
      record.learning_rate = values[r * width + 2];
      record.values.assign(values.begin() + static_cast<std::ptrdiff_t>(r * width + 3),
                           values.begin() + static_cast<std::ptrdiff_t>((r + 1) * width));
      records.push_back(record);
    }
  }
};

}  // namespace

TrainingState::TrainingState(const TrainingSettings& s, std::vector<std::string> names,
                             const std::vector<torch::Tensor>& params, std::size_t columns)
    : parameter_names(std::move(names)),
      metric_columns(columns),
      rng(s.shuffle_seed),
      best_validation_loss(std::numeric_limits<double>::infinity()) {
  adam.lr = s.learning_rate;
  adam.beta1 = s.beta1;
  adam.beta2 = s.beta2;
  adam.eps = s.epsilon;
  adam.weight_decay = s.weight_decay;
  adam.amsgrad = s.amsgrad;
  adam.init(params);
  ema.decay = s.ema_decay;
  ema.use_num_updates = s.ema_use_num_updates;
  ema.init(params);
  plateau.patience = s.scheduler_patience;
  plateau.factor = s.scheduler_factor;
  plateau.min_lr = s.scheduler_min_lr;
}

void TrainingState::save(const NequipModel& model, const std::string& path) const {
  FieldWriter writer{metric_columns, {}};
  visit_fields(*this, writer);
  model.save(path, writer.arrays);
}

void TrainingState::load(const std::string& path) {
  const NpzFile file(path);
  FieldReader reader{file, "checkpoint '" + path + "'", metric_columns};
  visit_fields(*this, reader);
}

}  // namespace nqmd::nequip::training
