#pragma once
// `nequip-md evaluate --model M --data frames.extxyz [--output out.extxyz [--force]] [--backend native|torchscript]
// [--dtype float32|float64] [--species-map Cu=Cu,Au=Au] [--threads N]`: a NequIP model on every frame of an
// extxyz file. Writes the frames with the results as ASE writes calculator results (info `energy`, `stress` =
// -virial/V for frames with a periodic axis and a cell (eV/A^3), `virial` (eV); columns `forces`, `energies`), so
// ase.io.read returns them as the frame's calculator results. Frames that carry labels (energy, forces,
// stress) are scored: energy MAE/RMSE per atom (meV/atom), force components MAE/RMSE (meV/A) overall and per
// species, stress components MAE/RMSE (meV/A^3), printed as a table on stdout.
//
// Training domain: for a model that knows its training data's closest pairs (written by `nequip-md train`, or
// from --training-data files), frames with atoms closer than those are counted (and the deepest case named),
// and written frames carry info `outside_training_domain` = the number of such atoms: candidates to label next.
#include <string>

#include "app/model_arguments.hpp"

namespace nqmd {

struct EvaluateRequest {
  ModelArguments model_arguments;
  std::string data;
  std::string output;            // "" for none; never one of the inputs, and replaced only with `force`
  bool force = false;
};

// Throws InputError on bad input (missing file, species the model lacks, no frames, an output that is an input
// or exists without `force`, ...). The output is written beside and renamed into place at the end, so a failed
// evaluation leaves an existing file as it was.
void evaluate_frames(const EvaluateRequest& request);

}  // namespace nqmd
