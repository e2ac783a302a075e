#include "integrators/nose_hoover_chain.hpp"

#include <cmath>
#include <stdexcept>

#include <fmt/format.h>

#include "engine/error.hpp"

namespace nqmd {
namespace {

// Suzuki-Yoshida weights w_j (summing to 1) of the factorisation exp(dt L) = prod_j exp(w_j dt L) with n_sy
// stages, as used for the chain by Martyna et al. 1996: 1 stage is second order, 3 (Yoshida, Phys. Lett. A 150,
// 262 (1990)) and 5 (Suzuki, Phys. Lett. A 146, 319 (1990)) are fourth order, 7 (Yoshida's solution A) is
// sixth order.
std::vector<double> suzuki_yoshida_weights(int stages) {
  switch (stages) {
    case 1: return {1.0};
    case 3: {
      const double w1 = 1.0 / (2.0 - std::cbrt(2.0));
      return {w1, 1.0 - 2.0 * w1, w1};
    }
    case 5: {
      const double w1 = 1.0 / (4.0 - std::cbrt(4.0));
      return {w1, w1, 1.0 - 4.0 * w1, w1, w1};
    }
    case 7: {
      const double w1 = 0.784513610477560;
      const double w2 = 0.235573213359357;
      const double w3 = -1.17767998417887;
      const double w4 = 1.0 - 2.0 * (w1 + w2 + w3);
      return {w1, w2, w3, w4, w3, w2, w1};
    }
    default: throw std::invalid_argument(fmt::format("{} Suzuki-Yoshida stages (expected 1, 3, 5 or 7)", stages));
  }
}

}  // namespace

NoseHooverChain::NoseHooverChain(std::size_t length, int substeps, int suzuki_yoshida_stages)
    : positions_(length, 0.0),
      velocities_(length, 0.0),
      masses_(length, 0.0),
      substeps_(substeps),
      suzuki_yoshida_weights_(suzuki_yoshida_weights(suzuki_yoshida_stages)) {
  if (length == 0) throw std::invalid_argument("a Nose-Hoover chain needs at least one thermostat");
  if (substeps < 1) throw std::invalid_argument("a Nose-Hoover chain needs at least one sub-step");
}

void NoseHooverChain::set_masses(double degrees_of_freedom, double kt, double tdamp_fs) {
  degrees_of_freedom_ = degrees_of_freedom;
  kt_ = kt;
  const double period_squared = tdamp_fs * tdamp_fs;
  masses_[0] = degrees_of_freedom * kt * period_squared;
  for (std::size_t k = 1; k < masses_.size(); ++k) masses_[k] = kt * period_squared;
}

double NoseHooverChain::force(std::size_t k, double twice_kinetic_energy) const {
  if (k == 0) return (twice_kinetic_energy - degrees_of_freedom_ * kt_) / masses_[0];
  return (masses_[k - 1] * velocities_[k - 1] * velocities_[k - 1] - kt_) / masses_[k];
}

void NoseHooverChain::update_velocity(std::size_t k, double twice_kinetic_energy, double half_dt) {
  // exp(-half_dt/2 v_{k+1} v_k d/dv_k) exp(half_dt G_k d/dv_k) exp(-half_dt/2 v_{k+1} v_k d/dv_k): the friction of
  // the next thermostat wrapped symmetrically around the kick by the force G_k.
  const bool has_next = k + 1 < velocities_.size();
  const double friction = has_next ? std::exp(-0.5 * half_dt * velocities_[k + 1]) : 1.0;
  velocities_[k] *= friction;
  velocities_[k] += half_dt * force(k, twice_kinetic_energy);
  velocities_[k] *= friction;
}

double NoseHooverChain::propagate(double twice_kinetic_energy, double dt_fs) {
  if (masses_[0] <= 0.0) return 1.0;  // T = 0 or no degrees of freedom: no thermostat force is defined
  const std::size_t length = velocities_.size();
  double velocity_scale = 1.0;
  for (int substep = 0; substep < substeps_; ++substep) {
    for (double weight : suzuki_yoshida_weights_) {
      const double delta = weight * dt_fs / substeps_;
      const double half_delta = 0.5 * delta;
      for (std::size_t k = length; k-- > 0;) update_velocity(k, twice_kinetic_energy, half_delta);
      // The thermostatted velocities under -v_1 v for delta, and the chain positions under their velocities.
      const double factor = std::exp(-delta * velocities_[0]);
      velocity_scale *= factor;
      twice_kinetic_energy *= factor * factor;
      for (std::size_t k = 0; k < length; ++k) positions_[k] += delta * velocities_[k];
      for (std::size_t k = 0; k < length; ++k) update_velocity(k, twice_kinetic_energy, half_delta);
    }
  }
  return velocity_scale;
}

double NoseHooverChain::energy() const {
  double energy = 0.0;
  for (std::size_t k = 0; k < velocities_.size(); ++k) {
    energy += 0.5 * masses_[k] * velocities_[k] * velocities_[k];
    energy += (k == 0 ? degrees_of_freedom_ * kt_ : kt_) * positions_[k];
  }
  return energy;
}

void NoseHooverChain::save(IntegratorState& state, const std::string& prefix) const {
  state.reals[prefix + "_positions"] = positions_;
  state.reals[prefix + "_velocities"] = velocities_;
}

void NoseHooverChain::load(const IntegratorState& state, const std::string& prefix) {
  for (const auto& [suffix, target] : {std::pair{"_positions", &positions_}, std::pair{"_velocities", &velocities_}}) {
    const auto found = state.reals.find(prefix + suffix);
    if (found == state.reals.end())
      throw InputError(
          fmt::format("integrator state lacks '{}{}' (a checkpoint of another integrator?)", prefix, suffix));
    if (found->second.size() != target->size())
      throw InputError(fmt::format("integrator state '{}{}' has {} values but the chain has {} thermostats", prefix,
                                   suffix, found->second.size(), target->size()));
    *target = found->second;
  }
}

std::vector<KeySpec> nose_hoover_chain_keys() {
  return {KeySpec("chain_length", KeyType::integer, "number of thermostats in each Nose-Hoover chain (LAMMPS tchain)")
              .at_least(1)
              .at_most(kMostChainSteps)
              .defaults_to(std::int64_t{3}),
          KeySpec("nresn", KeyType::integer, "sub-steps of each half-step chain update (LAMMPS tloop)")
              .at_least(1)
              .at_most(kMostChainSteps)
              .defaults_to(std::int64_t{1}),
          KeySpec("suzuki_yoshida", KeyType::integer,
                  "Suzuki-Yoshida stages of the chain update: 1, 3, 5 or 7 (MTK 1996 n_sy)")
              .at_least(1)
              .at_most(7)
              .defaults_to(std::int64_t{1})};
}

double thermostat_period(const ConfigSection& section, const std::string& key) {
  const double period = section.real(key);
  const double timestep = section.real("timestep");
  // The chain's masses scale as period^2: far below a step, the thermostat's own motion is not resolved (LAMMPS
  // recommends about 100 steps).
  if (period < timestep)
    section.fail(key, fmt::format("{:g} fs is shorter than the time step ({:g} fs); about 100 time steps is usual",
                                  period, timestep));
  return period;
}

int suzuki_yoshida_stages(const ConfigSection& section) {
  const std::int64_t stages = section.integer("suzuki_yoshida");
  if (stages % 2 == 0) section.fail("suzuki_yoshida", fmt::format("must be 1, 3, 5 or 7 (got {})", stages));
  return static_cast<int>(stages);
}

}  // namespace nqmd
