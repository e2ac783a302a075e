#include "potential/nequip/nequip_potential.hpp"

#include <torch/torch.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <optional>
#include <sstream>
#include <stdexcept>
#include <string_view>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "engine/error.hpp"
#include "engine/log.hpp"
#include "engine/spatial_order.hpp"
#include "engine/text.hpp"
#include "io/extxyz.hpp"
#include "potential/nequip/nequip_model.hpp"
#include "potential/nequip/torchscript_model.hpp"

namespace nqmd::nequip {
namespace {

// Side of the bins of the spatial order (A): about five atoms per bin in a metal (2, 3, 4 and 6 A measured
// alike on 97,556 shuffled atoms).
constexpr double kOrderBinWidth = 4.0;

// OMP_NUM_THREADS as a positive count, if set to one.
std::optional<int> omp_num_threads() {
  const char* text = std::getenv("OMP_NUM_THREADS");
  if (text == nullptr) return std::nullopt;
  char* end = nullptr;
  const long value = std::strtol(text, &end, 10);
  if (end == text || value <= 0) return std::nullopt;
  return static_cast<int>(value);
}

}  // namespace

namespace {

// Appends symbol -> type to `map` (both trimmed); `raw` is the entry as written, for the messages.
void add_species_entry(const std::string& raw, std::string_view symbol_text, std::string_view type_text,
                       const std::string& where, std::vector<std::pair<std::string, std::string>>& map) {
  const std::string symbol(trim(symbol_text)), type(trim(type_text));
  if (symbol.empty() || type.empty() || symbol.find('=') != std::string::npos || type.find('=') != std::string::npos)
    throw InputError(fmt::format("{}: entry \"{}\" must be written \"Symbol=type\", e.g. \"Cu=Cu\"", where, raw));
  for (const auto& [seen, unused] : map)
    if (seen == symbol) throw InputError(fmt::format("{}: species '{}' is mapped twice", where, symbol));
  map.emplace_back(symbol, type);
}

// The [potential] species_map table (chemical symbol -> model type name), checked as parse_species_map checks.
std::vector<std::pair<std::string, std::string>> species_map_of_table(
    const std::vector<std::pair<std::string, std::string>>& table, const std::string& where) {
  std::vector<std::pair<std::string, std::string>> map;
  for (const auto& [symbol, type] : table) add_species_entry(symbol + "=" + type, symbol, type, where, map);
  return map;
}

}  // namespace

std::vector<std::pair<std::string, std::string>> parse_species_map(const std::string& text, const std::string& where) {
  std::vector<std::pair<std::string, std::string>> map;
  std::stringstream list(text);
  for (std::string raw; std::getline(list, raw, ',');) {
    const std::size_t equals = raw.find('=');
    if (equals == std::string::npos) {
      add_species_entry(raw, "", "", where, map);
    } else {
      add_species_entry(raw, std::string_view(raw).substr(0, equals), std::string_view(raw).substr(equals + 1), where,
                        map);
    }
  }
  return map;
}

struct NequipPotential::Impl {
  PotentialOptions options;
  std::optional<NequipModel> native;
  std::optional<TorchScriptModel> script;
  // torchscript backend with a model without a virial output: the native port of the same file, for the virial.
  std::optional<NequipModel> virial_model;
  DeployedMetadata metadata;
  TrainingDomain domain;
  std::string domain_source;
  Precision dtype = Precision::model_default;
  std::optional<Kernel> kernel;  // backend native only
  double r_max = 0.0;
  // The system's species as model types, refreshed when the system's species list changes.
  std::vector<std::string> mapped_symbols;
  std::vector<std::int64_t> type_of_species;
  // Graph atom k is system atom order[k] (engine/spatial_order.hpp), made at neighbour-list build ordered_at_build.
  std::vector<std::size_t> order;
  std::uint64_t ordered_at_build = 0;
  // Buffers reused between calls.
  AtomicGraph graph;
  ModelOutput output, virial_output;

