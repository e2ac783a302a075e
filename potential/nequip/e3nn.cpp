#include <cmath>
#include <mutex>

#include "potential/nequip/detail/e3nn_impl.hpp"
#include "potential/nequip/wigner.hpp"

namespace nqmd::nequip {

// From the norm of C^{l-1,1,l} Y^{l-1}(r) r at a unit vector (the norm is the same at every point of the sphere),
// in long double.
double spherical_harmonics_recursion_constant(int l) {
  static std::mutex mutex;
  static std::vector<double> constants;  // index l
  std::lock_guard<std::mutex> lock(mutex);
  if (constants.size() > static_cast<std::size_t>(l)) return constants[static_cast<std::size_t>(l)];
  // Y^l at a fixed unit vector in long double, built up with the constants found so far.
  const long double norm = std::sqrt(0.3L * 0.3L + 0.5L * 0.5L + 0.8L * 0.8L);
  const long double r[3] = {0.3L / norm, 0.5L / norm, 0.8L / norm};
  const long double sqrt3 = std::sqrt(3.0L);
  std::vector<long double> y = {sqrt3 * r[0], sqrt3 * r[1], sqrt3 * r[2]};
  if (constants.empty()) constants = {1.0, std::sqrt(3.0)};
  for (int k = 2; k <= l; ++k) {
    std::vector<long double> next(static_cast<std::size_t>(2 * k + 1), 0.0L);
    const std::vector<double>& c = wigner_3j(k - 1, 1, k);
    for (int i = 0; i < 2 * k - 1; ++i)
      for (int j = 0; j < 3; ++j)
        for (int m = 0; m < 2 * k + 1; ++m)
          next[static_cast<std::size_t>(m)] +=
              static_cast<long double>(c[static_cast<std::size_t>((i * 3 + j) * (2 * k + 1) + m)]) *
              y[static_cast<std::size_t>(i)] * r[j];
    if (constants.size() <= static_cast<std::size_t>(k)) {
      long double squared = 0;
      for (long double v : next) squared += v * v;
      constants.push_back(static_cast<double>(std::sqrt((2 * k + 1) / squared)));
    }
    for (auto& v : next) v *= constants[static_cast<std::size_t>(k)];
    y = std::move(next);
  }
  return constants[static_cast<std::size_t>(l)];
}

}  // namespace nqmd::nequip

namespace nqmd::nequip::detail {

torch::Tensor wigner_3j_tensor(int l1, int l2, int l3, const torch::TensorOptions& options) {
  const std::vector<double>& c = wigner_3j(l1, l2, l3);
  return torch::from_blob(const_cast<double*>(c.data()), {2 * l1 + 1, 2 * l2 + 1, 2 * l3 + 1},
                          torch::TensorOptions().dtype(torch::kFloat64))
      .to(options, /*non_blocking=*/false, /*copy=*/true);
}

torch::Tensor spherical_harmonics(int lmax, const torch::Tensor& vectors, bool normalize) {
  TORCH_CHECK(lmax >= 0, "spherical_harmonics: lmax must be >= 0");
  TORCH_CHECK(vectors.size(-1) == 3, "spherical_harmonics: vectors must have a last dimension of 3");
  torch::Tensor r = vectors;
  if (normalize) r = vectors / vectors.norm(2, -1, true).clamp_min(1e-12);
  std::vector<torch::Tensor> parts{torch::ones_like(r.narrow(-1, 0, 1))};
  if (lmax >= 1) parts.push_back(std::sqrt(3.0) * r);
  const auto batch = r.sizes().slice(0, r.dim() - 1).vec();
  for (int l = 2; l <= lmax; ++l) {
    // [..., 2l-1] x [..., 3] -> [..., (2l-1)*3] @ C[(2l-1)*3, 2l+1]
    const torch::Tensor outer = (parts.back().unsqueeze(-1) * r.unsqueeze(-2)).flatten(-2);
    const torch::Tensor c = wigner_3j_tensor(l - 1, 1, l, r.options()).reshape({(2 * l - 1) * 3, 2 * l + 1});
    parts.push_back(spherical_harmonics_recursion_constant(l) * torch::matmul(outer, c));
  }
  return torch::cat(parts, -1);
}

torch::Tensor spherical_harmonics(const Irreps& irreps, const torch::Tensor& vectors, bool normalize) {
  const torch::Tensor all = spherical_harmonics(std::max(irreps.lmax(), 0), vectors, normalize);
  std::vector<torch::Tensor> parts;
  for (const auto& block : irreps.blocks())
    for (int u = 0; u < block.mul; ++u) parts.push_back(all.narrow(-1, block.ir.l * block.ir.l, block.ir.dim()));
  return torch::cat(parts, -1);
}

}  // namespace nqmd::nequip::detail
