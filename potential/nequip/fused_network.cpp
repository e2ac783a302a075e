#include "potential/nequip/fused_network.hpp"

#include <omp.h>
#include <torch/torch.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <vector>

#include "potential/nequip/detail/nequip_model_impl.hpp"
#include "potential/nequip/fused/edge_geometry.hpp"
#include "potential/nequip/fused/gate.hpp"
#include "potential/nequip/fused/layout.hpp"
#include "potential/nequip/fused/linear.hpp"
#include "potential/nequip/fused/radial_net.hpp"
#include "potential/nequip/fused/self_connection.hpp"
#include "potential/nequip/fused/tensor_product.hpp"

namespace nqmd::nequip {
namespace {

using detail::NequipNetwork;
using fused::Block;
using fused::EdgeGeometry;
using fused::Features;
using fused::Gate;
using fused::kChunk;
using fused::Linear;
using fused::RadialNet;
using fused::SelfConnection;
using fused::TensorProductPath;

std::vector<double> to_doubles(const torch::Tensor& t) {
  const torch::Tensor c = t.detach().to(torch::kFloat64).contiguous().reshape({-1});
  return std::vector<double>(c.data_ptr<double>(), c.data_ptr<double>() + c.numel());
}

// One interaction layer (nequip ConvNetLayer): linear_1, the edge pass (radial MLP, tensor product, scatter to the
// centre), linear_2 plus the self-connection, the gate and the optional resnet sum.
template <typename T>
struct Layer {
  Linear<T> linear_1, linear_2;
  bool use_sc = false;
  SelfConnection<T> sc;
  RadialNet<T> radial;
  std::vector<TensorProductPath<T>> paths;
  std::vector<Block> aggregated;  // linear_2's input layout
  Gate<T> gate;
  bool resnet = false;
  std::size_t path_buffer = 0;  // scratch values path_forward and path_backward need
};

// Per-thread buffers of the edge passes.
template <typename T>
struct Scratch : fused::RadialScratch<T> {
  fused::Buffer<T> path_buffer;
  Features<T> x1_grad;  // this thread's share of d(E)/d(x1)
};

using Clock = std::chrono::steady_clock;

// The radial MLP's outputs and activation slopes of every edge and layer are kept from the forward pass for the
// backward pass when they take at most this much memory (model A at 2048 atoms: 31 MB), and recomputed otherwise
// (large models on large cells). Keeping them saves a third of the MLP's work, and half of its activations.
constexpr std::size_t kDefaultKeptRadialBytes = std::size_t{256} << 20;

template <typename T>
class FusedNetworkT final : public FusedNetwork {
 public:
  explicit FusedNetworkT(const NequipNetwork& network);
  void evaluate(const AtomicGraph& graph, bool virial, int threads, ModelOutput& output) override;
  void set_profiling(bool enable) override {
    profiling_ = enable;
    profile_ = FusedProfile();
  }
  const FusedProfile& profile() const override { return profile_; }
  void set_kept_radial_limit(std::size_t bytes) override { kept_radial_limit_ = bytes; }

