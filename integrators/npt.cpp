#include "integrators/npt.hpp"

#include <cmath>

#include <fmt/format.h>

#include "engine/error.hpp"
#include "engine/units.hpp"
#include "integrators/velocities.hpp"
#include "integrators/verlet_steps.hpp"

namespace nqmd {

MtkNpt::MtkNpt(const NptParameters& parameters)
    : parameters_(parameters),
      thermostat_(parameters.chain_length, parameters.substeps, parameters.suzuki_yoshida_stages),
      barostat_thermostat_(parameters.barostat_chain_length, parameters.substeps, parameters.suzuki_yoshida_stages),
      target_pressure_(parameters.pressure_bar / units::ev_per_a3_to_bar) {}

void MtkNpt::setup(System& system, const ForceResult& /*forces*/) {
  if (!system.cell.fully_periodic())
    throw InputError("[integrator] kind = \"npt\" needs a cell periodic along all three axes");
  const Mat3& lattice = system.cell.lattice();
  const double off_diagonal = (lattice - Mat3(lattice.diagonal().asDiagonal())).cwiseAbs().maxCoeff();
  if (parameters_.anisotropic && off_diagonal > 1e-10 * lattice.diagonal().cwiseAbs().maxCoeff())
    throw InputError(
        "[integrator] cell_mode = \"aniso\" needs an orthorhombic cell (lattice vectors along x, y and z)");
  const double kt = units::boltzmann_ev_per_k * parameters_.temperature_k;
  atoms_ = static_cast<double>(system.size());
  thermostat_.set_masses(static_cast<double>(degrees_of_freedom(system, conserves_momentum())), kt,
                         parameters_.tdamp_fs);
  // LAMMPS fix nh: omega_mass = (N + 1) kT / p_freq^2; the barostat chain thermostats one degree of freedom
  // (etap_mass = kT / p_freq^2 for every member).
  barostat_mass_ = (atoms_ + 1.0) * kt * parameters_.pdamp_fs * parameters_.pdamp_fs;
  barostat_thermostat_.set_masses(parameters_.anisotropic ? 3.0 : 1.0, kt, parameters_.pdamp_fs);
  volume_ = system.cell.volume();
}

void MtkNpt::barostat_thermostat_half_step() {
  // Twice the barostat kinetic energy: three axes of mass W.
  const double twice_kinetic = parameters_.anisotropic
                                   ? barostat_mass_ * strain_rate_.squaredNorm()
                                   : 3.0 * barostat_mass_ * strain_rate_[0] * strain_rate_[0];
  strain_rate_ *= barostat_thermostat_.propagate(twice_kinetic, 0.5 * parameters_.timestep_fs);
}

void MtkNpt::thermostat_half_step(System& system) {
  scale_velocities(system, thermostat_.propagate(2.0 * kinetic_energy(system), 0.5 * parameters_.timestep_fs));
}

void MtkNpt::barostat_half_kick(const System& system, const ForceResult& forces) {
  const double kinetic = kinetic_energy(system);
  const double twice_kinetic = 2.0 * kinetic;
  const double volume = system.cell.volume();
  if (parameters_.anisotropic) {
    const Vec3 pressures = pressure_tensor(system, forces.virial, volume).diagonal();
    for (int axis = 0; axis < 3; ++axis) {
      const double force = (pressures[axis] - target_pressure_) * volume + twice_kinetic / (3.0 * atoms_);
      strain_rate_[axis] += 0.5 * parameters_.timestep_fs * force / barostat_mass_;
    }
    return;
  }
  const double pressure = virial_pressure(kinetic, forces.virial, volume);
  const double force = (pressure - target_pressure_) * volume + twice_kinetic / (3.0 * atoms_);
  strain_rate_.setConstant(strain_rate_[0] + 0.5 * parameters_.timestep_fs * force / barostat_mass_);
}

void MtkNpt::scale_velocities_by_barostat(System& system) const {
  if (!parameters_.anisotropic) {
    scale_velocities(system, std::exp(-0.5 * parameters_.timestep_fs * (1.0 + 1.0 / atoms_) * strain_rate_[0]));
    return;
  }
  const double trace_term = strain_rate_.sum() / (3.0 * atoms_);
  Vec3 factors;
  for (int axis = 0; axis < 3; ++axis)
    factors[axis] = std::exp(-0.5 * parameters_.timestep_fs * (strain_rate_[axis] + trace_term));
  for (Vec3& velocity : system.velocities) velocity = velocity.cwiseProduct(factors);
}

void MtkNpt::dilate_half_step(System& system) {
  if (!parameters_.anisotropic) {
    const double factor = std::exp(0.5 * parameters_.timestep_fs * strain_rate_[0]);
    system.cell = Cell(system.cell.lattice() * factor, system.cell.pbc());
    for (Vec3& position : system.positions) position *= factor;
    return;
  }
  Vec3 factors;
  for (int axis = 0; axis < 3; ++axis) factors[axis] = std::exp(0.5 * parameters_.timestep_fs * strain_rate_[axis]);
  // Orthorhombic: lattice vector a is along x, so scaling the x components scales it alone.
  system.cell = Cell(system.cell.lattice() * factors.asDiagonal(), system.cell.pbc());
  for (Vec3& position : system.positions) position = position.cwiseProduct(factors);
}

void MtkNpt::step(System& system, ForceProvider& provider, ForceResult& forces) {
  // The order of LAMMPS FixNH::initial_integrate and final_integrate.
  const double half_step = 0.5 * parameters_.timestep_fs;
  barostat_thermostat_half_step();
  thermostat_half_step(system);
  barostat_half_kick(system, forces);
  scale_velocities_by_barostat(system);
  kick(system, forces, half_step);
  dilate_half_step(system);
  drift(system, parameters_.timestep_fs);
  dilate_half_step(system);
  update_forces(system, provider, forces);
  kick(system, forces, half_step);
  scale_velocities_by_barostat(system);
  barostat_half_kick(system, forces);
  thermostat_half_step(system);
  barostat_thermostat_half_step();
  volume_ = system.cell.volume();
}

double MtkNpt::extended_energy() const {
  const double barostat_kinetic = parameters_.anisotropic
                                      ? 0.5 * barostat_mass_ * strain_rate_.squaredNorm()
                                      : 1.5 * barostat_mass_ * strain_rate_[0] * strain_rate_[0];
  return thermostat_.energy() + barostat_thermostat_.energy() + barostat_kinetic + target_pressure_ * volume_;
}

IntegratorState MtkNpt::save_state() const {
  IntegratorState state;
  thermostat_.save(state, "thermostat");
  barostat_thermostat_.save(state, "barostat_thermostat");
  if (parameters_.anisotropic)
    state.reals["strain_rate"] = {strain_rate_[0], strain_rate_[1], strain_rate_[2]};
  else
    state.reals["strain_rate"] = {strain_rate_[0]};
  state.reals["volume"] = {volume_};
  return state;
}

void MtkNpt::load_state(const IntegratorState& state) {
  thermostat_.load(state, "thermostat");
  barostat_thermostat_.load(state, "barostat_thermostat");
  const std::size_t axes = parameters_.anisotropic ? 3 : 1;
  const auto values = [&](const char* name, std::size_t count) {
    const auto found = state.reals.find(name);
    if (found == state.reals.end())
      throw InputError(fmt::format("integrator state lacks '{}' (a checkpoint of another integrator?)", name));
    if (found->second.size() != count)
      throw InputError(fmt::format("integrator state '{}' has {} values, not {}: a checkpoint of npt with the other "
                                   "cell_mode?",
                                   name, found->second.size(), count));
    return found->second;
  };
  const std::vector<double> rates = values("strain_rate", axes);
  for (int axis = 0; axis < 3; ++axis) strain_rate_[axis] = rates[axes == 3 ? axis : 0];
  volume_ = values("volume", 1)[0];
}

namespace {

SectionSchema npt_schema() {
  SectionSchema schema{
      "npt",
      "MTK barostat with Nose-Hoover chains (Martyna, Tobias & Klein 1994), as LAMMPS fix npt iso or aniso.",
      {KeySpec("temperature", KeyType::real, "target temperature (K)").greater_than(0.0).require(),
       KeySpec("tdamp", KeyType::real, "thermostat period (fs), e.g. 100 timesteps").greater_than(0.0).require(),
       KeySpec("pressure", KeyType::real, "target pressure (bar)").require(),
       KeySpec("pdamp", KeyType::real, "barostat period (fs), e.g. 1000 timesteps; W = (N + 1) kT pdamp^2")
           .greater_than(0.0)
           .require(),
       KeySpec("cell_mode", KeyType::string,
               "\"iso\": the cell scales as a whole, driven by the pressure; \"aniso\": x, y and z independently, "
               "each driven by its diagonal pressure component (orthorhombic cells; LAMMPS fix npt aniso)")
           .one_of({"iso", "aniso"})
           .defaults_to("iso"),
       KeySpec("barostat_chain_length", KeyType::integer, "thermostats in the barostat's chain (LAMMPS pchain)")
           .at_least(1)
           .at_most(kMostChainSteps)
           .defaults_to(std::int64_t{3})}};
  for (KeySpec& key : nose_hoover_chain_keys()) schema.keys.push_back(std::move(key));
  return schema;
}

std::unique_ptr<Integrator> create_npt(const ConfigSection& section) {
  NptParameters parameters;
  parameters.timestep_fs = section.real("timestep");
  parameters.temperature_k = section.real("temperature");
  parameters.tdamp_fs = thermostat_period(section, "tdamp");
  parameters.pressure_bar = section.real("pressure");
  parameters.pdamp_fs = thermostat_period(section, "pdamp");
  parameters.anisotropic = section.string("cell_mode") == "aniso";
  parameters.chain_length = static_cast<std::size_t>(section.integer("chain_length"));
  parameters.barostat_chain_length = static_cast<std::size_t>(section.integer("barostat_chain_length"));
  parameters.substeps = static_cast<int>(section.integer("nresn"));
  parameters.suzuki_yoshida_stages = suzuki_yoshida_stages(section);
  return std::make_unique<MtkNpt>(parameters);
}

const bool registered = IntegratorRegistry::instance().add({"npt", npt_schema(), create_npt});

}  // namespace
}  // namespace nqmd
