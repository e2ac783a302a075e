// [potential] kind = "nequip" through the registry, on the 7 reference frames read from extxyz with the engine's
// neighbour list (skin 0.5 A, so that the skin edges must be filtered out), for both backends.
#include "torch_catch.hpp"

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <algorithm>
#include <random>

#include "engine/error.hpp"
#include "engine/neighbor_list.hpp"
#include "io/extxyz.hpp"
#include "potential/nequip/nequip_potential.hpp"
#include "reference_data.hpp"
#include "temporary_directory.hpp"

using nqmd::test::nequip_path;

namespace {

const std::map<std::string, std::vector<std::size_t>> kEdges{{"modelA", {568, 568, 478, 92, 36, 476, 104}},
                                                             {"modelA_f32", {568, 568, 478, 92, 36, 476, 104}},
                                                             {"modelB", {1358, 1306, 1140, 162, 84, 996, 172}},
                                                             {"modelC", {398, 384, 326, 92, 24, 328, 98}}};

std::unique_ptr<nqmd::Potential> potential_from_toml(const nqmd::test::TemporaryDirectory& dir, const std::string& body,
                                                     const nqmd::System& system) {
  dir.write("input.toml", "[potential]\nkind = \"nequip\"\n" + body);
  const nqmd::InputFile input(dir.path("input.toml"));
  return nqmd::PotentialRegistry::instance().create(input, nqmd::potential_section_schema(), system);
}

std::string error_of(const nqmd::test::TemporaryDirectory& dir, const std::string& body, const nqmd::System& system) {
  try {
    potential_from_toml(dir, body, system);
  } catch (const nqmd::InputError& e) {
    return e.what();
  }
  return "no error";
}

struct Differences {
  nqmd::test::OutputDifference worst;
  bool edges_match = true;
  std::size_t dropped_edges = 0;  // skin edges filtered out, over all frames
};

// Every frame through the potential; compares with reference.npz.
// The reference outputs are those of `reference_dir` (default: model_dir).
Differences run_frames(const std::string& model_dir, const std::string& backend, const std::string& extra = "",
                       const std::string& reference_dir = "") {
  const nqmd::test::TemporaryDirectory dir;
  const nqmd::NpzFile npz(nequip_path((reference_dir.empty() ? model_dir : reference_dir) + "/reference.npz"));
  const std::vector<nqmd::Frame> frames = nqmd::read_extxyz(nequip_path("test_frames.extxyz"));
  REQUIRE(frames.size() == 7);
  auto potential = potential_from_toml(
      dir, "model = \"" + nequip_path(model_dir + "/deployed.pth") + "\"\nbackend = \"" + backend + "\"\n" + extra,
      frames[0].system);
  auto* nequip = dynamic_cast<nqmd::nequip::NequipPotential*>(potential.get());
  REQUIRE(nequip != nullptr);
  CHECK(potential->neighbor_list_kind() == nqmd::NeighborListKind::full);
  Differences d;
  for (std::size_t f = 0; f < frames.size(); ++f) {
    const nqmd::System& system = frames[f].system;
    potential->check_system(system);
    nqmd::NeighborList list(potential->cutoff(), 0.5, nqmd::NeighborListKind::full);
    list.build(system);
    nqmd::ForceResult result;
    potential->compute(system, list, result);
    d.dropped_edges += list.num_edges() - nequip->last_num_edges();
    const std::size_t expected_edges = kEdges.at(model_dir)[f];
    if (nequip->last_num_edges() != expected_edges) d.edges_match = false;
    INFO(model_dir << " " << backend << " frame " << f << ": " << nequip->last_num_edges() << " edges, expected "
                   << expected_edges);
    CHECK(nequip->last_num_edges() == expected_edges);

    const auto ref = nqmd::test::reference_frame(npz, static_cast<int>(f));
    nqmd::nequip::ModelOutput got;
    got.total_energy = result.energy;
    got.atomic_energies = result.atom_energies;
    got.forces = result.forces;
    got.virial = result.virial;
    d.worst.include(nqmd::test::compare(got, ref.expected));
    double sum = 0;
    for (double e : result.atom_energies) sum += e;
    CHECK(std::abs(sum - result.energy) < 1e-9);
  }
  CHECK(d.dropped_edges > 100);  // the skin edges were in the list, and were filtered out
  WARN(model_dir << " potential backend=" << backend << " " << extra << " max |dE|=" << d.worst.energy
                 << " |de_i|=" << d.worst.atomic << " |dF|=" << d.worst.forces << " |dW|=" << d.worst.virial);
  return d;
}

}  // namespace

