#include "potential/nequip/nequip_model.hpp"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <functional>
#include <random>
#include <sstream>

#include "engine/error.hpp"
#include "io/npz.hpp"
#include "potential/nequip/detail/deployed_impl.hpp"
#include "potential/nequip/detail/e3nn_impl.hpp"
#include "potential/nequip/detail/nequip_model_impl.hpp"
#include "potential/nequip/detail/tensor_npy_impl.hpp"

namespace nqmd::nequip {
namespace detail {
namespace {

const std::string kFunc = "model.model.func.";

// e3nn 0.5.1 normalize2mom constants (estimated by e3nn from 1e6 normals, CPU generator seed 0, float64).
constexpr double kSiluConstant = 1.6791767923989418;
constexpr double kSspConstant = 1.878204668541552;
constexpr double kTanhConstant = 1.5937334472592695;
constexpr double kAbsConstant = 1.001110600838467;

bool path_exists(const Irreps& in1, const Irreps& in2, const Irrep& out) {
  for (const auto& a : in1.blocks())
    for (const auto& b : in2.blocks())
      for (const Irrep& ir : a.ir * b.ir)
        if (ir == out) return true;
  return false;
}

// The blocks of x [n, irreps.dim()] as [n, mul, 2l+1] views from one split: its backward is one concatenation,
// where a narrow per block would allocate a zero gradient of the whole of x for every block (it matters for
// training, which differentiates through this twice).
std::vector<torch::Tensor> blocks_of(const torch::Tensor& x, const Irreps& irreps) {
  std::vector<std::int64_t> sizes;
  for (const auto& b : irreps.blocks()) sizes.push_back(b.dim());
  std::vector<torch::Tensor> parts = x.split_with_sizes(sizes, 1);
  for (std::size_t k = 0; k < parts.size(); ++k) parts[k] = parts[k].reshape({x.size(0), irreps[k].mul, irreps[k].ir.dim()});
  return parts;
}

// Columns [offset, offset + size) of x [n, columns] for each (offset, size), from one split of x (the ranges must
// tile x's columns, in any order).
std::vector<torch::Tensor> column_ranges(const torch::Tensor& x,
                                         const std::vector<std::pair<std::int64_t, std::int64_t>>& ranges) {
  std::vector<std::size_t> order(ranges.size());
  for (std::size_t k = 0; k < order.size(); ++k) order[k] = k;
  std::sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) { return ranges[a].first < ranges[b].first; });
  std::vector<std::int64_t> sizes;
  std::int64_t end = 0;
  for (std::size_t k : order) {
    if (ranges[k].first != end) throw std::logic_error("column_ranges: the ranges do not tile the tensor");
    sizes.push_back(ranges[k].second);
    end += ranges[k].second;
  }
  if (end != x.size(1)) throw std::logic_error("column_ranges: the ranges do not tile the tensor");
  const std::vector<torch::Tensor> parts = x.split_with_sizes(sizes, 1);
  std::vector<torch::Tensor> out(ranges.size());
  for (std::size_t k = 0; k < order.size(); ++k) out[order[k]] = parts[k];
  return out;
}

}  // namespace

Activation Activation::from_name(const std::string& name, const std::string& where) {
  Activation a;
  if (name == "silu") {
    a.kind = Kind::silu, a.constant = kSiluConstant;
  } else if (name == "ssp") {
    a.kind = Kind::ssp, a.constant = kSspConstant;
  } else if (name == "tanh") {
    a.kind = Kind::tanh, a.constant = kTanhConstant;
  } else if (name == "abs") {
    a.kind = Kind::abs, a.constant = kAbsConstant;
  } else {
    throw InputError(where + ": unsupported nonlinearity '" + name + "' (silu, ssp, tanh, abs)");
  }
  return a;
}

torch::Tensor Activation::operator()(const torch::Tensor& x) const {
  switch (kind) {
    case Kind::silu:
      return torch::silu(x) * constant;
    case Kind::ssp:
      return (torch::softplus(x) - std::log(2.0)) * constant;
    case Kind::tanh:
      return torch::tanh(x) * constant;
    case Kind::abs:
      return torch::abs(x) * constant;
  }
  return x;
}

EquivariantLinear::EquivariantLinear(Irreps in, Irreps out, torch::Tensor weight, const std::string& name)
    : in_(std::move(in)), out_(std::move(out)), weight_(std::move(weight)) {
  std::int64_t offset = 0;
  std::vector<int> fan_in(out_.size(), 0);
  for (std::size_t i = 0; i < in_.size(); ++i)
    for (std::size_t o = 0; o < out_.size(); ++o)
      if (in_[i].ir == out_[o].ir) {
        paths_.push_back(Path{static_cast<int>(i), static_cast<int>(o), 0.0, offset});
        offset += static_cast<std::int64_t>(in_[i].mul) * out_[o].mul;
        fan_in[o] += in_[i].mul;
      }
  for (auto& p : paths_) p.weight = 1.0 / std::sqrt(static_cast<double>(fan_in[static_cast<std::size_t>(p.i_out)]));
  if (weight_.numel() != offset) {
    throw InputError("NequIP weights: '" + name + "' has " + std::to_string(weight_.numel()) + " numbers, " +
                     in_.to_string() + " -> " + out_.to_string() + " needs " + std::to_string(offset));
  }
}

std::int64_t EquivariantLinear::weight_numel(const Irreps& in, const Irreps& out) {
  std::int64_t count = 0;
  for (const auto& a : in.blocks())
    for (const auto& b : out.blocks())
      if (a.ir == b.ir) count += static_cast<std::int64_t>(a.mul) * b.mul;
  return count;
}

torch::Tensor EquivariantLinear::operator()(const torch::Tensor& x) const {
  const std::vector<torch::Tensor> in_blocks = blocks_of(x, in_);
  const std::int64_t n = x.size(0);
  std::vector<torch::Tensor> outputs;
  for (std::size_t o = 0; o < out_.size(); ++o) {
    torch::Tensor sum;
    for (const auto& p : paths_) {
      if (p.i_out != static_cast<int>(o)) continue;
      const int mul_in = in_[static_cast<std::size_t>(p.i_in)].mul;
      const torch::Tensor w = weight_.narrow(0, p.offset, static_cast<std::int64_t>(mul_in) * out_[o].mul)
                                  .reshape({mul_in, out_[o].mul});
      // [n, mul_in, d] -> [n, d, mul_in] @ [mul_in, mul_out] -> [n, mul_out, d]
      const torch::Tensor term =
          torch::matmul(in_blocks[static_cast<std::size_t>(p.i_in)].transpose(1, 2), w * p.weight).transpose(1, 2);
      sum = sum.defined() ? sum + term : term;
    }
    if (!sum.defined()) sum = torch::zeros({n, out_[o].mul, out_[o].ir.dim()}, x.options());
    outputs.push_back(sum.reshape({n, out_[o].dim()}));
  }
  return torch::cat(outputs, 1);
}

