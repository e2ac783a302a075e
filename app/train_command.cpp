#include "app/train_command.hpp"

#include <cstdio>
#include <filesystem>
#include <map>

#include <fmt/format.h>

#include "engine/error.hpp"
#include "engine/log.hpp"
#include "engine/units.hpp"
#include "io/output_files.hpp"
#ifdef NQMD_HAVE_NEQUIP
#include "potential/nequip/training/trainer.hpp"
#endif
#include "analysis/plot.hpp"

namespace nqmd {
namespace {

namespace fs = std::filesystem;

// Energy, length and stress units of the data, to eV, A and eV/A^3 (engine/units.hpp).
const std::map<std::string, double>& energy_units() {
  static const std::map<std::string, double> units{{"eV", 1.0},
                                                   {"meV", 1e-3},
                                                   {"Hartree", units::hartree_ev},
                                                   {"Ry", units::rydberg_ev},
                                                   {"kcal/mol", units::kcal_per_mol_ev},
                                                   {"kJ/mol", units::kj_per_mol_ev}};
  return units;
}
const std::map<std::string, double>& length_units() {
  static const std::map<std::string, double> units{{"Angstrom", 1.0}, {"Bohr", units::bohr_a}, {"nm", 10.0}};
  return units;
}
const std::map<std::string, double>& stress_units() {
  static const std::map<std::string, double> units{{"eV/A^3", 1.0},
                                                   {"GPa", 1.0 / units::ev_per_a3_to_gpa},
                                                   {"kbar", 1e-1 / units::ev_per_a3_to_gpa},
                                                   {"bar", 1.0 / units::ev_per_a3_to_bar}};
  return units;
}
std::vector<std::string> names_of(const std::map<std::string, double>& units) {
  std::vector<std::string> names;
  for (const auto& entry : units) names.push_back(entry.first);
  return names;
}

const SectionSchema& data_schema() {
  static const SectionSchema schema = [] {
    SectionSchema s{"data",
                    "Labelled extxyz frames (as ASE writes them) and their split. Frames of `files` are split as "
                    "nequip splits them (torch.randperm with `seed`, nequip's dataset_seed): the first n_train "
                    "train, the next n_val validate (as in nequip), the last n_test test (the same test frames "
                    "for any n_train); or by groups of frames with split_key. Stress follows ASE's sign "
                    "(virial = -stress * V).",
                    {}};
    s.keys.push_back(KeySpec("files", KeyType::string_array, "extxyz files to split (relative to this file)").require());
    s.keys.push_back(KeySpec("validation_files", KeyType::string_array,
                             "extxyz files used only for validation (then n_val and val_fraction are unused)"));
    s.keys.push_back(KeySpec("test_files", KeyType::string_array, "extxyz files used only for the final test"));
    s.keys.push_back(KeySpec("split_key", KeyType::string,
                             "info key whose value groups the frames (e.g. source), to split by group: frames of "
                             "validation_groups validate, of test_groups test (in file order), the others train "
                             "(n_train or train_fraction of them in nequip's permutation, default all); not with "
                             "n_val, n_test, their fractions, validation_files or test_files"));
    s.keys.push_back(KeySpec("validation_groups", KeyType::string_array, "values of split_key whose frames validate"));
    s.keys.push_back(KeySpec("test_groups", KeyType::string_array,
                             "values of split_key whose frames are held out for the final test"));
    s.keys.push_back(KeySpec("species", KeyType::string_array,
                             "chemical symbols in model type order; default every species of the data by atomic "
                             "number"));
    s.keys.push_back(KeySpec("n_train", KeyType::integer, "training frames (default: what the others leave)").at_least(1));
    s.keys.push_back(KeySpec("n_val", KeyType::integer, "validation frames (default: what the others leave)").at_least(1));
    s.keys.push_back(KeySpec("n_test", KeyType::integer, "held-out test frames").at_least(0));
    s.keys.push_back(KeySpec("train_fraction", KeyType::real, "training frames as a fraction (if n_train is absent)")
                         .greater_than(0)
                         .at_most(1));
    s.keys.push_back(KeySpec("val_fraction", KeyType::real, "validation frames as a fraction (if n_val is absent)")
                         .greater_than(0)
                         .at_most(1));
    s.keys.push_back(KeySpec("test_fraction", KeyType::real, "test frames as a fraction (if n_test is absent)")
                         .at_least(0)
                         .at_most(1));
    s.keys.push_back(KeySpec("seed", KeyType::integer, "seed of the split (nequip's dataset_seed)")
                         .at_least(0)
                         .defaults_to(std::int64_t{456}));
    s.keys.push_back(KeySpec("energy_key", KeyType::string, "info key of the total energy (e.g. REF_energy, free_energy)")
                         .defaults_to("energy"));
    s.keys.push_back(KeySpec("forces_key", KeyType::string, "per-atom column of the forces").defaults_to("forces"));
    s.keys.push_back(KeySpec("stress_key", KeyType::string, "info key of the stress (9 values or Voigt 6, ASE sign)")
                         .defaults_to("stress"));
    s.keys.push_back(KeySpec("virial_key", KeyType::string, "info key of the virial (eV), used when there is no stress")
                         .defaults_to("virial"));
    s.keys.push_back(KeySpec("energy_unit", KeyType::string, "unit of energies (forces: energy_unit/length_unit)")
                         .one_of(names_of(energy_units()))
                         .defaults_to("eV"));
    s.keys.push_back(KeySpec("length_unit", KeyType::string, "unit of positions and cells")
                         .one_of(names_of(length_units()))
                         .defaults_to("Angstrom"));
    s.keys.push_back(KeySpec("stress_unit", KeyType::string, "unit of the stress")
                         .one_of(names_of(stress_units()))
                         .defaults_to("eV/A^3"));
    return s;
  }();
  return schema;
}

const SectionSchema& model_schema() {
  static const SectionSchema schema = [] {
    SectionSchema s{"model",
                    "NequIP architecture and normalisation, nequip 0.6.2's keys in snake_case (default builders, gate "
                    "nonlinearity, float64). With initial_model the architecture and normalisation are that model's "
                    "(fine-tuning) and the other keys are unused.",
                    {}};
    s.keys.push_back(KeySpec("r_max", KeyType::real, "cutoff radius (A)").greater_than(0).defaults_to(4.0));
    s.keys.push_back(KeySpec("num_layers", KeyType::integer, "interaction blocks").at_least(1).at_most(64).defaults_to(std::int64_t{3}));
    s.keys.push_back(KeySpec("l_max", KeyType::integer, "largest rotation order of features and edges")
                         .at_least(0)
                         .at_most(3)
                         .defaults_to(std::int64_t{1}));
    s.keys.push_back(KeySpec("parity", KeyType::boolean, "features of both parities (E(3)); false: SE(3)").defaults_to(true));
    s.keys.push_back(KeySpec("num_features", KeyType::integer, "channels per irrep").at_least(1).at_most(4096).defaults_to(std::int64_t{32}));
    s.keys.push_back(KeySpec("num_basis", KeyType::integer, "Bessel radial basis functions").at_least(1).at_most(1024).defaults_to(std::int64_t{8}));
    s.keys.push_back(KeySpec("bessel_trainable", KeyType::boolean, "train the Bessel frequencies (BesselBasis_trainable)")
                         .defaults_to(true));
    s.keys.push_back(KeySpec("polynomial_cutoff_p", KeyType::real, "exponent p of the polynomial cutoff (PolynomialCutoff_p)")
                         .greater_than(0)
                         .defaults_to(6.0));
    s.keys.push_back(KeySpec("invariant_layers", KeyType::integer, "hidden layers of the radial network")
                         .at_least(1)
                         .at_most(64)
                         .defaults_to(std::int64_t{2}));
    s.keys.push_back(KeySpec("invariant_neurons", KeyType::integer, "neurons per hidden layer of the radial network")
                         .at_least(1)
                         .at_most(65536)
                         .defaults_to(std::int64_t{64}));
    s.keys.push_back(KeySpec("use_sc", KeyType::boolean, "self-connection in each interaction block").defaults_to(true));
    s.keys.push_back(KeySpec("resnet", KeyType::boolean, "residual updates where irreps allow").defaults_to(false));
    for (const char* key : {"nonlinearity_scalars_e", "nonlinearity_gates_e"})
      s.keys.push_back(KeySpec(key, KeyType::string, "nonlinearity of even scalars / gates")
                           .one_of({"silu", "ssp", "tanh", "abs"})
                           .defaults_to("silu"));
    for (const char* key : {"nonlinearity_scalars_o", "nonlinearity_gates_o"})
      s.keys.push_back(KeySpec(key, KeyType::string, "nonlinearity of odd scalars / gates (odd or even function)")
                           .one_of({"tanh", "abs"})
                           .defaults_to("tanh"));
    s.keys.push_back(KeySpec("avg_num_neighbors", KeyType::real, "message normalisation; default from the training data")
                         .greater_than(0));
    s.keys.push_back(KeySpec("per_species_rescale_scales", KeyType::string, "per-species scale of atomic energies")
                         .one_of({"dataset_per_species_forces_rms", "dataset_forces_rms", "none"})
                         .defaults_to("dataset_per_species_forces_rms"));
    s.keys.push_back(KeySpec("per_species_rescale_shifts", KeyType::string, "per-species shift of atomic energies")
                         .one_of({"dataset_per_species_total_energy_mean", "dataset_per_atom_total_energy_mean", "none"})
                         .defaults_to("dataset_per_species_total_energy_mean"));
    s.keys.push_back(KeySpec("global_rescale_scale", KeyType::string, "global scale of energies and forces")
                         .one_of({"dataset_forces_rms", "dataset_total_energy_std", "none"})
                         .defaults_to("dataset_forces_rms"));
    s.keys.push_back(KeySpec("seed", KeyType::integer, "seed of the initial weights").at_least(0).defaults_to(std::int64_t{123}));
    s.keys.push_back(KeySpec("initial_model", KeyType::string,
                             "fine-tune from this native model file or nequip-deploy .pth (relative to this file)"));
    return s;
  }();
  return schema;
}

const SectionSchema& loss_schema() {
  static const SectionSchema schema = [] {
    SectionSchema s{"loss",
                    "Coefficients of the loss, nequip's: force MSE per component + per-atom energy MSE + stress MSE "
                    "per component, in the model's internal units (labels divided by the global scale).",
                    {}};
    s.keys.push_back(KeySpec("forces", KeyType::real, "weight of the force MSE").at_least(0).defaults_to(1.0));
    s.keys.push_back(KeySpec("energy", KeyType::real, "weight of the per-atom energy MSE").at_least(0).defaults_to(1.0));
    s.keys.push_back(KeySpec("stress", KeyType::real, "weight of the stress MSE (periodic frames with a stress or virial)")
                         .at_least(0)
                         .defaults_to(0.0));
    return s;
  }();
  return schema;
}

const SectionSchema& optimizer_schema() {
  static const SectionSchema schema = [] {
    SectionSchema s{"optimizer", "Adam or AMSGrad (torch.optim.Adam's update), gradient clipping, moving average.", {}};
    s.keys.push_back(KeySpec("name", KeyType::string, "adam or amsgrad").one_of({"adam", "amsgrad"}).defaults_to("adam"));
    s.keys.push_back(KeySpec("learning_rate", KeyType::real, "learning rate").greater_than(0).defaults_to(0.01));
    s.keys.push_back(KeySpec("beta1", KeyType::real, "Adam beta1").at_least(0).at_most(1).defaults_to(0.9));
    s.keys.push_back(KeySpec("beta2", KeyType::real, "Adam beta2").at_least(0).at_most(1).defaults_to(0.999));
    s.keys.push_back(KeySpec("epsilon", KeyType::real, "Adam epsilon").greater_than(0).defaults_to(1e-8));
    s.keys.push_back(KeySpec("weight_decay", KeyType::real, "L2 penalty (Adam's weight_decay)").at_least(0).defaults_to(0.0));
    s.keys.push_back(KeySpec("max_gradient_norm", KeyType::real, "clip the gradient's total norm to this; 0: no clipping")
                         .at_least(0)
                         .defaults_to(0.0));
    s.keys.push_back(KeySpec("ema_decay", KeyType::real,
                             "decay of the moving average of the weights used for validation and saving; 0: none")
                         .at_least(0)
                         .at_most(1)
                         .defaults_to(0.99));
    s.keys.push_back(KeySpec("ema_use_num_updates", KeyType::boolean, "warm-up decay min(decay, (1+n)/(10+n))")
                         .defaults_to(true));
    return s;
  }();
  return schema;
}

const SectionSchema& scheduler_schema() {
  static const SectionSchema schema = [] {
    SectionSchema s{"scheduler", "Learning-rate schedule on the validation loss (torch's ReduceLROnPlateau).", {}};
    s.keys.push_back(KeySpec("kind", KeyType::string, "none or plateau").one_of({"none", "plateau"}).defaults_to("none"));
    s.keys.push_back(KeySpec("patience", KeyType::integer, "epochs without improvement before reducing")
                         .at_least(0)
                         .defaults_to(std::int64_t{10}));
    s.keys.push_back(KeySpec("factor", KeyType::real, "factor the learning rate is multiplied by").greater_than(0).at_most(1).defaults_to(0.5));
    s.keys.push_back(KeySpec("min_lr", KeyType::real, "smallest learning rate").at_least(0).defaults_to(0.0));
    return s;
  }();
  return schema;
}

const SectionSchema& training_schema() {
  static const SectionSchema schema = [] {
    SectionSchema s{"training", "The loop: batches, epochs, stopping, threads.", {}};
    s.keys.push_back(KeySpec("max_epochs", KeyType::integer, "epochs").at_least(1).at_most(1e7).defaults_to(std::int64_t{100}));
    s.keys.push_back(KeySpec("max_wall_time", KeyType::real, "stop before an epoch starts after this many seconds; 0: none")
                         .at_least(0)
                         .defaults_to(0.0));
    s.keys.push_back(KeySpec("batch_size", KeyType::integer, "frames per training batch").at_least(1).defaults_to(std::int64_t{5}));
    s.keys.push_back(KeySpec("validation_batch_size", KeyType::integer, "frames per validation batch")
                         .at_least(1)
                         .defaults_to(std::int64_t{20}));
    s.keys.push_back(KeySpec("early_stopping_patience", KeyType::integer,
                             "stop after this many epochs without a better validation loss; 0: never")
                         .at_least(0)
                         .defaults_to(std::int64_t{0}));
    s.keys.push_back(KeySpec("stop_learning_rate", KeyType::real, "stop once the learning rate is below this; 0: never")
                         .at_least(0)
                         .defaults_to(0.0));
    s.keys.push_back(KeySpec("shuffle", KeyType::boolean, "shuffle the training frames every epoch").defaults_to(true));
    s.keys.push_back(KeySpec("seed", KeyType::integer, "seed of the shuffling").at_least(0).defaults_to(std::int64_t{123}));
    s.keys.push_back(KeySpec("threads", KeyType::integer, "torch threads; 0: OMP_NUM_THREADS or torch's default")
                         .at_least(0)
                         .at_most(4096)
                         .defaults_to(std::int64_t{0}));
    return s;
  }();
  return schema;
}

const SectionSchema& train_output_schema() {
  static const SectionSchema schema = [] {
    SectionSchema s{"output",
                    "Where the training writes best_model.npz, last_model.npz (moving-average weights), "
                    "checkpoint.npz (resume state), metrics_epoch.csv, learning_curve.png and test_errors.txt.",
                    {}};
    s.keys.push_back(KeySpec("directory", KeyType::string, "output directory (relative to this file)").defaults_to("training"));
    s.keys.push_back(KeySpec("overwrite", KeyType::boolean, "replace the files of an earlier training").defaults_to(false));
    s.keys.push_back(KeySpec("plot", KeyType::boolean, "draw learning_curve.png with gnuplot").defaults_to(true));
    return s;
  }();
  return schema;
}

std::string yaml_bool(bool value) { return value ? "true" : "false"; }

}  // namespace

std::vector<const SectionSchema*> train_input_sections() {
  return {&data_schema(),     &model_schema(),    &loss_schema(),        &optimizer_schema(),
          &scheduler_schema(), &training_schema(), &train_output_schema()};
}

void run_training(const TrainRequest& request) {
  const InputFile input(request.input_path);
  std::vector<std::string> known;
  for (const SectionSchema* schema : train_input_sections()) known.push_back(schema->name);
  input.check_sections(known);
  const ConfigSection data = input.section(data_schema());
  const ConfigSection model = input.section(model_schema());
  const ConfigSection loss = input.section(loss_schema());
  const ConfigSection optimizer = input.section(optimizer_schema());
  const ConfigSection scheduler = input.section(scheduler_schema());
  const ConfigSection training = input.section(training_schema());
  const ConfigSection output = input.section(train_output_schema());
#ifndef NQMD_HAVE_NEQUIP
  (void)request;
  throw InputError("train: this nequip-md was built without NequIP (libtorch)");
#else
  nequip::TrainingSettings s;
  auto paths = [&](const ConfigSection& section, const std::string& key) {
    if (!section.has(key)) return std::vector<std::string>{};
    const std::vector<std::string> out = section.paths(key);
    for (const std::string& p : out)
      if (!fs::exists(p)) section.fail(key, "no such file '" + p + "'");
    return out;
  };
  s.files = paths(data, "files");
  if (s.files.empty()) data.fail("files", "needs at least one extxyz file");
  s.validation_files = paths(data, "validation_files");
  s.test_files = paths(data, "test_files");
  if (data.has("species")) s.species = data.string_array("species");
  if (data.has("n_train")) s.n_train = data.integer("n_train");
  if (data.has("n_val")) s.n_val = data.integer("n_val");
  if (data.has("n_test")) s.n_test = data.integer("n_test");
  if (data.has("train_fraction")) s.train_fraction = data.real("train_fraction");
  if (data.has("val_fraction")) s.val_fraction = data.real("val_fraction");
  if (data.has("test_fraction")) {
    s.test_fraction = data.real("test_fraction");
    if (!data.has("n_test")) s.n_test = -1;
  }
  s.split_seed = static_cast<std::uint64_t>(data.integer("seed"));
  if (data.has("split_key")) {
    s.split_key = data.string("split_key");
    if (s.split_key.empty()) data.fail("split_key", "is empty (expected an info key of the frames, e.g. source)");
    for (const char* key : {"n_val", "n_test", "val_fraction", "test_fraction", "validation_files", "test_files"})
      if (data.has(key)) data.fail(key, "not with split_key (validation_groups and test_groups give those frames)");
  } else {
    for (const char* key : {"validation_groups", "test_groups"})
      if (data.has(key)) data.fail(key, "needs split_key (the info key whose values these are)");
  }
  if (data.has("validation_groups")) s.validation_groups = data.string_array("validation_groups");
  if (data.has("test_groups")) s.test_groups = data.string_array("test_groups");
  s.keys.energy = data.string("energy_key");
  s.keys.forces = data.string("forces_key");
  s.keys.stress = data.string("stress_key");
  s.keys.virial = data.string("virial_key");
  s.keys.energy_to_ev = energy_units().at(data.string("energy_unit"));
  s.keys.length_to_angstrom = length_units().at(data.string("length_unit"));
  s.keys.stress_to_ev_per_a3 = stress_units().at(data.string("stress_unit"));

  s.r_max = model.real("r_max");
  std::string yaml;
  yaml += fmt::format("num_layers: {}\n", model.integer("num_layers"));
  yaml += fmt::format("l_max: {}\n", model.integer("l_max"));
  yaml += fmt::format("parity: {}\n", yaml_bool(model.boolean("parity")));
  yaml += fmt::format("num_features: {}\n", model.integer("num_features"));
  yaml += fmt::format("num_basis: {}\n", model.integer("num_basis"));
  yaml += fmt::format("BesselBasis_trainable: {}\n", yaml_bool(model.boolean("bessel_trainable")));
  yaml += fmt::format("PolynomialCutoff_p: {}\n", model.real("polynomial_cutoff_p"));
  yaml += fmt::format("invariant_layers: {}\n", model.integer("invariant_layers"));
  yaml += fmt::format("invariant_neurons: {}\n", model.integer("invariant_neurons"));
  yaml += fmt::format("use_sc: {}\n", yaml_bool(model.boolean("use_sc")));
  yaml += fmt::format("resnet: {}\n", yaml_bool(model.boolean("resnet")));
  yaml += "nonlinearity_type: gate\n";
  yaml += fmt::format("nonlinearity_scalars:\n  e: {}\n  o: {}\n", model.string("nonlinearity_scalars_e"),
                      model.string("nonlinearity_scalars_o"));
  yaml += fmt::format("nonlinearity_gates:\n  e: {}\n  o: {}\n", model.string("nonlinearity_gates_e"),
                      model.string("nonlinearity_gates_o"));
  yaml += fmt::format("per_species_rescale_scales: {}\n", model.string("per_species_rescale_scales"));
  yaml += fmt::format("per_species_rescale_shifts: {}\n", model.string("per_species_rescale_shifts"));
  yaml += fmt::format("global_rescale_scale: {}\n", model.string("global_rescale_scale"));
  s.model_config = yaml;
  if (model.has("avg_num_neighbors")) s.avg_num_neighbors = model.real("avg_num_neighbors");
  s.per_species_scales = model.string("per_species_rescale_scales");
  s.per_species_shifts = model.string("per_species_rescale_shifts");
  s.global_scale = model.string("global_rescale_scale");
  s.model_seed = static_cast<std::uint64_t>(model.integer("seed"));
  if (model.has("initial_model")) {
    s.initial_model = model.path("initial_model");
    if (!fs::exists(s.initial_model)) model.fail("initial_model", "no such file '" + s.initial_model + "'");
  }

  s.force_weight = loss.real("forces");
  s.energy_weight = loss.real("energy");
  s.stress_weight = loss.real("stress");
  if (s.force_weight == 0 && s.energy_weight == 0 && s.stress_weight == 0)
    loss.fail("forces", "every loss weight is 0: nothing to train");

  s.amsgrad = optimizer.string("name") == "amsgrad";
  s.learning_rate = optimizer.real("learning_rate");
  s.beta1 = optimizer.real("beta1");
  s.beta2 = optimizer.real("beta2");
  s.epsilon = optimizer.real("epsilon");
  s.weight_decay = optimizer.real("weight_decay");
  s.max_gradient_norm = optimizer.real("max_gradient_norm");
  s.ema_decay = optimizer.real("ema_decay");
  s.ema_use_num_updates = optimizer.boolean("ema_use_num_updates");
  s.scheduler = scheduler.string("kind");
  s.scheduler_patience = static_cast<int>(scheduler.integer("patience"));
  s.scheduler_factor = scheduler.real("factor");
  s.scheduler_min_lr = scheduler.real("min_lr");

  s.max_epochs = static_cast<int>(training.integer("max_epochs"));
  s.max_wall_time = training.real("max_wall_time");
  s.batch_size = static_cast<int>(training.integer("batch_size"));
  s.validation_batch_size = static_cast<int>(training.integer("validation_batch_size"));
  s.early_stopping_patience = static_cast<int>(training.integer("early_stopping_patience"));
  s.stop_learning_rate = training.real("stop_learning_rate");
  s.shuffle = training.boolean("shuffle");
  s.shuffle_seed = static_cast<std::uint64_t>(training.integer("seed"));
  s.threads = static_cast<int>(training.integer("threads"));

  s.directory = output.path("directory");
  s.resume = request.resume;
  // No written file is an input, and one process at a time trains into a directory (the lock, on its
  // checkpoint.npz, is held until the training and its figure are done).
  std::vector<NamedFile> inputs{{"`train` INPUT", request.input_path}};
  for (const auto& [key, files] : {std::pair{"files", &s.files}, std::pair{"validation_files", &s.validation_files},
                                   std::pair{"test_files", &s.test_files}})
    for (const std::string& file : *files) inputs.push_back({data.where(key), file});
  if (!s.initial_model.empty()) inputs.push_back({model.where("initial_model"), s.initial_model});
  std::vector<NamedFile> outputs;
  for (const std::string& file : nequip::training_output_files(s.directory))
    outputs.push_back({fmt::format("{} ({})", output.where("directory"), fs::path(file).filename().string()), file});
  for (const char* figure : {"learning_curve.gp", "learning_curve.png"})
    outputs.push_back({fmt::format("{} ({})", output.where("directory"), figure), (fs::path(s.directory) / figure).string()});
  check_output_files(outputs, inputs);
  std::error_code error;
  fs::create_directories(s.directory, error);
  if (error) output.fail("directory", fmt::format("cannot create '{}' ({})", s.directory, error.message()));
  const OutputLock lock({outputs.front()});
  const bool overwrite = output.boolean("overwrite") || request.force;
  if (!s.resume && !overwrite) {
    const std::string earlier = nequip::earlier_training_file(s.directory);
    if (!earlier.empty())
      output.fail("directory", fmt::format("'{}' holds the files of an earlier training ({}); continue it with "
                                           "--resume, or replace it with --force or overwrite = true",
                                           s.directory, earlier));
  }
  s.progress = log::level() != log::Level::quiet;
  const nequip::TrainingReport report = nequip::train_nequip(s, [](const std::string& line) {
    log::info("{}", line);
    std::fflush(stdout);  // line by line in logs of batch jobs
  });

  if (output.boolean("plot") && !report.epochs.empty()) {
    analysis::Plotter plotter(s.directory, analysis::PlotOptions{true, {"png"}});
    analysis::Plot plot;
    plot.name = "learning_curve";
    plot.title = "nequip-md train: force MAE";
    plot.x_label = "epoch";
    plot.y_label = "force MAE (meV/Å)";
    plot.settings = {"set datafile separator ','", "set logscale y", "set key top right"};
    plot.curves = {fmt::format("'metrics_epoch.csv' skip {} using 1:{} with lines lw 2 title 'training'",
                               nequip::kMetricsCsvHeaderLines, report.metrics_csv_column("train_f_mae_meV_A")),
                   fmt::format("'metrics_epoch.csv' skip {} using 1:{} with lines lw 2 title 'validation (EMA)'",
                               nequip::kMetricsCsvHeaderLines, report.metrics_csv_column("val_f_mae_meV_A"))};
    plotter.render(plot);
  }
  log::info("best model: {}  (metrics: {})", report.best_model, report.metrics_csv);
#endif
}

}  // namespace nqmd
