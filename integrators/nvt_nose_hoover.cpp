#include "integrators/nvt_nose_hoover.hpp"

#include "engine/units.hpp"
#include "integrators/velocities.hpp"
#include "integrators/verlet_steps.hpp"

namespace nqmd {

NoseHooverNvt::NoseHooverNvt(const NoseHooverParameters& parameters)
    : parameters_(parameters), chain_(parameters.chain_length, parameters.substeps, parameters.suzuki_yoshida_stages) {}

void NoseHooverNvt::setup(System& system, const ForceResult& /*forces*/) {
  const double dof = static_cast<double>(degrees_of_freedom(system, conserves_momentum()));
  chain_.set_masses(dof, units::boltzmann_ev_per_k * parameters_.temperature_k, parameters_.tdamp_fs);
}

void NoseHooverNvt::thermostat_half_step(System& system) {
  const double factor = chain_.propagate(2.0 * kinetic_energy(system), 0.5 * parameters_.timestep_fs);
  scale_velocities(system, factor);
}

void NoseHooverNvt::step(System& system, ForceProvider& provider, ForceResult& forces) {
  thermostatted_verlet_step(system, provider, forces, parameters_.timestep_fs,
                            [this](System& atoms) { thermostat_half_step(atoms); });
}

IntegratorState NoseHooverNvt::save_state() const {
  IntegratorState state;
  chain_.save(state, "thermostat");
  return state;
}

void NoseHooverNvt::load_state(const IntegratorState& state) { chain_.load(state, "thermostat"); }

namespace {

SectionSchema nose_hoover_schema() {
  SectionSchema schema{
      "nvt_nose_hoover",
      "Nose-Hoover chain thermostat (Martyna, Klein & Tuckerman 1992), as LAMMPS fix nvt.",
      {KeySpec("temperature", KeyType::real, "target temperature (K)").greater_than(0.0).require(),
       KeySpec("tdamp", KeyType::real, "thermostat period (fs), e.g. 100 timesteps; Q_1 = Ndof kT tdamp^2")
           .greater_than(0.0)
           .require()}};
  for (KeySpec& key : nose_hoover_chain_keys()) schema.keys.push_back(std::move(key));
  return schema;
}

std::unique_ptr<Integrator> create_nose_hoover(const ConfigSection& section) {
  NoseHooverParameters parameters;
  parameters.timestep_fs = section.real("timestep");
  parameters.temperature_k = section.real("temperature");
  parameters.tdamp_fs = thermostat_period(section, "tdamp");
  parameters.chain_length = static_cast<std::size_t>(section.integer("chain_length"));
  parameters.substeps = static_cast<int>(section.integer("nresn"));
  parameters.suzuki_yoshida_stages = suzuki_yoshida_stages(section);
  return std::make_unique<NoseHooverNvt>(parameters);
}

const bool registered =
    IntegratorRegistry::instance().add({"nvt_nose_hoover", nose_hoover_schema(), create_nose_hoover});

}  // namespace
}  // namespace nqmd
