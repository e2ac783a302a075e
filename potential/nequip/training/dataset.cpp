#include "potential/nequip/training/dataset.hpp"

#include <ATen/CPUGeneratorImpl.h>
#include <torch/torch.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <sstream>

#include "engine/error.hpp"
#include "engine/neighbor_list.hpp"
#include "engine/periodic_table.hpp"

namespace nqmd::nequip {
namespace {

std::vector<double> numbers_of(const std::string& text, const std::string& what) {
  std::vector<double> values;
  std::stringstream in(text);
  for (std::string token; in >> token;) {
    char* end = nullptr;
    const double v = std::strtod(token.c_str(), &end);
    if (end == token.c_str() || *end != '\0') throw InputError(what + ": '" + token + "' is not a number");
    values.push_back(v);
  }
  return values;
}

Mat3 matrix_of(const std::vector<double>& v, const std::string& what) {
  Mat3 m;
  if (v.size() == 9) {
    // ASE reshapes 9 info values column-major (see engine/extxyz.cpp); symmetric tensors do not care.
    for (int k = 0; k < 9; ++k) m(k % 3, k / 3) = v[static_cast<std::size_t>(k)];
  } else if (v.size() == 6) {
    // Voigt order xx yy zz yz xz xy.
    m << v[0], v[5], v[4], v[5], v[1], v[3], v[4], v[3], v[2];
  } else {
    throw InputError(what + " has " + std::to_string(v.size()) + " values (expected 9, or Voigt 6)");
  }
  return m;
}

void require_finite(double value, const std::string& where, const std::string& label) {
  if (!std::isfinite(value)) throw InputError(where + ": " + label + " is not finite (NaN or inf)");
}

}  // namespace

std::vector<std::string> symbols_by_atomic_number(const std::vector<Frame>& frames) {
  std::vector<std::string> symbols;
  for (const Frame& f : frames)
    for (const std::string& s : f.system.species_symbols)
      if (std::find(symbols.begin(), symbols.end(), s) == symbols.end()) symbols.push_back(s);
  std::sort(symbols.begin(), symbols.end(), [](const std::string& a, const std::string& b) {
    return element_by_symbol(a).atomic_number < element_by_symbol(b).atomic_number;
  });
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
  // Energy: `energy` is parsed by the reader; other keys are free info values.
  if (keys.energy == "energy") {
    if (input.energy) out.energy = *input.energy * energy_unit;
  } else if (const std::string* text = input.find_info(keys.energy)) {
    const std::vector<double> v = numbers_of(*text, where + ": " + keys.energy);
    if (v.size() != 1) throw InputError(where + ": " + keys.energy + " has " + std::to_string(v.size()) + " values (expected 1)");
    out.energy = v[0] * energy_unit;
  }
  if (out.energy) require_finite(*out.energy, where, "energy '" + keys.energy + "'");

  const double force_unit = energy_unit / length;
  if (keys.forces == "forces") {
    if (input.forces) {
      out.forces = *input.forces;
      for (Vec3& f : *out.forces) f *= force_unit;
    }
  } else {
    for (const ExtxyzColumn& column : input.extra_columns) {
      if (column.name != keys.forces) continue;
      if (column.type != 'R' || column.width != 3)
        throw InputError(where + ": column " + keys.forces + " is not 3 reals per atom");
      std::vector<Vec3> forces(system.size());
      for (std::size_t i = 0; i < system.size(); ++i)
        for (int k = 0; k < 3; ++k) {
          const std::string& text = column.values[i * 3 + static_cast<std::size_t>(k)];
          char* end = nullptr;
          forces[i][k] = std::strtod(text.c_str(), &end) * force_unit;
          if (end == text.c_str()) throw InputError(where + ": " + keys.forces + " value '" + text + "' is not a number");
        }
      out.forces = forces;
    }
  }
  if (out.forces)
    for (std::size_t i = 0; i < out.forces->size(); ++i)
      for (int k = 0; k < 3; ++k) require_finite((*out.forces)[i][k], where, "force on atom " + std::to_string(i));

  // Stress (ASE sign) becomes the virial -stress * V; a virial key is taken as it is.
  std::optional<Mat3> stress;
  if (keys.stress == "stress") {
    stress = input.stress;
  } else if (const std::string* text = input.find_info(keys.stress)) {
    stress = matrix_of(numbers_of(*text, where + ": " + keys.stress), where + ": " + keys.stress);
  }
  if (stress) {
    if (out.volume <= 0.0)
      throw InputError(where + ": has a stress but is not periodic in all three directions (give a virial)");
    out.virial = -(*stress) * keys.stress_to_ev_per_a3 * out.volume;
  } else {
    std::optional<Mat3> virial;
    if (keys.virial == "virial") {
      virial = input.virial;
    } else if (const std::string* text = input.find_info(keys.virial)) {
      virial = matrix_of(numbers_of(*text, where + ": " + keys.virial), where + ": " + keys.virial);
    }
    if (virial) out.virial = *virial * energy_unit;
  }
  if (out.virial)
    for (int k = 0; k < 9; ++k) require_finite((*out.virial)(k / 3, k % 3), where, "stress/virial");
  return out;
}

std::vector<TrainingFrame> read_training_frames(const std::string& path, const LabelKeys& keys,
                                                const std::vector<std::string>& type_names, double r_max) {
  std::vector<TrainingFrame> frames;
  ExtxyzReader reader(path);
  std::size_t index = 0;
  while (std::optional<Frame> frame = reader.next()) {
    frames.push_back(make_training_frame(*frame, path + ", frame " + std::to_string(index), keys, type_names, r_max));
    ++index;
  }
  return frames;
}

std::vector<std::int64_t> nequip_split_permutation(std::int64_t n, std::uint64_t seed) {
  at::Generator generator = at::make_generator<at::CPUGeneratorImpl>(seed);
  const torch::Tensor perm = torch::randperm(n, generator, torch::TensorOptions().dtype(torch::kInt64));
  return std::vector<std::int64_t>(perm.data_ptr<std::int64_t>(), perm.data_ptr<std::int64_t>() + n);
}

}  // namespace nqmd::nequip
