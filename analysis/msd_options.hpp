#pragma once
// The keys of a diffusion fit shared by [msd] and [arrhenius]: fit window (ps), error method, blocks, drift.
#include <vector>

#include "analysis/msd.hpp"
#include "engine/config.hpp"

namespace nqmd::analysis {

struct DiffusionAnalysisOptions {
  MsdOptions msd;
  DiffusionFitOptions fit;
};

std::vector<KeySpec> diffusion_fit_keys();
// InputError (naming the key) for a window with only one end, or an end not after its start.
DiffusionAnalysisOptions read_diffusion_options(const ConfigSection& section);

}  // namespace nqmd::analysis
