#pragma once
// The training domain of a NequIP model, as far as pair distances tell it: for every pair of types, the closest
// two atoms of those types came in the training frames (within r_max). `nequip-md train` records it in the model
// file; MD and `evaluate` report atoms with a neighbour closer than that (docs/reliability.md). A model has
// never seen such an environment: its energy there is an extrapolation, the usual start of an ML-potential
// blow-up (atoms collapsing onto each other where the training data had no repulsive wall). Torch-free.
#include <cstddef>
#include <cstdint>
#include <limits>
#include <string>
#include <vector>

#include "potential/nequip/graph.hpp"
#include "potential/potential.hpp"

namespace nqmd::nequip {

class TrainingDomain {
 public:
  static constexpr double kNoPair = std::numeric_limits<double>::infinity();

  TrainingDomain() = default;
  // A domain of `num_types` types with no pair seen yet (every closest distance kNoPair).
  explicit TrainingDomain(int num_types);
  // From recorded values (row-major [num_types][num_types]); InputError prefixed by `where` unless they are a
  // symmetric matrix of positive distances or kNoPair.
  static TrainingDomain from_values(std::vector<double> closest, int num_types, const std::string& where);

  bool empty() const { return num_types_ == 0; }
  int num_types() const { return num_types_; }
  double closest(std::int64_t type_a, std::int64_t type_b) const {
    return closest_[static_cast<std::size_t>(type_a * num_types_ + type_b)];
  }
  const std::vector<double>& values() const { return closest_; }

  // Lowers the closest distances by the edges of one training frame (edges are |r_ij| < r_max, as built).
  void include(const AtomicGraph& graph);
  // The closer of both records for every pair of types (the two must have the same number of types).
  void merge(const TrainingDomain& other);
  // Appends, in atom order, one event per atom of `graph` with a neighbour closer than the closest pair of their
  // types (by more than 1e-10 of it: rounding): the neighbour with the largest ExtrapolationEvent::depth().
  void find_outside(const AtomicGraph& graph, std::vector<ExtrapolationEvent>& events) const;
  // "Cu-Cu 2.31 A, Cu-Au 2.40 A, Au-Au none" for messages (`type_names`: one per type).
  std::string describe(const std::vector<std::string>& type_names) const;

 private:
  int num_types_ = 0;
  std::vector<double> closest_;
};

}  // namespace nqmd::nequip