TensorProduct::TensorProduct(Irreps in1, Irreps in2, Irreps out, Mode mode,
                             const std::vector<std::array<int, 3>>& instructions, const torch::TensorOptions& options)
    : in1_(std::move(in1)), in2_(std::move(in2)), out_(std::move(out)), mode_(mode) {
  // 'element' path normalisation: alpha = (2 l_out + 1) / sum over the instructions into the same output of
  // their number of summed elements (mul2 for uvu, mul1*mul2 for uvw).
  std::vector<double> fan(out_.size(), 0.0);
  for (const auto& ins : instructions) {
    const auto& a = in1_[static_cast<std::size_t>(ins[0])];
    const auto& b = in2_[static_cast<std::size_t>(ins[1])];
    fan[static_cast<std::size_t>(ins[2])] += mode_ == Mode::uvu ? b.mul : a.mul * b.mul;
  }
  for (const auto& ins : instructions) {
    const auto& a = in1_[static_cast<std::size_t>(ins[0])];
    const auto& b = in2_[static_cast<std::size_t>(ins[1])];
    const auto& c = out_[static_cast<std::size_t>(ins[2])];
    TensorProductPath path;
    path.i1 = ins[0], path.i2 = ins[1], path.i_out = ins[2];
    const double f = fan[static_cast<std::size_t>(ins[2])];
    path.path_weight = f > 0 ? std::sqrt(c.ir.dim() / f) : 0.0;
    weight_sizes_.push_back(mode_ == Mode::uvu ? static_cast<std::int64_t>(a.mul) * b.mul
                                               : static_cast<std::int64_t>(a.mul) * b.mul * c.mul);
    weight_numel_ += weight_sizes_.back();
    const torch::Tensor w3j =
        wigner_3j_tensor(a.ir.l, b.ir.l, c.ir.l, options).reshape({a.ir.dim() * b.ir.dim(), c.ir.dim()});
    // A scalar input (l1 = 0 or l2 = 0) makes C = +-I/sqrt(2l+1): a factor instead of a matrix product, one
    // operation less per path forwards and in each derivative.
    if (a.ir.l == 0 || b.ir.l == 0) {
      const double diagonal = w3j[0][0].item<double>();
      const torch::Tensor identity = torch::eye(c.ir.dim(), options) * diagonal;
      if (w3j.size(0) == c.ir.dim() && torch::allclose(w3j, identity, 0.0, 1e-15)) path.factor = diagonal;
    }
    if (path.factor != 1.0 || a.ir.l == 0 || b.ir.l == 0) {
      path.factor *= path.path_weight;
    } else {
      path.w3j = w3j * path.path_weight;
    }
    paths_.push_back(path);
  }
}

torch::Tensor TensorProduct::operator()(const torch::Tensor& x1, const torch::Tensor& x2,
                                        const torch::Tensor& weight) const {
  const std::int64_t n = x1.size(0);
  const std::vector<torch::Tensor> blocks1 = blocks_of(x1, in1_), blocks2 = blocks_of(x2, in2_);
  // The per-path weight slices, from one split (see blocks_of).
  const std::vector<torch::Tensor> path_weights = weight.split_with_sizes(weight_sizes_, mode_ == Mode::uvu ? 1 : 0);
  std::vector<torch::Tensor> sums(out_.size());
  for (std::size_t k = 0; k < paths_.size(); ++k) {
    const TensorProductPath& p = paths_[k];
    const auto& a = in1_[static_cast<std::size_t>(p.i1)];
    const auto& b = in2_[static_cast<std::size_t>(p.i2)];
    const auto& c = out_[static_cast<std::size_t>(p.i_out)];
    const torch::Tensor& u = blocks1[static_cast<std::size_t>(p.i1)];  // [n, mul1, d1]
    const torch::Tensor& v = blocks2[static_cast<std::size_t>(p.i2)];  // [n, mul2, d2]
    // [n, mul1, mul2, d1*d2] @ C -> [n, mul1, mul2, d3]
    const torch::Tensor outer = (u.unsqueeze(2).unsqueeze(-1) * v.unsqueeze(1).unsqueeze(3))
                                    .reshape({n, a.mul, b.mul, a.ir.dim() * b.ir.dim()});
    const torch::Tensor coupled = p.w3j.defined() ? torch::matmul(outer, p.w3j) : outer;
    torch::Tensor term;
    if (mode_ == Mode::uvu && b.mul == 1) {
      // One channel in x2 (the edge spherical harmonics): no sum over it.
      term = coupled.reshape({n, a.mul, c.ir.dim()}) * path_weights[k].reshape({n, a.mul, 1});
    } else if (mode_ == Mode::uvu) {
      const torch::Tensor w = path_weights[k].reshape({n, a.mul, b.mul, 1});
      term = (coupled * w).sum(2);  // [n, mul1, d3]
    } else {
      const torch::Tensor w = path_weights[k].reshape({a.mul * b.mul, c.mul});
      // [n, d3, mul1*mul2] @ [mul1*mul2, mul_out] -> [n, mul_out, d3]
      term = torch::matmul(coupled.reshape({n, a.mul * b.mul, c.ir.dim()}).transpose(1, 2), w).transpose(1, 2);
    }
    if (p.factor != 1.0) term = term * p.factor;
    auto& sum = sums[static_cast<std::size_t>(p.i_out)];
    sum = sum.defined() ? sum + term : term;
  }
  std::vector<torch::Tensor> outputs;
  for (std::size_t o = 0; o < out_.size(); ++o) {
    outputs.push_back(sums[o].defined() ? sums[o].reshape({n, out_[o].dim()})
                                        : torch::zeros({n, out_[o].dim()}, x1.options()));
  }
  return torch::cat(outputs, 1);
}

torch::Tensor FullyConnectedNet::operator()(const torch::Tensor& x) const {
  torch::Tensor h = x;
  for (std::size_t k = 0; k < weights.size(); ++k) {
    const torch::Tensor w = weights[k] / std::sqrt(static_cast<double>(weights[k].size(0)));
    h = torch::matmul(h, w);
    if (k + 1 < weights.size()) h = activation(h);
  }
  return h;
}

