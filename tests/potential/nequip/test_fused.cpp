// The fused kernel (hand-written forward and backward, fused_network.cpp) against the autograd network it
// replaces in MD, and against nequip's own numbers: every reference model (float64 and float32) on the 7
// reference frames, random models covering l_max 1-3, both parities, resnet, ssp/abs/tanh nonlinearities, deep
// radial networks and three species, and the independence from the number of threads.
#include "torch_catch.hpp"

#include <omp.h>

#include <random>

#include "potential/nequip/fused_network.hpp"
#include "potential/nequip/nequip_model.hpp"
#include "reference_data.hpp"

using nqmd::Mat3;
using nqmd::Vec3;
using nqmd::nequip::AtomicGraph;
using nqmd::nequip::Kernel;
using nqmd::nequip::ModelOptions;
using nqmd::nequip::ModelOutput;
using nqmd::nequip::NequipModel;
using nqmd::NpzFile;
using nqmd::test::nequip_path;

namespace {

ModelOutput evaluate(NequipModel& model, const AtomicGraph& graph) {
  ModelOutput out;
  model.evaluate(graph, true, out);
  return out;
}

// Largest differences relative to the size of what is compared (energies per atom, forces, virial per atom).
struct Relative {
  double energy = 0, forces = 0, virial = 0;
};

Relative relative(const ModelOutput& got, const ModelOutput& want) {
  const nqmd::test::OutputDifference d = nqmd::test::compare(got, want);
  double force_scale = 1e-3, virial_scale = 1e-3;
  for (const Vec3& f : want.forces) force_scale = std::max(force_scale, f.cwiseAbs().maxCoeff());
  if (want.virial) virial_scale = std::max(virial_scale, want.virial->cwiseAbs().maxCoeff());
  const double atoms = static_cast<double>(std::max<std::size_t>(1, want.forces.size()));
  return {std::max(d.energy / atoms, d.atomic), d.forces / force_scale, d.virial / virial_scale};
}

}  // namespace

TEST_CASE("fused kernel: equals autograd and nequip's reference on every model and frame", "[nequip][fused]") {
  struct Case {
    const char* dir;
    double tolerance;  // relative; float32 models: a few float32 roundings
  };
  for (const Case c : {Case{"modelA", 1e-11}, Case{"modelB", 1e-11}, Case{"modelC", 1e-11}, Case{"modelP64", 1e-11},
                       Case{"modelA_f32", 2e-5}, Case{"modelP", 2e-5}}) {
    NequipModel fused(nequip_path(std::string(c.dir) + "/deployed.pth"));
    ModelOptions autograd_options;
    autograd_options.kernel = Kernel::autograd;
    NequipModel autograd(nequip_path(std::string(c.dir) + "/deployed.pth"), autograd_options);
    REQUIRE(fused.kernel() == Kernel::fused);
    REQUIRE(autograd.kernel() == Kernel::autograd);
    const NpzFile npz(nequip_path(std::string(c.dir) + "/reference.npz"));
    Relative vs_autograd, vs_reference;
    for (int frame = 0; frame < 7; ++frame) {
      const auto ref = nqmd::test::reference_frame(npz, frame);
      const ModelOutput a = evaluate(fused, ref.graph);
      const ModelOutput b = evaluate(autograd, ref.graph);
      REQUIRE(a.virial);
      const Relative x = relative(a, b), y = relative(a, ref.expected);
      vs_autograd = {std::max(vs_autograd.energy, x.energy), std::max(vs_autograd.forces, x.forces),
                     std::max(vs_autograd.virial, x.virial)};
      vs_reference = {std::max(vs_reference.energy, y.energy), std::max(vs_reference.forces, y.forces),
                      std::max(vs_reference.virial, y.virial)};
    }
    WARN(c.dir << " fused vs autograd: energy/atom " << vs_autograd.energy << ", forces " << vs_autograd.forces
               << ", virial " << vs_autograd.virial << "; vs nequip: energy/atom " << vs_reference.energy
               << ", forces " << vs_reference.forces << ", virial " << vs_reference.virial << " (relative)");
    CHECK(vs_autograd.energy < c.tolerance);
    CHECK(vs_autograd.forces < c.tolerance);
    CHECK(vs_autograd.virial < c.tolerance);
    CHECK(vs_reference.energy < c.tolerance);
    CHECK(vs_reference.forces < c.tolerance);
    if (npz.contains("0_virial")) CHECK(vs_reference.virial < c.tolerance);
  }
}

namespace {

// A nequip config with the model builders of nequip 0.6.2 and the given extra keys.
std::string config_with(const std::string& keys) {
  return "model_builders:\n  - SimpleIrrepsConfig\n  - EnergyModel\n  - PerSpeciesRescale\n  - ForceOutput\n"
         "  - RescaleEnergyEtc\nr_max: 4.0\nnum_basis: 7\nPolynomialCutoff_p: 5\navg_num_neighbors: 9.5\n" +
         keys;
}

// Model A's reference frames (bulk, triclinic, clusters, a 2-atom cell with self-images, a slab, an isolated
// atom) with every third atom made species 2.
std::vector<AtomicGraph> frames_with_three_species() {
  const NpzFile npz(nequip_path("modelA/reference.npz"));
  std::vector<AtomicGraph> graphs;
  for (int frame = 0; frame < 7; ++frame) {
    AtomicGraph g = nqmd::test::reference_frame(npz, frame).graph;
    for (std::size_t a = 0; a < g.atom_types.size(); a += 3) g.atom_types[a] = 2;
    graphs.push_back(g);
  }
  return graphs;
}

}  // namespace