  // Model types of `symbols` (by the species map); InputError prefixed by `where` (default: the model key).
  std::vector<std::int64_t> types_for(const std::vector<std::string>& symbols, const std::string& where = "") const {
    std::vector<std::int64_t> types;
    std::vector<std::string> missing;
    for (const std::string& symbol : symbols) {
      std::string type = symbol;
      for (const auto& [from, to] : options.species_map)
        if (from == symbol) type = to;
      const auto found = std::find(metadata.type_names.begin(), metadata.type_names.end(), type);
      if (found == metadata.type_names.end()) missing.push_back(symbol);
      types.push_back(found - metadata.type_names.begin());
    }
    if (!missing.empty())
      throw InputError(fmt::format("{}: the system holds species {} that NequIP model '{}' does not describe "
                                   "(its types: {}; map symbols to types with species_map)",
                                   where.empty() ? options.model_where : where, fmt::join(missing, ", "), options.model,
                                   fmt::join(metadata.type_names, ", ")));
    return types;
  }

  // The closest pairs of the frames of extxyz `files`, read as this potential maps species to types.
  TrainingDomain domain_of_frames(const std::vector<std::string>& files) const {
    TrainingDomain domain(metadata.n_species);
    NeighborList neighbors(r_max, 0.0, NeighborListKind::full);
    AtomicGraph graph;
    std::size_t frames = 0;
    for (const std::string& file : files) {
      std::error_code error;
      if (!std::filesystem::is_regular_file(file, error))
        throw InputError(fmt::format("{}: training data file '{}' does not exist", options.training_data_where, file));
      ExtxyzReader reader(file);
      for (std::size_t index = 0; std::optional<Frame> frame = reader.next(); ++index, ++frames) {
        const std::vector<std::int64_t> types = types_for(
            frame->system.species_symbols, fmt::format("{}: {}, frame {}", options.training_data_where, file, index));
        neighbors.build(frame->system);
        build_graph(frame->system, neighbors, r_max, types, graph);
        domain.include(graph);
      }
    }
    if (frames == 0) throw InputError(fmt::format("{}: the training data files hold no frames", options.training_data_where));
    return domain;
  }
};

NequipPotential::NequipPotential(const PotentialOptions& options) : impl_(std::make_unique<Impl>()) {
  Impl& m = *impl_;
  m.options = options;
  const std::string& path = options.model;
  auto fail = [&](const std::string& message) -> void {
    throw InputError(fmt::format("{}: {}", options.model_where, message));
  };
  std::error_code error;
  if (!std::filesystem::is_regular_file(path, error)) fail(fmt::format("NequIP model file '{}' does not exist", path));

  if (options.threads > 0) {
    torch::set_num_threads(options.threads);
  } else if (const std::optional<int> threads = omp_num_threads()) {
    torch::set_num_threads(*threads);
  }

  try {
    if (options.backend == Backend::native) {
      ModelOptions model_options;
      model_options.dtype = options.dtype;
      model_options.kernel = options.kernel;
      m.native.emplace(path, model_options);
      m.metadata = m.native->metadata();
      m.kernel = m.native->kernel();
      if (!m.native->kernel_note().empty()) log::warn("{}: {}", options.model_where, m.native->kernel_note());
    } else {
      if (NequipModel::is_native_file(path))
        fail(fmt::format("'{}' is a native model file; backend = \"torchscript\" needs a nequip-deploy .pth "
                         "(use backend = \"native\")",
                         path));
      m.script.emplace(path);
      m.metadata = m.script->metadata();
      const std::string& own = m.metadata.model_dtype;
      if (options.dtype != Precision::model_default && name(options.dtype) != own) {
        if (options.dtype == Precision::float64)
          fail(fmt::format("NequIP model '{}' was deployed in float32 (model_dtype); it cannot run in float64", path));
        fail(fmt::format("backend \"torchscript\" runs NequIP model '{}' in its deployed model_dtype ({}); "
                         "use backend = \"native\" for {}",
                         path, own, name(options.dtype)));
      }
      if (!m.script->has_virial()) m.virial_model.emplace(path);
    }
  } catch (const InputError& e) {
    const std::string message = e.what();
    if (message.rfind(options.model_where, 0) == 0) throw;
    fail(message);
  }
  m.dtype = parse_precision(m.metadata.model_dtype, options.model_where);
  m.r_max = m.metadata.r_max;
  for (const auto& [symbol, type] : options.species_map)
    if (std::find(m.metadata.type_names.begin(), m.metadata.type_names.end(), type) == m.metadata.type_names.end())
      throw InputError(fmt::format("{}: \"{}={}\" names type '{}', which NequIP model '{}' lacks (its types: {})",
                                   options.species_map_where, symbol, type, type, path,
                                   fmt::join(m.metadata.type_names, ", ")));
  const bool has_record = m.native && !m.native->training_domain().empty();
  if (!options.training_data.empty()) {
    m.domain = m.domain_of_frames(options.training_data);
    m.domain_source = fmt::format("{}", fmt::join(options.training_data, ", "));
    if (has_record)
      log::info("{}: the closest pairs of {} replace the training record of '{}'", options.training_data_where,
                m.domain_source, path);
  } else if (has_record) {
    m.domain = m.native->training_domain();
    m.domain_source = fmt::format("the training record of '{}'", path);
  }
  if (m.domain.empty())
    log::info("{}: '{}' has no record of its training data's closest pairs (nequip-deploy files have none): no "
              "model-extrapolation check unless the training frames are given ({})",
              options.model_where, path, options.training_data_where);
}

NequipPotential::~NequipPotential() = default;

double NequipPotential::cutoff() const { return impl_->r_max; }
const std::vector<std::string>& NequipPotential::type_names() const { return impl_->metadata.type_names; }
Backend NequipPotential::backend() const { return impl_->options.backend; }
Precision NequipPotential::dtype() const { return impl_->dtype; }
std::optional<Kernel> NequipPotential::kernel() const { return impl_->kernel; }
std::size_t NequipPotential::last_num_edges() const { return impl_->graph.num_edges(); }
std::string NequipPotential::training_domain() const {
  if (impl_->domain.empty()) return "";
  return fmt::format("closest pairs in the training data (from {}): {}", impl_->domain_source,
                     impl_->domain.describe(impl_->metadata.type_names));
}

void NequipPotential::check_system(const System& system) const { impl_->types_for(system.species_symbols); }

void NequipPotential::compute(const System& system, const NeighborList& neighbors, ForceResult& result) {
  Impl& m = *impl_;
  if (neighbors.kind() != NeighborListKind::full || neighbors.cutoff() < m.r_max)
    throw std::logic_error(fmt::format("nequip potential needs a full neighbour list of radius >= {} A", m.r_max));
  if (system.species_symbols != m.mapped_symbols) {
    m.type_of_species = m.types_for(system.species_symbols);
    m.mapped_symbols = system.species_symbols;
  }
  // The graph's atoms go in a spatial order, made again at each neighbour-list build: the message passing gathers
  // the features of each atom's neighbours, which are then near it in memory (docs/performance.md, scaling). It
  // is made from the positions of the build, so a run restarted with its list has the same order.
  if (neighbors.build_id() != m.ordered_at_build || m.order.size() != system.size()) {
    m.order = spatial_order(neighbors.built_positions().size() == system.size() ? neighbors.built_positions()
                                                                                : system.positions,
                            kOrderBinWidth);
    m.ordered_at_build = neighbors.build_id();
  }
  AtomicGraph& graph = m.graph;
  build_graph(system, neighbors, m.r_max, m.type_of_species, graph, m.order);

  if (m.native) {
    m.native->evaluate(graph, true, m.output);
  } else {
    m.script->evaluate(graph, m.output);
    if (m.virial_model) {
      m.virial_model->evaluate(graph, true, m.virial_output);
      m.output.virial = m.virial_output.virial;
    }
  }
  result.energy = m.output.total_energy;
  const std::size_t n = system.size();
  result.atom_energies.resize(n);
  result.forces.resize(n);
  for (std::size_t k = 0; k < n; ++k) {
    result.atom_energies[m.order[k]] = m.output.atomic_energies[k];
    result.forces[m.order[k]] = m.output.forces[k];
  }
  result.virial = m.output.virial ? *m.output.virial : Mat3::Zero();
  result.extrapolation.clear();
  m.domain.find_outside(graph, result.extrapolation);
  for (ExtrapolationEvent& event : result.extrapolation) {
    event.atom = m.order[event.atom];
    event.neighbor = m.order[event.neighbor];
  }
  std::sort(result.extrapolation.begin(), result.extrapolation.end(),
            [](const ExtrapolationEvent& a, const ExtrapolationEvent& b) { return a.atom < b.atom; });
}

SectionSchema NequipPotential::schema() {
  SectionSchema schema{"potential",
                       "NequIP equivariant interatomic potential (nequip 0.6.2 models), native C++ port or "
                       "TorchScript; docs/nequip.md.",
                       {}};
  schema.keys.push_back(KeySpec("model", KeyType::string,
                                "nequip-deploy .pth or native model file (relative to this input file)")
                            .require());
  schema.keys.push_back(KeySpec("backend", KeyType::string,
                                "native (C++ port, virial for every model) or torchscript (the deployed module)")
                            .one_of({"native", "torchscript"})
                            .defaults_to("native"));
  schema.keys.push_back(KeySpec("kernel", KeyType::string,
                                "backend native: fused (hand-written forward and backward, fast) or autograd "
                                "(libtorch autograd; the reference the fused kernel is tested against)")
                            .one_of({"fused", "autograd"})
                            .defaults_to("fused"));
  schema.keys.push_back(KeySpec("dtype", KeyType::string,
                                "float64 or float32; default the model's model_dtype (float32 models cannot run in "
                                "float64)")
                            .one_of({"float64", "float32"}));
  schema.keys.push_back(KeySpec("species_map", KeyType::string_table,
                                "chemical symbol to model type name, e.g. { Cu = \"Cu\", Au = \"Au\" }; unlisted "
                                "symbols match the type of the same name"));
  schema.keys.push_back(KeySpec("training_data", KeyType::string_array,
                                "extxyz files of the model's training frames (relative to this input file): their "
                                "closest pairs define the extrapolation check for models without a training record "
                                "(nequip-deploy .pth); default: the model file's record"));
  schema.keys.push_back(KeySpec("threads", KeyType::integer,
                                "torch intra-op threads; 0: OMP_NUM_THREADS if set, else torch's default")
                            .at_least(0)
                            .at_most(4096)
                            .defaults_to(std::int64_t{0}));
  return schema;
}

namespace {

std::unique_ptr<Potential> create(const ConfigSection& section, const System& system) {
  PotentialOptions options;
  options.model = section.path("model");
  // The schema has checked the spellings (one_of): the parses below cannot fail.
  options.backend = parse_backend(section.string("backend"), section.where("backend"));
  if (section.has("dtype")) options.dtype = parse_precision(section.string("dtype"), section.where("dtype"));
  options.kernel = parse_kernel(section.string("kernel"), section.where("kernel"));
  if (section.has("species_map"))
    options.species_map = species_map_of_table(section.string_table("species_map"), section.where("species_map"));
  options.threads = static_cast<int>(section.integer("threads"));
  if (section.has("training_data")) {
    options.training_data = section.paths("training_data");
    if (options.training_data.empty()) section.fail("training_data", "must name at least one extxyz file");
  }
  options.training_data_where = section.where("training_data");
  options.model_where = section.where("model");
  options.species_map_where = section.where("species_map");
  auto potential = std::make_unique<NequipPotential>(options);
  potential->check_system(system);
  return potential;
}

const bool registered = PotentialRegistry::instance().add({"nequip", NequipPotential::schema(), create});

}  // namespace

}  // namespace nqmd::nequip
