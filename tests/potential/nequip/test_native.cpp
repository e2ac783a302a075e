#include "torch_catch.hpp"

#include <random>

#include "engine/error.hpp"
#include "potential/nequip/detail/nequip_model_impl.hpp"
#include "potential/nequip/nequip_model.hpp"
#include "potential/nequip/torchscript_model.hpp"
#include "reference_data.hpp"

using nqmd::nequip::NequipModel;
using nqmd::NpzFile;
using nqmd::test::nequip_path;

namespace {

torch::Tensor to_tensor(const nqmd::NpyArray& array) {
  std::vector<std::int64_t> shape(array.shape.begin(), array.shape.end());
  if (array.is_floating()) return torch::tensor(array.to_double(), torch::kFloat64).reshape(shape);
  return torch::tensor(array.to_int64(), torch::kInt64).reshape(shape);
}

nqmd::test::OutputDifference run_all_frames(NequipModel& model, const std::string& model_dir) {
  const NpzFile npz(nequip_path(model_dir + "/reference.npz"));
  nqmd::test::OutputDifference worst;
  for (int frame = 0; frame < 7; ++frame) {
    const auto ref = nqmd::test::reference_frame(npz, frame);
    const auto out = model.evaluate(ref.graph);
    CHECK(out.virial.has_value() == ref.expected.virial.has_value());
    worst.include(nqmd::test::compare(out, ref.expected));
  }
  WARN(model_dir << " native max |dE|=" << worst.energy << " |de_i|=" << worst.atomic << " |dF|=" << worst.forces
                 << " |dW|=" << worst.virial);
  return worst;
}

}  // namespace

TEST_CASE("native: architecture derived from the config matches architecture.txt", "[nequip][native]") {
  const NequipModel a(nequip_path("modelA/deployed.pth"));
  const auto& layers = a.network().layers();
  REQUIRE(layers.size() == 2);
  CHECK(layers[0].conv_out.to_string() == "16x0e+8x1o");
  CHECK(layers[0].gate.irreps_out.to_string() == "8x0e+8x1o");
  CHECK(layers[1].irreps_mid.to_string() == "8x0e+8x0e+8x1o+8x1o+8x1e");
  CHECK(layers[1].conv_out.to_string() == "24x0e+8x1o+8x1e");
  CHECK(layers[1].gate.irreps_out.to_string() == "8x0e+8x1e+8x1o");
  CHECK(layers[1].tp.weight_numel() == 40);
  CHECK_FALSE(a.has_virial());

  const NequipModel b(nequip_path("modelB/deployed.pth"));
  CHECK(b.has_virial());
  const auto& lb = b.network().layers();
  REQUIRE(lb.size() == 3);
  CHECK(lb[2].gate.irreps_in.to_string() == "16x0o+80x0e+16x1o+16x1e+16x2o+16x2e");
  CHECK(lb[2].gate.irreps_out.to_string() == "16x0e+16x0o+16x1e+16x2e+16x1o+16x2o");
  CHECK(lb[2].tp.weight_numel() == 432);
  for (const auto& layer : lb) CHECK_FALSE(layer.resnet);  // parity: irreps change in every layer

  const NequipModel c(nequip_path("modelC/deployed.pth"));
  const auto& lc = c.network().layers();
  REQUIRE(lc.size() == 3);
  CHECK_FALSE(lc[0].resnet);
  CHECK(lc[1].resnet);
  CHECK(lc[2].resnet);
  CHECK(lc[1].irreps_mid.simplify().to_string() == "16x0e+24x1e");
}

TEST_CASE("native: every stage equals intermediates_frame0.npz (A, B, C)", "[nequip][native]") {
  for (const char* dir : {"modelA", "modelB", "modelC"}) {
    const NequipModel model(nequip_path(std::string(dir) + "/deployed.pth"));
    const NpzFile reference(nequip_path(std::string(dir) + "/reference.npz"));
    const NpzFile stages_ref(nequip_path(std::string(dir) + "/intermediates_frame0.npz"));
    nqmd::nequip::detail::Stages stages;
    model.network().forward(to_tensor(reference.get("0_pos")), to_tensor(reference.get("0_atom_types")),
                            to_tensor(reference.get("0_edge_index")), to_tensor(reference.get("0_edge_cell_shift")),
                            to_tensor(reference.get("0_cell")), model.has_virial(), &stages);
    // The inputs recorded with the intermediates are the ones used here.
    CHECK(torch::equal(to_tensor(stages_ref.get("input:pos")), to_tensor(reference.get("0_pos"))));
    CHECK(torch::equal(to_tensor(stages_ref.get("input:edge_index")), to_tensor(reference.get("0_edge_index"))));
    int compared = 0;
    double worst = 0;
    for (const std::string& key : stages_ref.keys()) {
      if (key.rfind("input:", 0) == 0) continue;
      INFO(dir << " stage " << key);
      REQUIRE(stages.count(key) == 1);
      const torch::Tensor expected = to_tensor(stages_ref.get(key));
      const torch::Tensor got = stages.at(key).to(torch::kFloat64);
      REQUIRE(got.numel() == expected.numel());
      const double diff = (got.reshape({-1}) - expected.reshape({-1})).abs().max().item<double>();
      CHECK(diff < 1e-12);
      worst = std::max(worst, diff);
      ++compared;
    }
    WARN(dir << ": " << compared << " stages, max |diff| " << worst);
    CHECK(compared >= 15);
  }
}

