// The KIM model driver: a nequip-md NequIP model (native .npz or nequip-deploy .pth, its one parameter file) for
// KIM-enabled simulators, LAMMPS above all (`kim init NAME metal`, `kim interactions Cu Au`), on any number of
// MPI ranks. docs/lammps.md.
//
// A rank's particles, owned (contributing) and ghosts (not contributing), are all nodes of one graph; the energy
// is the sum over the contributing particles only and the backward pass starts from those energies alone
// (AtomicGraph::contributing), so the forces on every particle, ghosts included, are exact derivatives and the
// simulator sums the ghosts' forces onto their owners. The influence distance is num_layers x r_max: a
// contributing atom's energy depends on atoms that many hops away. The full neighbour list of cutoff r_max is
// requested for non-contributing particles too; a ghost near the outer edge of the shell may miss neighbours,
// but such a ghost lies more than (num_layers - 1) x r_max from every contributing atom, where its features no
// longer reach a contributing energy, so the result is exact.
//
// Conventions of the KIM API 2.3 (https://kim-api.readthedocs.io): zero-based numbering; metal units (A, eV);
// every routine returns false on success and true on error after a LogEntry, which the simulator reports (LAMMPS:
// "KIM Compute returned error", or the model's create failure with this log in kim.log). The driver library is
// built by nequip-md's CMake; the item that kim-api-collections-management installs is a thin wrapper around it
// (app/export_kim_command.cpp writes that wrapper).
#include <KIM_ModelDriverHeaders.hpp>

#include <cmath>
#include <cstdlib>
#include <exception>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include "potential/nequip/build_info.hpp"
#include "potential/nequip/nequip_model.hpp"

