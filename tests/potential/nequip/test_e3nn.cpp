#include "torch_catch.hpp"

#include <Eigen/Dense>
#include <cmath>
#include <random>

#include "engine/error.hpp"
#include "io/npz.hpp"
#include "potential/nequip/detail/e3nn_impl.hpp"
#include "potential/nequip/irreps.hpp"
#include "potential/nequip/wigner.hpp"
#include "reference_data.hpp"

using nqmd::nequip::Irrep;
using nqmd::nequip::Irreps;
using nqmd::NpzFile;
using nqmd::test::nequip_path;
namespace nd = nqmd::nequip::detail;

namespace {

const auto kF64 = torch::TensorOptions().dtype(torch::kFloat64);

Eigen::MatrixXd to_eigen(const torch::Tensor& t) {
  const torch::Tensor c = t.to(torch::kFloat64).contiguous();
  Eigen::MatrixXd m(c.size(0), c.size(1));
  auto a = c.accessor<double, 2>();
  for (int i = 0; i < m.rows(); ++i)
    for (int j = 0; j < m.cols(); ++j) m(i, j) = a[i][j];
  return m;
}

torch::Tensor to_tensor(const nqmd::NpyArray& array) {
  std::vector<std::int64_t> shape(array.shape.begin(), array.shape.end());
  return torch::tensor(array.to_double(), kF64).reshape(shape);
}

Eigen::Matrix3d random_rotation(std::mt19937& rng) {
  std::normal_distribution<double> normal;
  Eigen::Quaterniond q(normal(rng), normal(rng), normal(rng), normal(rng));
  return q.normalized().toRotationMatrix();
}

torch::Tensor random_vectors(std::mt19937& rng, int n) {
  std::normal_distribution<double> normal;
  torch::Tensor v = torch::empty({n, 3}, kF64);
  auto a = v.accessor<double, 2>();
  for (int i = 0; i < n; ++i)
    for (int k = 0; k < 3; ++k) a[i][k] = normal(rng);
  return v;
}

torch::Tensor rotate(const torch::Tensor& v, const Eigen::Matrix3d& r) {
  torch::Tensor rt = torch::empty({3, 3}, kF64);
  for (int i = 0; i < 3; ++i)
    for (int j = 0; j < 3; ++j) rt[i][j] = r(j, i);
  return torch::matmul(v, rt);  // rows become R v
}

// Wigner D of the rotation for degree l, found from the spherical harmonics themselves: least squares of
// Y(R x) = D Y(x) over many points (independent of the 3j tables).
Eigen::MatrixXd fitted_wigner_d(int l, const Eigen::Matrix3d& r, std::mt19937& rng) {
  const torch::Tensor x = random_vectors(rng, 60);
  const Eigen::MatrixXd a = to_eigen(nd::spherical_harmonics(l, x, true).narrow(1, l * l, 2 * l + 1));
  const Eigen::MatrixXd b = to_eigen(nd::spherical_harmonics(l, rotate(x, r), true).narrow(1, l * l, 2 * l + 1));
  return a.colPivHouseholderQr().solve(b).transpose();
}

}  // namespace

TEST_CASE("irreps: parsing, dimensions, offsets, simplify and sort follow e3nn", "[nequip][e3nn]") {
  const Irreps a = Irreps::parse("8x0e+8x1e+8x0o+8x1o");
  CHECK(a.size() == 4);
  CHECK(a.dim() == 8 + 24 + 8 + 24);
  CHECK(a.num_irreps() == 32);
  CHECK(a.lmax() == 1);
  CHECK(a.offsets() == std::vector<int>{0, 8, 32, 40, 64});
  CHECK(a.to_string() == "8x0e+8x1e+8x0o+8x1o");
  CHECK(Irreps::parse("0e + 2x1o").to_string() == "1x0e+2x1o");
  CHECK(Irreps::parse("").empty());
  CHECK_THROWS_AS(Irreps::parse("8x1q"), nqmd::InputError);
  CHECK_THROWS_AS(Irreps::parse("ax0e"), nqmd::InputError);

  // simplify merges adjacent equal irreps only.
  CHECK(Irreps::parse("8x0e+8x0e+8x1o+0x2e+4x0e").simplify().to_string() == "16x0e+8x1o+4x0e");
  // sort: by (l, p) with odd first, stable; order[new] = old, position[old] = new.
  const auto sorted = Irreps::parse("8x1o+4x0e+2x1e+3x0o+5x0e").sort();
  CHECK(sorted.irreps.to_string() == "3x0o+4x0e+5x0e+8x1o+2x1e");
  CHECK(sorted.order == std::vector<int>{3, 1, 4, 0, 2});
  CHECK(sorted.position == std::vector<int>{3, 1, 4, 0, 2});
  const auto sorted2 = Irreps::parse("1x1e+1x0e+1x0o").sort();
  CHECK(sorted2.order == std::vector<int>{2, 1, 0});
  CHECK(sorted2.position == std::vector<int>{2, 1, 0});
  const auto sorted3 = Irreps::parse("2x1o+1x0e+3x2e").sort();
  CHECK(sorted3.order == std::vector<int>{1, 0, 2});

  CHECK(Irreps::spherical_harmonics(2, -1).to_string() == "1x0e+1x1o+1x2e");
  CHECK(Irreps::spherical_harmonics(3, 1).to_string() == "1x0e+1x1e+1x2e+1x3e");
  const auto product = Irrep{1, -1} * Irrep{2, 1};
  REQUIRE(product.size() == 3);
  CHECK(product[0] == Irrep{1, -1});
  CHECK(product[2] == Irrep{3, -1});
  CHECK(Irrep::parse("3y") == Irrep{3, -1});
}

