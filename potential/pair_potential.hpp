#pragma once
// Machinery shared by the reference pair potentials (lj, morse): parameters per species with mixing rules for
// the cross pairs, explicit per-pair values, per-pair cutoffs, an optional energy shift, and the loop over a
// half neighbour list that accumulates energy, per-atom energies, forces and the virial.
//
// Input layout. An array of tables has no KeyType, so the parameters are parallel arrays in the order of
// `species`, and pairs are named "A-B" (either order) in tables of numbers:
//   species = ["Ar", "Kr"]
//   epsilon = [0.0104, 0.0140]           # one value per species; cross pairs by the style's mixing rule
//   pair_epsilon = { "Ar-Kr" = 0.012 }   # explicit pair values replace mixing (mixing always uses the arrays)
//   cutoff = 8.5                         # A, every pair
//   pair_cutoff = { "Ar-Kr" = 9.0 }      # A, per pair
//   shift = false                        # E(r) - E(cutoff), as LAMMPS pair_modify shift yes
//
// A style is a Form: its parameters (PairParameterSpec), per-pair coefficients precomputed from them, and the
// pair energy with dE/dr / r as a function of r^2.
#include <algorithm>
#include <cmath>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "engine/config.hpp"
#include "engine/error.hpp"
#include "potential/potential.hpp"

namespace nqmd {

enum class MixingRule {
  arithmetic,  // p_ab = (p_a + p_b) / 2
  geometric,   // p_ab = sqrt(p_a p_b)
};

struct PairParameterSpec {
  std::string name;     // key of the per-species array; "pair_" + name holds explicit pair values
  std::string meaning;  // e.g. "well depth"
  std::string unit;     // e.g. "eV"
  MixingRule mixing;
};

// The style's keys of [potential]: `species`, one array and one pair table per parameter, cutoffs and shift.
inline SectionSchema pair_potential_schema(const std::string& style_doc, const std::vector<PairParameterSpec>& specs) {
  SectionSchema schema{"potential", style_doc, {}};
  schema.keys.push_back(KeySpec("species", KeyType::string_array,
                                "species described, e.g. [\"Ar\", \"Kr\"]; the per-species arrays follow this order")
                            .require());
  for (const PairParameterSpec& spec : specs) {
    const char* rule = spec.mixing == MixingRule::arithmetic ? "(a + b)/2" : "sqrt(a b)";
    schema.keys.push_back(KeySpec(spec.name, KeyType::real_array,
                                  fmt::format("{} per species ({}); cross pairs {} unless pair_{} gives them",
                                              spec.meaning, spec.unit, rule, spec.name))
                              .greater_than(0.0)
                              .require());
    schema.keys.push_back(KeySpec("pair_" + spec.name, KeyType::real_table,
                                  fmt::format("{} of given pairs ({}), e.g. {{ \"Ar-Kr\" = ... }}, replacing mixing",
                                              spec.meaning, spec.unit))
                              .greater_than(0.0));
  }
  schema.keys.push_back(KeySpec("cutoff", KeyType::real, "cutoff radius of every pair (A)").greater_than(0.0).require());
  schema.keys.push_back(KeySpec("pair_cutoff", KeyType::real_table,
                                "cutoff radius of given pairs (A), e.g. { \"Ar-Kr\" = 9.0 }, replacing `cutoff`")
                            .greater_than(0.0));
  schema.keys.push_back(
      KeySpec("shift", KeyType::boolean, "subtract each pair's energy at its cutoff, E(r) - E(rc) (LAMMPS shift yes)")
          .defaults_to(false));
  return schema;
}

// Parameters and cutoff of every ordered pair of the potential's species, read from a validated section.
class PairTable {
 public:
  PairTable(const ConfigSection& section, const std::vector<PairParameterSpec>& specs)
      : species_(section.string_array("species")), species_location_(section.where("species")) {
    const std::size_t count = species_.size();
    if (count == 0) section.fail("species", "must name at least one species");
    for (std::size_t a = 0; a < count; ++a)
      for (std::size_t b = 0; b < a; ++b)
        if (species_[a] == species_[b]) section.fail("species", fmt::format("'{}' is listed twice", species_[a]));

    parameters_.assign(count * count, std::vector<double>(specs.size()));
    for (std::size_t p = 0; p < specs.size(); ++p) {
      const std::vector<double> per_species = section.real_array(specs[p].name);
      if (per_species.size() != count)
        section.fail(specs[p].name, fmt::format("expected {} values (one per entry of species = [{}]), got {}", count,
                                                fmt::join(species_, ", "), per_species.size()));
      for (std::size_t a = 0; a < count; ++a)
        for (std::size_t b = 0; b < count; ++b)
          parameters_[index(a, b)][p] = specs[p].mixing == MixingRule::arithmetic
                                            ? 0.5 * (per_species[a] + per_species[b])
                                            : std::sqrt(per_species[a] * per_species[b]);
      for_each_pair_value(section, "pair_" + specs[p].name,
                          [&](std::size_t pair, double value) { parameters_[pair][p] = value; });
    }
    cutoffs_.assign(count * count, section.real("cutoff"));
    for_each_pair_value(section, "pair_cutoff", [&](std::size_t pair, double value) { cutoffs_[pair] = value; });
  }

