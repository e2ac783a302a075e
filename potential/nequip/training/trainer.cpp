#include "potential/nequip/training/trainer.hpp"

#include <torch/torch.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <optional>

#include <fmt/format.h>

#include "engine/error.hpp"
#include "io/atomic_file.hpp"
#include "potential/nequip/detail/nequip_model_impl.hpp"
#include "potential/nequip/nequip_model.hpp"
#include "potential/nequip/training/data_split.hpp"
#include "potential/nequip/training/detail/batch_impl.hpp"
#include "potential/nequip/training/detail/training_state_impl.hpp"
#include "potential/nequip/training/metrics.hpp"
#include "potential/nequip/training/model_setup.hpp"

namespace nqmd::nequip {
namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;
using Log = std::function<void(const std::string&)>;
using training::Batch;
using training::DataSplit;
using training::EpochMetrics;
using training::FrameTensors;
using training::TrainingState;

const char* const kCheckpointFile = "checkpoint.npz";
const char* const kBestModelFile = "best_model.npz";
const char* const kMetricsFile = "metrics_epoch.csv";

// The files a training writes into its directory.
struct OutputPaths {
  explicit OutputPaths(const std::string& directory)
      : checkpoint((fs::path(directory) / kCheckpointFile).string()),
        best_model((fs::path(directory) / kBestModelFile).string()),
        last_model((fs::path(directory) / "last_model.npz").string()),
        metrics_csv((fs::path(directory) / kMetricsFile).string()),
        test_errors((fs::path(directory) / "test_errors.txt").string()) {}
  std::string checkpoint, best_model, last_model, metrics_csv, test_errors;
};

// The model a resumed training (its checkpoint) or a fine-tuning starts from, none for a new model; sets
// `type_names` to its types.
std::optional<NequipModel> initial_model(const TrainingSettings& s, const OutputPaths& paths,
                                         std::vector<std::string>& type_names) {
  std::optional<NequipModel> initial;
  if (s.resume) {
    if (!fs::exists(paths.checkpoint))
      throw InputError("--resume: no checkpoint '" + paths.checkpoint + "' (start without --resume)");
    initial.emplace(paths.checkpoint);
  } else if (!s.initial_model.empty()) {
    initial.emplace(s.initial_model);
  }
  if (initial) type_names = initial->metadata().type_names;
  return initial;
}

// The frames of the training, split and checked; `type_names` as load_and_split sets them.
DataSplit load_checked_split(const TrainingSettings& s, double r_max, std::vector<std::string>& type_names) {
  DataSplit split = training::load_and_split(s, r_max, type_names);
  training::check_labels(split.train, s, "training");
  training::check_labels(split.validation, s, "validation");
  training::check_species_are_trained(split, type_names);
  return split;
}

// The network's trainable parameters (gradients switched on) and their names.
struct Parameters {
  explicit Parameters(const detail::NequipNetwork& network) {
    for (auto& [name, tensor] : network.trainable_parameters()) {
      tensor.requires_grad_(true);
      tensors.push_back(tensor);
      names.push_back(name);
    }
  }
  std::vector<torch::Tensor> tensors;
  std::vector<std::string> names;
};

// The epochs of a training: each trains on the shuffled training frames in batches, validates with the averaged
// weights, saves the best and the last model, the checkpoint and the metrics, and may stop the training.
class EpochLoop {
 public:
  EpochLoop(const TrainingSettings& s, const OutputPaths& paths, const DataSplit& split, NequipModel& model,
            const std::vector<std::string>& type_names, const Log& log)
      : s_(s),
        paths_(paths),
        model_(model),
        network_(model.network()),
        type_names_(type_names),
        log_(log),
        stress_(s.stress_weight > 0),
        scale_(network_.global_scale()),
        parameters_(network_),
        train_frames_(training::frame_tensors(split.train)),
        validation_batches_(training::fixed_batches(training::frame_tensors(split.validation),
                                                    static_cast<std::size_t>(s.validation_batch_size))),
        columns_(training::metric_columns(type_names, stress_)),
        state_(s, parameters_.names, parameters_.tensors, columns_.size()),
        table_(columns_) {}

  // Continues from the checkpoint (the model's weights are already its own).
  void resume() {
    state_.load(paths_.checkpoint);
    log_(fmt::format("resumed from '{}' after epoch {}", paths_.checkpoint, state_.epoch));
  }