 private:
  // The energies into `output`; keeps what the backward pass needs.
  void forward(const AtomicGraph& graph, int threads, ModelOutput& output, Clock::time_point& clock);
  // d(E)/d(spherical harmonics) and d(E)/d(radial embedding) into geometry_, back through every layer; E sums
  // the contributing atoms' energies only.
  void backward(const AtomicGraph& graph, int threads, Clock::time_point& clock);
  // Forces (and the virial if `virial`) from d(E)/d(edge vector).
  void forces_and_virial(std::size_t num_atoms, bool virial, ModelOutput& output) const;
  // `kept`: where the radial MLP's outputs and slopes of the layer's edges are kept between the two passes
  // (nullptr: recomputed in the backward pass).
  void edge_forward(const Layer<T>& layer, std::size_t begin, std::size_t end, const Features<T>& x1,
                    Features<T>& aggregated, Scratch<T>& scratch, T* kept, bool timed);
  void edge_backward(const Layer<T>& layer, std::size_t begin, std::size_t end, const Features<T>& x1,
                     const Features<T>& aggregated_grad, Scratch<T>& scratch, const T* kept, bool timed);
  // Sizes kept_radial_ for `num_edges` edges, or empties it if that would take more than kept_radial_limit_.
  void plan_kept_radial(std::size_t num_edges);
  double flop_count(std::size_t num_atoms, std::size_t num_edges) const;
  void add_time(const char* stage, Clock::time_point& start) {
    const Clock::time_point now = Clock::now();
    profile_.seconds[stage] += std::chrono::duration<double>(now - start).count();
    start = now;
  }
  void stage(const char* name, Clock::time_point& clock) {
    if (profiling_) add_time(name, clock);
  }

  // The model.
  int num_types_ = 0;
  double neighbor_norm_ = 1;
  Linear<T> embedding_, to_hidden_, to_scalar_;
  std::vector<Layer<T>> layers_;
  std::vector<double> species_scales_, species_shifts_;
  double global_scale_ = 1, global_shift_ = 0;
  bool has_global_shift_ = false;

  // Per call (storage reused): the edges and what the backward pass needs.
  EdgeGeometry<T> geometry_;
  std::vector<Features<T>> x1_, conv_;  // per layer: linear_1 output, gate input
  std::vector<Scratch<T>> scratch_;
  std::vector<fused::Buffer<T>> kept_radial_;  // per layer, [edge][kept_per_edge()]; empty: recomputed
  std::size_t kept_radial_limit_ = kDefaultKeptRadialBytes;
  Features<T> h_, next_, aggregated_, grad_h_, grad_conv_, grad_aggregated_;

