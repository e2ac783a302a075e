#include "potential/nequip/training/trainer.hpp"

#include <torch/torch.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <limits>
#include <map>
#include <optional>
#include <random>
#include <sstream>

#include <fmt/format.h>

#include "engine/error.hpp"
#include "potential/nequip/detail/deployed_impl.hpp"
#include "potential/nequip/detail/nequip_model_impl.hpp"
#include "potential/nequip/detail/tensor_npy_impl.hpp"
#include "potential/nequip/nequip_model.hpp"
#include "potential/nequip/training/statistics.hpp"

namespace nqmd::nequip {
namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

const std::string kSpeciesScales = "model.model.func.per_species_rescale.scales";
const std::string kSpeciesShifts = "model.model.func.per_species_rescale.shifts";
const std::string kGlobalScale = "model.scale_by";

// One frame's tensors, built once.
struct FrameTensors {
  torch::Tensor pos, types, edge_index, shifts, cell, forces, virial;
  double energy = 0.0;
  bool has_energy = false, has_forces = false, has_virial = false;
  double volume = 0.0;
  std::int64_t atoms = 0;
};

FrameTensors frame_tensors(const TrainingFrame& frame) {
  const detail::GraphTensors graph = detail::graph_tensors(frame.graph);
  FrameTensors t;
  t.pos = graph.pos;
  t.types = graph.atom_types;
  t.edge_index = graph.edge_index;
  t.shifts = graph.edge_cell_shift;
  t.cell = graph.cell;
  t.atoms = static_cast<std::int64_t>(frame.graph.num_atoms());
  t.has_energy = frame.energy.has_value();
  t.energy = frame.energy.value_or(0.0);
  t.has_forces = frame.forces.has_value();
  t.forces = torch::zeros({t.atoms, 3}, torch::kFloat64);
  if (t.has_forces) {
    auto f = t.forces.accessor<double, 2>();
    for (std::int64_t i = 0; i < t.atoms; ++i)
      for (int k = 0; k < 3; ++k) f[i][k] = (*frame.forces)[static_cast<std::size_t>(i)][k];
  }
  t.has_virial = frame.virial.has_value();
  t.virial = torch::zeros({3, 3}, torch::kFloat64);
  if (t.has_virial) {
    auto v = t.virial.accessor<double, 2>();
    for (int a = 0; a < 3; ++a)
      for (int b = 0; b < 3; ++b) v[a][b] = (*frame.virial)(a, b);
  }
  t.volume = frame.volume;
  return t;
}

// Frames concatenated into one disjoint graph.
struct Batch {
  torch::Tensor pos, types, edge_index, shifts, cells, atom_frame;
  torch::Tensor forces, energy, virial, atoms, volume;  // labels: forces [N,3], energy [B], virial [B,3,3]
  torch::Tensor energy_mask, virial_mask, force_mask;     // which frames (atoms) carry each label
  std::int64_t frames = 0;
};

Batch make_batch(const std::vector<FrameTensors>& all, const std::vector<std::int64_t>& indices, std::size_t begin,
                 std::size_t end) {
  Batch b;
  std::vector<torch::Tensor> pos, types, edges, shifts, cells, frame_of, forces, virials, force_mask;
  std::vector<double> energy, atoms, volume, energy_mask, virial_mask;
  std::int64_t offset = 0;
  for (std::size_t k = begin; k < end; ++k) {
    const FrameTensors& f = all[static_cast<std::size_t>(indices[k])];
    const auto frame = static_cast<std::int64_t>(k - begin);
    pos.push_back(f.pos);
    types.push_back(f.types);
    edges.push_back(f.edge_index + offset);
    shifts.push_back(f.shifts);
    cells.push_back(f.cell);
    frame_of.push_back(torch::full({f.atoms}, frame, torch::kInt64));
    forces.push_back(f.forces);
    force_mask.push_back(torch::full({f.atoms}, f.has_forces ? 1.0 : 0.0, torch::kFloat64));
    virials.push_back(f.virial);
    energy.push_back(f.energy);
    energy_mask.push_back(f.has_energy ? 1.0 : 0.0);
    virial_mask.push_back(f.has_virial && f.volume > 0 ? 1.0 : 0.0);
    atoms.push_back(static_cast<double>(f.atoms));
    volume.push_back(f.volume > 0 ? f.volume : 1.0);
    offset += f.atoms;
  }
  b.frames = static_cast<std::int64_t>(end - begin);
  b.pos = torch::cat(pos);
  b.types = torch::cat(types);
  b.edge_index = torch::cat(edges, 1);
  b.shifts = torch::cat(shifts);
  b.cells = torch::stack(cells);
  b.atom_frame = torch::cat(frame_of);
  b.forces = torch::cat(forces);
  b.force_mask = torch::cat(force_mask);
  b.virial = torch::stack(virials);
  b.energy = torch::tensor(energy, torch::kFloat64);
  b.energy_mask = torch::tensor(energy_mask, torch::kFloat64);
  b.virial_mask = torch::tensor(virial_mask, torch::kFloat64);
  b.atoms = torch::tensor(atoms, torch::kFloat64);
  b.volume = torch::tensor(volume, torch::kFloat64);
  return b;
}

// Frames in their order, in batches of `batch_size` (validation and test sets).
std::vector<Batch> fixed_batches(const std::vector<FrameTensors>& frames, std::size_t batch_size) {
  std::vector<std::int64_t> order(frames.size());
  for (std::size_t k = 0; k < order.size(); ++k) order[k] = static_cast<std::int64_t>(k);
  std::vector<Batch> batches;
  for (std::size_t b = 0; b < order.size(); b += batch_size)
    batches.push_back(make_batch(frames, order, b, std::min(b + batch_size, order.size())));
  return batches;
}

// Sums for MAE and RMSE.
struct ErrorSums {
  double absolute = 0.0, squared = 0.0, count = 0.0;
  void add(const torch::Tensor& differences, const torch::Tensor& mask) {
    absolute += (differences.abs() * mask).sum().item<double>();
    squared += (differences.square() * mask).sum().item<double>();
    count += mask.expand_as(differences).sum().item<double>();
  }
  double mae() const { return count > 0 ? absolute / count : std::nan(""); }
  double rmse() const { return count > 0 ? std::sqrt(squared / count) : std::nan(""); }
};

struct EpochMetrics {
  double loss = 0.0, loss_f = 0.0, loss_e = 0.0, loss_s = 0.0;
  double batches = 0.0;
  ErrorSums energy, forces, stress;  // eV/atom, eV/A, eV/A^3
  std::vector<ErrorSums> species_forces;
};

struct LossTerms {
  torch::Tensor total, forces, energy, stress;
};

// nequip's loss in the model's internal units (labels divided by the global scale `scale`): force MSE per
// component, per-atom energy MSE, stress MSE per component; adds the errors in physical units to `metrics`.
LossTerms batch_loss(const detail::NequipNetwork& network, const Batch& b, const TrainingSettings& s, double scale,
                     bool want_virial, bool create_graph, EpochMetrics& metrics) {
  const auto out = network.forward_batch(b.pos, b.types, b.edge_index, b.shifts, b.cells, b.atom_frame, b.frames,
                                         want_virial, create_graph);
  LossTerms loss;
  const torch::Tensor zero = torch::zeros({}, torch::kFloat64);
  // Forces.
  const torch::Tensor force_error = out.forces - b.forces / scale;
  const torch::Tensor atom_mask = b.force_mask.unsqueeze(1);
  const double force_count = 3.0 * b.force_mask.sum().item<double>();
  loss.forces = force_count > 0 ? (force_error.square() * atom_mask).sum() / force_count : zero;
  // Per-atom energies.
  const torch::Tensor energy_error = (out.energy - b.energy / scale) / b.atoms;
  const double energy_count = b.energy_mask.sum().item<double>();
  loss.energy = energy_count > 0 ? (energy_error.square() * b.energy_mask).sum() / energy_count : zero;
  // Stress = -virial / V.
  torch::Tensor stress_error;
  loss.stress = zero;
  if (want_virial) {
    const torch::Tensor volume = b.volume.reshape({-1, 1, 1});
    stress_error = (-out.virial + b.virial / scale) / volume;
    const double stress_count = 9.0 * b.virial_mask.sum().item<double>();
    if (stress_count > 0)
      loss.stress = (stress_error.square() * b.virial_mask.reshape({-1, 1, 1})).sum() / stress_count;
  }
  loss.total = s.force_weight * loss.forces + s.energy_weight * loss.energy + s.stress_weight * loss.stress;

  torch::NoGradGuard no_grad;
  metrics.loss += loss.total.item<double>();
  metrics.loss_f += loss.forces.item<double>();
  metrics.loss_e += loss.energy.item<double>();
  metrics.loss_s += loss.stress.item<double>();
  metrics.batches += 1.0;
  const torch::Tensor force_diff = force_error.detach() * scale;
  metrics.forces.add(force_diff, atom_mask);
  for (std::size_t t = 0; t < metrics.species_forces.size(); ++t)
    metrics.species_forces[t].add(force_diff, atom_mask * (b.types == static_cast<std::int64_t>(t)).unsqueeze(1));
  metrics.energy.add(energy_error.detach() * scale, b.energy_mask);
  if (want_virial) metrics.stress.add(stress_error.detach() * scale, b.virial_mask.reshape({-1, 1, 1}));
  return loss;
}

// Adam / AMSGrad as torch.optim.Adam (1.13, single-tensor path) computes it.
struct Adam {
  double lr, beta1, beta2, eps, weight_decay;
  bool amsgrad;
  std::int64_t step = 0;
  std::vector<torch::Tensor> exp_avg, exp_avg_sq, max_exp_avg_sq;

