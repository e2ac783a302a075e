// Native model files (NequipModel::save): a bit-exact round trip, loading through the potential, bad files.
#include "torch_catch.hpp"

#include <cstdlib>
#include <fstream>
#include <iterator>

#include "engine/error.hpp"
#include "io/npz.hpp"
#include "potential/nequip/detail/nequip_model_impl.hpp"
#include "potential/nequip/nequip_model.hpp"
#include "potential/nequip/nequip_potential.hpp"
#include "reference_data.hpp"
#include "temporary_directory.hpp"

using nqmd::nequip::NequipModel;
using nqmd::test::nequip_path;

namespace {

// Outputs (with the virial) of every reference frame.
std::vector<nqmd::nequip::ModelOutput> outputs(NequipModel& model, const std::string& model_dir) {
  const nqmd::NpzFile npz(nequip_path(model_dir + "/reference.npz"));
  std::vector<nqmd::nequip::ModelOutput> result;
  for (int frame = 0; frame < 7; ++frame) {
    nqmd::nequip::ModelOutput out;
    model.evaluate(nqmd::test::reference_frame(npz, frame).graph, true, out);
    result.push_back(out);
  }
  return result;
}

void require_identical(const std::vector<nqmd::nequip::ModelOutput>& a, const std::vector<nqmd::nequip::ModelOutput>& b) {
  REQUIRE(a.size() == b.size());
  for (std::size_t f = 0; f < a.size(); ++f) {
    CHECK(a[f].total_energy == b[f].total_energy);
    CHECK(a[f].atomic_energies == b[f].atomic_energies);
    CHECK(a[f].forces == b[f].forces);
    REQUIRE(a[f].virial);
    REQUIRE(b[f].virial);
    CHECK(*a[f].virial == *b[f].virial);
  }
}

const char* kRandomConfig = R"(model_builders:
  - SimpleIrrepsConfig
  - EnergyModel
  - PerSpeciesRescale
  - ForceOutput
  - RescaleEnergyEtc
r_max: 4.5
num_layers: 2
l_max: 2
parity: true
num_features: 4
num_basis: 6
invariant_layers: 1
invariant_neurons: 8
PolynomialCutoff_p: 6
avg_num_neighbors: 10.0
nonlinearity_scalars:
  e: silu
  o: tanh
)";

}  // namespace

TEST_CASE("native model file: save and load are a bit-exact round trip", "[nequip][model_file]") {
  const nqmd::test::TemporaryDirectory dir;
  for (const char* model_dir : {"modelA", "modelA_f32", "modelB", "modelC"}) {
    INFO(model_dir);
    NequipModel original(nequip_path(std::string(model_dir) + "/deployed.pth"));
    const std::string path = dir.path(std::string(model_dir) + ".nqmd.npz");
    original.save(path);
    CHECK(NequipModel::is_native_file(path));
    CHECK_FALSE(NequipModel::is_native_file(nequip_path(std::string(model_dir) + "/deployed.pth")));
    NequipModel loaded(path);
    CHECK(loaded.metadata().type_names == original.metadata().type_names);
    CHECK(loaded.metadata().r_max == original.metadata().r_max);
    CHECK(loaded.metadata().model_dtype == original.metadata().model_dtype);
    CHECK(loaded.metadata().config == original.metadata().config);
    CHECK(loaded.has_virial() == original.has_virial());
    require_identical(outputs(original, model_dir), outputs(loaded, model_dir));
    // Saving the loaded model again gives the same bytes.
    loaded.save(dir.path("again.npz"));
    std::ifstream first(path, std::ios::binary), second(dir.path("again.npz"), std::ios::binary);
    const std::string a((std::istreambuf_iterator<char>(first)), std::istreambuf_iterator<char>());
    const std::string b((std::istreambuf_iterator<char>(second)), std::istreambuf_iterator<char>());
    CHECK(a == b);
  }
  // Random models round-trip too, and a float64 model saved after running in float32 stays float32.
  NequipModel random = NequipModel::random(kRandomConfig, {"Cu", "Au"}, 7);
  random.save(dir.path("random.npz"));
  NequipModel random_loaded(dir.path("random.npz"));
  require_identical(outputs(random, "modelA"), outputs(random_loaded, "modelA"));
  nqmd::nequip::ModelOptions f32;
  f32.dtype = nqmd::nequip::Precision::float32;
  NequipModel a32(nequip_path("modelA/deployed.pth"), f32);
  a32.save(dir.path("a32.npz"));
  NequipModel a32_loaded(dir.path("a32.npz"));
  CHECK(a32_loaded.metadata().model_dtype == "float32");
  CHECK(a32_loaded.network().dtype() == torch::kFloat32);
  require_identical(outputs(a32, "modelA"), outputs(a32_loaded, "modelA"));
}