  bool profiling_ = false;
  FusedProfile profile_;
};

template <typename T>
FusedNetworkT<T>::FusedNetworkT(const NequipNetwork& network)
    : geometry_(network.r_max(), network.cutoff_p(), network.irreps_edge_sh().lmax(),
                to_doubles(network.bessel_weights())) {
  num_types_ = network.num_types();
  neighbor_norm_ = std::sqrt(network.avg_num_neighbors());
  embedding_ = Linear<T>::from(network.chemical_embedding());
  to_hidden_ = Linear<T>::from(network.conv_to_output_hidden());
  to_scalar_ = Linear<T>::from(network.output_hidden_to_scalar());
  for (const detail::ConvNetLayer& source : network.layers()) {
    Layer<T> layer;
    layer.linear_1 = Linear<T>::from(source.linear_1);
    layer.linear_2 = Linear<T>::from(source.linear_2);
    layer.use_sc = source.use_sc;
    if (source.use_sc) layer.sc = SelfConnection<T>::from(source.sc, source.sc_weight, num_types_);
    layer.radial = RadialNet<T>::from(source.fc);
    fused::InteractionPaths<T> interaction = fused::interaction_paths<T>(source);
    layer.paths = std::move(interaction.paths);
    layer.aggregated = std::move(interaction.aggregated);
    layer.path_buffer = interaction.buffer;
    layer.gate = Gate<T>::from(source.gate);
    layer.resnet = source.resnet;
    layers_.push_back(std::move(layer));
  }
  const int n = num_types_;
  species_scales_ = network.per_species_scales().defined() ? to_doubles(network.per_species_scales())
                                                           : std::vector<double>(static_cast<std::size_t>(n), 1.0);
  species_shifts_ = network.per_species_shifts().defined() ? to_doubles(network.per_species_shifts())
                                                           : std::vector<double>(static_cast<std::size_t>(n), 0.0);
  global_scale_ = network.global_scale();
  has_global_shift_ = network.has_global_shift();
  global_shift_ = network.global_shift();
}

template <typename T>
void FusedNetworkT<T>::edge_forward(const Layer<T>& layer, std::size_t begin, std::size_t end, const Features<T>& x1,
                                    Features<T>& aggregated, Scratch<T>& scratch, T* kept, bool timed) {
  Clock::time_point clock = Clock::now();
  const std::size_t numel = layer.radial.outputs();
  const std::size_t num_sh = geometry_.num_sh(), nb = geometry_.num_basis();
  scratch.path_buffer.resize(layer.path_buffer);
  for (std::size_t chunk = begin; chunk < end; chunk += kChunk) {
    const std::size_t count = std::min(kChunk, end - chunk);
    layer.radial.forward(geometry_.embedding_values.data() + chunk * nb, count, scratch, false,
                         kept ? kept + chunk * layer.radial.kept_per_edge() : nullptr);
    if (timed) add_time("radial MLP (forward)", clock);
    for (std::size_t q = 0; q < count; ++q) {
      const std::size_t s = chunk + q;
      const auto i = static_cast<std::size_t>(geometry_.centers[s]);
      const auto j = static_cast<std::size_t>(geometry_.neighbors[s]);
      const T* y = geometry_.sh.data() + s * num_sh;
      const T* w = scratch.outputs + q * numel;
      for (const TensorProductPath<T>& p : layer.paths)
        fused::path_forward(p, y, x1.at(static_cast<std::size_t>(p.in_block), j), w + p.weight_offset,
                            aggregated.at(static_cast<std::size_t>(p.out_block), i) + p.out_channel,
                            scratch.path_buffer.data());
    }
    if (timed) add_time("tensor product + scatter (forward)", clock);
  }
}

template <typename T>
void FusedNetworkT<T>::edge_backward(const Layer<T>& layer, std::size_t begin, std::size_t end, const Features<T>& x1,
                                     const Features<T>& aggregated_grad, Scratch<T>& scratch, const T* kept,
                                     bool timed) {
  Clock::time_point clock = Clock::now();
  const std::size_t numel = layer.radial.outputs();
  const std::size_t num_sh = geometry_.num_sh(), nb = geometry_.num_basis();
  Features<T>& x1_grad = scratch.x1_grad;
  scratch.path_buffer.resize(layer.path_buffer);
  for (std::size_t chunk = begin; chunk < end; chunk += kChunk) {
    const std::size_t count = std::min(kChunk, end - chunk);
    if (kept) {
      layer.radial.attach(kept + chunk * layer.radial.kept_per_edge(), count, scratch);
      if (timed) add_time("radial MLP (kept from the forward pass)", clock);
    } else {
      layer.radial.forward(geometry_.embedding_values.data() + chunk * nb, count, scratch, true);
      if (timed) add_time("radial MLP (recomputed in backward)", clock);
    }
    scratch.weight_grads.resize(kChunk * numel);
    for (std::size_t q = 0; q < count; ++q) {
      const std::size_t s = chunk + q;
      const auto i = static_cast<std::size_t>(geometry_.centers[s]);
      const auto j = static_cast<std::size_t>(geometry_.neighbors[s]);
      const T* y = geometry_.sh.data() + s * num_sh;
      double* y_grad = geometry_.sh_grads.data() + s * num_sh;
      const T* w = scratch.outputs + q * numel;
      T* w_grad = scratch.weight_grads.data() + q * numel;
      for (const TensorProductPath<T>& p : layer.paths)
        fused::path_backward(p, y, x1.at(static_cast<std::size_t>(p.in_block), j), w + p.weight_offset,
                             aggregated_grad.at(static_cast<std::size_t>(p.out_block), i) + p.out_channel,
                             w_grad + p.weight_offset, x1_grad.at(static_cast<std::size_t>(p.in_block), j), y_grad,
                             scratch.path_buffer.data());
    }
    if (timed) add_time("tensor product (backward)", clock);
    layer.radial.backward(count, scratch, geometry_.embedding_grads.data() + chunk * nb);
    if (timed) add_time("radial MLP (backward)", clock);
  }
}

template <typename T>
void FusedNetworkT<T>::evaluate(const AtomicGraph& graph, bool virial, int threads, ModelOutput& output) {
  threads = std::max(1, threads);
  const std::size_t num_atoms = graph.num_atoms(), num_edges = graph.num_edges();
  Clock::time_point clock = Clock::now();
  geometry_.forward(graph, threads);
  stage("edge geometry, spherical harmonics, radial basis", clock);
  if (scratch_.size() < static_cast<std::size_t>(threads)) scratch_.resize(static_cast<std::size_t>(threads));
  plan_kept_radial(num_edges);
  forward(graph, threads, output, clock);
  backward(graph, threads, clock);
  geometry_.backward(threads);
  forces_and_virial(num_atoms, virial, output);
  stage("forces and virial from the edge gradients", clock);
  if (profiling_) {
    ++profile_.calls;
    profile_.flops += flop_count(num_atoms, num_edges);
  }
}

template <typename T>
void FusedNetworkT<T>::plan_kept_radial(std::size_t num_edges) {
  std::size_t values = 0;
  for (const Layer<T>& layer : layers_) values += num_edges * layer.radial.kept_per_edge();
  if (values * sizeof(T) > kept_radial_limit_) {
    kept_radial_.clear();
    return;
  }
  kept_radial_.resize(layers_.size());
  for (std::size_t k = 0; k < layers_.size(); ++k) kept_radial_[k].resize(num_edges * layers_[k].radial.kept_per_edge());
}

template <typename T>
void FusedNetworkT<T>::forward(const AtomicGraph& graph, int threads, ModelOutput& output, Clock::time_point& clock) {
  const std::size_t num_atoms = graph.num_atoms();
  const std::vector<int>& types = geometry_.types;
  const std::vector<std::size_t>& thread_edges = geometry_.thread_edges;
  Features<T> one_hot;
  one_hot.reset({Block{num_types_, 0}}, num_atoms);
  for (std::size_t a = 0; a < num_atoms; ++a) one_hot.at(0, a)[types[a]] = T(1);
  embedding_.forward(one_hot, h_, threads);
  x1_.resize(layers_.size());
  conv_.resize(layers_.size());
  const T norm = static_cast<T>(neighbor_norm_);
  for (std::size_t k = 0; k < layers_.size(); ++k) {
    const Layer<T>& layer = layers_[k];
    layer.linear_1.forward(h_, x1_[k], threads);
    stage("linear, self-connection, gate (forward)", clock);
    aggregated_.reset(layer.aggregated, num_atoms);
    // Each range of centres by one thread (a range's centres are written by it alone).
#pragma omp parallel num_threads(threads)
    for (int t = omp_get_thread_num(); t < threads; t += omp_get_num_threads())
      edge_forward(layer, thread_edges[static_cast<std::size_t>(t)], thread_edges[static_cast<std::size_t>(t) + 1],
                   x1_[k], aggregated_, scratch_[static_cast<std::size_t>(t)],
                   kept_radial_.empty() ? nullptr : kept_radial_[k].data(), profiling_ && t == 0);
    if (profiling_) clock = Clock::now();
    aggregated_.divide_by(norm, threads);
    layer.linear_2.forward(aggregated_, conv_[k], threads);
    if (layer.use_sc) layer.sc.forward(h_, types, conv_[k], threads);
    layer.gate.forward(conv_[k], next_, threads);
    if (layer.resnet) next_.add(h_, threads);
    std::swap(h_, next_);
    stage("linear, self-connection, gate (forward)", clock);
  }
  Features<T> hidden, atomic;
  to_hidden_.forward(h_, hidden, threads);
  to_scalar_.forward(hidden, atomic, threads);
  output.atomic_energies.resize(num_atoms);
  double total = 0;
  for (std::size_t a = 0; a < num_atoms; ++a) {
    const auto t = static_cast<std::size_t>(types[a]);
    const double e = species_shifts_[t] + species_scales_[t] * static_cast<double>(atomic.at(0, a)[0]);
    if (graph.contributes(a)) total += e;
    output.atomic_energies[a] = e * global_scale_;
  }
  output.total_energy = total * global_scale_ + (has_global_shift_ ? global_shift_ : 0.0);
}

template <typename T>
void FusedNetworkT<T>::backward(const AtomicGraph& graph, int threads, Clock::time_point& clock) {
  // d(sum of the contributing atoms' energies before the global scale)/d(everything).
  const std::size_t num_atoms = graph.num_atoms();
  const std::vector<int>& types = geometry_.types;
  const std::vector<std::size_t>& thread_edges = geometry_.thread_edges;
  const T norm = static_cast<T>(neighbor_norm_);
  Features<T> atomic_grad, hidden_grad;
  atomic_grad.reset(to_scalar_.out, num_atoms);
  for (std::size_t a = 0; a < num_atoms; ++a)
    atomic_grad.at(0, a)[0] =
        graph.contributes(a) ? static_cast<T>(species_scales_[static_cast<std::size_t>(types[a])]) : T(0);
  hidden_grad.reset(to_scalar_.in, num_atoms);
  to_scalar_.backward(atomic_grad, hidden_grad, threads);
  grad_h_.reset(to_hidden_.in, num_atoms);
  to_hidden_.backward(hidden_grad, grad_h_, threads);
  stage("output head and backward of the node operations", clock);
  for (std::size_t k = layers_.size(); k-- > 0;) {
    const Layer<T>& layer = layers_[k];
    layer.gate.backward(conv_[k], grad_h_, grad_conv_, threads);
    // d/d(layer input): the resnet term, the self-connection and (below) linear_1.
    Features<T>& grad_in = next_;
    grad_in.reset(layer.linear_1.in, num_atoms);
    if (layer.resnet) grad_in.add(grad_h_, threads);
    if (layer.use_sc) layer.sc.backward(grad_conv_, types, grad_in, threads);
    grad_aggregated_.reset(layer.aggregated, num_atoms);
    layer.linear_2.backward(grad_conv_, grad_aggregated_, threads);
    grad_aggregated_.divide_by(norm, threads);
    stage("output head and backward of the node operations", clock);
    // The neighbours' gradients d(E)/d(x1) go to per-range buffers, summed afterwards.
#pragma omp parallel num_threads(threads)
    for (int t = omp_get_thread_num(); t < threads; t += omp_get_num_threads()) {
      Scratch<T>& scratch = scratch_[static_cast<std::size_t>(t)];
      scratch.x1_grad.reset(layer.linear_1.out, num_atoms);
      edge_backward(layer, thread_edges[static_cast<std::size_t>(t)], thread_edges[static_cast<std::size_t>(t) + 1],
                    x1_[k], grad_aggregated_, scratch, kept_radial_.empty() ? nullptr : kept_radial_[k].data(),
                    profiling_ && t == 0);
    }
    if (profiling_) clock = Clock::now();
    Features<T>& grad_x1 = scratch_[0].x1_grad;
    for (int t = 1; t < threads; ++t) grad_x1.add(scratch_[static_cast<std::size_t>(t)].x1_grad, threads);
    layer.linear_1.backward(grad_x1, grad_in, threads);
    std::swap(grad_h_, grad_in);
    stage("output head and backward of the node operations", clock);
  }
}

template <typename T>
void FusedNetworkT<T>::forces_and_virial(std::size_t num_atoms, bool virial, ModelOutput& output) const {
  const std::size_t num_edges = geometry_.lengths.size();
  const std::vector<double>& edge_grads = geometry_.edge_grads;
  const std::vector<double>& vectors = geometry_.vectors;
  output.forces.assign(num_atoms, Vec3::Zero());
  Mat3 raw = Mat3::Zero();
  for (std::size_t s = 0; s < num_edges; ++s) {
    const Vec3 g(edge_grads[3 * s], edge_grads[3 * s + 1], edge_grads[3 * s + 2]);
    // r_ij = x_j - x_i + shift: d(E)/d(x_j) = g, d(E)/d(x_i) = -g.
    output.forces[static_cast<std::size_t>(geometry_.centers[s])] += g * global_scale_;
    output.forces[static_cast<std::size_t>(geometry_.neighbors[s])] -= g * global_scale_;
    if (virial) raw += Vec3(vectors[3 * s], vectors[3 * s + 1], vectors[3 * s + 2]) * g.transpose();
  }
  if (virial) {
    // d(E)/d(strain) through x -> x (1 + (eps + eps^T)/2): the symmetric part; nequip's virial is its negative.
    output.virial = -0.5 * (raw + raw.transpose()) * global_scale_;
  } else {
    output.virial.reset();
  }
}

template <typename T>
double FusedNetworkT<T>::flop_count(std::size_t num_atoms, std::size_t num_edges) const {
  const auto n = static_cast<double>(num_atoms), e = static_cast<double>(num_edges);
  auto linear = [&](const Linear<T>& l) {  // forward and backward
    double madds = 0;
    for (const auto& p : l.paths)
      madds += static_cast<double>(l.in[static_cast<std::size_t>(p.in_block)].dim()) *
               static_cast<double>(p.weight.rows() * p.weight.cols());
    return 4.0 * n * madds;
  };
  double flops = linear(embedding_) / 2 + linear(to_hidden_) + linear(to_scalar_);
  for (const Layer<T>& layer : layers_) {
    flops += linear(layer.linear_1) + linear(layer.linear_2);
    for (const auto& p : layer.sc.paths)
      flops +=
          4.0 * n *
          static_cast<double>(layer.linear_1.in[static_cast<std::size_t>(p.in_block)].dim() * p.mul_in * p.mul_out);
    double radial = 0;
    for (const auto& w : layer.radial.weights) radial += static_cast<double>(w.rows() * w.cols());
    flops += (kept_radial_.empty() ? 3.0 : 2.0) * 2.0 * e * radial;  // forward, recomputed forward?, backward
    for (const auto& p : layer.paths) {
      const double cm = static_cast<double>(p.coefficients.size()) * p.mul, dm = static_cast<double>(p.dim_out) * p.mul;
      flops += e * (2 * cm + 2 * dm + 6 * cm + 4 * dm);  // forward; recompute, weight and input gradients
    }
  }
  return flops;
}

}  // namespace

std::unique_ptr<FusedNetwork> FusedNetwork::create(const NequipNetwork& network, std::string* reason) {
  auto refuse = [&](const std::string& why) -> std::unique_ptr<FusedNetwork> {
    if (reason) *reason = why;
    return nullptr;
  };
  const Irreps& sh = network.irreps_edge_sh();
  for (std::size_t b = 0; b < sh.size(); ++b)
    if (sh[b].mul != 1 || sh[b].ir.l != static_cast<int>(b))
      return refuse("edge spherical harmonics " + sh.to_string() + " are not 1x0 + 1x1 + ... in order");
  for (const auto& layer : network.layers()) {
    if (layer.tp.mode() != detail::TensorProduct::Mode::uvu) return refuse("an interaction tensor product is not uvu");
    if (layer.fc.weights.empty()) return refuse("a layer has no radial network");
  }
  if (network.dtype() == torch::kFloat64) return std::make_unique<FusedNetworkT<double>>(network);
  if (network.dtype() == torch::kFloat32) return std::make_unique<FusedNetworkT<float>>(network);
  return refuse("model dtype is neither float32 nor float64");
}

}  // namespace nqmd::nequip