  // Runs epochs until a stop criterion; `start`: when this run of the training began. Returns why it stopped.
  std::string run(Clock::time_point start) {
    for (const std::string& line : table_.header()) log_(line);
    for (const EpochRecord& record : state_.records) log_(table_.row(record));
    const double wall_before = state_.wall;  // of earlier runs of a resumed training
    auto wall = [&] { return wall_before + std::chrono::duration<double>(Clock::now() - start).count(); };
    std::string stop_reason = "max_epochs";
    while (state_.epoch < s_.max_epochs) {
      if (s_.max_wall_time > 0 && wall() >= s_.max_wall_time) {
        stop_reason = "max_wall_time";
        break;
      }
      ++state_.epoch;
      EpochRecord record;
      record.epoch = state_.epoch;
      const EpochMetrics train_metrics = train_epoch();
      record.learning_rate = state_.adam.lr;
      double validation_loss = 0.0;
      const EpochMetrics validation_metrics = validate_and_save_models(validation_loss);
      record.values = training::metric_values(train_metrics, validation_metrics, type_names_, stress_);
      if (s_.scheduler == "plateau") state_.adam.lr = state_.plateau.step(validation_loss, state_.adam.lr);
      record.wall = wall();
      state_.records.push_back(record);
      state_.wall = record.wall;
      state_.save(model_, paths_.checkpoint);
      training::write_metrics_csv(paths_.metrics_csv, columns_, state_.records);
      log_(table_.row(record));
      if (s_.early_stopping_patience > 0 && state_.epochs_without_improvement >= s_.early_stopping_patience)
        return fmt::format("no better validation loss for {} epochs", s_.early_stopping_patience);
      if (s_.stop_learning_rate > 0 && state_.adam.lr < s_.stop_learning_rate)
        return fmt::format("learning rate {} below {}", state_.adam.lr, s_.stop_learning_rate);
    }
    if (state_.records.empty()) training::write_metrics_csv(paths_.metrics_csv, columns_, state_.records);
    return stop_reason;
  }

  // The report of the epochs so far.
  TrainingReport report(const std::string& stop_reason) const {
    TrainingReport report;
    report.columns = columns_;
    report.epochs = state_.records;
    report.best_epoch = state_.best_epoch;
    report.best_validation_loss = state_.best_validation_loss;
    report.stop_reason = stop_reason;
    report.best_model = paths_.best_model;
    report.last_model = paths_.last_model;
    report.metrics_csv = paths_.metrics_csv;
    return report;
  }

 private:
  // One pass over the shuffled training frames, a step of the optimiser per batch.
  EpochMetrics train_epoch() {
    std::vector<std::int64_t> order(train_frames_.size());
    for (std::size_t k = 0; k < order.size(); ++k) order[k] = static_cast<std::int64_t>(k);
    if (s_.shuffle) std::shuffle(order.begin(), order.end(), state_.rng);
    EpochMetrics metrics;
    metrics.species_forces.resize(type_names_.size());
    const auto batch_size = static_cast<std::size_t>(s_.batch_size);
    const std::size_t batches = (order.size() + batch_size - 1) / batch_size;
    const training::ProgressBar bar(s_.progress, state_.epoch, batches);
    const std::vector<torch::Tensor>& params = parameters_.tensors;
    for (std::size_t b = 0; b < batches; ++b) {
      const Batch batch =
          training::make_batch(train_frames_, order, b * batch_size, std::min((b + 1) * batch_size, order.size()));
      const training::LossTerms loss = training::batch_loss(network_, batch, s_, scale_, stress_, true, metrics);
      std::vector<torch::Tensor> grads = torch::autograd::grad({loss.total}, params, {}, false, false, true);
      for (std::size_t k = 0; k < grads.size(); ++k)
        if (!grads[k].defined()) grads[k] = torch::zeros_like(params[k]);
      if (s_.max_gradient_norm > 0) training::clip_gradient_norm(grads, s_.max_gradient_norm);
      const double batch_loss_value = loss.total.item<double>();
      if (!std::isfinite(batch_loss_value))
        throw InputError(fmt::format("training diverged in epoch {} (loss {}); lower [optimizer] learning_rate",
                                     state_.epoch, batch_loss_value));
      state_.adam.update(params, grads);
      state_.ema.update(params);
      bar.update(b + 1, metrics.loss / metrics.batches);
    }
    bar.finish();
    return metrics;
  }

  // The validation frames with the averaged weights, which are also the weights the best and the last model files
  // get; sets `validation_loss`.
  EpochMetrics validate_and_save_models(double& validation_loss) {
    EpochMetrics metrics;
    metrics.species_forces.resize(type_names_.size());
    const training::AveragedWeights averaged(parameters_.tensors, state_.ema);
    for (const Batch& batch : validation_batches_)
      training::batch_loss(network_, batch, s_, scale_, stress_, false, metrics);
    validation_loss = metrics.loss / std::max(metrics.batches, 1.0);
    if (validation_loss < state_.best_validation_loss) {
      state_.best_validation_loss = validation_loss;
      state_.best_epoch = state_.epoch;
      state_.epochs_without_improvement = 0;
      model_.save(paths_.best_model);
    } else {
      ++state_.epochs_without_improvement;
    }
    model_.save(paths_.last_model);
    return metrics;
  }