  void init(const std::vector<torch::Tensor>& params) {
    for (const auto& p : params) {
      exp_avg.push_back(torch::zeros_like(p).detach());
      exp_avg_sq.push_back(torch::zeros_like(p).detach());
      max_exp_avg_sq.push_back(torch::zeros_like(p).detach());
    }
  }
  void update(const std::vector<torch::Tensor>& params, const std::vector<torch::Tensor>& grads) {
    torch::NoGradGuard no_grad;
    ++step;
    const double bias1 = 1.0 - std::pow(beta1, static_cast<double>(step));
    const double bias2 = 1.0 - std::pow(beta2, static_cast<double>(step));
    const double step_size = lr / bias1;
    const double bias2_sqrt = std::sqrt(bias2);
    for (std::size_t k = 0; k < params.size(); ++k) {
      torch::Tensor g = grads[k];
      if (weight_decay != 0.0) g = g.add(params[k], weight_decay);
      exp_avg[k].mul_(beta1).add_(g, 1.0 - beta1);
      exp_avg_sq[k].mul_(beta2).addcmul_(g, g, 1.0 - beta2);
      torch::Tensor denom;
      if (amsgrad) {
        torch::maximum_out(max_exp_avg_sq[k], max_exp_avg_sq[k], exp_avg_sq[k]);
        denom = (max_exp_avg_sq[k].sqrt() / bias2_sqrt).add_(eps);
      } else {
        denom = (exp_avg_sq[k].sqrt() / bias2_sqrt).add_(eps);
      }
      params[k].detach().addcdiv_(exp_avg[k], denom, -step_size);
    }
  }
};

// torch_ema's ExponentialMovingAverage as nequip uses it: with use_num_updates the decay is
// min(decay, (1 + n) / (10 + n)) after n updates.
struct MovingAverage {
  double decay = 0.0;
  bool use_num_updates = true;
  std::int64_t updates = 0;
  std::vector<torch::Tensor> shadow;