TEST_CASE("nequip potential: float64 models reproduce reference.npz through the registry, both backends",
          "[nequip][potential]") {
  for (const char* backend : {"native", "torchscript"}) {
    for (const char* dir : {"modelA", "modelB", "modelC"}) {
      const Differences d = run_frames(dir, backend);
      CHECK(d.edges_match);
      CHECK(d.worst.energy < 1e-10);
      CHECK(d.worst.atomic < 1e-10);
      CHECK(d.worst.forces < 1e-10);
      CHECK(d.worst.virial < 1e-10);  // B only: the others have no reference virial
    }
  }
}

TEST_CASE("nequip potential: float32 model A_f32, both backends", "[nequip][potential]") {
  // TorchScript reproduces nequip's float32 numbers (edge vectors from float32 positions) to 1e-5. The native
  // (fused) kernel computes the edge geometry in float64 and the network in float32, so it stays closer to the
  // float64 model than nequip's float32 model does: forces within 2e-6 of model A's float64 reference, where
  // nequip's own float32 forces differ from it by up to 1.5e-5.
  const Differences script = run_frames("modelA_f32", "torchscript");
  CHECK(script.edges_match);
  CHECK(script.worst.energy < 1e-5);
  CHECK(script.worst.atomic < 1e-5);
  CHECK(script.worst.forces < 1e-5);
  const Differences native = run_frames("modelA_f32", "native", "", "modelA");
  CHECK(native.edges_match);
  CHECK(native.worst.energy < 1e-5);
  CHECK(native.worst.atomic < 1e-5);
  CHECK(native.worst.forces < 2e-6);
  CHECK(native.worst.forces > 0.0);  // really float32
}

TEST_CASE("nequip potential: float64 model A asked for float32 runs as A_f32", "[nequip][potential]") {
  // A_f32 is model A deployed with model_dtype float32: the same weights rounded to float32.
  const Differences d = run_frames("modelA", "native", "dtype = \"float32\"\n", "modelA");
  CHECK(d.worst.energy < 1e-5);
  CHECK(d.worst.atomic < 1e-5);
  CHECK(d.worst.forces < 2e-6);
  CHECK(d.worst.forces > 0.0);  // really float32
}

TEST_CASE("nequip potential: virial of ForceOutput models, equal for both backends", "[nequip][potential]") {
  // Model A has no virial output: native computes it by the strain derivative, torchscript through the
  // native port of the same file; both give the same, non-zero virial.
  const std::vector<nqmd::Frame> frames = nqmd::read_extxyz(nequip_path("test_frames.extxyz"));
  const nqmd::test::TemporaryDirectory dir;
  const std::string model = "model = \"" + nequip_path("modelA/deployed.pth") + "\"\n";
  auto native = potential_from_toml(dir, model + "backend = \"native\"\n", frames[0].system);
  auto script = potential_from_toml(dir, model + "backend = \"torchscript\"\n", frames[0].system);
  for (const nqmd::Frame& frame : frames) {
    nqmd::NeighborList list(native->cutoff(), 0.3);
    list.build(frame.system);
    nqmd::ForceResult a, b;
    native->compute(frame.system, list, a);
    script->compute(frame.system, list, b);
    CHECK(a.virial.cwiseAbs().maxCoeff() > 0.1);
    CHECK((a.virial - b.virial).cwiseAbs().maxCoeff() < 1e-10);
    CHECK((a.virial - a.virial.transpose()).cwiseAbs().maxCoeff() < 1e-10);
  }
}