namespace {

using nqmd::Mat3;
using nqmd::Vec3;
using nqmd::nequip::AtomicGraph;
using nqmd::nequip::ModelOutput;
using nqmd::nequip::NequipModel;

// What a model instance keeps between calls (the KIM "model buffer").
struct Driver {
  std::unique_ptr<NequipModel> model;
  double r_max = 0;
  double influence_distance = 0;                      // num_layers x r_max (A)
  double cutoff = 0;                                  // the neighbour list's cutoff: r_max (A)
  int neighbors_of_noncontributing_not_requested = 0; // 0: LAMMPS builds lists for ghosts too
  int threads = 1;
  AtomicGraph graph;  // storage reused between calls
  ModelOutput output;
};

#define NQMD_KIM_LOG(object, message) \
  (object)->LogEntry(KIM::LOG_VERBOSITY::error, std::string("nequip-md KIM driver: ") + (message), __LINE__, __FILE__)

// Threads per MPI rank: NQMD_KIM_THREADS, else OMP_NUM_THREADS, else 1 (one rank per core is LAMMPS' usual
// layout).
int threads_from_environment() {
  for (const char* name : {"NQMD_KIM_THREADS", "OMP_NUM_THREADS"}) {
    const char* value = std::getenv(name);
    if (value == nullptr || *value == '\0') continue;
    char* end = nullptr;
    const long n = std::strtol(value, &end, 10);
    if (*end != '\0' || n < 1 || n > 4096)
      throw std::runtime_error(std::string(name) + "='" + value + "': expected a positive integer");
    return static_cast<int>(n);
  }
  return 1;
}

int compute_arguments_create(KIM::ModelCompute const* const, KIM::ModelComputeArgumentsCreate* const create) {
  namespace A = KIM::COMPUTE_ARGUMENT_NAME;
  const KIM::SupportStatus optional = KIM::SUPPORT_STATUS::optional;
  // partialParticleVirial stays notSupported (the per-atom virial of a many-body model is not defined uniquely).
  const int error = create->SetArgumentSupportStatus(A::partialEnergy, optional) ||
                    create->SetArgumentSupportStatus(A::partialForces, optional) ||
                    create->SetArgumentSupportStatus(A::partialParticleEnergy, optional) ||
                    create->SetArgumentSupportStatus(A::partialVirial, optional);
  if (error) NQMD_KIM_LOG(create, "could not declare the supported compute arguments");
  return error;
}

int compute_arguments_destroy(KIM::ModelCompute const* const, KIM::ModelComputeArgumentsDestroy* const) {
  return false;
}

int compute(KIM::ModelCompute const* const model_compute, KIM::ModelComputeArguments const* const arguments) {
  Driver* driver = nullptr;
  model_compute->GetModelBufferPointer(reinterpret_cast<void**>(&driver));
  namespace A = KIM::COMPUTE_ARGUMENT_NAME;
  int const* count = nullptr;
  int const* species = nullptr;
  int const* contributing = nullptr;
  double const* coordinates = nullptr;
  double* energy = nullptr;
  double* forces = nullptr;
  double* particle_energy = nullptr;
  double* virial = nullptr;
  if (arguments->GetArgumentPointer(A::numberOfParticles, &count) ||
      arguments->GetArgumentPointer(A::particleSpeciesCodes, &species) ||
      arguments->GetArgumentPointer(A::particleContributing, &contributing) ||
      arguments->GetArgumentPointer(A::coordinates, &coordinates) ||
      arguments->GetArgumentPointer(A::partialEnergy, &energy) ||
      arguments->GetArgumentPointer(A::partialForces, &forces) ||
      arguments->GetArgumentPointer(A::partialParticleEnergy, &particle_energy) ||
      arguments->GetArgumentPointer(A::partialVirial, &virial)) {
    NQMD_KIM_LOG(model_compute, "could not get the compute arguments");
    return true;
  }
  try {
    const auto n = static_cast<std::size_t>(*count);
    AtomicGraph& g = driver->graph;
    g.positions.resize(n);
    g.atom_types.resize(n);
    g.contributing.resize(n);
    for (std::size_t i = 0; i < n; ++i) {
      g.positions[i] = Vec3(coordinates[3 * i], coordinates[3 * i + 1], coordinates[3 * i + 2]);
      g.atom_types[i] = species[i];  // the species code is the model's type index (see create)
      g.contributing[i] = contributing[i] != 0;
    }
    // Edges grouped by centre, |r_ij| < r_max strictly (nequip, pair_nequip); LAMMPS' lists include its skin.
    g.edge_centers.clear();
    g.edge_neighbors.clear();
    g.edge_cell_shifts.clear();
    const double cutoff_squared = driver->r_max * driver->r_max;
    for (std::size_t i = 0; i < n; ++i) {
      int num_neighbors = 0;
      int const* neighbors = nullptr;
      if (arguments->GetNeighborList(0, static_cast<int>(i), &num_neighbors, &neighbors)) {
        NQMD_KIM_LOG(model_compute, "the simulator returned no neighbour list for particle " + std::to_string(i));
        return true;
      }
      for (int k = 0; k < num_neighbors; ++k) {
        const auto j = static_cast<std::size_t>(neighbors[k]);
        if (j == i || (g.positions[j] - g.positions[i]).squaredNorm() >= cutoff_squared) continue;
        g.edge_centers.push_back(static_cast<std::int64_t>(i));
        g.edge_neighbors.push_back(static_cast<std::int64_t>(j));
      }
    }
    g.edge_cell_shifts.assign(g.edge_centers.size(), Vec3::Zero());
    ModelOutput& out = driver->output;
    driver->model->evaluate(g, virial != nullptr, out);
    if (energy != nullptr) {
      // The sum of the contributing atoms' energies: a model's global energy shift (nequip's
      // global_rescale_shift, a constant per configuration) is not added on every rank.
      double total = 0;
      for (std::size_t i = 0; i < n; ++i)
        if (contributing[i]) total += out.atomic_energies[i];
      *energy = total;
    }
    if (forces != nullptr)
      for (std::size_t i = 0; i < n; ++i)
        for (int d = 0; d < 3; ++d) forces[3 * i + static_cast<std::size_t>(d)] = out.forces[i][d];
    if (particle_energy != nullptr)
      for (std::size_t i = 0; i < n; ++i) particle_energy[i] = contributing[i] ? out.atomic_energies[i] : 0.0;
    if (virial != nullptr) {
      // KIM's virial is +dE/d(strain) = sum over pairs of r_ij (x) dE/dr_ij (the negative of nequip's and
      // LAMMPS' sign), in Voigt order xx yy zz yz xz xy.
      const Mat3& w = *out.virial;
      const double kim[6] = {-w(0, 0), -w(1, 1), -w(2, 2), -w(1, 2), -w(0, 2), -w(0, 1)};
      for (int k = 0; k < 6; ++k) virial[k] = kim[k];
    }
  } catch (const std::exception& e) {
    NQMD_KIM_LOG(model_compute, e.what());
    return true;
  }
  return false;
}

int destroy(KIM::ModelDestroy* const model_destroy) {
  Driver* driver = nullptr;
  model_destroy->GetModelBufferPointer(reinterpret_cast<void**>(&driver));
  delete driver;
  return false;
}

// The model file: the item's one parameter file.
std::string model_file(KIM::ModelDriverCreate* const create) {
  int files = 0;
  create->GetNumberOfParameterFiles(&files);
  if (files != 1)
    throw std::runtime_error("expected one parameter file (the nequip-md or nequip-deploy model), got " +
                             std::to_string(files));
  std::string const* directory = nullptr;
  std::string const* basename = nullptr;
  create->GetParameterFileDirectoryName(&directory);
  if (create->GetParameterFileBasename(0, &basename))
    throw std::runtime_error("could not get the parameter file's name");
  return *directory + "/" + *basename;
}

}  // namespace