TEST_CASE("wigner 3j: native tables equal e3nn_wigner_3j_l3.npz including signs", "[nequip][e3nn]") {
  const NpzFile npz(nequip_path("e3nn_wigner_3j_l3.npz"));
  int tables = 0;
  double worst = 0;
  for (int l1 = 0; l1 <= 3; ++l1)
    for (int l2 = 0; l2 <= 3; ++l2)
      for (int l3 = std::abs(l1 - l2); l3 <= std::min(3, l1 + l2); ++l3) {
        const std::string key = "w3j_" + std::to_string(l1) + "_" + std::to_string(l2) + "_" + std::to_string(l3);
        REQUIRE(npz.contains(key));
        const auto& table = npz.get(key);
        CHECK(table.shape == std::vector<std::size_t>{std::size_t(2 * l1 + 1), std::size_t(2 * l2 + 1), std::size_t(2 * l3 + 1)});
        const auto expected = table.to_double();
        const auto& native = nqmd::nequip::wigner_3j(l1, l2, l3);
        REQUIRE(native.size() == expected.size());
        for (std::size_t i = 0; i < native.size(); ++i) worst = std::max(worst, std::abs(native[i] - expected[i]));
        ++tables;
      }
  CHECK(tables == static_cast<int>(npz.keys().size()));
  CHECK(tables == 34);
  WARN("wigner 3j max |native - e3nn| = " << worst);
  CHECK(worst < 1e-12);
  CHECK_THROWS_AS(nqmd::nequip::wigner_3j(1, 1, 3), std::invalid_argument);
}

TEST_CASE("spherical harmonics: equal e3nn's edge_attrs of models A, B, C on frame 0", "[nequip][e3nn]") {
  const std::vector<std::pair<std::string, std::string>> models = {
      {"modelA", "1x0e+1x1o"}, {"modelB", "1x0e+1x1o+1x2e"}, {"modelC", "1x0e+1x1e"}};
  for (const auto& [dir, irreps] : models) {
    const NpzFile npz(nequip_path(dir + "/intermediates_frame0.npz"));
    const torch::Tensor vectors = to_tensor(npz.get("spharm_edges:edge_vectors"));
    const torch::Tensor expected = to_tensor(npz.get("spharm_edges:edge_attrs"));
    const torch::Tensor sh = nd::spherical_harmonics(Irreps::parse(irreps), vectors, true);
    REQUIRE(sh.sizes() == expected.sizes());
    const double diff = (sh - expected).abs().max().item<double>();
    WARN(dir << " spherical harmonics max diff " << diff);
    CHECK(diff < 1e-12);
  }
}