TEST_CASE("nequip potential: species_map and the repeated use of one potential", "[nequip][potential]") {
  const nqmd::test::TemporaryDirectory dir;
  std::vector<nqmd::Frame> frames = nqmd::read_extxyz(nequip_path("test_frames.extxyz"));
  nqmd::System& system = frames[0].system;
  const std::string model = "model = \"" + nequip_path("modelA/deployed.pth") + "\"\n";
  auto plain = potential_from_toml(dir, model, system);
  nqmd::NeighborList list(plain->cutoff(), 0.5);
  list.build(system);
  nqmd::ForceResult expected;
  plain->compute(system, list, expected);
  // The same twice with reused buffers.
  nqmd::ForceResult again;
  plain->compute(system, list, again);
  CHECK(again.energy == expected.energy);

  // Symbols renamed to X/Y, mapped back to the model's types.
  nqmd::System renamed = system;
  for (auto& symbol : renamed.species_symbols) symbol = symbol == "Cu" ? "X" : "Y";
  auto mapped = potential_from_toml(dir, model + "species_map = { X = \"Cu\", Y = \"Au\" }\n", renamed);
  nqmd::ForceResult result;
  mapped->compute(renamed, list, result);
  CHECK(result.energy == expected.energy);
  // Swapping the map swaps the species: another energy.
  auto swapped = potential_from_toml(dir, model + "species_map = { Cu = \"Au\", Au = \"Cu\" }\n", system);
  swapped->compute(system, list, result);
  CHECK(std::abs(result.energy - expected.energy) > 1e-3);
}

TEST_CASE("nequip potential: atoms in any order give the same atoms' results (the internal spatial order is undone)",
          "[nequip][potential]") {
  // The potential evaluates the graph in a spatial order of the atoms (engine/spatial_order.hpp) and must hand
  // back per-atom results in the system's order: a shuffled copy of a frame gets the same numbers, shuffled.
  const nqmd::test::TemporaryDirectory dir;
  const std::vector<nqmd::Frame> frames = nqmd::read_extxyz(nequip_path("test_frames.extxyz"));
  for (const std::size_t f : {0, 1, 5}) {
    INFO("frame " << f);
    const nqmd::System& system = frames[f].system;
    std::vector<std::size_t> shuffle(system.size());
    for (std::size_t k = 0; k < shuffle.size(); ++k) shuffle[k] = k;
    std::shuffle(shuffle.begin(), shuffle.end(), std::mt19937(static_cast<unsigned>(f) + 11));
    nqmd::System shuffled;
    shuffled.cell = system.cell;
    for (std::size_t k : shuffle) shuffled.add_atom(system.symbol(k), system.positions[k]);
    auto potential = potential_from_toml(dir, "model = \"" + nequip_path("modelA/deployed.pth") + "\"\n", system);
    nqmd::NeighborList list(potential->cutoff(), 0.5, nqmd::NeighborListKind::full);
    nqmd::ForceResult plain, mixed;
    list.build(system);
    potential->compute(system, list, plain);
    list.build(shuffled);
    potential->compute(shuffled, list, mixed);
    CHECK(mixed.energy == Approx(plain.energy).epsilon(1e-13));
    CHECK((mixed.virial - plain.virial).cwiseAbs().maxCoeff() < 1e-11);
    for (std::size_t k = 0; k < shuffle.size(); ++k) {
      CHECK((mixed.forces[k] - plain.forces[shuffle[k]]).cwiseAbs().maxCoeff() < 1e-12);
      CHECK(mixed.atom_energies[k] == Approx(plain.atom_energies[shuffle[k]]).epsilon(1e-13));
    }
  }
}

