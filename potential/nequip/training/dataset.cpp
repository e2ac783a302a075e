#include "potential/nequip/training/dataset.hpp"

#include <ATen/CPUGeneratorImpl.h>
#include <torch/torch.h>

#include <algorithm>
#include <cmath>

#include "engine/error.hpp"
#include "engine/neighbor_list.hpp"
#include "engine/periodic_table.hpp"

namespace nqmd::nequip {
namespace {

// A stress or virial under a free info key: 9 values (column-major, as ASE) or Voigt 6.
std::optional<Mat3> info_tensor(const Frame& frame, const std::string& key, const std::string& where) {
  const std::optional<std::vector<double>> values = frame.info_numbers(key, where);
  if (!values) return std::nullopt;
  const std::optional<Mat3> matrix = info_matrix(*values, /*voigt_allowed=*/true);
  if (!matrix)
    throw InputError(where + ": " + key + " has " + std::to_string(values->size()) + " values (expected 9, or Voigt 6)");
  return matrix;
}

void require_finite(double value, const std::string& where, const std::string& label) {
  if (!std::isfinite(value)) throw InputError(where + ": " + label + " is not finite (NaN or inf)");
}

}  // namespace

std::vector<std::string> symbols_by_atomic_number(std::vector<std::string> symbols) {
  std::sort(symbols.begin(), symbols.end(), [](const std::string& a, const std::string& b) {
    return element_by_symbol(a).atomic_number < element_by_symbol(b).atomic_number;
  });
  symbols.erase(std::unique(symbols.begin(), symbols.end()), symbols.end());
  return symbols;
}

TrainingFrame make_training_frame(const Frame& input, const std::string& where, const LabelKeys& keys,
                                  const std::vector<std::string>& type_names, double r_max) {
  TrainingFrame out;
  out.where = where;
  System system = input.system;
  const double length = keys.length_to_angstrom;
  if (length != 1.0) {
    for (Vec3& x : system.positions) x *= length;
    system.cell = Cell(system.cell.lattice() * length, system.cell.pbc());
  }
  std::vector<std::int64_t> type_of_species;
  for (const std::string& symbol : system.species_symbols) {
    const auto it = std::find(type_names.begin(), type_names.end(), symbol);
    if (it == type_names.end())
      throw InputError(where + ": species " + symbol + " is not one of the model's types (" + [&] {
                         std::string list;
                         for (const auto& t : type_names) list += (list.empty() ? "" : " ") + t;
                         return list;
                       }() + ")");
    type_of_species.push_back(it - type_names.begin());
  }
  NeighborList neighbors(r_max, 0.0, NeighborListKind::full);
  neighbors.build(system);
  build_graph(system, neighbors, r_max, type_of_species, out.graph);
  out.type_counts.assign(type_names.size(), 0);
  for (std::int64_t t : out.graph.atom_types) ++out.type_counts[static_cast<std::size_t>(t)];
  if (system.cell.fully_periodic()) out.volume = system.cell.volume();

  const double energy_unit = keys.energy_to_ev;
  // `energy`, `forces`, `stress` and `virial` are parsed by the reader; other names are free info keys and columns.
  if (keys.energy == "energy") {
    if (input.energy) out.energy = *input.energy * energy_unit;
  } else if (const auto v = input.info_numbers(keys.energy, where)) {
    if (v->size() != 1)
      throw InputError(where + ": " + keys.energy + " has " + std::to_string(v->size()) + " values (expected 1)");
    out.energy = v->front() * energy_unit;
  }
  if (out.energy) require_finite(*out.energy, where, "energy '" + keys.energy + "'");

  const double force_unit = energy_unit / length;
  out.forces = keys.forces == "forces" ? input.forces : input.vector_column(keys.forces, where);
  if (out.forces)
    for (std::size_t i = 0; i < out.forces->size(); ++i) {
      (*out.forces)[i] *= force_unit;
      for (int k = 0; k < 3; ++k) require_finite((*out.forces)[i][k], where, "force on atom " + std::to_string(i));
    }

  // Stress (ASE sign) becomes the virial -stress * V; a virial key is taken as it is.
  const std::optional<Mat3> stress = keys.stress == "stress" ? input.stress : info_tensor(input, keys.stress, where);
  if (stress) {
    if (out.volume <= 0.0)
      throw InputError(where + ": has a stress but is not periodic in all three directions (give a virial)");
    out.virial = -(*stress) * keys.stress_to_ev_per_a3 * out.volume;
  } else {
    const std::optional<Mat3> virial =
        keys.virial == "virial" ? input.virial : info_tensor(input, keys.virial, where);
    if (virial) out.virial = *virial * energy_unit;
  }
  if (out.virial)
    for (int k = 0; k < 9; ++k) require_finite((*out.virial)(k / 3, k % 3), where, "stress/virial");
  return out;
}

std::vector<std::int64_t> nequip_split_permutation(std::int64_t n, std::uint64_t seed) {
  at::Generator generator = at::make_generator<at::CPUGeneratorImpl>(seed);
  const torch::Tensor perm = torch::randperm(n, generator, torch::TensorOptions().dtype(torch::kInt64));
  return std::vector<std::int64_t>(perm.data_ptr<std::int64_t>(), perm.data_ptr<std::int64_t>() + n);
}

}  // namespace nqmd::nequip
