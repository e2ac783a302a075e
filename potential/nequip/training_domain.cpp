#include "potential/nequip/training_domain.hpp"

#include <algorithm>
#include <cmath>

#include <fmt/format.h>

#include "engine/error.hpp"

namespace nqmd::nequip {
namespace {

// Relative amount by which a pair must be closer than the record to count: far above the rounding of distances
// computed from other (e.g. wrapped) coordinates, so a training frame is never outside its own record, and far
// below anything physical (1e-10 of 2 A is 2e-10 A).
constexpr double kRoundingTolerance = 1e-10;

}  // namespace

TrainingDomain::TrainingDomain(int num_types)
    : num_types_(num_types), closest_(static_cast<std::size_t>(num_types) * static_cast<std::size_t>(num_types), kNoPair) {}

TrainingDomain TrainingDomain::from_values(std::vector<double> closest, int num_types, const std::string& where) {
  if (num_types <= 0 || closest.size() != static_cast<std::size_t>(num_types) * static_cast<std::size_t>(num_types))
    throw InputError(fmt::format("{}: expected {}x{} closest pair distances, found {} values", where, num_types,
                                 num_types, closest.size()));
  TrainingDomain domain(num_types);
  for (int a = 0; a < num_types; ++a)
    for (int b = 0; b < num_types; ++b) {
      const double value = closest[static_cast<std::size_t>(a * num_types + b)];
      if (!(value > 0) || std::isnan(value))
        throw InputError(fmt::format("{}: closest pair distance [{}][{}] = {} is not a positive distance", where, a, b,
                                     value));
      if (value != closest[static_cast<std::size_t>(b * num_types + a)])
        throw InputError(fmt::format("{}: closest pair distances are not symmetric ([{}][{}] != [{}][{}])", where, a,
                                     b, b, a));
    }
  domain.closest_ = std::move(closest);
  return domain;
}

void TrainingDomain::include(const AtomicGraph& graph) {
  for (std::size_t e = 0; e < graph.num_edges(); ++e) {
    const double distance = graph.edge_vector(e).norm();
    const std::int64_t a = graph.atom_types[static_cast<std::size_t>(graph.edge_centers[e])];
    const std::int64_t b = graph.atom_types[static_cast<std::size_t>(graph.edge_neighbors[e])];
    double& ab = closest_[static_cast<std::size_t>(a * num_types_ + b)];
    double& ba = closest_[static_cast<std::size_t>(b * num_types_ + a)];
    ab = ba = std::min(ab, distance);
  }
}

void TrainingDomain::merge(const TrainingDomain& other) {
  if (other.num_types_ != num_types_)
    throw InputError(fmt::format("training domains of {} and {} types cannot be merged", num_types_, other.num_types_));
  for (std::size_t k = 0; k < closest_.size(); ++k) closest_[k] = std::min(closest_[k], other.closest_[k]);
}

void TrainingDomain::find_outside(const AtomicGraph& graph, std::vector<ExtrapolationEvent>& events) const {
  if (empty()) return;
  // Edges may come in any order: keep the worst neighbour of each atom, then list the atoms in order.
  const std::size_t first = events.size();
  std::vector<std::size_t> event_of_atom;
  for (std::size_t e = 0; e < graph.num_edges(); ++e) {
    const auto i = static_cast<std::size_t>(graph.edge_centers[e]);
    const auto j = static_cast<std::size_t>(graph.edge_neighbors[e]);
    const double trained = closest(graph.atom_types[i], graph.atom_types[j]);
    const double limit = trained * (1.0 - kRoundingTolerance);
    const double squared = graph.edge_vector(e).squaredNorm();
    if (!(squared < limit * limit)) continue;
    if (event_of_atom.empty()) event_of_atom.assign(graph.num_atoms(), SIZE_MAX);
    const ExtrapolationEvent event{i, j, std::sqrt(squared), trained};
    std::size_t& slot = event_of_atom[i];
    if (slot == SIZE_MAX) {
      slot = events.size();
      events.push_back(event);
      continue;
    }
    // Worse: deeper inside the trained distance (a pair never seen is the deepest), then simply closer.
    ExtrapolationEvent& kept = events[slot];
    if (event.depth() > kept.depth() || (event.depth() == kept.depth() && event.distance < kept.distance)) kept = event;
  }
  std::sort(events.begin() + static_cast<std::ptrdiff_t>(first), events.end(),
            [](const ExtrapolationEvent& x, const ExtrapolationEvent& y) { return x.atom < y.atom; });
}

std::string TrainingDomain::describe(const std::vector<std::string>& type_names) const {
  std::string text;
  for (int a = 0; a < num_types_; ++a)
    for (int b = a; b < num_types_; ++b) {
      const double value = closest(a, b);
      text += fmt::format("{}{}-{} {}", text.empty() ? "" : ", ", type_names.at(static_cast<std::size_t>(a)),
                          type_names.at(static_cast<std::size_t>(b)),
                          std::isinf(value) ? std::string("none") : fmt::format("{:.4g} A", value));
    }
  return text;
}

}  // namespace nqmd::nequip
