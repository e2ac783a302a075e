#include "potential/potential.hpp"

#include <cmath>

#include <fmt/format.h>

namespace nqmd {
namespace {

// "12.3%", "0.0412%", "<0.001%".
std::string percent(double fraction) {
  const double value = 100.0 * fraction;
  return value < 0.001 ? std::string("<0.001%") : fmt::format("{:.3g}%", value);
}

}  // namespace

std::string describe_extrapolation(const ExtrapolationEvent& event, const System& system) {
  const std::string a = system.symbol(event.atom), b = system.symbol(event.neighbor);
  const std::string other = event.neighbor == event.atom ? "its own periodic image"
                                                         : fmt::format("atom {} ({})", event.neighbor, b);
  if (std::isinf(event.closest_trained))
    return fmt::format("atom {} ({}) is {:.4f} A from {}; the training data has no {}-{} pair within the cutoff",
                       event.atom, a, event.distance, other, a, b);
  return fmt::format("atom {} ({}) is {:.4f} A from {}, {} closer than any {}-{} pair in the training data ({:.4f} A)",
                     event.atom, a, event.distance, other, percent(event.depth() / event.closest_trained), a, b,
                     event.closest_trained);
}

const SectionSchema& potential_section_schema() {
  static const SectionSchema schema{
      "potential",
      "How forces arise. `kind` selects the potential style; the other keys belong to that style.",
      {KeySpec("kind", KeyType::string, "potential style (lj, morse, nequip, ...)").require()}};
  return schema;
}

}  // namespace nqmd