torch::Tensor Gate::operator()(const torch::Tensor& x) const {
  const std::int64_t n = x.size(0);
  // Every slice from one split of x (see blocks_of): scalars, then gates, then gated.
  std::vector<std::pair<std::int64_t, std::int64_t>> ranges;
  for (const auto& s : scalars) ranges.emplace_back(s.offset, s.mul);
  for (const auto& g : gates) ranges.emplace_back(g.offset, g.mul);
  for (const auto& g : gated) ranges.emplace_back(g.offset, g.mul * g.dim);
  const std::vector<torch::Tensor> parts = column_ranges(x, ranges);
  std::size_t part = 0;
  std::vector<torch::Tensor> out;
  for (const auto& s : scalars) out.push_back(s.activation(parts[part++]));
  std::vector<torch::Tensor> gate_values;
  for (const auto& g : gates) gate_values.push_back(g.activation(parts[part++]));
  const torch::Tensor all_gates = gate_values.empty() ? torch::Tensor() : torch::cat(gate_values, 1);
  std::int64_t channel = 0;
  for (const auto& g : gated) {
    const torch::Tensor values = parts[part++].reshape({n, g.mul, g.dim});
    const torch::Tensor factors = all_gates.narrow(1, channel, g.mul).unsqueeze(-1);
    out.push_back((values * factors).reshape({n, g.mul * g.dim}));
    channel += g.mul;
  }
  return torch::cat(out, 1);
}