// The create routine named in the driver item (export-kim's CMakeLists.txt), with C linkage as kim-api's
// item wrapper declares it.
extern "C" __attribute__((visibility("default"))) int nqmd_kim_driver_create(
    KIM::ModelDriverCreate* const create, KIM::LengthUnit const, KIM::EnergyUnit const, KIM::ChargeUnit const,
    KIM::TemperatureUnit const, KIM::TimeUnit const) {
  auto driver = std::make_unique<Driver>();
  try {
    driver->threads = threads_from_environment();
    nqmd::set_libtorch_threads(driver->threads);
    const std::string path = model_file(create);
    driver->model = std::make_unique<NequipModel>(path);
    const nqmd::nequip::DeployedMetadata& metadata = driver->model->metadata();
    driver->r_max = metadata.r_max;
    driver->cutoff = metadata.r_max;
    driver->influence_distance = driver->model->num_layers() * metadata.r_max;
    if (!driver->model->kernel_note().empty())
      create->LogEntry(KIM::LOG_VERBOSITY::warning, driver->model->kernel_note(), __LINE__, __FILE__);
    int error = create->SetUnits(KIM::LENGTH_UNIT::A, KIM::ENERGY_UNIT::eV, KIM::CHARGE_UNIT::unused,
                                 KIM::TEMPERATURE_UNIT::unused, KIM::TIME_UNIT::unused) ||
                create->SetModelNumbering(KIM::NUMBERING::zeroBased);
    for (std::size_t t = 0; t < metadata.type_names.size(); ++t) {
      const KIM::SpeciesName name(metadata.type_names[t]);
      if (!name.Known())
        throw std::runtime_error("model '" + path + "': type name '" + metadata.type_names[t] +
                                 "' is not a chemical species KIM knows (types must be element symbols)");
      error = error || create->SetSpeciesCode(name, static_cast<int>(t));
    }
    if (error) throw std::runtime_error("could not declare units, numbering or species");
  } catch (const std::exception& e) {
    NQMD_KIM_LOG(create, e.what());
    return true;
  }
  create->SetInfluenceDistancePointer(&driver->influence_distance);
  create->SetNeighborListPointers(1, &driver->cutoff, &driver->neighbors_of_noncontributing_not_requested);
  // No Refresh routine: kim-api refuses one from a model that publishes no parameters.
  namespace R = KIM::MODEL_ROUTINE_NAME;
  const KIM::LanguageName cpp = KIM::LANGUAGE_NAME::cpp;
  const int error =
      create->SetRoutinePointer(R::ComputeArgumentsCreate, cpp, true,
                                reinterpret_cast<KIM::Function*>(compute_arguments_create)) ||
      create->SetRoutinePointer(R::Compute, cpp, true, reinterpret_cast<KIM::Function*>(compute)) ||
      create->SetRoutinePointer(R::ComputeArgumentsDestroy, cpp, true,
                                reinterpret_cast<KIM::Function*>(compute_arguments_destroy)) ||
      create->SetRoutinePointer(R::Destroy, cpp, true, reinterpret_cast<KIM::Function*>(destroy));
  if (error) {
    NQMD_KIM_LOG(create, "could not register the model routines");
    return true;
  }
  create->SetModelBufferPointer(driver.release());
  return false;
}
