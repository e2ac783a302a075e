#include "potential/nequip/training/detail/batch_impl.hpp"

#include <algorithm>

#include "potential/nequip/detail/deployed_impl.hpp"

namespace nqmd::nequip::training {
namespace {

// Adds the differences selected by `mask` (0 or 1, broadcast to the differences' shape) to `sums`.
void add_masked(ErrorSums& sums, const torch::Tensor& differences, const torch::Tensor& mask) {
  const double absolute = (differences.abs() * mask).sum().item<double>();
  const double squared = (differences.square() * mask).sum().item<double>();
  const double count = mask.expand_as(differences).sum().item<double>();
  sums.add_sums(absolute, squared, static_cast<std::size_t>(count));
}

}  // namespace

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

std::vector<FrameTensors> frame_tensors(const std::vector<TrainingFrame>& frames) {
  std::vector<FrameTensors> tensors;
  for (const TrainingFrame& f : frames) tensors.push_back(frame_tensors(f));
  return tensors;
}

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

std::vector<Batch> fixed_batches(const std::vector<FrameTensors>& frames, std::size_t batch_size) {
  std::vector<std::int64_t> order(frames.size());
  for (std::size_t k = 0; k < order.size(); ++k) order[k] = static_cast<std::int64_t>(k);
  std::vector<Batch> batches;
  for (std::size_t b = 0; b < order.size(); b += batch_size)
    batches.push_back(make_batch(frames, order, b, std::min(b + batch_size, order.size())));
  return batches;
}

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
  add_masked(metrics.forces, force_diff, atom_mask);
  for (std::size_t t = 0; t < metrics.species_forces.size(); ++t) {
    const torch::Tensor of_type = (b.types == static_cast<std::int64_t>(t)).unsqueeze(1);
    add_masked(metrics.species_forces[t], force_diff, atom_mask * of_type);
  }
  add_masked(metrics.energy, energy_error.detach() * scale, b.energy_mask);
  if (want_virial) add_masked(metrics.stress, stress_error.detach() * scale, b.virial_mask.reshape({-1, 1, 1}));
  return loss;
}

}  // namespace nqmd::nequip::training