TEST_CASE("native model file: numpy-readable layout", "[nequip][model_file]") {
  const nqmd::test::TemporaryDirectory dir;
  NequipModel model(nequip_path("modelB/deployed.pth"));
  model.save(dir.path("b.npz"));
  const nqmd::NpzFile file(dir.path("b.npz"));
  CHECK(file.get("nequip_md_native_model").to_int64() == std::vector<std::int64_t>{1});
  CHECK(file.get("r_max").to_double() == std::vector<double>{5.0});
  const auto& names = file.get("type_names");
  CHECK(std::string(names.bytes.begin(), names.bytes.end()) == "Cu Au");
  // The weights equal state_dict.npz of the reference, name by name.
  const nqmd::NpzFile reference(nequip_path("modelB/state_dict.npz"));
  int compared = 0;
  for (const std::string& key : file.keys()) {
    if (key.rfind("weights/", 0) != 0) continue;
    const std::string name = key.substr(8);
    INFO(name);
    REQUIRE(reference.contains(name));
    CHECK(file.get(key).to_double() == reference.get(name).to_double());
    ++compared;
  }
  CHECK(compared >= 20);

  // numpy reads it too (when installed).
  if (std::system("/usr/bin/python3 -c 'import numpy' > /dev/null 2>&1") == 0) {
    dir.write("check.py", R"(import sys
import numpy as np
f = np.load(sys.argv[1])
assert int(f["nequip_md_native_model"][0]) == 1
assert bytes(f["type_names"]).decode() == "Cu Au"
assert "StressForceOutput" in bytes(f["config"]).decode()
ref = np.load(sys.argv[2])
for key in f.files:
    if key.startswith("weights/"):
        assert f[key].dtype == ref[key[8:]].dtype and np.array_equal(f[key], ref[key[8:]]), key
print("ok")
)");
    const std::string command = "/usr/bin/python3 '" + dir.path("check.py") + "' '" + dir.path("b.npz") + "' '" +
                                nequip_path("modelB/state_dict.npz") + "' > '" + dir.path("numpy.txt") + "' 2>&1";
    const int status = std::system(command.c_str());
    std::ifstream output(dir.path("numpy.txt"));
    const std::string text((std::istreambuf_iterator<char>(output)), std::istreambuf_iterator<char>());
    INFO(text);
    CHECK(status == 0);
    CHECK(text == "ok\n");
  }
}

TEST_CASE("native model file: through [potential], and bad files", "[nequip][model_file]") {
  const nqmd::test::TemporaryDirectory dir;
  NequipModel(nequip_path("modelB/deployed.pth")).save(dir.path("b.npz"));
  nqmd::nequip::PotentialOptions options;
  options.model = dir.path("b.npz");
  nqmd::nequip::NequipPotential potential(options);
  CHECK(potential.cutoff() == 5.0);
  options.backend = nqmd::nequip::Backend::torchscript;
  CHECK_THROWS_WITH(nqmd::nequip::NequipPotential(options), Catch::Contains("native model file"));

  // Truncated native file.
  std::ifstream in(dir.path("b.npz"), std::ios::binary);
  const std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  std::ofstream(dir.path("cut.npz"), std::ios::binary) << bytes.substr(0, bytes.size() / 2);
  options.backend = nqmd::nequip::Backend::native;
  options.model = dir.path("cut.npz");
  CHECK_THROWS_AS(nqmd::nequip::NequipPotential(options), nqmd::InputError);
  CHECK_THROWS_WITH(nqmd::nequip::NequipPotential(options), Catch::Contains("cut.npz"));
}
