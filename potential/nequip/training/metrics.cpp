#include "potential/nequip/training/metrics.hpp"

#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <fstream>

#include <fmt/format.h>

#include "engine/error.hpp"
#include "io/atomic_file.hpp"

namespace nqmd::nequip::training {

std::string format_number(double v) { return std::isnan(v) ? "nan" : fmt::format("{:.6g}", v); }

std::vector<std::pair<std::string, double>> named_metrics(const std::string& set, const EpochMetrics& m,
                                                          const std::vector<std::string>& type_names, bool stress) {
  const double n = std::max(m.batches, 1.0);
  std::vector<std::pair<std::string, double>> values{{set + "_loss", m.loss / n},
                                                     {set + "_loss_f", m.loss_f / n},
                                                     {set + "_loss_e", m.loss_e / n}};
  if (stress) values.emplace_back(set + "_loss_s", m.loss_s / n);
  values.emplace_back(set + "_e_mae_meV_atom", m.energy.mae() * 1e3);
  values.emplace_back(set + "_e_rmse_meV_atom", m.energy.rmse() * 1e3);
  values.emplace_back(set + "_f_mae_meV_A", m.forces.mae() * 1e3);
  values.emplace_back(set + "_f_rmse_meV_A", m.forces.rmse() * 1e3);
  for (std::size_t t = 0; t < type_names.size(); ++t) {
    const double mae = t < m.species_forces.size() ? m.species_forces[t].mae() * 1e3 : std::nan("");
    values.emplace_back(set + "_f_mae_" + type_names[t] + "_meV_A", mae);
  }
  if (stress) {
    values.emplace_back(set + "_s_mae_meV_A3", m.stress.mae() * 1e3);
    values.emplace_back(set + "_s_rmse_meV_A3", m.stress.rmse() * 1e3);
  }
  return values;
}

std::vector<std::string> metric_columns(const std::vector<std::string>& type_names, bool stress) {
  std::vector<std::string> columns;
  for (const std::string set : {"train", "val"})
    for (const auto& [name, value] : named_metrics(set, EpochMetrics{}, type_names, stress)) columns.push_back(name);
  return columns;
}

std::vector<double> metric_values(const EpochMetrics& train, const EpochMetrics& validation,
                                  const std::vector<std::string>& type_names, bool stress) {
  std::vector<double> values;
  for (const auto& [set, metrics] : {std::pair{"train", &train}, std::pair{"val", &validation}})
    for (const auto& [name, value] : named_metrics(set, *metrics, type_names, stress)) values.push_back(value);
  return values;
}

void write_metrics_csv(const std::string& path, const std::vector<std::string>& columns,
                       const std::vector<EpochRecord>& epochs) {
  replace_file_atomically(path, [&](const std::string& temporary) {
    std::ofstream out(temporary);
    out << "# nequip-md train: per-epoch metrics. wall_s: cumulative seconds; losses in the model's internal units "
           "(nequip's); energies meV/atom, forces meV/A, stress meV/A^3; train_*: during the epoch with the weights "
           "being trained, val_*: after it with the averaged (EMA) weights\n";
    out << "epoch,wall_s,lr";
    for (const auto& c : columns) out << ',' << c;
    out << '\n';
    for (const auto& r : epochs) {
      out << r.epoch << ',' << fmt::format("{:.3f}", r.wall) << ',' << format_number(r.learning_rate);
      for (double v : r.values) out << ',' << format_number(v);
      out << '\n';
    }
    out.close();
    if (!out) throw InputError("cannot write '" + temporary + "'");
  });
}

EpochTable::EpochTable(const std::vector<std::string>& columns) {
  auto column = [&](const std::string& name) {
    return static_cast<std::size_t>(std::find(columns.begin(), columns.end(), name) - columns.begin());
  };
  train_loss_ = column("train_loss");
  val_loss_ = column("val_loss");
  val_energy_mae_ = column("val_e_mae_meV_atom");
  val_force_mae_ = column("val_f_mae_meV_A");
}

std::vector<std::string> EpochTable::header() const {
  return {fmt::format("{:>5} {:>9} {:>9} {:>12} {:>12} {:>14} {:>14}", "epoch", "wall_s", "lr", "train_loss",
                      "val_loss", "val_E_MAE", "val_F_MAE"),
          fmt::format("{:>5} {:>9} {:>9} {:>12} {:>12} {:>14} {:>14}", "", "s", "", "(internal)", "(internal)",
                      "meV/atom", "meV/A")};
}

std::string EpochTable::row(const EpochRecord& r) const {
  return fmt::format("{:>5} {:>9.1f} {:>9.3g} {:>12.5g} {:>12.5g} {:>14.4g} {:>14.4g}", r.epoch, r.wall,
                     r.learning_rate, r.values[train_loss_], r.values[val_loss_], r.values[val_energy_mae_],
                     r.values[val_force_mae_]);
}

std::vector<std::string> test_table(const EpochMetrics& m, std::size_t frames, int best_epoch,
                                    const std::vector<std::string>& type_names, bool stress) {
  auto row = [](const std::string& name, const ErrorSums& e, const std::string& unit) {
    return fmt::format("{:<16} {:>12.6g} {:>12.6g}  {}", name, e.mae() * 1e3, e.rmse() * 1e3, unit);
  };
  std::vector<std::string> lines;
  lines.push_back(fmt::format("test set: {} frames, best model (epoch {})", frames, best_epoch));
  lines.push_back(fmt::format("{:<16} {:>12} {:>12}  {}", "quantity", "MAE", "RMSE", "unit"));
  lines.push_back(row("energy", m.energy, "meV/atom"));
  lines.push_back(row("forces", m.forces, "meV/A"));
  for (std::size_t t = 0; t < type_names.size(); ++t)
    lines.push_back(row("forces[" + type_names[t] + "]", m.species_forces[t], "meV/A"));
  if (stress) lines.push_back(row("stress", m.stress, "meV/A^3"));
  return lines;
}

ProgressBar::ProgressBar(bool enabled, int epoch, std::size_t batches)
    : enabled_(enabled && isatty(fileno(stderr))), epoch_(epoch), batches_(batches) {}

void ProgressBar::update(std::size_t done, double running_loss) const {
  if (!enabled_) return;
  const std::size_t width = 30;
  const std::size_t filled = batches_ ? done * width / batches_ : width;
  std::fprintf(stderr, "\repoch %4d [%s%s] %zu/%zu  loss %.5g ", epoch_, std::string(filled, '#').c_str(),
               std::string(width - filled, ' ').c_str(), done, batches_, running_loss);
  std::fflush(stderr);
}

void ProgressBar::finish() const {
  if (enabled_) std::fprintf(stderr, "\r%80s\r", "");
}

}  // namespace nqmd::nequip::training
