#include "integrators/nve.hpp"

#include "integrators/verlet_steps.hpp"

namespace nqmd {

VelocityVerlet::VelocityVerlet(double timestep_fs) : timestep_fs_(timestep_fs) {}

void VelocityVerlet::setup(System& /*system*/, const ForceResult& /*forces*/) {}

void VelocityVerlet::step(System& system, ForceProvider& provider, ForceResult& forces) {
  const double half_step = 0.5 * timestep_fs_;
  kick(system, forces, half_step);
  drift(system, timestep_fs_);
  update_forces(system, provider, forces);
  kick(system, forces, half_step);
}

namespace {

const SectionSchema& nve_schema() {
  static const SectionSchema schema{"nve", "Velocity Verlet: constant energy, no extra keys.", {}};
  return schema;
}

std::unique_ptr<Integrator> create_nve(const ConfigSection& section) {
  return std::make_unique<VelocityVerlet>(section.real("timestep"));
}

const bool registered = IntegratorRegistry::instance().add({"nve", nve_schema(), create_nve});

}  // namespace
}  // namespace nqmd
