#pragma once
// Private: e3nn 0.5.1 building blocks on libtorch tensors (autograd-capable). Includes torch.
#include <torch/torch.h>

#include "potential/nequip/irreps.hpp"

namespace nqmd::nequip::detail {

// e3nn's wigner_3j(l1, l2, l3) as a tensor of shape (2l1+1, 2l2+1, 2l3+1).
torch::Tensor wigner_3j_tensor(int l1, int l2, int l3, const torch::TensorOptions& options);

// Real spherical harmonics Y^0..Y^lmax of vectors [..., 3] in e3nn's basis and order with 'component'
// normalisation (|Y^l|^2 = 2l+1 on the unit sphere), concatenated: [..., (lmax+1)^2]. With `normalize` the
// vectors are first scaled to unit length as torch.nn.functional.normalize does (a zero vector gives Y^l = 0
// for l > 0). Y^0 = 1, Y^1 = sqrt(3) (x, y, z), and Y^l = c_l C^{l-1,1,l} Y^{l-1} r for l >= 2 (e3nn's recursion),
// where c_l > 0 fixes the normalisation.
torch::Tensor spherical_harmonics(int lmax, const torch::Tensor& vectors, bool normalize);

// Spherical harmonics for the l of each block of `irreps` (multiplicities repeat the block), e.g. 1x0e+1x1o+1x2e.
torch::Tensor spherical_harmonics(const Irreps& irreps, const torch::Tensor& vectors, bool normalize);

}  // namespace nqmd::nequip::detail
