#include "integrators/nvt_csvr.hpp"

#include <cmath>

#include "engine/units.hpp"
#include "integrators/stochastic_state.hpp"
#include "integrators/velocities.hpp"
#include "integrators/verlet_steps.hpp"

namespace nqmd {

CsvrThermostat::CsvrThermostat(const CsvrParameters& parameters) : parameters_(parameters), random_(parameters.seed) {}

void CsvrThermostat::setup(System& system, const ForceResult& /*forces*/) {
  degrees_of_freedom_ = degrees_of_freedom(system, conserves_momentum());
}

double CsvrThermostat::rescaling_factor(double kinetic_energy_ev, double dt_fs) {
  // Bussi et al. 2007, appendix: with c = exp(-dt/tdamp) and R_1 ... R_Ndof independent standard normals,
  //   alpha^2 K = c K + (1 - c) K_target/Ndof (R_1^2 + sum_{i>1} R_i^2) + 2 R_1 sqrt(c (1 - c) K K_target/Ndof)
  //            = (sqrt(c K) + sqrt((1 - c) K_target/Ndof) R_1)^2 + (1 - c) K_target/Ndof sum_{i>1} R_i^2,
  // the square of the new velocity's component along the old one plus Ndof - 1 orthogonal components. The sum
  // of Ndof - 1 squares is one chi-squared variate (from a gamma variate), and the sign of alpha is the sign
  // of the component along the old velocity (positive unless K is tiny compared with its fluctuation).
  if (degrees_of_freedom_ == 0) return 1.0;
  const double ndof = static_cast<double>(degrees_of_freedom_);
  const double target = 0.5 * ndof * units::boltzmann_ev_per_k * parameters_.temperature_k;
  const double c = std::exp(-dt_fs / parameters_.tdamp_fs);
  const double r1 = random_.gaussian();
  const double others = random_.sum_of_squared_gaussians(degrees_of_freedom_ - 1);
  const double along = std::sqrt(c * kinetic_energy_ev) + std::sqrt((1.0 - c) * target / ndof) * r1;
  const double new_kinetic_energy = along * along + (1.0 - c) * target / ndof * others;
  return std::copysign(std::sqrt(new_kinetic_energy / kinetic_energy_ev), along);
}

void CsvrThermostat::thermostat_half_step(System& system) {
  const double kinetic = kinetic_energy(system);
  if (kinetic <= 0.0) return;  // all velocities zero: no direction to scale along
  const double alpha = rescaling_factor(kinetic, 0.5 * parameters_.timestep_fs);
  scale_velocities(system, alpha);
  heat_removed_ev_ -= (alpha * alpha - 1.0) * kinetic;
}

void CsvrThermostat::step(System& system, ForceProvider& provider, ForceResult& forces) {
  thermostatted_verlet_step(system, provider, forces, parameters_.timestep_fs,
                            [this](System& atoms) { thermostat_half_step(atoms); });
}

IntegratorState CsvrThermostat::save_state() const {
  IntegratorState state;
  save_stochastic_state(state, random_, heat_removed_ev_);
  return state;
}

void CsvrThermostat::load_state(const IntegratorState& state) {
  load_stochastic_state(state, random_, heat_removed_ev_);
}

namespace {

SectionSchema csvr_schema() {
  return {"nvt_csvr",
          "Stochastic velocity rescaling thermostat (Bussi, Donadio & Parrinello 2007).",
          {KeySpec("temperature", KeyType::real, "target temperature (K)").at_least(0.0).require(),
           KeySpec("tdamp", KeyType::real, "relaxation time of the kinetic energy (fs), e.g. 100 timesteps")
               .greater_than(0.0)
               .require(),
           KeySpec("seed", KeyType::integer, "seed of the random number generator (equal seeds, equal runs)")
               .at_least(0)
               .defaults_to(std::int64_t{1})}};
}

std::unique_ptr<Integrator> create_csvr(const ConfigSection& section) {
  CsvrParameters parameters;
  parameters.timestep_fs = section.real("timestep");
  parameters.temperature_k = section.real("temperature");
  parameters.tdamp_fs = section.real("tdamp");
  parameters.seed = static_cast<std::uint64_t>(section.integer("seed"));
  return std::make_unique<CsvrThermostat>(parameters);
}

const bool registered = IntegratorRegistry::instance().add({"nvt_csvr", csvr_schema(), create_csvr});

}  // namespace
}  // namespace nqmd