  bool enabled() const { return decay > 0.0; }
  void init(const std::vector<torch::Tensor>& params) {
    for (const auto& p : params) shadow.push_back(p.detach().clone());
  }
  void update(const std::vector<torch::Tensor>& params) {
    if (!enabled()) return;
    torch::NoGradGuard no_grad;
    ++updates;
    double d = decay;
    if (use_num_updates) d = std::min(d, (1.0 + updates) / (10.0 + updates));
    for (std::size_t k = 0; k < params.size(); ++k) shadow[k].sub_((shadow[k] - params[k].detach()) * (1.0 - d));
  }
};

// The averaged weights in place of the trained ones while alive (validation, saving).
class AveragedWeights {
 public:
  AveragedWeights(const std::vector<torch::Tensor>& params, const MovingAverage& ema) : params_(params) {
    if (!ema.enabled()) return;
    torch::NoGradGuard no_grad;
    for (std::size_t k = 0; k < params.size(); ++k) {
      backup_.push_back(params[k].detach().clone());
      params[k].detach().copy_(ema.shadow[k]);
    }
  }
  ~AveragedWeights() {
    torch::NoGradGuard no_grad;
    for (std::size_t k = 0; k < backup_.size(); ++k) params_[k].detach().copy_(backup_[k]);
  }
  AveragedWeights(const AveragedWeights&) = delete;
  AveragedWeights& operator=(const AveragedWeights&) = delete;

