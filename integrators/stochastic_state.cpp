#include "integrators/stochastic_state.hpp"

#include "engine/error.hpp"

namespace nqmd {

void save_stochastic_state(IntegratorState& state, const RandomStream& random, double heat_removed_ev) {
  state.integers["random"] = random.save();
  state.reals["heat_removed"] = {heat_removed_ev};
}

void load_stochastic_state(const IntegratorState& state, RandomStream& random, double& heat_removed_ev) {
  const auto random_state = state.integers.find("random");
  const auto heat = state.reals.find("heat_removed");
  if (random_state == state.integers.end() || heat == state.reals.end() || heat->second.size() != 1)
    throw InputError("integrator state lacks 'random' or 'heat_removed' (a checkpoint of another integrator?)");
  random.load(random_state->second);
  heat_removed_ev = heat->second[0];
}

}  // namespace nqmd