NequipNetwork::NequipNetwork(const DeployedMetadata& metadata, const std::map<std::string, torch::Tensor>& state,
                             std::optional<std::uint64_t> random_seed) {
  const std::string where = "NequIP model '" + metadata.path + "'";
  if (metadata.config.empty()) throw InputError(where + " has no config extra file; redeploy it with nequip-deploy");
  const ModelConfig config = ModelConfig::parse(metadata.config, "config of '" + metadata.path + "'");
  std::mt19937_64 rng(random_seed.value_or(0));
  // A weight by name: from `state`, or drawn when building a random model (values by `fill`, default N(0,1)).
  auto draw = [&](const std::vector<std::int64_t>& shape, const std::function<double(std::int64_t)>& fill) {
    std::int64_t count = 1;
    for (std::int64_t extent : shape) count *= extent;
    std::vector<double> values(static_cast<std::size_t>(count));
    std::normal_distribution<double> normal(0.0, 1.0);
    for (std::int64_t k = 0; k < count; ++k) values[static_cast<std::size_t>(k)] = fill ? fill(k) : normal(rng);
    return torch::tensor(values, torch::kFloat64).reshape(shape);
  };
  auto param = [&](const std::string& name, const std::vector<std::int64_t>& shape,
                   const std::function<double(std::int64_t)>& fill = {}) -> torch::Tensor {
    auto it = state.find(name);
    torch::Tensor t;
    if (it != state.end()) {
      t = it->second;
    } else if (random_seed) {
      t = draw(shape, fill);
    } else {
      throw InputError(where + " has no parameter '" + name + "'");
    }
    weights_[name] = t;
    return t;
  };
  auto optional_param = [&](const std::string& name) -> torch::Tensor {
    if (auto drawn = weights_.find(name); drawn != weights_.end()) return drawn->second;
    auto it = state.find(name);
    if (it == state.end()) return torch::Tensor();
    weights_[name] = it->second;
    return it->second;
  };

  // Builders: the default chain only.
  const std::vector<std::string> builders = config.get_list("model_builders");
  for (const std::string& b : builders) {
    if (b == "StressForceOutput") stress_output_ = true;
    if (b != "SimpleIrrepsConfig" && b != "EnergyModel" && b != "PerSpeciesRescale" && b != "ForceOutput" &&
        b != "StressForceOutput" && b != "RescaleEnergyEtc") {
      throw InputError(where + ": unsupported model builder '" + b + "'");
    }
  }
  if (config.get_string("nonlinearity_type", "gate") != "gate") {
    throw InputError(where + ": only nonlinearity_type 'gate' is supported");
  }

  dtype_ = dtype_from_name(metadata.model_dtype, metadata.path);
  const auto options = torch::TensorOptions().dtype(dtype_);
  num_types_ = metadata.n_species;
  r_max_ = config.contains("r_max") ? config.get_double("r_max") : metadata.r_max;
  cutoff_p_ = config.contains("PolynomialCutoff_p") ? config.get_double("PolynomialCutoff_p") : 6.0;
  const int num_layers = config.get_int("num_layers", 3);
  const int lmax = config.get_int("l_max", 1);
  const bool parity = config.get_bool("parity", true);
  const int features = config.get_int("num_features", 32);
  // null: messages are summed without normalisation.
  const std::string avg = config.get_string("avg_num_neighbors", "null");
  avg_num_neighbors_ = avg == "null" ? 1.0 : config.get_double("avg_num_neighbors");
  const bool use_sc = config.get_bool("use_sc", true);
  bessel_trainable_ = config.get_bool("BesselBasis_trainable", true);
  per_species_scales_trainable_ = config.get_bool("per_species_rescale_scales_trainable", false);
  per_species_shifts_trainable_ = config.get_bool("per_species_rescale_shifts_trainable", false);
  const bool resnet = config.get_bool("resnet", false);

  // SimpleIrrepsConfig: explicit irreps in the config win, otherwise derived from num_features/l_max/parity.
  irreps_edge_sh_ = config.contains("irreps_edge_sh") ? Irreps::parse(config.get_string("irreps_edge_sh"))
                                                       : Irreps::spherical_harmonics(lmax, parity ? -1 : 1);
  Irreps hidden;
  if (config.contains("feature_irreps_hidden")) {
    hidden = Irreps::parse(config.get_string("feature_irreps_hidden"));
  } else {
    std::vector<MulIrrep> blocks;
    for (int p : parity ? std::vector<int>{1, -1} : std::vector<int>{1})
      for (int l = 0; l <= lmax; ++l) blocks.push_back(MulIrrep{features, Irrep{l, p}});
    hidden = Irreps(blocks);
  }
  const Irreps embedding_out = config.contains("chemical_embedding_irreps_out")
                                   ? Irreps::parse(config.get_string("chemical_embedding_irreps_out"))
                                   : Irreps({MulIrrep{features, Irrep{0, 1}}});
  const Irreps output_hidden = config.contains("conv_to_output_hidden_irreps_out")
                                   ? Irreps::parse(config.get_string("conv_to_output_hidden_irreps_out"))
                                   : Irreps({MulIrrep{std::max(1, features / 2), Irrep{0, 1}}});
  const Activation scalar_even =
      Activation::from_name(config.get_string("nonlinearity_scalars.e", "silu"), where);
  const Activation scalar_odd = Activation::from_name(config.get_string("nonlinearity_scalars.o", "tanh"), where);
  const Activation gate_even = Activation::from_name(config.get_string("nonlinearity_gates.e", "silu"), where);
  const Activation gate_odd = Activation::from_name(config.get_string("nonlinearity_gates.o", "tanh"), where);

  const std::int64_t config_num_basis = config.get_int("num_basis", 8);
  bessel_weights_ = param(kFunc + "radial_basis.basis.bessel_weights", {config_num_basis}, [](std::int64_t n) {
                      return static_cast<double>(n + 1) * std::acos(-1.0);
                    }).to(dtype_);
  const std::int64_t num_basis = bessel_weights_.numel();
  const Irreps one_hot({MulIrrep{num_types_, Irrep{0, 1}}});
  auto linear = [&](const Irreps& in, const Irreps& out, const std::string& name) {
    return EquivariantLinear(in, out, param(name, {EquivariantLinear::weight_numel(in, out)}).to(dtype_), name);
  };
  chemical_embedding_ = linear(one_hot, embedding_out, kFunc + "chemical_embedding.linear.weight");

  Irreps current = embedding_out;
  for (int k = 0; k < num_layers; ++k) {
    const std::string prefix = kFunc + "layer" + std::to_string(k) + "_convnet.";
    ConvNetLayer layer;
    layer.irreps_in = current;
    // Gate: reachable scalars and gated irreps of feature_irreps_hidden, one gate per gated channel.
    std::vector<MulIrrep> scalars, gated;
    for (const auto& b : hidden.blocks()) {
      if (!path_exists(current, irreps_edge_sh_, b.ir)) continue;
      (b.ir.l == 0 ? scalars : gated).push_back(b);
    }
    const Irrep gate_ir = path_exists(current, irreps_edge_sh_, Irrep{0, 1}) ? Irrep{0, 1} : Irrep{0, -1};
    std::vector<MulIrrep> gates;
    for (const auto& g : gated) gates.push_back(MulIrrep{g.mul, gate_ir});
    // Sorted concatenation scalars + gates + gated (the conv output layout).
    struct Item {
      int group;
      std::size_t index;
      MulIrrep block;
    };
    std::vector<Item> items;
    for (std::size_t i = 0; i < scalars.size(); ++i) items.push_back({0, i, scalars[i]});
    for (std::size_t i = 0; i < gates.size(); ++i) items.push_back({1, i, gates[i]});
    for (std::size_t i = 0; i < gated.size(); ++i) items.push_back({2, i, gated[i]});
    std::vector<MulIrrep> concatenated;
    for (const auto& it : items) concatenated.push_back(it.block);
    const Irreps::Sorted sorted = Irreps(concatenated).sort();
    const std::vector<int> sorted_offsets = sorted.irreps.offsets();
    layer.gate.scalars.resize(scalars.size());
    layer.gate.gates.resize(gates.size());
    layer.gate.gated.resize(gated.size());
    std::vector<MulIrrep> out_blocks;
    for (std::size_t i = 0; i < items.size(); ++i) {
      const Item& it = items[i];
      Gate::Slice slice{sorted_offsets[static_cast<std::size_t>(sorted.position[i])], it.block.mul, it.block.ir.dim(),
                        Activation{}};
      if (it.group == 0) {
        slice.activation = it.block.ir.p == 1 ? scalar_even : scalar_odd;
        layer.gate.scalars[it.index] = slice;
      } else if (it.group == 1) {
        slice.activation = it.block.ir.p == 1 ? gate_even : gate_odd;
        if (it.block.ir.p == -1 && !slice.activation.is_odd() && !slice.activation.is_even()) {
          throw InputError(where + ": the gate nonlinearity for odd gates must be odd or even (tanh or abs)");
        }
        layer.gate.gates[it.index] = slice;
      } else {
        layer.gate.gated[it.index] = slice;
      }
    }
    for (const auto& s : scalars) {
      Irrep ir = s.ir;
      if (ir.p == -1) {
        if (scalar_odd.is_even()) {
          ir.p = 1;
        } else if (!scalar_odd.is_odd()) {
          throw InputError(where + ": the scalar nonlinearity for odd scalars must be odd or even (tanh or abs)");
        }
      }
      out_blocks.push_back(MulIrrep{s.mul, ir});
    }
    out_blocks.insert(out_blocks.end(), gated.begin(), gated.end());
    layer.gate.irreps_in = sorted.irreps.simplify();
    layer.gate.irreps_out = Irreps(out_blocks).simplify();
    layer.conv_out = layer.gate.irreps_in;

    // Interaction block.
    layer.linear_1 = linear(current, current, prefix + "conv.linear_1.weight");
    std::vector<MulIrrep> mid;
    std::vector<std::array<int, 3>> instructions;
    for (std::size_t i = 0; i < current.size(); ++i)
      for (std::size_t j = 0; j < irreps_edge_sh_.size(); ++j)
        for (const Irrep& ir_out : current[i].ir * irreps_edge_sh_[j].ir)
          if (layer.conv_out.contains(ir_out)) {
            instructions.push_back({static_cast<int>(i), static_cast<int>(j), static_cast<int>(mid.size())});
            mid.push_back(MulIrrep{current[i].mul, ir_out});
          }
    const Irreps::Sorted mid_sorted = Irreps(mid).sort();
    for (auto& ins : instructions) ins[2] = mid_sorted.position[static_cast<std::size_t>(ins[2])];
    layer.irreps_mid = mid_sorted.irreps;
    layer.tp = TensorProduct(current, irreps_edge_sh_, layer.irreps_mid, TensorProduct::Mode::uvu, instructions,
                             options);
    if (random_seed && state.count(prefix + "conv.fc.layer0.weight") == 0) {
      // FullyConnectedNet([num_basis] + invariant_layers x [invariant_neurons] + [tp.weight_numel]).
      std::vector<std::int64_t> sizes{num_basis};
      for (int i = 0; i < config.get_int("invariant_layers", 2); ++i) sizes.push_back(config.get_int("invariant_neurons", 64));
      sizes.push_back(layer.tp.weight_numel());
      for (std::size_t i = 0; i + 1 < sizes.size(); ++i)
        layer.fc.weights.push_back(
            param(prefix + "conv.fc.layer" + std::to_string(i) + ".weight", {sizes[i], sizes[i + 1]}).to(dtype_));
    } else {
      for (int i = 0;; ++i) {
        torch::Tensor w = optional_param(prefix + "conv.fc.layer" + std::to_string(i) + ".weight");
        if (!w.defined()) break;
        layer.fc.weights.push_back(w.to(dtype_));
      }
    }
    layer.fc.activation = scalar_even;
    if (layer.fc.weights.empty() || layer.fc.weights.front().size(0) != num_basis ||
        layer.fc.weights.back().size(1) != layer.tp.weight_numel()) {
      throw InputError(where + ": radial network of layer " + std::to_string(k) + " does not match the config");
    }
    layer.linear_2 = linear(layer.irreps_mid.simplify(), layer.conv_out, prefix + "conv.linear_2.weight");
    layer.use_sc = use_sc;
    if (use_sc) {
      std::vector<std::array<int, 3>> sc_instructions;
      for (std::size_t i = 0; i < current.size(); ++i)
        for (std::size_t j = 0; j < one_hot.size(); ++j)
          for (std::size_t o = 0; o < layer.conv_out.size(); ++o)
            for (const Irrep& ir : current[i].ir * one_hot[j].ir)
              if (ir == layer.conv_out[o].ir)
                sc_instructions.push_back({static_cast<int>(i), static_cast<int>(j), static_cast<int>(o)});
      layer.sc = TensorProduct(current, one_hot, layer.conv_out, TensorProduct::Mode::uvw, sc_instructions, options);
      layer.sc_weight = param(prefix + "conv.sc.weight", {layer.sc.weight_numel()}).to(dtype_);
      if (layer.sc_weight.numel() != layer.sc.weight_numel()) {
        throw InputError(where + ": self-connection weights of layer " + std::to_string(k) + " do not match");
      }
    }
    layer.resnet = resnet && layer.gate.irreps_out == current;
    current = layer.gate.irreps_out;
    layers_.push_back(std::move(layer));
  }
  conv_to_output_hidden_ = linear(current, output_hidden, kFunc + "conv_to_output_hidden.linear.weight");
  output_hidden_to_scalar_ =
      linear(output_hidden, Irreps({MulIrrep{1, Irrep{0, 1}}}), kFunc + "output_hidden_to_scalar.linear.weight");
  if (random_seed) {
    std::uniform_real_distribution<double> uniform(0.5, 1.5);
    std::normal_distribution<double> normal(0.0, 0.1);
    param(kFunc + "per_species_rescale.scales", {num_types_}, [&](std::int64_t) { return uniform(rng); });
    param(kFunc + "per_species_rescale.shifts", {num_types_}, [&](std::int64_t) { return normal(rng); });
    param("model.scale_by", {}, [](std::int64_t) { return 1.0; });
  }
  per_species_scales_ = optional_param(kFunc + "per_species_rescale.scales");
  per_species_shifts_ = optional_param(kFunc + "per_species_rescale.shifts");
  const torch::Tensor scale_by = optional_param("model.scale_by");
  has_global_scale_ = scale_by.defined() && scale_by.numel() == 1;
  if (has_global_scale_) global_scale_ = scale_by.to(torch::kFloat64).item<double>();
  const torch::Tensor shift_by = optional_param("model.shift_by");
  has_global_shift_ = shift_by.defined() && shift_by.numel() == 1;
  if (has_global_shift_) global_shift_ = shift_by.to(torch::kFloat64).item<double>();
}