  const std::vector<std::string>& species() const { return species_; }
  std::size_t index(std::size_t a, std::size_t b) const { return a * species_.size() + b; }
  const std::vector<double>& parameters(std::size_t a, std::size_t b) const { return parameters_[index(a, b)]; }
  double cutoff(std::size_t a, std::size_t b) const { return cutoffs_[index(a, b)]; }

  // Index into species() of each of the system's species; InputError naming those the table does not describe.
  std::vector<int> species_indices(const System& system) const {
    std::vector<int> indices;
    std::vector<std::string> missing;
    for (const std::string& symbol : system.species_symbols) {
      const auto found = std::find(species_.begin(), species_.end(), symbol);
      if (found == species_.end()) missing.push_back(symbol);
      indices.push_back(static_cast<int>(found - species_.begin()));
    }
    if (!missing.empty())
      throw InputError(fmt::format("{}: the system holds species {} that this potential does not describe "
                                   "(species = [{}])",
                                   species_location_, fmt::join(missing, ", "), fmt::join(species_, ", ")));
    return indices;
  }

 private:
  std::vector<std::string> species_;
  std::string species_location_;               // "FILE:LINE: [potential] species", for check_system messages
  std::vector<std::vector<double>> parameters_;  // [index(a, b)][parameter]
  std::vector<double> cutoffs_;                  // [index(a, b)], A

  // Calls set(index, value) for both orders of every "A-B" entry of the table `key`.
  template <typename Set>
  void for_each_pair_value(const ConfigSection& section, const std::string& key, Set set) const {
    std::vector<std::size_t> seen;
    for (const auto& [name, value] : section.real_table(key)) {
      const std::size_t dash = name.find('-');
      if (dash == std::string::npos || name.find('-', dash + 1) != std::string::npos)
        section.fail(key, fmt::format("pair \"{}\" must be written \"A-B\", e.g. \"{}-{}\"", name, species_.front(),
                                      species_.back()));
      std::size_t pair_species[2];
      const std::string symbols[2] = {name.substr(0, dash), name.substr(dash + 1)};
      for (int k = 0; k < 2; ++k) {
        const auto found = std::find(species_.begin(), species_.end(), symbols[k]);
        if (found == species_.end())
          section.fail(key, fmt::format("pair \"{}\" names species '{}', which is not in species = [{}]", name,
                                        symbols[k], fmt::join(species_, ", ")));
        pair_species[k] = static_cast<std::size_t>(found - species_.begin());
      }
      const std::size_t a = std::min(pair_species[0], pair_species[1]);
      const std::size_t b = std::max(pair_species[0], pair_species[1]);
      if (std::find(seen.begin(), seen.end(), index(a, b)) != seen.end())
        section.fail(key, fmt::format("pair \"{}\" is given twice (\"A-B\" and \"B-A\" are the same pair)", name));
      seen.push_back(index(a, b));
      set(index(a, b), value);
      set(index(b, a), value);
    }
  }
};

template <typename Form>
class PairPotential final : public Potential {
 public:
  static SectionSchema schema() { return pair_potential_schema(Form::doc(), Form::parameter_specs()); }

  explicit PairPotential(const ConfigSection& section) : table_(section, Form::parameter_specs()) {
    const bool shift = section.boolean("shift");
    const std::size_t count = table_.species().size();
    pairs_.resize(count * count);
    for (std::size_t a = 0; a < count; ++a)
      for (std::size_t b = 0; b < count; ++b) {
        Pair& pair = pairs_[table_.index(a, b)];
        const double cutoff = table_.cutoff(a, b);
        pair.coefficients = Form::coefficients(table_.parameters(a, b));
        pair.cutoff_squared = cutoff * cutoff;
        double unused_derivative = 0.0;
        pair.energy_shift = shift ? Form::energy(pair.coefficients, pair.cutoff_squared, unused_derivative) : 0.0;
        max_cutoff_ = std::max(max_cutoff_, cutoff);
      }
  }

  double cutoff() const override { return max_cutoff_; }
  NeighborListKind neighbor_list_kind() const override { return NeighborListKind::half; }
  void check_system(const System& system) const override { table_.species_indices(system); }

