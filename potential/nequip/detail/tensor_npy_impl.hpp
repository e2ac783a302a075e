#pragma once
// Private: torch tensors to and from numpy arrays (float64, float32, int64), bit for bit. Includes torch.
#include <torch/torch.h>

#include <string>

#include "io/npz.hpp"

namespace nqmd::nequip::detail {

NpyArray tensor_array(const torch::Tensor& tensor);
// InputError naming `what` for another dtype, Fortran order or a size that does not match the shape.
torch::Tensor array_tensor(const NpyArray& array, const std::string& what);

}  // namespace nqmd::nequip::detail