  const TrainingSettings& s_;
  const OutputPaths& paths_;
  NequipModel& model_;
  const detail::NequipNetwork& network_;
  const std::vector<std::string>& type_names_;
  const Log& log_;
  const bool stress_;   // the stress is trained
  const double scale_;  // the model's global scale: labels in its internal units are divided by it
  Parameters parameters_;
  std::vector<FrameTensors> train_frames_;
  std::vector<Batch> validation_batches_;
  std::vector<std::string> columns_;
  TrainingState state_;
  training::EpochTable table_;
};

// The errors of the best model on the test frames, as table lines; also written to test_errors.txt.
std::vector<std::string> test_best_model(const TrainingSettings& s, const OutputPaths& paths,
                                         const std::vector<TrainingFrame>& test, int best_epoch,
                                         const std::vector<std::string>& type_names, const Log& log) {
  NequipModel best(paths.best_model);
  const std::vector<FrameTensors> test_frames = training::frame_tensors(test);
  EpochMetrics metrics;
  metrics.species_forces.resize(type_names.size());
  bool any_virial = false;
  for (const auto& f : test) any_virial = any_virial || (f.virial && f.volume > 0);
  for (const Batch& batch : training::fixed_batches(test_frames, static_cast<std::size_t>(s.validation_batch_size)))
    training::batch_loss(best.network(), batch, s, best.network().global_scale(), any_virial, false, metrics);
  const std::vector<std::string> table = training::test_table(metrics, test.size(), best_epoch, type_names, any_virial);
  replace_file_atomically(paths.test_errors, [&](const std::string& temporary) {
    std::ofstream out(temporary);
    for (const auto& line : table) out << line << '\n';
    out.close();
    if (!out) throw InputError("cannot write '" + temporary + "'");
  });
  for (const auto& line : table) log(line);
  return table;
}

}  // namespace

std::size_t TrainingReport::metrics_csv_column(const std::string& name) const {
  for (std::size_t k = 0; k < columns.size(); ++k)
    if (columns[k] == name) return k + 4;  // epoch, wall_s, lr come first
  return 0;
}

std::string earlier_training_file(const std::string& directory) {
  for (const char* name : {kCheckpointFile, kBestModelFile, kMetricsFile})
    if (fs::exists(fs::path(directory) / name)) return name;
  return "";
}

std::vector<std::string> training_output_files(const std::string& directory) {
  const OutputPaths paths(directory);
  return {paths.checkpoint, paths.best_model, paths.last_model, paths.metrics_csv, paths.test_errors};
}

namespace {

// The settings of this run of the training: --resume of a training killed before its first checkpoint (its
// directory holds at most the models of an unfinished first epoch) starts it over, which gives the same models.
TrainingSettings settings_of_this_run(const TrainingSettings& requested, const OutputPaths& paths,
                                      const std::function<void(const std::string&)>& log) {
  TrainingSettings s = requested;
  if (s.resume && !fs::exists(paths.checkpoint) && !earlier_training_file(s.directory).empty()) {
    log(fmt::format("--resume: no checkpoint '{}' yet (the training stopped before its first epoch ended); it "
                    "starts from the beginning",
                    paths.checkpoint));
    s.resume = false;
  }
  return s;
}

}  // namespace

TrainingReport train_nequip(const TrainingSettings& requested, const std::function<void(const std::string&)>& log) {
  if (!(requested.learning_rate > 0)) throw InputError("[optimizer] learning_rate must be > 0");
  if (requested.threads > 0) torch::set_num_threads(requested.threads);
  const Clock::time_point start = Clock::now();
  fs::create_directories(requested.directory);
  const OutputPaths paths(requested.directory);
  const TrainingSettings s = settings_of_this_run(requested, paths, log);

  // Model types: the initial model's, the given species, or every species of the data by atomic number.
  std::vector<std::string> type_names = s.species;
  std::optional<NequipModel> initial = initial_model(s, paths, type_names);
  const double r_max = initial ? initial->metadata().r_max : s.r_max;
  const DataSplit split = load_checked_split(s, r_max, type_names);

  std::vector<std::string> notes;
  std::string type_list;
  for (const auto& t : type_names) type_list += (type_list.empty() ? "" : " ") + t;
  notes.push_back("types: " + type_list);
  notes.push_back(fmt::format("frames: {} training, {} validation, {} test", split.train.size(),
                              split.validation.size(), split.test.size()));
  notes.insert(notes.end(), split.notes.begin(), split.notes.end());
  NequipModel model = training::model_to_train(s, std::move(initial), split, type_names, notes);
  for (const auto& n : notes) log(n);
  if (s.stress_weight > 0 && !model.network().stress_output() && (s.resume || !s.initial_model.empty()))
    log("note: the initial model has no stress output; the stress is trained through the strain derivative");

  EpochLoop epochs(s, paths, split, model, type_names, log);
  if (s.resume) epochs.resume();
  const std::string stop_reason = epochs.run(start);
  TrainingReport report = epochs.report(stop_reason);
  log(fmt::format("stopped: {}; best validation loss {:.6g} at epoch {} -> {}", report.stop_reason,
                  report.best_validation_loss, report.best_epoch, paths.best_model));
  if (!split.test.empty())
    report.test_table = test_best_model(s, paths, split.test, report.best_epoch, type_names, log);
  return report;
}

}  // namespace nqmd::nequip