  // Half list: each pair once, E_pair split half/half between the two atoms; with r = x_j - x_i + s . lattice
  // and g = (dE/dr) / r: F_i += g r, F_j -= g r, virial -= g r r^T (= -sum dE/dr r_a r_b / r).
  void compute(const System& system, const NeighborList& neighbors, ForceResult& result) override {
    if (neighbors.kind() != NeighborListKind::half || neighbors.cutoff() < max_cutoff_)
      throw std::logic_error(fmt::format("pair potential needs a half neighbour list of radius >= {} A", max_cutoff_));
    if (system.species_symbols != mapped_symbols_) {
      potential_species_ = table_.species_indices(system);
      mapped_symbols_ = system.species_symbols;
    }
    result.reset(system.size());
    // One species (the common case): its pair parameters once, no lookups per pair.
    if (table_.species().size() == 1) {
      accumulate<true>(system, neighbors, result);
    } else {
      accumulate<false>(system, neighbors, result);
    }
  }

 private:
  struct Pair {
    typename Form::Coefficients coefficients{};
    double cutoff_squared = 0.0;  // A^2
    double energy_shift = 0.0;    // E(rc) if shifted, else 0 (eV)
  };

  template <bool kSingleSpecies>
  void accumulate(const System& system, const NeighborList& neighbors, ForceResult& result) const {
    const std::size_t count = table_.species().size();
    const Mat3 lattice_columns = system.cell.lattice().transpose();
    const std::size_t* offsets = neighbors.offsets().data();
    const int* others = neighbors.neighbors().data();
    const Vec3i* shifts = neighbors.shifts().data();
    const Vec3* positions = system.positions.data();
    const int* species = system.species.data();
    const int* potential_species = potential_species_.data();
    Vec3* forces = result.forces.data();
    double* atom_energies = result.atom_energies.data();
    const Pair& only_pair = pairs_[0];
    double energy = 0.0;
    // The pair virial -sum f (x) r is symmetric (f is along r): accumulate its six independent components.
    double w_xx = 0.0, w_yy = 0.0, w_zz = 0.0, w_xy = 0.0, w_xz = 0.0, w_yz = 0.0;
    const std::size_t n = system.size();
    for (std::size_t i = 0; i < n; ++i) {
      const Vec3 x_i = positions[i];
      const Pair* pairs_of_i = kSingleSpecies ? &only_pair : &pairs_[static_cast<std::size_t>(potential_species[species[i]]) * count];
      Vec3 force_i = Vec3::Zero();
      double energy_i = 0.0;
      const std::size_t end = offsets[i + 1];
      for (std::size_t edge = offsets[i]; edge < end; ++edge) {
        const int j = others[edge];
        Vec3 r = positions[j] - x_i;
        const Vec3i& shift = shifts[edge];
        if ((shift[0] | shift[1] | shift[2]) != 0) r += lattice_columns * shift.cast<double>();
        const double r_squared = r.squaredNorm();
        const Pair& pair = kSingleSpecies ? only_pair : pairs_of_i[potential_species[species[j]]];
        if (r_squared >= pair.cutoff_squared) continue;
        double derivative_over_r = 0.0;
        const double half_pair_energy =
            0.5 * (Form::energy(pair.coefficients, r_squared, derivative_over_r) - pair.energy_shift);
        energy_i += half_pair_energy;
        atom_energies[j] += half_pair_energy;
        const Vec3 force_on_i = derivative_over_r * r;
        force_i += force_on_i;
        forces[j] -= force_on_i;
        w_xx -= force_on_i.x() * r.x();
        w_yy -= force_on_i.y() * r.y();
        w_zz -= force_on_i.z() * r.z();
        w_xy -= force_on_i.x() * r.y();
        w_xz -= force_on_i.x() * r.z();
        w_yz -= force_on_i.y() * r.z();
      }
      forces[i] += force_i;
      atom_energies[i] += energy_i;
      energy += 2.0 * energy_i;
    }
    Mat3 virial;
    virial << w_xx, w_xy, w_xz, w_xy, w_yy, w_yz, w_xz, w_yz, w_zz;
    result.energy = energy;
    result.virial = virial;
  }

  PairTable table_;
  std::vector<Pair> pairs_;  // [table_.index(a, b)]
  double max_cutoff_ = 0.0;
  // The system's species as potential species, refreshed when the system's species list changes.
  std::vector<std::string> mapped_symbols_;
  std::vector<int> potential_species_;

};

// The registered factory of a pair style: builds the potential and checks the system's species against it.
template <typename Form>
std::unique_ptr<Potential> create_pair_potential(const ConfigSection& section, const System& system) {
  auto potential = std::make_unique<PairPotential<Form>>(section);
  potential->check_system(system);
  return potential;
}

}  // namespace nqmd