torch::Tensor NequipNetwork::energy_graph(const torch::Tensor& pos, const torch::Tensor& atom_types,
                                          const torch::Tensor& edge_index, const torch::Tensor& edge_shift_vectors,
                                          Stages* stages) const {
  auto record = [&](const std::string& key, const torch::Tensor& t) {
    if (stages) (*stages)[key] = t.detach().clone();
  };
  const torch::Tensor types = atom_types.reshape({-1});
  const torch::Tensor one_hot = torch::one_hot(types, num_types_).to(dtype_);
  record("one_hot:node_attrs", one_hot);
  record("one_hot:node_features", one_hot);
  const torch::Tensor centers = edge_index[0];
  const torch::Tensor neighbors = edge_index[1];
  const torch::Tensor edge_vec = pos.index_select(0, neighbors) - pos.index_select(0, centers) + edge_shift_vectors;
  record("spharm_edges:edge_vectors", edge_vec);
  const torch::Tensor edge_sh = spherical_harmonics(irreps_edge_sh_, edge_vec, true);
  record("spharm_edges:edge_attrs", edge_sh);

  const torch::Tensor r = edge_vec.norm(2, -1);
  record("radial_basis:edge_lengths", r);
  const torch::Tensor bessel = (2.0 / r_max_) * (torch::sin(bessel_weights_ * r.unsqueeze(-1) / r_max_) / r.unsqueeze(-1));
  const double p = cutoff_p_;
  const torch::Tensor x = r * (1.0 / r_max_);
  torch::Tensor cutoff = 1.0 - ((p + 1.0) * (p + 2.0) / 2.0) * torch::pow(x, p);
  cutoff = cutoff + (p * (p + 2.0)) * torch::pow(x, p + 1.0);
  cutoff = cutoff - (p * (p + 1.0) / 2.0) * torch::pow(x, p + 2.0);
  cutoff = cutoff * (x < 1.0);
  const torch::Tensor edge_embedding = bessel * cutoff.unsqueeze(-1);
  record("radial_basis:edge_embedding", edge_embedding);
  record("radial_basis:edge_cutoff", cutoff);

  torch::Tensor h = chemical_embedding_(one_hot);
  record("chemical_embedding:node_features", h);
  const std::int64_t n = pos.size(0);
  const double neighbor_norm = std::sqrt(avg_num_neighbors_);
  for (std::size_t k = 0; k < layers_.size(); ++k) {
    const ConvNetLayer& layer = layers_[k];
    const torch::Tensor old = h;
    torch::Tensor sc;
    if (layer.use_sc) sc = layer.sc(h, one_hot, layer.sc_weight);
    const torch::Tensor x1 = layer.linear_1(h);
    const torch::Tensor weights = layer.fc(edge_embedding);
    const torch::Tensor messages = layer.tp(x1.index_select(0, neighbors), edge_sh, weights);
    torch::Tensor aggregated =
        torch::zeros({n, messages.size(1)}, messages.options()).index_add(0, centers, messages);
    aggregated = aggregated / neighbor_norm;
    torch::Tensor conv = layer.linear_2(aggregated);
    if (layer.use_sc) conv = conv + sc;
    h = layer.gate(conv);
    if (layer.resnet) h = old + h;
    record("layer" + std::to_string(k) + "_convnet:node_features", h);
  }
  const torch::Tensor hidden = conv_to_output_hidden_(h);
  record("conv_to_output_hidden:node_features", hidden);
  torch::Tensor atomic = output_hidden_to_scalar_(hidden);
  record("output_hidden_to_scalar:atomic_energy", atomic);
  // PerSpeciesScaleShift works in the default dtype (float64).
  atomic = atomic.to(torch::kFloat64);
  if (per_species_scales_.defined() && per_species_shifts_.defined()) {
    atomic = torch::addcmul(per_species_shifts_.to(torch::kFloat64).index_select(0, types).unsqueeze(-1),
                            per_species_scales_.to(torch::kFloat64).index_select(0, types).unsqueeze(-1), atomic);
  } else if (per_species_scales_.defined()) {
    atomic = per_species_scales_.to(torch::kFloat64).index_select(0, types).unsqueeze(-1) * atomic;
  } else if (per_species_shifts_.defined()) {
    atomic = per_species_shifts_.to(torch::kFloat64).index_select(0, types).unsqueeze(-1) + atomic;
  }
  record("per_species_rescale:atomic_energy", atomic);
  return atomic;
}

