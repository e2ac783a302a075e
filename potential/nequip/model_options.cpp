#include "potential/nequip/model_options.hpp"

#include <fmt/format.h>

#include "engine/error.hpp"

namespace nqmd::nequip {

const char* name(Backend backend) { return backend == Backend::native ? "native" : "torchscript"; }

const char* name(Kernel kernel) { return kernel == Kernel::fused ? "fused" : "autograd"; }

const char* name(Precision precision) {
  switch (precision) {
    case Precision::float32:
      return "float32";
    case Precision::float64:
      return "float64";
    case Precision::model_default:
      break;
  }
  return "";
}

Backend parse_backend(const std::string& text, const std::string& where) {
  if (text == "native") return Backend::native;
  if (text == "torchscript") return Backend::torchscript;
  throw InputError(fmt::format("{}: backend '{}' is not one of native, torchscript", where, text));
}

Kernel parse_kernel(const std::string& text, const std::string& where) {
  if (text == "fused") return Kernel::fused;
  if (text == "autograd") return Kernel::autograd;
  throw InputError(fmt::format("{}: kernel '{}' is not one of fused, autograd", where, text));
}

Precision parse_precision(const std::string& text, const std::string& where) {
  if (text.empty()) return Precision::model_default;
  if (text == "float64") return Precision::float64;
  if (text == "float32") return Precision::float32;
  throw InputError(fmt::format("{}: dtype '{}' is not one of float64, float32", where, text));
}

}  // namespace nqmd::nequip
