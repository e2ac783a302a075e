#pragma once
// `nequip-md train`: fits a NequIP model (nequip 0.6.2 architecture) to labelled frames with nequip's recipe:
// data-set normalisation (avg_num_neighbors, per-species energy shifts and force scales, global force-RMS
// scale), loss = weighted force MSE + per-atom energy MSE + stress MSE in the model's internal units, Adam or
// AMSGrad, ReduceLROnPlateau, an exponential moving average of the weights (used for validation and saving),
// gradient clipping, batches of frames as one disjoint graph, and checkpoints that resume exactly.
// docs/training.md. Torch-free header.
//
// The pieces, in training/: data_split (frames and their split), model_setup (new model and its normalisation),
// detail/batch_impl (batches, the loss), detail/optimizer_impl (Adam, EMA, plateau schedule),
// detail/training_state_impl (what a checkpoint holds, saved and loaded), metrics (metrics_epoch.csv, the log's
// tables), trainer.cpp (the steps of train_nequip and the epoch loop).
#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "potential/nequip/training/dataset.hpp"

namespace nqmd::nequip {

struct TrainingSettings {
  // --- data
  std::vector<std::string> files;             // frames to split into training/validation/test
  std::vector<std::string> validation_files;  // explicit validation frames (then n_val/val_fraction unused)
  std::vector<std::string> test_files;        // explicit test frames
  LabelKeys keys;
  std::vector<std::string> species;           // chemical symbols in type order; empty: by atomic number
  // Split of `files` after nequip's permutation (dataset_seed): training = its first n_train frames, validation =
  // the next n_val (as nequip), test = its last n_test (the same test frames whatever n_train is). Counts, or
  // fractions when the count is < 0.
  std::int64_t n_train = -1, n_val = -1, n_test = 0;
  double train_fraction = -1.0, val_fraction = -1.0, test_fraction = 0.0;
  std::uint64_t split_seed = 456;
  // Split by groups instead (split_key not empty, then no n_val, n_test, their fractions, validation_files or
  // test_files): frames whose info value of split_key is in validation_groups / test_groups validate / test, in
  // file order; the others are the training pool, taken in nequip's permutation of the pool (its first n_train,
  // or train_fraction of it, or all).
  std::string split_key;
  std::vector<std::string> validation_groups, test_groups;

  // --- model
  std::string model_config;   // nequip config keys as YAML (architecture only)
  double r_max = 4.0;
  double avg_num_neighbors = -1.0;  // < 0: from the training data ("auto")
  // "dataset_per_species_forces_rms", "dataset_forces_rms", "none"
  std::string per_species_scales = "dataset_per_species_forces_rms";
  // "dataset_per_species_total_energy_mean", "dataset_per_atom_total_energy_mean", "none"
  std::string per_species_shifts = "dataset_per_species_total_energy_mean";
  // "dataset_forces_rms", "dataset_total_energy_std", "none"
  std::string global_scale = "dataset_forces_rms";
  std::uint64_t model_seed = 123;
  std::string initial_model;  // fine-tune from this native model file or nequip-deploy .pth

  // --- loss (coefficients of the MSEs)
  double force_weight = 1.0, energy_weight = 1.0, stress_weight = 0.0;

  // --- optimiser
  double learning_rate = 0.01;
  bool amsgrad = false;
  double beta1 = 0.9, beta2 = 0.999, epsilon = 1e-8, weight_decay = 0.0;
  double max_gradient_norm = 0.0;  // <= 0: no clipping
  double ema_decay = 0.99;         // 0: no moving average
  bool ema_use_num_updates = true;
  // ReduceLROnPlateau on the validation loss ("none" or "plateau").
  std::string scheduler = "none";
  int scheduler_patience = 10;
  double scheduler_factor = 0.5;
  double scheduler_min_lr = 0.0;

  // --- loop
  int batch_size = 5, validation_batch_size = 20;
  int max_epochs = 100;
  double max_wall_time = 0.0;           // s; 0: unlimited
  int early_stopping_patience = 0;      // epochs without a better validation loss; 0: off
  double stop_learning_rate = 0.0;      // stop once the learning rate falls below this
  std::uint64_t shuffle_seed = 123;
  bool shuffle = true;
  int threads = 0;                      // torch intra-op threads; 0: OMP_NUM_THREADS or torch's default

  // --- output
  std::string directory = "training";
  bool resume = false;
  bool progress = true;                 // progress bar on a terminal
};

struct EpochRecord {
  int epoch = 0;
  double wall = 0.0;  // cumulative seconds
  double learning_rate = 0.0;
  std::vector<double> values;  // in the order of TrainingReport::columns
};

// metrics_epoch.csv: a comment line, the header (epoch, wall_s, lr, then TrainingReport::columns), a row per epoch.
constexpr int kMetricsCsvHeaderLines = 2;

struct TrainingReport {
  std::vector<std::string> columns;  // CSV header names after epoch, wall_s, lr
  std::vector<EpochRecord> epochs;
  int best_epoch = 0;
  double best_validation_loss = 0.0;
  std::string stop_reason;
  std::string best_model, last_model, metrics_csv;
  std::vector<std::string> test_table;  // lines of the test-set error table (empty without test frames)

  // The column of metric `name` in metrics_epoch.csv, counted from 1 (as gnuplot counts); 0 if there is none.
  std::size_t metrics_csv_column(const std::string& name) const;
};

// The first file of an earlier training in `directory` that a new training would replace (checkpoint.npz,
// best_model.npz or metrics_epoch.csv), or "" if there is none.
std::string earlier_training_file(const std::string& directory);

// Every file train_nequip writes into `directory` (the model files, checkpoint.npz first, and the logs).
std::vector<std::string> training_output_files(const std::string& directory);

// Runs the training; InputError (one line) for bad data or settings. Writes into settings.directory:
// metrics_epoch.csv, best_model.npz, last_model.npz, checkpoint.npz, and test_errors.txt with test frames.
// `log` receives the lines to print (the epoch table, the final summary).
TrainingReport train_nequip(const TrainingSettings& settings, const std::function<void(const std::string&)>& log);

}  // namespace nqmd::nequip