NequipNetwork::Result NequipNetwork::forward(const torch::Tensor& pos_in, const torch::Tensor& atom_types,
                                             const torch::Tensor& edge_index, const torch::Tensor& edge_cell_shift,
                                             const torch::Tensor& cell_in, bool compute_virial,
                                             Stages* stages, const torch::Tensor& contributing) const {
  torch::AutoGradMode grad_mode(true);  // forces need autograd even if the caller disabled it
  torch::Tensor pos = pos_in.to(dtype_).detach().clone().requires_grad_(true);
  torch::Tensor cell = cell_in.to(dtype_).reshape({3, 3});
  const torch::Tensor shifts = edge_cell_shift.to(dtype_);
  torch::Tensor displacement;
  torch::Tensor positions = pos;
  if (compute_virial) {
    displacement = torch::zeros({3, 3}, pos.options()).requires_grad_(true);
    const torch::Tensor symmetric = 0.5 * (displacement + displacement.transpose(0, 1));
    positions = pos + torch::matmul(pos, symmetric);
    cell = cell + torch::matmul(cell, symmetric);
    if (stages) (*stages)["one_hot:_displacement"] = displacement.detach().clone();
  }
  const torch::Tensor atomic =
      energy_graph(positions, atom_types, edge_index, torch::matmul(shifts, cell), stages);
  const torch::Tensor total =
      contributing.defined() ? atomic.index_select(0, contributing).sum(0, true) : atomic.sum(0, true);  // [1, 1]
  if (stages) (*stages)["total_energy_sum:total_energy"] = total.detach().clone();

  std::vector<torch::Tensor> inputs{pos};
  if (compute_virial) inputs.push_back(displacement);
  const auto grads = torch::autograd::grad({total}, inputs, {}, /*retain_graph=*/false, /*create_graph=*/false,
                                           /*allow_unused=*/true);
  Result result;
  const double scale = has_global_scale_ ? global_scale_ : 1.0;
  result.total_energy = total.detach() * scale;
  if (has_global_shift_) result.total_energy = result.total_energy + global_shift_;  // RescaleOutput shifts E only
  result.atomic_energy = atomic.detach() * scale;
  torch::Tensor forces = grads[0].defined() ? -grads[0] : torch::zeros_like(pos);
  result.forces = forces.to(torch::kFloat64) * scale;
  if (compute_virial) {
    const torch::Tensor raw = grads[1].defined() ? grads[1] : torch::zeros({3, 3}, pos.options());
    result.virial = (-raw).to(torch::kFloat64).reshape({1, 3, 3}) * scale;
  }
  if (stages) {
    (*stages)["final:total_energy"] = result.total_energy;
    (*stages)["final:atomic_energy"] = result.atomic_energy;
    (*stages)["final:forces"] = result.forces;
  }
  return result;
}

NequipNetwork::BatchResult NequipNetwork::forward_batch(const torch::Tensor& pos_in, const torch::Tensor& atom_types,
                                                       const torch::Tensor& edge_index,
                                                       const torch::Tensor& edge_cell_shift,
                                                       const torch::Tensor& cells_in, const torch::Tensor& atom_frame,
                                                       std::int64_t num_frames, bool virial,
                                                       bool create_graph) const {
  torch::AutoGradMode grad_mode(true);
  const torch::Tensor pos = pos_in.to(dtype_).detach().requires_grad_(true);
  torch::Tensor cells = cells_in.to(dtype_).reshape({num_frames, 3, 3});
  torch::Tensor positions = pos;
  torch::Tensor displacement;
  if (virial) {
    // One symmetric strain per frame, as nequip's StressOutput applies it to a batch.
    displacement = torch::zeros({num_frames, 3, 3}, pos.options()).requires_grad_(true);
    const torch::Tensor symmetric = 0.5 * (displacement + displacement.transpose(1, 2));
    positions = pos + torch::bmm(pos.unsqueeze(1), symmetric.index_select(0, atom_frame)).squeeze(1);
    cells = cells + torch::bmm(cells, symmetric);
  }
  const torch::Tensor edge_frame = atom_frame.index_select(0, edge_index[0]);
  const torch::Tensor shift_vectors =
      torch::bmm(edge_cell_shift.to(dtype_).unsqueeze(1), cells.index_select(0, edge_frame)).squeeze(1);
  const torch::Tensor atomic = energy_graph(positions, atom_types, edge_index, shift_vectors, nullptr);
  BatchResult result;
  result.energy =
      torch::zeros({num_frames}, atomic.options()).index_add(0, atom_frame, atomic.reshape({-1}));
  std::vector<torch::Tensor> inputs{pos};
  if (virial) inputs.push_back(displacement);
  const auto grads = torch::autograd::grad({result.energy.sum()}, inputs, {}, /*retain_graph=*/create_graph,
                                           create_graph, /*allow_unused=*/true);
  result.forces = grads[0].defined() ? -grads[0] : torch::zeros_like(pos);
  if (virial) result.virial = grads[1].defined() ? -grads[1] : torch::zeros_like(displacement);
  return result;
}

std::vector<std::pair<std::string, torch::Tensor>> NequipNetwork::trainable_parameters() const {
  if (dtype_ != torch::kFloat64)
    throw InputError("NequIP training needs a float64 model (model_dtype: float64); deploy in float32 afterwards");
  // The tensors the layers use, with their names in weights_ (they are the same tensors in a float64 model).
  std::vector<std::pair<std::string, torch::Tensor>> used;
  for (const auto& [name, tensor] : weights_) {
    const bool scale_or_shift = name == "model.scale_by" || name == "model.shift_by";
    const bool species_scale = name.find("per_species_rescale.scales") != std::string::npos;
    const bool species_shift = name.find("per_species_rescale.shifts") != std::string::npos;
    const bool bessel = name.find("bessel_weights") != std::string::npos;
    if (scale_or_shift || (species_scale && !per_species_scales_trainable_) ||
        (species_shift && !per_species_shifts_trainable_) || (bessel && !bessel_trainable_))
      continue;
    if (!tensor.defined() || tensor.numel() == 0 || !tensor.is_floating_point()) continue;
    used.emplace_back(name, tensor);
  }
  // Guard the aliasing the optimiser relies on: every layer weight is one of these tensors.
  std::vector<const void*> storage;
  for (const auto& entry : used) storage.push_back(entry.second.data_ptr());
  auto check = [&](const torch::Tensor& t) {
    if (t.defined() && std::find(storage.begin(), storage.end(), t.data_ptr()) == storage.end())
      throw std::logic_error("NequIP training: a layer weight is not one of the trainable tensors");
  };
  check(chemical_embedding_.weight());
  for (const auto& layer : layers_) {
    check(layer.linear_1.weight());
    check(layer.linear_2.weight());
    for (const auto& w : layer.fc.weights) check(w);
    if (layer.use_sc) check(layer.sc_weight);
  }
  check(conv_to_output_hidden_.weight());
  check(output_hidden_to_scalar_.weight());
  if (bessel_trainable_) check(bessel_weights_);
  return used;
}