TEST_CASE("spherical harmonics: l=3 closed form, normalisation, zero vector", "[nequip][e3nn]") {
  std::mt19937 rng(7);
  const torch::Tensor v = random_vectors(rng, 50);
  const torch::Tensor sh = nd::spherical_harmonics(8, v, true);
  const torch::Tensor u = v / v.norm(2, -1, true);
  const torch::Tensor x = u.select(1, 0), y = u.select(1, 1), z = u.select(1, 2);
  // e3nn's l=2 and l=3 polynomials (y is the polar axis).
  const double s15 = std::sqrt(15.0), s42 = std::sqrt(42.0), s7 = std::sqrt(7.0), s168 = std::sqrt(168.0);
  const torch::Tensor y20 = s15 * x * z, y24 = 0.5 * s15 * (z * z - x * x);
  const torch::Tensor x2z2 = x * x + z * z;
  const std::vector<torch::Tensor> l3 = {s42 / 6 * (y20 * z + y24 * x), s7 * y20 * y, s168 / 8 * (4 * y * y - x2z2) * x,
                                         s7 / 2 * y * (2 * y * y - 3 * x2z2), s168 / 8 * z * (4 * y * y - x2z2),
                                         s7 * y24 * y, s42 / 6 * (y24 * z - y20 * x)};
  CHECK((sh.narrow(1, 9, 7) - torch::stack(l3, 1)).abs().max().item<double>() < 1e-13);
  for (int l = 0; l <= 8; ++l) {
    const torch::Tensor norm2 = sh.narrow(1, l * l, 2 * l + 1).pow(2).sum(1);
    CHECK((norm2 - (2 * l + 1)).abs().max().item<double>() < 1e-12 * (2 * l + 1));
  }
  // A zero vector gives Y0 = 1 and zeros (F.normalize semantics), with finite gradients.
  const torch::Tensor zero = torch::zeros({1, 3}, kF64).requires_grad_(true);
  const torch::Tensor sh0 = nd::spherical_harmonics(2, zero, true);
  CHECK(sh0[0][0].item<double>() == 1.0);
  CHECK(sh0.narrow(1, 1, 8).abs().max().item<double>() == 0.0);
  // Unnormalised: homogeneous polynomials of degree l.
  const torch::Tensor raw = nd::spherical_harmonics(3, 2.0 * u, false);
  const torch::Tensor unit = nd::spherical_harmonics(3, u, false);
  for (int l = 0; l <= 3; ++l)
    CHECK((raw.narrow(1, l * l, 2 * l + 1) - std::pow(2.0, l) * unit.narrow(1, l * l, 2 * l + 1)).abs().max().item<double>() < 1e-12);
}

TEST_CASE("spherical harmonics rotate with Wigner D, 3j tensors are invariant", "[nequip][e3nn]") {
  std::mt19937 rng(2024);
  for (int trial = 0; trial < 3; ++trial) {
    const Eigen::Matrix3d r1 = random_rotation(rng), r2 = random_rotation(rng);
    std::vector<Eigen::MatrixXd> d(7);
    for (int l = 0; l <= 6; ++l) {
      d[static_cast<std::size_t>(l)] = fitted_wigner_d(l, r1, rng);
      const Eigen::MatrixXd& dl = d[static_cast<std::size_t>(l)];
      // Orthogonal, and predicts Y(R x) at fresh points.
      CHECK((dl * dl.transpose() - Eigen::MatrixXd::Identity(2 * l + 1, 2 * l + 1)).cwiseAbs().maxCoeff() < 1e-11);
      const torch::Tensor x = random_vectors(rng, 10);
      const Eigen::MatrixXd y = to_eigen(nd::spherical_harmonics(l, x, true).narrow(1, l * l, 2 * l + 1));
      const Eigen::MatrixXd yr = to_eigen(nd::spherical_harmonics(l, rotate(x, r1), true).narrow(1, l * l, 2 * l + 1));
      CHECK((yr - y * dl.transpose()).cwiseAbs().maxCoeff() < 1e-11);
      // A representation: D(R1 R2) = D(R1) D(R2).
      const Eigen::MatrixXd d12 = fitted_wigner_d(l, r1 * r2, rng);
      CHECK((d12 - dl * fitted_wigner_d(l, r2, rng)).cwiseAbs().maxCoeff() < 1e-10);
    }
    // e3nn's l=1 basis is (x, y, z): D^1 = R.
    CHECK((d[1] - r1).cwiseAbs().maxCoeff() < 1e-12);
    // C_lmn = C_ijk D1_il D2_jm D3_kn.
    for (int l1 = 0; l1 <= 3; ++l1)
      for (int l2 = 0; l2 <= 3; ++l2)
        for (int l3 = std::abs(l1 - l2); l3 <= std::min(6, l1 + l2); ++l3) {
          const torch::Tensor c = nd::wigner_3j_tensor(l1, l2, l3, kF64);
          auto as_tensor = [](const Eigen::MatrixXd& m) {
            torch::Tensor t = torch::empty({m.rows(), m.cols()}, kF64);
            for (int i = 0; i < m.rows(); ++i)
              for (int j = 0; j < m.cols(); ++j) t[i][j] = m(i, j);
            return t;
          };
          const torch::Tensor rotated =
              torch::einsum("ijk,il,jm,kn->lmn", {c, as_tensor(d[static_cast<std::size_t>(l1)]),
                                                  as_tensor(d[static_cast<std::size_t>(l2)]),
                                                  as_tensor(d[static_cast<std::size_t>(l3)])});
          CHECK((rotated - c).abs().max().item<double>() < 1e-11);
        }
  }
}
