#include <catch2/catch.hpp>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iterator>

#include "engine/error.hpp"
#include "potential/nequip/nequip_model.hpp"
#include "potential/nequip/torchscript_model.hpp"
#include "reference_data.hpp"

using nqmd::NpzFile;
using nqmd::nequip::TorchScriptModel;
using nqmd::test::nequip_path;

namespace {

nqmd::test::OutputDifference run_all_frames(const std::string& model_dir, bool expect_virial) {
  TorchScriptModel model(nequip_path(model_dir + "/deployed.pth"));
  const NpzFile npz(nequip_path(model_dir + "/reference.npz"));
  nqmd::test::OutputDifference worst;
  for (int frame = 0; frame < 7; ++frame) {
    const auto ref = nqmd::test::reference_frame(npz, frame);
    const auto out = model.evaluate(ref.graph);
    CHECK(out.virial.has_value() == expect_virial);
    worst.include(nqmd::test::compare(out, ref.expected));
  }
  WARN(model_dir << " torchscript max |dE|=" << worst.energy << " |de_i|=" << worst.atomic
                 << " |dF|=" << worst.forces << " |dW|=" << worst.virial);
  return worst;
}

// Model A repacked with the nequip_version extra file set to `version` (stored zip, as torch writes it), written to
// /tmp/NAME.pth through the work directory /tmp/NAME; remove_repacked(NAME) deletes both.
std::string model_a_with_version(const std::string& name, const std::string& version) {
  const std::string path = "/tmp/" + name + ".pth";
  const std::string command = "cd /tmp && rm -rf " + name + " && mkdir " + name + " && cd " + name + " && unzip -q '" +
                              nequip_path("modelA/deployed.pth") + "' && printf '" + version +
                              "' > deployed/extra/nequip_version && rm -f " + path + " && zip -q -0 -r " + path +
                              " deployed";
  REQUIRE(std::system(command.c_str()) == 0);
  return path;
}

bool remove_repacked(const std::string& name) {
  return std::system(("rm -rf /tmp/" + name + " /tmp/" + name + ".pth").c_str()) == 0;
}

}  // namespace

TEST_CASE("torchscript: metadata read as pair_nequip reads it", "[nequip][torchscript]") {
  TorchScriptModel a(nequip_path("modelA/deployed.pth"));
  CHECK(a.metadata().nequip_version == "0.6.2");
  CHECK(a.metadata().r_max == 4.0);
  CHECK(a.metadata().n_species == 2);
  CHECK(a.metadata().type_names == std::vector<std::string>{"Cu", "Au"});
  CHECK(a.metadata().model_dtype == "float64");
  CHECK(a.metadata().fusion_strategy == "DYNAMIC,3");
  CHECK_FALSE(a.metadata().allow_tf32);
  CHECK(a.metadata().config.find("num_layers: 2") != std::string::npos);
  TorchScriptModel f32(nequip_path("modelA_f32/deployed.pth"));
  CHECK(f32.metadata().model_dtype == "float32");
  CHECK(TorchScriptModel(nequip_path("modelB/deployed.pth")).metadata().r_max == 5.0);
  CHECK(TorchScriptModel(nequip_path("modelC/deployed.pth")).metadata().r_max == 3.5);
}

TEST_CASE("torchscript: models A, B, C reproduce reference.npz on all 7 frames", "[nequip][torchscript]") {
  for (const char* dir : {"modelA", "modelC"}) {
    const auto d = run_all_frames(dir, false);
    CHECK(d.energy < 1e-10);
    CHECK(d.atomic < 1e-10);
    CHECK(d.forces < 1e-10);
  }
  const auto b = run_all_frames("modelB", true);
  CHECK(b.energy < 1e-10);
  CHECK(b.atomic < 1e-10);
  CHECK(b.forces < 1e-10);
  CHECK(b.virial < 1e-10);
}

TEST_CASE("torchscript: float32 model A_f32 within 1e-5", "[nequip][torchscript]") {
  const auto d = run_all_frames("modelA_f32", false);
  CHECK(d.energy < 1e-5);
  CHECK(d.atomic < 1e-5);
  CHECK(d.forces < 1e-5);
  // float32 is really in use: not bitwise the float64 results.
  CHECK(d.forces > 0.0);
}

TEST_CASE("torchscript: bad inputs are InputErrors naming the file", "[nequip][torchscript]") {
  CHECK_THROWS_AS(TorchScriptModel("/nonexistent/model.pth"), nqmd::InputError);
  CHECK_THROWS_WITH(TorchScriptModel("/nonexistent/model.pth"), Catch::Contains("/nonexistent/model.pth"));
  // Not a model: a JSON file, and an npz (a zip archive without TorchScript code).
  const std::string json = nequip_path("modelA/metadata.json");
  CHECK_THROWS_WITH(TorchScriptModel(json), Catch::Contains(json));
  const std::string npz = nequip_path("modelA/state_dict.npz");
  CHECK_THROWS_WITH(TorchScriptModel(npz), Catch::Contains(npz));
  // Truncated copy of a real model.
  std::ifstream in(nequip_path("modelA/deployed.pth"), std::ios::binary);
  const std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  const std::string truncated = "/tmp/nqmd_test_truncated_model.pth";
  {
    std::ofstream out(truncated, std::ios::binary);
    out << bytes.substr(0, bytes.size() / 3);
  }
  CHECK_THROWS_AS(TorchScriptModel(truncated), nqmd::InputError);
  CHECK_THROWS_WITH(TorchScriptModel(truncated), Catch::Contains(truncated));
  std::remove(truncated.c_str());
  // Messages are one line.
  try {
    TorchScriptModel model(json);
    FAIL("loading a JSON file succeeded");
  } catch (const nqmd::InputError& e) {
    CHECK(std::string(e.what()).find('\n') == std::string::npos);
  }
}

TEST_CASE("torchscript: empty nequip_version is rejected", "[nequip][torchscript]") {
  const std::string path = model_a_with_version("nqmd_test_no_version", "");
  CHECK_THROWS_WITH(TorchScriptModel(path), Catch::Contains(path) && Catch::Contains("nequip_version"));
  CHECK(remove_repacked("nqmd_test_no_version"));
}

TEST_CASE("native backend: a model deployed by another nequip version is refused, naming the versions",
          "[nequip][torchscript]") {
  const std::string path = model_a_with_version("nqmd_test_old_version", "0.5.6");
  CHECK_THROWS_WITH(nqmd::nequip::NequipModel(path),
                    Catch::Contains("nequip 0.5.6") && Catch::Contains("supports models deployed by nequip 0.6.x"));
  // TorchScript runs it as pair_nequip would.
  CHECK_NOTHROW(TorchScriptModel(path));
  CHECK(remove_repacked("nqmd_test_old_version"));
}
