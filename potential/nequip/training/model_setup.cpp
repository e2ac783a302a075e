#include "potential/nequip/training/model_setup.hpp"

#include <map>
#include <utility>

#include <fmt/format.h>

#include "engine/error.hpp"
#include "potential/nequip/training/metrics.hpp"
#include "potential/nequip/training/statistics.hpp"
#include "potential/nequip/training_domain.hpp"

namespace nqmd::nequip::training {
namespace {

// The weights the normalisation sets.
const std::string kSpeciesScales = "model.model.func.per_species_rescale.scales";
const std::string kSpeciesShifts = "model.model.func.per_species_rescale.shifts";
const std::string kGlobalScale = "model.scale_by";

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


}  // namespace

NequipModel model_to_train(const TrainingSettings& s, std::optional<NequipModel> initial, const DataSplit& split,
                           const std::vector<std::string>& type_names, std::vector<std::string>& notes) {
  const std::size_t types = type_names.size();
  NequipModel model = [&] {
    if (initial) return std::move(*initial);
    std::vector<const TrainingFrame*> train_frames;
    for (const auto& f : split.train) train_frames.push_back(&f);
    const DatasetStatistics stats = compute_statistics(train_frames, static_cast<int>(types));
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
  return model;
}

}  // namespace nqmd::nequip::training
