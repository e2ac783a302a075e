#include "potential/nequip/torchscript_model.hpp"

#include <ATen/Context.h>
#include <torch/csrc/jit/api/module.h>
#include <torch/script.h>

#include <sstream>
#include <unordered_map>

#include "engine/error.hpp"
#include "engine/file_checks.hpp"
#include "io/yaml_config.hpp"
#include "potential/nequip/detail/deployed_impl.hpp"

namespace nqmd::nequip {
namespace detail {
namespace {

std::string first_line(const std::string& text) {
  const std::size_t end = text.find('\n');
  return end == std::string::npos ? text : text.substr(0, end);
}

torch::jit::FusionStrategy parse_fusion_strategy(const std::string& text, const std::string& path) {
  torch::jit::FusionStrategy strategy;
  std::stringstream entries(text.empty() ? std::string("DYNAMIC,3") : text);
  std::string entry;
  while (std::getline(entries, entry, ';')) {
    const std::size_t comma = entry.find(',');
    const std::string type = entry.substr(0, comma);
    std::size_t depth = 0;
    try {
      depth = comma == std::string::npos ? 0 : std::stoul(entry.substr(comma + 1));
    } catch (const std::exception&) {
      throw InputError("NequIP model '" + path + "': bad _jit_fusion_strategy '" + text + "'");
    }
    if (type == "DYNAMIC") {
      strategy.emplace_back(torch::jit::FusionBehavior::DYNAMIC, depth);
    } else if (type == "STATIC") {
      strategy.emplace_back(torch::jit::FusionBehavior::STATIC, depth);
    } else {
      throw InputError("NequIP model '" + path + "': bad _jit_fusion_strategy '" + text + "'");
    }
  }
  return strategy;
}

}  // namespace

torch::ScalarType dtype_from_name(const std::string& name, const std::string& path) {
  if (name == "float64" || name.empty()) return torch::kFloat64;
  if (name == "float32") return torch::kFloat32;
  throw InputError("NequIP model '" + path + "': unsupported model_dtype '" + name + "'");
}

GraphTensors graph_tensors(const AtomicGraph& graph) {
  const auto n = static_cast<std::int64_t>(graph.num_atoms());
  const auto e = static_cast<std::int64_t>(graph.num_edges());
  const auto f64 = torch::TensorOptions().dtype(torch::kFloat64);
  const auto i64 = torch::TensorOptions().dtype(torch::kInt64);
  GraphTensors t;
  t.pos = torch::empty({n, 3}, f64);
  auto pos = t.pos.accessor<double, 2>();
  for (std::int64_t i = 0; i < n; ++i)
    for (int k = 0; k < 3; ++k) pos[i][k] = graph.positions[static_cast<std::size_t>(i)][k];
  t.atom_types = torch::empty({n}, i64);
  auto types = t.atom_types.accessor<std::int64_t, 1>();
  for (std::int64_t i = 0; i < n; ++i) types[i] = graph.atom_types[static_cast<std::size_t>(i)];
  t.edge_index = torch::empty({2, e}, i64);
  t.edge_cell_shift = torch::empty({e, 3}, f64);
  auto index = t.edge_index.accessor<std::int64_t, 2>();
  auto shift = t.edge_cell_shift.accessor<double, 2>();
  for (std::int64_t k = 0; k < e; ++k) {
    const auto s = static_cast<std::size_t>(k);
    index[0][k] = graph.edge_centers[s];
    index[1][k] = graph.edge_neighbors[s];
    for (int d = 0; d < 3; ++d) shift[k][d] = graph.edge_cell_shifts[s][d];
  }
  t.cell = torch::empty({3, 3}, f64);
  auto cell = t.cell.accessor<double, 2>();
  for (int r = 0; r < 3; ++r)
    for (int c = 0; c < 3; ++c) cell[r][c] = graph.cell(r, c);
  return t;
}

void model_output(const torch::Tensor& total_energy, const torch::Tensor& atomic_energy, const torch::Tensor& forces,
                  const torch::Tensor& virial, ModelOutput& out) {
  out.total_energy = total_energy.to(torch::kFloat64).reshape({-1})[0].item<double>();
  const torch::Tensor atomic = atomic_energy.to(torch::kFloat64).contiguous().reshape({-1});
  out.atomic_energies.assign(atomic.data_ptr<double>(), atomic.data_ptr<double>() + atomic.numel());
  const torch::Tensor f = forces.to(torch::kFloat64).contiguous().reshape({-1, 3});
  auto fa = f.accessor<double, 2>();
  out.forces.resize(static_cast<std::size_t>(f.size(0)));
  for (std::int64_t i = 0; i < f.size(0); ++i) out.forces[static_cast<std::size_t>(i)] = Vec3(fa[i][0], fa[i][1], fa[i][2]);
  out.virial.reset();
  if (virial.defined()) {
    const torch::Tensor v = virial.to(torch::kFloat64).contiguous().reshape({3, 3});
    auto va = v.accessor<double, 2>();
    Mat3 m;
    for (int r = 0; r < 3; ++r)
      for (int c = 0; c < 3; ++c) m(r, c) = va[r][c];
    out.virial = m;
  }
}

ModelOutput model_output(const torch::Tensor& total_energy, const torch::Tensor& atomic_energy,
                         const torch::Tensor& forces, const torch::Tensor& virial) {
  ModelOutput out;
  model_output(total_energy, atomic_energy, forces, virial, out);
  return out;
}

DeployedModule load_deployed(const std::string& path, bool freeze) {
  std::unordered_map<std::string, std::string> extra{
      {"config", ""},        {"nequip_version", ""},       {"r_max", ""},        {"n_species", ""},
      {"type_names", ""},    {"_jit_bailout_depth", ""},   {"_jit_fusion_strategy", ""},
      {"allow_tf32", ""},    {"model_dtype", ""},          {"default_dtype", ""}};
  DeployedModule out;
  require_regular_file(path, "a NequIP model (nequip-deploy .pth or native .npz)");
  try {
    out.module = torch::jit::load(path, torch::Device(torch::kCPU), extra);
  } catch (const c10::Error& e) {
    throw InputError("cannot load NequIP model '" + path + "': " + first_line(e.what_without_backtrace()));
  } catch (const std::exception& e) {
    throw InputError("cannot load NequIP model '" + path + "': " + first_line(e.what()));
  }
  DeployedMetadata& meta = out.metadata;
  meta.path = path;
  meta.nequip_version = extra["nequip_version"];
  if (meta.nequip_version.empty()) {
    throw InputError("'" + path + "' is not a nequip-deploy model (empty nequip_version); redeploy it with nequip-deploy");
  }
  try {
    meta.r_max = std::stod(extra["r_max"]);
    meta.n_species = std::stoi(extra["n_species"]);
  } catch (const std::exception&) {
    throw InputError("NequIP model '" + path + "': bad r_max '" + extra["r_max"] + "' or n_species '" +
                     extra["n_species"] + "'");
  }
  std::stringstream names(extra["type_names"]);
  for (std::string name; names >> name;) meta.type_names.push_back(name);
  if (meta.r_max <= 0 || meta.n_species <= 0 || static_cast<int>(meta.type_names.size()) != meta.n_species) {
    throw InputError("NequIP model '" + path + "': inconsistent r_max/n_species/type_names metadata");
  }
  meta.model_dtype = extra["model_dtype"].empty() ? "float64" : extra["model_dtype"];
  meta.default_dtype = extra["default_dtype"].empty() ? "float64" : extra["default_dtype"];
  dtype_from_name(meta.model_dtype, path);
  meta.fusion_strategy = extra["_jit_fusion_strategy"];
  meta.allow_tf32 = extra["allow_tf32"] == "1";
  meta.config = extra["config"];

  torch::jit::FusionStrategy strategy = parse_fusion_strategy(meta.fusion_strategy, path);
  torch::jit::setFusionStrategy(strategy);
  at::globalContext().setAllowTF32CuBLAS(meta.allow_tf32);
  at::globalContext().setAllowTF32CuDNN(meta.allow_tf32);

  out.module.eval();
  if (freeze && out.module.hasattr("training")) out.module = torch::jit::freeze(out.module);
  return out;
}

}  // namespace detail

struct TorchScriptModel::Impl {
  detail::DeployedModule deployed;
  torch::ScalarType dtype = torch::kFloat64;
};

TorchScriptModel::TorchScriptModel(const std::string& path) : impl_(std::make_unique<Impl>()) {
  impl_->deployed = detail::load_deployed(path, true);
  impl_->dtype = detail::dtype_from_name(impl_->deployed.metadata.model_dtype, path);
}

TorchScriptModel::~TorchScriptModel() = default;
TorchScriptModel::TorchScriptModel(TorchScriptModel&&) noexcept = default;
TorchScriptModel& TorchScriptModel::operator=(TorchScriptModel&&) noexcept = default;

const DeployedMetadata& TorchScriptModel::metadata() const { return impl_->deployed.metadata; }

ModelOutput TorchScriptModel::evaluate(const AtomicGraph& graph) {
  ModelOutput output;
  evaluate(graph, output);
  return output;
}

bool TorchScriptModel::has_virial() const {
  const DeployedMetadata& meta = impl_->deployed.metadata;
  if (meta.config.empty()) return false;
  const ModelConfig config = ModelConfig::parse(meta.config, "config of '" + meta.path + "'");
  if (!config.contains("model_builders")) return false;
  for (const std::string& builder : config.get_list("model_builders"))
    if (builder == "StressForceOutput" || builder == "StressOutput") return true;
  return false;
}

void TorchScriptModel::evaluate(const AtomicGraph& graph, ModelOutput& output) {
  graph.validate(impl_->deployed.metadata.n_species);
  if (!graph.contributing.empty())
    throw InputError("NequIP backend \"torchscript\": non-contributing (ghost) atoms are not supported; use "
                     "backend \"native\"");
  const detail::GraphTensors t = detail::graph_tensors(graph);
  c10::Dict<std::string, torch::Tensor> input;
  input.insert("pos", t.pos.to(impl_->dtype));
  input.insert("edge_index", t.edge_index);
  input.insert("edge_cell_shift", t.edge_cell_shift.to(impl_->dtype));
  input.insert("cell", t.cell.to(impl_->dtype));
  input.insert("atom_types", t.atom_types);

  c10::impl::GenericDict result = [&] {
    try {
      return impl_->deployed.module.forward({input}).toGenericDict();
    } catch (const c10::Error& err) {
      throw InputError("NequIP model '" + impl_->deployed.metadata.path +
                       "' failed: " + detail::first_line(err.what_without_backtrace()));
    }
  }();
  detail::model_output(result.at("total_energy").toTensor(), result.at("atomic_energy").toTensor(),
                       result.at("forces").toTensor(),
                       result.contains("virial") ? result.at("virial").toTensor() : torch::Tensor(), output);
}

}  // namespace nqmd::nequip