TEST_CASE("native: models A, B, C reproduce reference.npz on all 7 frames", "[nequip][native]") {
  for (const char* dir : {"modelA", "modelC"}) {
    NequipModel model(nequip_path(std::string(dir) + "/deployed.pth"));
    const auto d = run_all_frames(model, dir);
    CHECK(d.energy < 1e-10);
    CHECK(d.atomic < 1e-10);
    CHECK(d.forces < 1e-10);
  }
  NequipModel b(nequip_path("modelB/deployed.pth"));
  const auto d = run_all_frames(b, "modelB");
  CHECK(d.energy < 1e-10);
  CHECK(d.atomic < 1e-10);
  CHECK(d.forces < 1e-10);
  CHECK(d.virial < 1e-10);
}

TEST_CASE("native: load errors are InputErrors naming the file", "[nequip][native]") {
  CHECK_THROWS_AS(NequipModel("/nonexistent/model.pth"), nqmd::InputError);
  const std::string json = nequip_path("modelA/metadata.json");
  CHECK_THROWS_WITH(NequipModel(json), Catch::Contains(json));
}

TEST_CASE("native: float32 model A_f32 against nequip's float32 and float64 numbers", "[nequip][native]") {
  // The autograd network casts positions to float32 as nequip does and reproduces nequip's float32 model to 1e-5.
  nqmd::nequip::ModelOptions autograd_options;
  autograd_options.kernel = nqmd::nequip::Kernel::autograd;
  NequipModel autograd(nequip_path("modelA_f32/deployed.pth"), autograd_options);
  CHECK(autograd.network().dtype() == torch::kFloat32);
  const auto a = run_all_frames(autograd, "modelA_f32");
  CHECK(a.energy < 1e-5);
  CHECK(a.atomic < 1e-5);
  CHECK(a.forces < 1e-5);
  // The fused kernel takes the edge geometry in float64: its forces are within 2e-6 of the float64 model (nequip's
  // float32 forces differ from those by 1.4e-5).
  NequipModel fused(nequip_path("modelA_f32/deployed.pth"));
  const auto f = run_all_frames(fused, "modelA");
  CHECK(f.energy < 1e-5);
  CHECK(f.atomic < 1e-5);
  CHECK(f.forces < 2e-6);
}

TEST_CASE("native equals torchscript away from the reference frames", "[nequip][native]") {
  std::mt19937 rng(11);
  std::normal_distribution<double> normal(0.0, 0.05);
  for (const char* dir : {"modelA", "modelB", "modelC"}) {
    NequipModel native(nequip_path(std::string(dir) + "/deployed.pth"));
    nqmd::nequip::TorchScriptModel script(nequip_path(std::string(dir) + "/deployed.pth"));
    const NpzFile npz(nequip_path(std::string(dir) + "/reference.npz"));
    nqmd::test::OutputDifference worst;
    for (int frame : {0, 2, 4, 5}) {
      auto graph = nqmd::test::reference_frame(npz, frame).graph;
      for (auto& x : graph.positions) x += nqmd::Vec3(normal(rng), normal(rng), normal(rng));
      graph.cell += 0.02 * nqmd::Mat3::Identity();
      for (auto& t : graph.atom_types) t = 1 - t;  // swap Cu and Au
      worst.include(nqmd::test::compare(native.evaluate(graph), script.evaluate(graph)));
    }
    // One atom of each type and no edges: only the per-species shift and the bias-free readout remain.
    nqmd::nequip::AtomicGraph lonely;
    lonely.positions = {nqmd::Vec3(0, 0, 0), nqmd::Vec3(30, 0, 0)};
    lonely.atom_types = {0, 1};
    const auto lonely_native = native.evaluate(lonely);
    worst.include(nqmd::test::compare(lonely_native, script.evaluate(lonely)));
    for (const auto& f : lonely_native.forces) CHECK(f.norm() == 0.0);
    WARN(dir << " native vs torchscript (perturbed, swapped species, edgeless) max |dE|=" << worst.energy
             << " |de_i|=" << worst.atomic << " |dF|=" << worst.forces << " |dW|=" << worst.virial);
    CHECK(worst.energy < 1e-10);
    CHECK(worst.atomic < 1e-10);
    CHECK(worst.forces < 1e-10);
    CHECK(worst.virial < 1e-10);
  }
}

TEST_CASE("native: rotation invariance of E and equivariance of F and the virial, works under NoGradGuard",
          "[nequip][native]") {
  NequipModel model(nequip_path("modelB/deployed.pth"));
  const NpzFile npz(nequip_path("modelB/reference.npz"));
  const auto ref = nqmd::test::reference_frame(npz, 1);  // triclinic, periodic
  const nqmd::Mat3 r = Eigen::Quaterniond(0.3, -0.5, 0.7, 0.2).normalized().toRotationMatrix();
  auto rotated = ref.graph;
  for (auto& x : rotated.positions) x = r * x;
  rotated.cell = ref.graph.cell * r.transpose();  // rows are lattice vectors
  torch::NoGradGuard no_grad;
  const auto a = model.evaluate(ref.graph);
  const auto b = model.evaluate(rotated);
  CHECK(std::abs(a.total_energy - ref.expected.total_energy) < 1e-10);
  CHECK(std::abs(a.total_energy - b.total_energy) < 1e-10);
  double force_diff = 0;
  for (std::size_t i = 0; i < a.forces.size(); ++i) force_diff = std::max(force_diff, (r * a.forces[i] - b.forces[i]).cwiseAbs().maxCoeff());
  CHECK(force_diff < 1e-10);
  REQUIRE(a.virial);
  REQUIRE(b.virial);
  CHECK((r * *a.virial * r.transpose() - *b.virial).cwiseAbs().maxCoeff() < 1e-9);
}
