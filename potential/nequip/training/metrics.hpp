#pragma once
// What a training reports: the metrics of an epoch by name (the columns of metrics_epoch.csv), that file, the
// epoch table and the test-set table of the log, the progress bar. Torch-free.
#include <cstddef>
#include <string>
#include <utility>
#include <vector>

#include "potential/nequip/training/error_sums.hpp"
#include "potential/nequip/training/trainer.hpp"

namespace nqmd::nequip::training {

// A number as metrics_epoch.csv writes it: 6 significant digits, "nan" for NaN.
std::string format_number(double value);

// One pass over a set: loss sums over its batches (model units) and errors in eV/atom, eV/A, eV/A^3.
struct EpochMetrics {
  double loss = 0.0, loss_f = 0.0, loss_e = 0.0, loss_s = 0.0;
  double batches = 0.0;
  ErrorSums energy, forces, stress;
  std::vector<ErrorSums> species_forces;  // by type
};

// One set's columns of the per-epoch record, by name (prefix `set`: "train" or "val"), in CSV order.
std::vector<std::pair<std::string, double>> named_metrics(const std::string& set, const EpochMetrics& metrics,
                                                          const std::vector<std::string>& type_names, bool stress);

// The names of TrainingReport::columns: the training set's metrics, then the validation set's.
std::vector<std::string> metric_columns(const std::vector<std::string>& type_names, bool stress);

// The values of an EpochRecord, in the order of metric_columns.
std::vector<double> metric_values(const EpochMetrics& train, const EpochMetrics& validation,
                                  const std::vector<std::string>& type_names, bool stress);

// Rewrites metrics_epoch.csv at `path` whole (atomically): a comment, the header, a row per epoch.
void write_metrics_csv(const std::string& path, const std::vector<std::string>& columns,
                       const std::vector<EpochRecord>& epochs);

// The log's table of epochs: its two header lines, and the row of one epoch.
class EpochTable {
 public:
  explicit EpochTable(const std::vector<std::string>& columns);
  std::vector<std::string> header() const;
  std::string row(const EpochRecord& record) const;

 private:
  std::size_t train_loss_, val_loss_, val_energy_mae_, val_force_mae_;  // indices into EpochRecord::values
};

// The lines of the test-set table of `metrics` (errors of the best model, from epoch `best_epoch`).
std::vector<std::string> test_table(const EpochMetrics& metrics, std::size_t frames, int best_epoch,
                                    const std::vector<std::string>& type_names, bool stress);

// The progress of an epoch's batches on stderr, when enabled and stderr is a terminal.
class ProgressBar {
 public:
  ProgressBar(bool enabled, int epoch, std::size_t batches);
  void update(std::size_t done, double running_loss) const;
  void finish() const;

 private:
  bool enabled_;
  int epoch_;
  std::size_t batches_;
};

}  // namespace nqmd::nequip::training