TEST_CASE("nequip potential: bad input is a one-line InputError", "[nequip][potential]") {
  const nqmd::test::TemporaryDirectory dir;
  const std::vector<nqmd::Frame> frames = nqmd::read_extxyz(nequip_path("test_frames.extxyz"));
  const nqmd::System& system = frames[0].system;
  const std::string model_a = "model = \"" + nequip_path("modelA/deployed.pth") + "\"\n";
  auto check_error = [&](const std::string& body, const std::vector<std::string>& contains) {
    const std::string message = error_of(dir, body, system);
    INFO(body << " -> " << message);
    CHECK(message != "no error");
    CHECK(message.find('\n') == std::string::npos);
    CHECK(message.find("input.toml:") != std::string::npos);
    for (const std::string& text : contains) CHECK(message.find(text) != std::string::npos);
  };
  // Missing file (relative to the input file).
  check_error("model = \"missing.pth\"\n", {"missing.pth", "does not exist", "[potential] model"});
  // Truncated model.
  {
    std::ifstream in(nequip_path("modelA/deployed.pth"), std::ios::binary);
    std::vector<char> bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    std::ofstream(dir.path("truncated.pth"), std::ios::binary).write(bytes.data(), static_cast<long>(bytes.size() / 2));
  }
  for (const char* backend : {"native", "torchscript"}) {
    check_error(std::string("model = \"truncated.pth\"\nbackend = \"") + backend + "\"\n", {"truncated.pth"});
    // Not a model.
    check_error("model = \"" + nequip_path("modelA/metadata.json") + "\"\nbackend = \"" + backend + "\"\n",
                {"metadata.json"});
    check_error("model = \"" + nequip_path("modelA/state_dict.npz") + "\"\nbackend = \"" + backend + "\"\n",
                {"state_dict.npz"});
    // float64 of a float32 model.
    check_error("model = \"" + nequip_path("modelA_f32/deployed.pth") + "\"\nbackend = \"" + backend +
                    "\"\ndtype = \"float64\"\n",
                {"float32", "float64"});
    // Species the model lacks.
    nqmd::System silver = system;
    silver.species_symbols[0] = "Ag";
    const std::string message =
        error_of(dir, model_a + "backend = \"" + std::string(backend) + "\"\n", silver);
    CHECK(message.find("Ag") != std::string::npos);
    CHECK(message.find("Cu, Au") != std::string::npos);
    CHECK(message.find('\n') == std::string::npos);
  }
  // A map to a type the model lacks, and malformed maps.
  check_error(model_a + "species_map = { Cu = \"Ag\" }\n", {"[potential] species_map", "'Ag'", "Cu, Au"});
  check_error(model_a + "species_map = { Cu = \"\" }\n", {"Symbol=type"});
  check_error(model_a + "species_map = [\"Cu=Cu\"]\n", {"[potential] species_map", "expected table of strings"});
  check_error(model_a + "backend = \"jax\"\n", {"backend"});
  // float32 of a float64 model is for the native backend only.
  check_error(model_a + "backend = \"torchscript\"\ndtype = \"float32\"\n", {"native"});
}

TEST_CASE("nequip potential: kernel = fused (default) or autograd give the same forces, a bad kernel is an error",
          "[nequip][potential]") {
  const Differences fused = run_frames("modelB", "native");
  const Differences autograd = run_frames("modelB", "native", "kernel = \"autograd\"\n");
  CHECK(fused.worst.forces < 1e-10);
  CHECK(autograd.worst.forces < 1e-10);
  CHECK(fused.worst.virial < 1e-10);
  CHECK(autograd.worst.virial < 1e-10);
  const nqmd::test::TemporaryDirectory dir;
  const nqmd::System system = nqmd::read_extxyz(nequip_path("test_frames.extxyz")).front().system;
  const std::string model = "model = \"" + nequip_path("modelB/deployed.pth") + "\"\n";
  const auto potential = potential_from_toml(dir, model, system);
  auto* default_kernel = dynamic_cast<nqmd::nequip::NequipPotential*>(potential.get());
  REQUIRE(default_kernel != nullptr);
  CHECK(default_kernel->kernel() == nqmd::nequip::Kernel::fused);
  CHECK_THAT(error_of(dir, model + "kernel = \"fast\"\n", system),
             Catch::Contains("input.toml:4: [potential] kernel") && Catch::Contains("fused, autograd"));
}