NpyArray tensor_array(const torch::Tensor& tensor) {
  const torch::Tensor t = tensor.detach().contiguous().cpu();
  NpyArray a;
  if (t.scalar_type() == torch::kFloat64) {
    a.descr = "<f8";
  } else if (t.scalar_type() == torch::kFloat32) {
    a.descr = "<f4";
  } else if (t.scalar_type() == torch::kInt64) {
    a.descr = "<i8";
  } else {
    throw std::logic_error("native NequIP model: weight of unsupported dtype");
  }
  for (std::int64_t extent : t.sizes()) a.shape.push_back(static_cast<std::size_t>(extent));
  const auto* begin = static_cast<const unsigned char*>(t.data_ptr());
  a.bytes.assign(begin, begin + t.numel() * static_cast<std::int64_t>(t.element_size()));
  return a;
}

torch::Tensor array_tensor(const NpyArray& a, const std::string& what) {
  torch::ScalarType type;
  if (a.descr == "<f8") {
    type = torch::kFloat64;
  } else if (a.descr == "<f4") {
    type = torch::kFloat32;
  } else if (a.descr == "<i8") {
    type = torch::kInt64;
  } else {
    throw InputError(what + " has dtype '" + a.descr + "' (expected <f8, <f4 or <i8)");
  }
  if (a.fortran_order) throw InputError(what + " is stored in Fortran order");
  std::vector<std::int64_t> shape(a.shape.begin(), a.shape.end());
  torch::Tensor t = torch::empty(shape, torch::TensorOptions().dtype(type));
  if (static_cast<std::size_t>(t.numel() * static_cast<std::int64_t>(t.element_size())) != a.bytes.size())
    throw InputError(what + " is truncated");
  std::memcpy(t.data_ptr(), a.bytes.data(), a.bytes.size());
  return t;
}

}  // namespace detail

namespace {

constexpr const char* kFormatEntry = "nequip_md_native_model";
constexpr std::int64_t kFormatVersion = 1;
// Closest pair distance per pair of types in the training frames (A; inf: no such pair within r_max), [n][n].
constexpr const char* kTrainingDomainEntry = "domain/closest_pair_distance";

std::string array_text(const NpzFile& file, const std::string& key) {
  const NpyArray& a = file.get(key);
  if (a.descr != "|u1") throw InputError("native NequIP model '" + file.path() + "': '" + key + "' is not text");
  return a.text();
}

// Weights kept in the default dtype (float64) whatever the model dtype, as nequip builds them.
bool default_dtype_weight(const std::string& name) {
  return name.find("per_species_rescale") != std::string::npos || name == "model.scale_by" ||
         name == "model.shift_by";
}

}  // namespace

struct NequipModel::Impl {
  DeployedMetadata metadata;
  TrainingDomain training_domain;
  std::unique_ptr<detail::NequipNetwork> network;
  std::unique_ptr<FusedNetwork> fused;  // null: evaluate with autograd
  Kernel kernel = Kernel::autograd;
  std::string kernel_note;

  void select_kernel(Kernel requested) {
    fused.reset();
    kernel = Kernel::autograd;
    kernel_note.clear();
    if (requested == Kernel::autograd) return;
    std::string reason;
    fused = FusedNetwork::create(*network, &reason);
    if (fused) {
      kernel = Kernel::fused;
    } else {
      kernel_note = "the fused kernel does not support this model (" + reason + "); it runs with autograd";
    }
  }
};

NequipModel::NequipModel() : impl_(std::make_unique<Impl>()) {}

NequipModel::NequipModel(const std::string& path, const ModelOptions& options) : impl_(std::make_unique<Impl>()) {
  std::map<std::string, torch::Tensor> state;
  if (is_native_file(path)) {
    const NpzFile file(path);
    const std::vector<std::int64_t> version = file.get(kFormatEntry).to_int64();
    if (version.size() != 1 || version[0] != kFormatVersion)
      throw InputError("native NequIP model '" + path + "' has format version " +
                       (version.empty() ? std::string("?") : std::to_string(version[0])) + "; this build reads " +
                       std::to_string(kFormatVersion));
    DeployedMetadata& meta = impl_->metadata;
    meta.path = path;
    meta.nequip_version = array_text(file, "nequip_version");
    const std::vector<double> r_max = file.get("r_max").to_double();
    if (r_max.size() != 1) throw InputError("native NequIP model '" + path + "': 'r_max' must hold one number");
    meta.r_max = r_max[0];
    std::stringstream names(array_text(file, "type_names"));
    for (std::string name; names >> name;) meta.type_names.push_back(name);
    meta.n_species = static_cast<int>(meta.type_names.size());
    meta.model_dtype = array_text(file, "model_dtype");
    meta.default_dtype = array_text(file, "default_dtype");
    meta.config = array_text(file, "config");
    if (!(meta.r_max > 0) || meta.n_species == 0)
      throw InputError("native NequIP model '" + path + "': bad r_max or type_names");
    if (file.contains(kTrainingDomainEntry))
      impl_->training_domain =
          TrainingDomain::from_values(file.get(kTrainingDomainEntry).to_double(), meta.n_species,
                                      "native NequIP model '" + path + "': '" + kTrainingDomainEntry + "'");
    for (const std::string& key : file.keys())
      if (key.rfind("weights/", 0) == 0)
        state[key.substr(8)] = detail::array_tensor(file.get(key), "native NequIP model '" + path + "': '" + key + "'");
  } else {
    detail::DeployedModule deployed = detail::load_deployed(path, false);
    // The native port follows the module layout of nequip 0.6 (parameter names, builders, config keys).
    if (deployed.metadata.nequip_version.rfind("0.6.", 0) != 0)
      throw InputError("NequIP model '" + path + "' was deployed by nequip " + deployed.metadata.nequip_version +
                       "; the native backend supports models deployed by nequip 0.6.x (torch 1.13); try backend = "
                       "\"torchscript\"");
    for (const auto& p : deployed.module.named_parameters(true)) state[p.name] = p.value.detach().clone();
    for (const auto& b : deployed.module.named_buffers(true)) state[b.name] = b.value.detach().clone();
    impl_->metadata = deployed.metadata;
  }
  DeployedMetadata& meta = impl_->metadata;
  if (options.dtype != Precision::model_default && name(options.dtype) != meta.model_dtype) {
    if (options.dtype == Precision::float64)
      throw InputError("NequIP model '" + path + "' was deployed in float32 (model_dtype); it cannot run in float64");
    const torch::ScalarType dtype = detail::dtype_from_name(name(options.dtype), path);
    for (auto& [weight_name, tensor] : state)
      if (tensor.is_floating_point() && !default_dtype_weight(weight_name)) tensor = tensor.to(dtype);
    meta.model_dtype = name(options.dtype);
  }
  impl_->network = std::make_unique<detail::NequipNetwork>(meta, state);
  impl_->select_kernel(options.kernel);
}

