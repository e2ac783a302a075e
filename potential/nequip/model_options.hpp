#pragma once
// The choices of how a NequIP model runs, parsed once where they are read (the [potential] section, the command
// line of `nequip-md evaluate`) and passed as enums from there on. Torch-free header.
#include <string>

namespace nqmd::nequip {

// What evaluates the model: the native C++ port (nequip_model.hpp) or the deployed TorchScript module
// (torchscript_model.hpp).
enum class Backend { native, torchscript };
// How backend native computes the forces: the hand-written forward and backward of fused_network.hpp, or the
// libtorch network differentiated by autograd.
enum class Kernel { fused, autograd };
// The floating-point type the model runs in; model_default: the model's own model_dtype.
enum class Precision { model_default, float32, float64 };

// The names users write and read: "native", "torchscript"; "fused", "autograd"; "float32", "float64" ("" for
// model_default).
const char* name(Backend backend);
const char* name(Kernel kernel);
const char* name(Precision precision);

// The enum named `text` (as name() spells it; "" is Precision::model_default); InputError
// "WHERE: backend 'x' is not one of native, torchscript" (and alike) otherwise.
Backend parse_backend(const std::string& text, const std::string& where);
Kernel parse_kernel(const std::string& text, const std::string& where);
Precision parse_precision(const std::string& text, const std::string& where);

}  // namespace nqmd::nequip
