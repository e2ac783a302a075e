#pragma once
// `nequip-md export-kim --model M --name NAME --output DIR`: a NequIP model (native .npz or nequip-deploy .pth)
// as a KIM portable model for LAMMPS and other KIM-enabled simulators (docs/lammps.md). DIR gets the model item
// (CMakeLists.txt with kim-api's macros, the model file as its parameter file; species from the model's type
// names, metal units) and DIR/driver, the item of the nequip-md model driver (kim/nequip_kim_driver.cpp): a thin
// wrapper around this build's libnequip-md-kim-driver.so, copied beside it. export-kim installs the driver into
// the user collection (`kim-api-collections-management install --force user DIR/driver`, so it always matches
// this nequip-md); the user then installs the model with `kim-api-collections-management install user DIR`.
#include <string>

namespace nqmd {

struct ExportKimRequest {
  std::string model;
  std::string name;    // the KIM item name: a C identifier
  std::string output;  // a directory that does not exist yet, or is empty
  bool install_driver = true;
};

// Throws InputError naming the option (--model, --name, --output) for bad input, and when this nequip-md was built
// without the driver or the driver's installation fails.
void export_kim(const ExportKimRequest& request);

}  // namespace nqmd