TEST_CASE("fused kernel: equals autograd on random models of every supported architecture", "[nequip][fused]") {
  struct Case {
    const char* what;
    std::string keys;
  };
  const std::vector<Case> cases{
      {"l_max 3, parity, 5 features (no compiled channel count), resnet",
       "num_layers: 3\nl_max: 3\nparity: true\nnum_features: 5\ninvariant_layers: 2\ninvariant_neurons: 12\n"
       "resnet: true\n"},
      {"l_max 2 without parity (resnet active), ssp/abs scalars, abs odd gates, 3 hidden radial layers",
       "num_layers: 3\nl_max: 2\nparity: false\nnum_features: 8\ninvariant_layers: 3\ninvariant_neurons: 6\n"
       "resnet: true\nnonlinearity_scalars:\n  e: ssp\n  o: abs\nnonlinearity_gates:\n  e: ssp\n  o: abs\n"},
      {"l_max 1, 16 features, no self-connection, tanh odd scalars, silu gates",
       "num_layers: 2\nl_max: 1\nparity: true\nnum_features: 16\ninvariant_layers: 1\ninvariant_neurons: 16\n"
       "use_sc: false\n"},
      {"l_max 2, 32 features, one layer",
       "num_layers: 1\nl_max: 2\nparity: true\nnum_features: 32\ninvariant_layers: 2\ninvariant_neurons: 24\n"},
  };
  const std::vector<AtomicGraph> graphs = frames_with_three_species();
  std::uint64_t seed = 30;
  for (const Case& c : cases) {
    NequipModel model = NequipModel::random(config_with(c.keys), {"Cu", "Au", "Ag"}, ++seed);
    REQUIRE(model.kernel() == Kernel::fused);
    Relative worst;
    for (const AtomicGraph& g : graphs) {
      model.set_kernel(Kernel::fused);
      const ModelOutput a = evaluate(model, g);
      model.set_kernel(Kernel::autograd);
      const ModelOutput b = evaluate(model, g);
      const Relative r = relative(a, b);
      worst = {std::max(worst.energy, r.energy), std::max(worst.forces, r.forces), std::max(worst.virial, r.virial)};
    }
    WARN(c.what << ": fused vs autograd, relative energy/atom " << worst.energy << ", forces " << worst.forces
                << ", virial " << worst.virial);
    CHECK(worst.energy < 1e-12);
    CHECK(worst.forces < 1e-12);
    CHECK(worst.virial < 1e-12);
  }
}

TEST_CASE("fused kernel: any number of threads gives the same result, repeated calls are bit-identical",
          "[nequip][fused]") {
  NequipModel model(nequip_path("modelB/deployed.pth"));
  const NpzFile npz(nequip_path("modelB/reference.npz"));
  const AtomicGraph graph = nqmd::test::reference_frame(npz, 0).graph;
  const int saved = omp_get_max_threads();
  omp_set_num_threads(1);
  at::set_num_threads(1);
  const ModelOutput one = evaluate(model, graph);
  const ModelOutput again = evaluate(model, graph);
  CHECK(one.total_energy == again.total_energy);
  CHECK(one.forces == again.forces);
  CHECK(*one.virial == *again.virial);
  for (int threads : {2, 3, 5}) {
    at::set_num_threads(threads);
    const ModelOutput many = evaluate(model, graph);
    const Relative r = relative(many, one);
    INFO(threads << " threads");
    CHECK(r.energy < 1e-14);
    CHECK(r.forces < 1e-13);
    CHECK(r.virial < 1e-13);
  }
  at::set_num_threads(saved);
}

TEST_CASE("fused kernel: the radial MLP kept from the forward pass or recomputed in the backward pass agree",
          "[nequip][fused]") {
  for (const char* dir : {"modelA", "modelB", "modelC", "modelP64", "modelP"}) {
    INFO(dir);
    const NequipModel model(nequip_path(std::string(dir) + "/deployed.pth"));
    std::string reason;
    const std::unique_ptr<nqmd::nequip::FusedNetwork> kept = nqmd::nequip::FusedNetwork::create(model.network(), &reason);
    const std::unique_ptr<nqmd::nequip::FusedNetwork> recomputed =
        nqmd::nequip::FusedNetwork::create(model.network(), &reason);
    REQUIRE(kept);
    REQUIRE(recomputed);
    recomputed->set_kept_radial_limit(0);
    const NpzFile npz(nequip_path(std::string(dir) + "/reference.npz"));
    const bool float32 = std::string(dir) == "modelP";
    for (int frame = 0; frame < 7; ++frame) {
      const AtomicGraph graph = nqmd::test::reference_frame(npz, frame).graph;
      ModelOutput a, b;
      kept->evaluate(graph, true, 1, a);
      recomputed->evaluate(graph, true, 1, b);
      const Relative r = relative(a, b);
      INFO("frame " << frame);
      // The two differ only in how the forward pass rounds the activations (x / (1 + e^-x) or x s(x)).
      CHECK(r.energy < (float32 ? 1e-6 : 1e-14));
      CHECK(r.forces < (float32 ? 1e-5 : 1e-13));
      CHECK(r.virial < (float32 ? 1e-5 : 1e-13));
    }
  }
}