NequipModel NequipModel::random(const std::string& config_yaml, const std::vector<std::string>& type_names,
                                std::uint64_t seed, const std::map<std::string, std::vector<double>>& fixed_weights) {
  const ModelConfig config = ModelConfig::parse(config_yaml, "random NequIP model config");
  NequipModel model;
  DeployedMetadata& meta = model.impl_->metadata;
  meta.path = "random NequIP model (seed " + std::to_string(seed) + ")";
  meta.nequip_version = "0.6.2";
  meta.r_max = config.get_double("r_max");
  meta.n_species = static_cast<int>(type_names.size());
  meta.type_names = type_names;
  meta.model_dtype = config.get_string("model_dtype", "float64");
  meta.default_dtype = "float64";
  meta.config = config_yaml;
  std::map<std::string, torch::Tensor> state;
  for (const auto& [name, values] : fixed_weights) {
    torch::Tensor t = torch::tensor(values, torch::kFloat64);
    // The global scale and shift are 0-d buffers in nequip.
    state[name] = name == "model.scale_by" || name == "model.shift_by" ? t.reshape({}) : t;
  }
  model.impl_->network = std::make_unique<detail::NequipNetwork>(meta, state, seed);
  model.impl_->select_kernel(Kernel::fused);
  return model;
}

NequipModel::~NequipModel() = default;
NequipModel::NequipModel(NequipModel&&) noexcept = default;
NequipModel& NequipModel::operator=(NequipModel&&) noexcept = default;

bool NequipModel::is_native_file(const std::string& path) {
  return first_zip_member(path) == std::string(kFormatEntry) + ".npy";
}

void NequipModel::save(const std::string& path, const std::vector<std::pair<std::string, NpyArray>>& extra) const {
  const DeployedMetadata& meta = impl_->metadata;
  std::vector<std::pair<std::string, NpyArray>> arrays;
  NpyArray version;
  version.descr = "<i8";
  version.shape = {1};
  version.bytes.resize(8);
  std::memcpy(version.bytes.data(), &kFormatVersion, 8);
  arrays.emplace_back(kFormatEntry, version);
  arrays.emplace_back("nequip_version", text_array(meta.nequip_version));
  std::string names;
  for (const std::string& name : meta.type_names) names += (names.empty() ? "" : " ") + name;
  arrays.emplace_back("type_names", text_array(names));
  arrays.emplace_back("r_max", detail::tensor_array(torch::tensor({meta.r_max}, torch::kFloat64)));
  arrays.emplace_back("model_dtype", text_array(meta.model_dtype));
  arrays.emplace_back("default_dtype", text_array(meta.default_dtype));
  arrays.emplace_back("config", text_array(meta.config));
  if (!impl_->training_domain.empty()) {
    const auto n = static_cast<std::int64_t>(meta.n_species);
    arrays.emplace_back(kTrainingDomainEntry,
                        detail::tensor_array(torch::tensor(impl_->training_domain.values(), torch::kFloat64).reshape({n, n})));
  }
  for (const auto& [name, tensor] : impl_->network->weights()) arrays.emplace_back("weights/" + name, detail::tensor_array(tensor));
  arrays.insert(arrays.end(), extra.begin(), extra.end());
  write_npz(path, arrays);
}

const DeployedMetadata& NequipModel::metadata() const { return impl_->metadata; }
const TrainingDomain& NequipModel::training_domain() const { return impl_->training_domain; }
void NequipModel::set_training_domain(TrainingDomain domain) {
  if (!domain.empty() && domain.num_types() != impl_->metadata.n_species)
    throw InputError("NequIP model '" + impl_->metadata.path + "': a training record of " +
                     std::to_string(domain.num_types()) + " types for a model of " +
                     std::to_string(impl_->metadata.n_species) + " types");
  impl_->training_domain = std::move(domain);
}
int NequipModel::num_layers() const { return static_cast<int>(impl_->network->layers().size()); }
bool NequipModel::has_virial() const { return impl_->network->stress_output(); }
const detail::NequipNetwork& NequipModel::network() const { return *impl_->network; }
void NequipModel::set_kernel(Kernel kernel) { impl_->select_kernel(kernel); }
Kernel NequipModel::kernel() const { return impl_->kernel; }
const std::string& NequipModel::kernel_note() const { return impl_->kernel_note; }
FusedNetwork* NequipModel::fused_network() { return impl_->fused.get(); }

ModelOutput NequipModel::evaluate(const AtomicGraph& graph) {
  ModelOutput output;
  evaluate(graph, has_virial(), output);
  return output;
}

void NequipModel::evaluate(const AtomicGraph& graph, bool virial, ModelOutput& output) {
  graph.validate(impl_->metadata.n_species);
  if (impl_->fused) {
    impl_->fused->evaluate(graph, virial, at::get_num_threads(), output);
    return;
  }
  const detail::GraphTensors t = detail::graph_tensors(graph);
  torch::Tensor contributing;
  if (!graph.contributing.empty()) {
    std::vector<std::int64_t> indices;
    for (std::size_t i = 0; i < graph.num_atoms(); ++i)
      if (graph.contributes(i)) indices.push_back(static_cast<std::int64_t>(i));
    contributing = torch::tensor(indices, torch::TensorOptions().dtype(torch::kInt64));
  }
  const auto result = impl_->network->forward(t.pos, t.atom_types, t.edge_index, t.edge_cell_shift, t.cell, virial,
                                              nullptr, contributing);
  detail::model_output(result.total_energy, result.atomic_energy, result.forces, result.virial, output);
}

}  // namespace nqmd::nequip
