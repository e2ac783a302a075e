#pragma once
// [potential] kind = "nequip": a NequIP model (nequip-deploy .pth or native model file) as a Potential.
// Torch-free header.
//
// Each call builds the model's graph from the engine's full neighbour list (which includes the skin), keeping
// the edges with |r_ij| < r_max (strict, as nequip and pair_nequip), with a zero cell when no axis is periodic
// and the lattice otherwise, and returns the energy, per-atom energies, forces and the virial (-dE/d(strain)).
// The virial: backend "native" computes it for every model (the strain derivative nequip's StressOutput takes,
// by the fused kernel's backward pass or by autograd); backend "torchscript" reads it from StressForceOutput
// models and, for models without it, evaluates the native port of the same file once more per call for the
// virial (so pressure is always right; docs/nequip.md).
//
// Extrapolation: every call lists the atoms with a neighbour closer than the closest pair of their species in
// the model's training data (ForceResult::extrapolation), from the record `nequip-md train` writes into the model
// file or from the frames of [potential] training_data; the watchdog decides what to do with them.
#include <cstddef>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "potential/nequip/model_options.hpp"
#include "potential/potential.hpp"

namespace nqmd::nequip {

struct PotentialOptions {
  std::string model;                 // path of a nequip-deploy .pth or a native model file
  Backend backend = Backend::native;
  Precision dtype = Precision::model_default;
  Kernel kernel = Kernel::fused;  // backend native only
  // chemical symbol -> model type name; symbols not listed are matched to a type of the same name.
  std::vector<std::pair<std::string, std::string>> species_map;
  int threads = 0;                   // torch intra-op threads; 0: OMP_NUM_THREADS if set, else torch's default
  // extxyz files of the model's training frames: the closest pairs in them define the training domain of the
  // extrapolation check (for models whose file carries no record: nequip-deploy .pth files). Empty: the model
  // file's record, if it has one.
  std::vector<std::string> training_data;
  // Prefixes of error messages about the model and the species map (e.g. "input.toml:7: [potential] model").
  std::string model_where = "model";
  std::string species_map_where = "species_map";
  std::string training_data_where = "training_data";
};

// Parses the command line's "Cu=Cu,Au=Au" (comma-separated "Symbol=type" entries); InputError prefixed by `where`.
std::vector<std::pair<std::string, std::string>> parse_species_map(const std::string& text, const std::string& where);

class NequipPotential final : public Potential {
 public:
  // Loads the model; InputError (one line, prefixed by the options' `where`s) for a missing or unreadable file,
  // a dtype the model cannot run in, or a species map naming a type the model lacks.
  explicit NequipPotential(const PotentialOptions& options);
  ~NequipPotential() override;

  double cutoff() const override;  // the model's r_max
  NeighborListKind neighbor_list_kind() const override { return NeighborListKind::full; }
  void check_system(const System& system) const override;
  void compute(const System& system, const NeighborList& neighbors, ForceResult& result) override;
  // "closest pairs in the training data (from SOURCE): Cu-Cu 2.31 A, ..." or "" without a record.
  std::string training_domain() const override;

  const std::vector<std::string>& type_names() const;
  Backend backend() const;
  Precision dtype() const;  // the dtype the model runs in (float32 or float64)
  // What computes the forces with backend native; nullopt with backend torchscript.
  std::optional<Kernel> kernel() const;
  // Edges of the graph passed to the model by the last compute() (after the r_max filter).
  std::size_t last_num_edges() const;

  // [potential] keys of kind = "nequip".
  static SectionSchema schema();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace nqmd::nequip