 private:
  std::vector<torch::Tensor> params_;
  std::vector<torch::Tensor> backup_;
};

// torch.optim.lr_scheduler.ReduceLROnPlateau (mode min, relative threshold 1e-4, no cooldown).
struct Plateau {
  double best = std::numeric_limits<double>::infinity();
  std::int64_t bad_epochs = 0;
  double step(double metric, double lr, const TrainingSettings& s) {
    if (metric < best * (1.0 - 1e-4)) {
      best = metric;
      bad_epochs = 0;
    } else {
      ++bad_epochs;
    }
    if (bad_epochs > s.scheduler_patience) {
      const double reduced = std::max(lr * s.scheduler_factor, s.scheduler_min_lr);
      if (lr - reduced > 1e-8) lr = reduced;
      bad_epochs = 0;
    }
    return lr;
  }
};

NpyArray scalar_array(double value) { return detail::tensor_array(torch::tensor({value}, torch::kFloat64)); }

double scalar_of(const NpzFile& file, const std::string& key) { return file.get(key).to_double().at(0); }

// Writes `path` through `write` into PATH.tmp, then renames it over PATH: a reader never sees half a file.
void replace_file(const std::string& path, const std::function<void(const std::string&)>& write) {
  const std::string temporary = path + ".tmp";
  write(temporary);
  std::error_code error;
  fs::rename(temporary, path, error);
  if (error) throw InputError("cannot write '" + path + "': " + error.message());
}

void save_atomically(const NequipModel& model, const std::string& path,
                     const std::vector<std::pair<std::string, NpyArray>>& extra = {}) {
  replace_file(path, [&](const std::string& temporary) { model.save(temporary, extra); });
}

std::string format_number(double v) { return std::isnan(v) ? "nan" : fmt::format("{:.6g}", v); }

// Frames of the pool chosen by the split, or the frames of explicit files.
struct Split {
  std::vector<TrainingFrame> train, validation, test;
};

std::int64_t count_of(std::int64_t count, double fraction, std::int64_t total) {
  if (count >= 0) return count;
  if (fraction >= 0) return static_cast<std::int64_t>(std::floor(fraction * static_cast<double>(total)));
  return -1;
}

Split load_and_split(const TrainingSettings& s, double r_max, std::vector<std::string>& type_names) {
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
  Split split;
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

// The architecture keys plus those training decides, as the config of the model file.
std::string model_config(const TrainingSettings& s, const std::vector<std::string>& type_names,
                         double avg_num_neighbors) {
  std::string yaml = s.model_config;
  if (!yaml.empty() && yaml.back() != '\n') yaml += '\n';
  yaml += fmt::format("r_max: {}\n", s.r_max);
  yaml += fmt::format("avg_num_neighbors: {:.17g}\n", avg_num_neighbors);
  yaml += "model_builders:\n- SimpleIrrepsConfig\n- EnergyModel\n- PerSpeciesRescale\n";
  yaml += s.stress_weight > 0 ? "- StressForceOutput\n" : "- ForceOutput\n";
  yaml += "- RescaleEnergyEtc\n";
  yaml += "model_dtype: float64\ndefault_dtype: float64\n";
  yaml += fmt::format("seed: {}\n", s.model_seed);
  yaml += "type_names:\n";
  for (const auto& t : type_names) yaml += "- " + t + "\n";
  yaml += "chemical_symbols:\n";
  for (const auto& t : type_names) yaml += "- " + t + "\n";
  return yaml;
}

// Data-derived scales and shifts, in the model's units (nequip divides per-species values given in data units by
// the global scale: PerSpeciesScaleShift's arguments_in_dataset_units).
std::map<std::string, std::vector<double>> normalisation(const TrainingSettings& s, const DatasetStatistics& stats,
                                                         std::size_t types, std::vector<std::string>& notes) {
  double global = 1.0;
  if (s.global_scale == "dataset_forces_rms") {
    global = stats.forces_rms;
  } else if (s.global_scale == "dataset_total_energy_std") {
    global = stats.total_energy_std;
  }
  if (!(global > 1e-6))
    throw InputError("[model] global_rescale_scale: " + s.global_scale + " of the training data is " +
                     format_number(global) + " (too small to scale by)");
  std::vector<double> scales(types, 1.0), shifts(types, 0.0);
  if (s.per_species_scales == "dataset_per_species_forces_rms") {
    for (std::size_t t = 0; t < types; ++t) scales[t] = stats.per_species_forces_rms[t] / global;
  } else if (s.per_species_scales == "dataset_forces_rms") {
    for (std::size_t t = 0; t < types; ++t) scales[t] = stats.forces_rms / global;
  }
  for (double v : scales)
    if (!(v > 1e-6)) throw InputError("[model] per_species_rescale_scales: a per-species scale is zero (no forces?)");
  if (s.per_species_shifts == "dataset_per_species_total_energy_mean") {
    for (std::size_t t = 0; t < types; ++t) shifts[t] = stats.per_species_energy_mean.at(t) / global;
  } else if (s.per_species_shifts == "dataset_per_atom_total_energy_mean") {
    for (std::size_t t = 0; t < types; ++t) shifts[t] = stats.per_atom_energy_mean / global;
  }
  notes.push_back(fmt::format("global scale ({}): {:.10g}", s.global_scale, global));
  std::string sc, sh;
  for (std::size_t t = 0; t < types; ++t) {
    sc += fmt::format(" {:.10g}", scales[t] * global);
    sh += fmt::format(" {:.10g}", shifts[t] * global);
  }
  notes.push_back(fmt::format("per-species scales ({}), data units:{}", s.per_species_scales, sc));
  notes.push_back(fmt::format("per-species shifts ({}), eV:{}", s.per_species_shifts, sh));
  return {{kSpeciesScales, scales}, {kSpeciesShifts, shifts}, {kGlobalScale, {global}}};
}

// One set's columns of the per-epoch record, by name (prefix "train" or "val"), in CSV order.
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

void write_csv(const std::string& path, const TrainingReport& report) {
  replace_file(path, [&](const std::string& temporary) {
    std::ofstream out(temporary);
    out << "# nequip-md train: per-epoch metrics. wall_s: cumulative seconds; losses in the model's internal units "
           "(nequip's); energies meV/atom, forces meV/A, stress meV/A^3; train_*: during the epoch with the weights "
           "being trained, val_*: after it with the averaged (EMA) weights\n";
    out << "epoch,wall_s,lr";
    for (const auto& c : report.columns) out << ',' << c;
    out << '\n';
    for (const auto& r : report.epochs) {
      out << r.epoch << ',' << fmt::format("{:.3f}", r.wall) << ',' << format_number(r.learning_rate);
      for (double v : r.values) out << ',' << format_number(v);
      out << '\n';
    }
    if (!out) throw InputError("cannot write '" + temporary + "'");
  });
}

class ProgressBar {
 public:
  ProgressBar(bool enabled, int epoch, std::size_t batches)
      : enabled_(enabled && isatty(fileno(stderr))), epoch_(epoch), batches_(batches) {}
  void update(std::size_t done, double running_loss) const {
    if (!enabled_) return;
    const std::size_t width = 30;
    const std::size_t filled = batches_ ? done * width / batches_ : width;
    std::fprintf(stderr, "\repoch %4d [%s%s] %zu/%zu  loss %.5g ", epoch_, std::string(filled, '#').c_str(),
                 std::string(width - filled, ' ').c_str(), done, batches_, running_loss);
    std::fflush(stderr);
  }
  void finish() const {
    if (enabled_) std::fprintf(stderr, "\r%80s\r", "");
  }

 private:
  bool enabled_;
  int epoch_;
  std::size_t batches_;
};

std::string rng_state(const std::mt19937_64& rng) {
  std::ostringstream out;
  out << rng;
  return out.str();
}

}  // namespace

TrainingReport train_nequip(const TrainingSettings& s, const std::function<void(const std::string&)>& log) {
  if (!(s.learning_rate > 0)) throw InputError("[optimizer] learning_rate must be > 0");
  if (s.threads > 0) torch::set_num_threads(s.threads);
  const Clock::time_point start = Clock::now();
  fs::create_directories(s.directory);
  const std::string checkpoint_path = (fs::path(s.directory) / "checkpoint.npz").string();
  const std::string best_path = (fs::path(s.directory) / "best_model.npz").string();
  const std::string last_path = (fs::path(s.directory) / "last_model.npz").string();
  const std::string csv_path = (fs::path(s.directory) / "metrics_epoch.csv").string();

  // Model types: the initial model's, the given species, or every species of the data by atomic number.
  std::optional<NequipModel> initial;
  std::vector<std::string> type_names = s.species;
  if (s.resume) {
    if (!fs::exists(checkpoint_path))
      throw InputError("--resume: no checkpoint '" + checkpoint_path + "' (start without --resume)");
    initial.emplace(checkpoint_path);
    type_names = initial->metadata().type_names;
  } else if (!s.initial_model.empty()) {
    initial.emplace(s.initial_model);
    type_names = initial->metadata().type_names;
  }
  const double r_max = initial ? initial->metadata().r_max : s.r_max;
  Split split = load_and_split(s, r_max, type_names);
  check_labels(split.train, s, "training");
  check_labels(split.validation, s, "validation");
  const auto types = type_names.size();
  std::vector<std::int64_t> in_train(types, 0);
  for (const auto& f : split.train)
    for (std::size_t t = 0; t < types; ++t) in_train[t] += f.type_counts[t];
  auto check_types = [&](const std::vector<TrainingFrame>& frames, const std::string& set) {
    for (const auto& f : frames)
      for (std::size_t t = 0; t < types; ++t)
        if (f.type_counts[t] > 0 && in_train[t] == 0)
          throw InputError(f.where + ": species " + type_names[t] + " of the " + set +
                           " set never occurs in the training frames");
  };
  check_types(split.validation, "validation");
  check_types(split.test, "test");

  std::vector<const TrainingFrame*> train_pointers;
  for (const auto& f : split.train) train_pointers.push_back(&f);
  std::vector<std::string> notes;
  notes.push_back(fmt::format("types: {}", [&] {
    std::string list;
    for (const auto& t : type_names) list += (list.empty() ? "" : " ") + t;
    return list;
  }()));
  notes.push_back(fmt::format("frames: {} training, {} validation, {} test", split.train.size(),
                              split.validation.size(), split.test.size()));

  NequipModel model = [&] {
    if (initial) return std::move(*initial);
    const DatasetStatistics stats = compute_statistics(train_pointers, static_cast<int>(types));
    const double avg = s.avg_num_neighbors > 0 ? s.avg_num_neighbors : stats.avg_num_neighbors;
    notes.push_back(fmt::format("avg_num_neighbors: {:.10g}", avg));
    auto fixed = normalisation(s, stats, types, notes);
    return NequipModel::random(model_config(s, type_names, avg), type_names, s.model_seed, fixed);
  }();
  // The closest pairs of the training frames go into every model file written, for the MD extrapolation check. A
  // fine-tuned model also saw its initial model's data: the closer of both records where the initial one has one.
  TrainingDomain domain(static_cast<int>(types));
  for (const TrainingFrame& f : split.train) domain.include(f.graph);
  if (!model.training_domain().empty()) domain.merge(model.training_domain());
  notes.push_back("closest pairs in the training data: " + domain.describe(type_names));
  model.set_training_domain(std::move(domain));
  for (const auto& n : notes) log(n);
  const detail::NequipNetwork& network = model.network();
  if (s.stress_weight > 0 && !network.stress_output() && (s.resume || !s.initial_model.empty()))
    log("note: the initial model has no stress output; the stress is trained through the strain derivative");

  std::vector<torch::Tensor> params;
  std::vector<std::string> param_names;
  for (auto& [name, tensor] : network.trainable_parameters()) {
    tensor.requires_grad_(true);
    params.push_back(tensor);
    param_names.push_back(name);
  }
  const double scale = network.global_scale();

  std::vector<FrameTensors> train_tensors, validation_tensors;
  for (const auto& f : split.train) train_tensors.push_back(frame_tensors(f));
  for (const auto& f : split.validation) validation_tensors.push_back(frame_tensors(f));

  const bool stress = s.stress_weight > 0;
  TrainingReport report;
  for (const std::string set : {"train", "val"})
    for (const auto& [name, value] : named_metrics(set, EpochMetrics{}, type_names, stress))
      report.columns.push_back(name);
  report.best_model = best_path;
  report.last_model = last_path;
  report.metrics_csv = csv_path;

  Adam adam{s.learning_rate, s.beta1, s.beta2, s.epsilon, s.weight_decay, s.amsgrad, 0, {}, {}, {}};
  adam.init(params);
  MovingAverage ema;
  ema.decay = s.ema_decay;
  ema.use_num_updates = s.ema_use_num_updates;
  ema.init(params);
  Plateau plateau;
  std::mt19937_64 rng(s.shuffle_seed);
  int epoch = 0;
  double wall_before = 0.0;  // wall time of earlier runs of a resumed training
  int epochs_without_improvement = 0;
  report.best_validation_loss = std::numeric_limits<double>::infinity();

  if (s.resume) {
    const NpzFile file(checkpoint_path);
    const std::string where = "checkpoint '" + checkpoint_path + "'";
    adam.lr = scalar_of(file, "training/lr");
    adam.step = static_cast<std::int64_t>(scalar_of(file, "training/adam_step"));
    ema.updates = static_cast<std::int64_t>(scalar_of(file, "training/ema_updates"));
    for (std::size_t k = 0; k < params.size(); ++k) {
      const std::string& name = param_names[k];
      adam.exp_avg[k] = detail::array_tensor(file.get("training/adam_m/" + name), where);
      adam.exp_avg_sq[k] = detail::array_tensor(file.get("training/adam_v/" + name), where);
      adam.max_exp_avg_sq[k] = detail::array_tensor(file.get("training/adam_vmax/" + name), where);
      ema.shadow[k] = detail::array_tensor(file.get("training/ema/" + name), where);
    }
    plateau.best = scalar_of(file, "training/plateau_best");
    plateau.bad_epochs = static_cast<std::int64_t>(scalar_of(file, "training/plateau_bad_epochs"));
    epoch = static_cast<int>(scalar_of(file, "training/epoch"));
    wall_before = scalar_of(file, "training/wall");
    epochs_without_improvement = static_cast<int>(scalar_of(file, "training/epochs_without_improvement"));
    report.best_validation_loss = scalar_of(file, "training/best_validation_loss");
    report.best_epoch = static_cast<int>(scalar_of(file, "training/best_epoch"));
    std::istringstream(file.get("training/rng").text()) >> rng;
    const NpyArray& records = file.get("training/records");
    const std::vector<double> values = records.to_double();
    const std::size_t width = records.shape.size() == 2 ? records.shape[1] : 0;
    if (width != report.columns.size() + 3)
      throw InputError(where + " was written with other settings (metric columns differ)");
    for (std::size_t r = 0; r < records.shape[0]; ++r) {
      EpochRecord rec;
      rec.epoch = static_cast<int>(values[r * width]);
      rec.wall = values[r * width + 1];
      rec.learning_rate = values[r * width + 2];
      rec.values.assign(values.begin() + static_cast<std::ptrdiff_t>(r * width + 3),
                        values.begin() + static_cast<std::ptrdiff_t>((r + 1) * width));
      report.epochs.push_back(rec);
    }
    log(fmt::format("resumed from '{}' after epoch {}", checkpoint_path, epoch));
  }

  auto checkpoint_arrays = [&]() {
    std::vector<std::pair<std::string, NpyArray>> extra;
    extra.emplace_back("training/lr", scalar_array(adam.lr));
    extra.emplace_back("training/adam_step", scalar_array(static_cast<double>(adam.step)));
    extra.emplace_back("training/ema_updates", scalar_array(static_cast<double>(ema.updates)));
    for (std::size_t k = 0; k < params.size(); ++k) {
      const std::string& name = param_names[k];
      extra.emplace_back("training/adam_m/" + name, detail::tensor_array(adam.exp_avg[k]));
      extra.emplace_back("training/adam_v/" + name, detail::tensor_array(adam.exp_avg_sq[k]));
      extra.emplace_back("training/adam_vmax/" + name, detail::tensor_array(adam.max_exp_avg_sq[k]));
      extra.emplace_back("training/ema/" + name, detail::tensor_array(ema.shadow[k]));
    }
    extra.emplace_back("training/plateau_best", scalar_array(plateau.best));
    extra.emplace_back("training/plateau_bad_epochs", scalar_array(static_cast<double>(plateau.bad_epochs)));
    extra.emplace_back("training/epoch", scalar_array(epoch));
    extra.emplace_back("training/wall", scalar_array(report.epochs.empty() ? wall_before : report.epochs.back().wall));
    extra.emplace_back("training/epochs_without_improvement", scalar_array(epochs_without_improvement));
    extra.emplace_back("training/best_validation_loss", scalar_array(report.best_validation_loss));
    extra.emplace_back("training/best_epoch", scalar_array(report.best_epoch));
    extra.emplace_back("training/rng", text_array(rng_state(rng)));
    const std::size_t width = report.columns.size() + 3;
    std::vector<double> values;
    for (const auto& r : report.epochs) {
      values.push_back(r.epoch);
      values.push_back(r.wall);
      values.push_back(r.learning_rate);
      values.insert(values.end(), r.values.begin(), r.values.end());
    }
    NpyArray records = detail::tensor_array(torch::tensor(values, torch::kFloat64));
    records.shape = {report.epochs.size(), width};
    extra.emplace_back("training/records", records);
    return extra;
  };

  auto column = [&](const std::string& name) {
    return static_cast<std::size_t>(std::find(report.columns.begin(), report.columns.end(), name) -
                                    report.columns.begin());
  };
  const std::size_t train_loss_column = column("train_loss"), val_loss_column = column("val_loss"),
                    val_energy_column = column("val_e_mae_meV_atom"), val_force_column = column("val_f_mae_meV_A");
  auto log_epoch = [&](const EpochRecord& r) {
    log(fmt::format("{:>5} {:>9.1f} {:>9.3g} {:>12.5g} {:>12.5g} {:>14.4g} {:>14.4g}", r.epoch, r.wall,
                    r.learning_rate, r.values[train_loss_column], r.values[val_loss_column],
                    r.values[val_energy_column], r.values[val_force_column]));
  };
  log(fmt::format("{:>5} {:>9} {:>9} {:>12} {:>12} {:>14} {:>14}", "epoch", "wall_s", "lr", "train_loss",
                  "val_loss", "val_E_MAE", "val_F_MAE"));
  log(fmt::format("{:>5} {:>9} {:>9} {:>12} {:>12} {:>14} {:>14}", "", "s", "", "(internal)", "(internal)",
                  "meV/atom", "meV/A"));
  for (const auto& r : report.epochs) log_epoch(r);

  std::vector<std::int64_t> order(train_tensors.size());
  report.stop_reason = "max_epochs";
  const auto batch_size = static_cast<std::size_t>(s.batch_size);
  const auto validation_batch = static_cast<std::size_t>(s.validation_batch_size);
  const std::vector<Batch> validation_batches = fixed_batches(validation_tensors, validation_batch);

  while (epoch < s.max_epochs) {
    const double elapsed = wall_before + std::chrono::duration<double>(Clock::now() - start).count();
    if (s.max_wall_time > 0 && elapsed >= s.max_wall_time) {
      report.stop_reason = "max_wall_time";
      break;
    }
    ++epoch;
    for (std::size_t k = 0; k < order.size(); ++k) order[k] = static_cast<std::int64_t>(k);
    if (s.shuffle) std::shuffle(order.begin(), order.end(), rng);
    EpochMetrics train_metrics, validation_metrics;
    train_metrics.species_forces.resize(types);
    validation_metrics.species_forces.resize(types);
    const std::size_t batches = (order.size() + batch_size - 1) / batch_size;
    const ProgressBar bar(s.progress, epoch, batches);
    for (std::size_t b = 0; b < batches; ++b) {
      const Batch batch = make_batch(train_tensors, order, b * batch_size, std::min((b + 1) * batch_size, order.size()));
      const LossTerms loss = batch_loss(network, batch, s, scale, stress, true, train_metrics);
      std::vector<torch::Tensor> grads = torch::autograd::grad({loss.total}, params, {}, false, false, true);
      for (std::size_t k = 0; k < grads.size(); ++k)
        if (!grads[k].defined()) grads[k] = torch::zeros_like(params[k]);
      if (s.max_gradient_norm > 0) {
        double norm2 = 0.0;
        for (const auto& g : grads) norm2 += g.square().sum().item<double>();
        const double norm = std::sqrt(norm2);
        // torch.nn.utils.clip_grad_norm_: factor max_norm / (norm + 1e-6), applied when below 1.
        const double factor = s.max_gradient_norm / (norm + 1e-6);
        if (factor < 1.0)
          for (auto& g : grads) g = g * factor;
      }
      const double batch_loss_value = loss.total.item<double>();
      if (!std::isfinite(batch_loss_value))
        throw InputError(fmt::format("training diverged in epoch {} (loss {}); lower [optimizer] learning_rate",
                                     epoch, batch_loss_value));
      adam.update(params, grads);
      ema.update(params);
      bar.update(b + 1, train_metrics.loss / train_metrics.batches);
    }
    bar.finish();
    EpochRecord record;
    record.epoch = epoch;
    record.learning_rate = adam.lr;
    double validation_loss = 0.0;
    {
      // Validation and the saved models use the averaged weights.
      const AveragedWeights averaged(params, ema);
      for (const Batch& batch : validation_batches) batch_loss(network, batch, s, scale, stress, false, validation_metrics);
      validation_loss = validation_metrics.loss / std::max(validation_metrics.batches, 1.0);
      if (validation_loss < report.best_validation_loss) {
        report.best_validation_loss = validation_loss;
        report.best_epoch = epoch;
        epochs_without_improvement = 0;
        save_atomically(model, best_path);
      } else {
        ++epochs_without_improvement;
      }
      save_atomically(model, last_path);
    }
    for (const auto& [set, metrics] : {std::pair{"train", &train_metrics}, std::pair{"val", &validation_metrics}})
      for (const auto& [name, value] : named_metrics(set, *metrics, type_names, stress))
        record.values.push_back(value);
    if (s.scheduler == "plateau") adam.lr = plateau.step(validation_loss, adam.lr, s);
    record.wall = wall_before + std::chrono::duration<double>(Clock::now() - start).count();
    report.epochs.push_back(record);
    save_atomically(model, checkpoint_path, checkpoint_arrays());
    write_csv(csv_path, report);
    log_epoch(record);
    if (s.early_stopping_patience > 0 && epochs_without_improvement >= s.early_stopping_patience) {
      report.stop_reason = fmt::format("no better validation loss for {} epochs", s.early_stopping_patience);
      break;
    }
    if (s.stop_learning_rate > 0 && adam.lr < s.stop_learning_rate) {
      report.stop_reason = fmt::format("learning rate {} below {}", adam.lr, s.stop_learning_rate);
      break;
    }
  }
  if (report.epochs.empty()) write_csv(csv_path, report);
  log(fmt::format("stopped: {}; best validation loss {:.6g} at epoch {} -> {}", report.stop_reason,
                  report.best_validation_loss, report.best_epoch, best_path));

  if (!split.test.empty()) {
    // The best model on the held-out frames.
    NequipModel best(best_path);
    std::vector<FrameTensors> test_tensors;
    for (const auto& f : split.test) test_tensors.push_back(frame_tensors(f));
    EpochMetrics m;
    m.species_forces.resize(types);
    bool any_virial = false;
    for (const auto& f : split.test) any_virial = any_virial || (f.virial && f.volume > 0);
    for (const Batch& batch : fixed_batches(test_tensors, validation_batch))
      batch_loss(best.network(), batch, s, best.network().global_scale(), any_virial, false, m);
    auto row = [](const std::string& name, const ErrorSums& e, const std::string& unit) {
      return fmt::format("{:<16} {:>12.6g} {:>12.6g}  {}", name, e.mae() * 1e3, e.rmse() * 1e3, unit);
    };
    report.test_table.push_back(fmt::format("test set: {} frames, best model (epoch {})", split.test.size(),
                                            report.best_epoch));
    report.test_table.push_back(fmt::format("{:<16} {:>12} {:>12}  {}", "quantity", "MAE", "RMSE", "unit"));
    report.test_table.push_back(row("energy", m.energy, "meV/atom"));
    report.test_table.push_back(row("forces", m.forces, "meV/A"));
    for (std::size_t t = 0; t < types; ++t)
      report.test_table.push_back(row("forces[" + type_names[t] + "]", m.species_forces[t], "meV/A"));
    if (any_virial) report.test_table.push_back(row("stress", m.stress, "meV/A^3"));
    std::ofstream out((fs::path(s.directory) / "test_errors.txt").string());
    for (const auto& line : report.test_table) {
      out << line << '\n';
      log(line);
    }
  }
  return report;
}

}  // namespace nqmd::nequip
