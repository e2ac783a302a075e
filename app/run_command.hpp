#pragma once
// `nequip-md run input.toml [--restart checkpoint.h5]`: input sections -> System, Potential, Integrator,
// Simulation with observers -> thermo, checkpoints.
#include <optional>
#include <string>
#include <vector>

#include "engine/config.hpp"

namespace nqmd {

struct RunRequest {
  std::string input_path;
  std::optional<std::string> restart_path;
  bool force = false;  // replace outputs of another run (as [run] overwrite = true)
  int threads = 0;     // -t: threads of the run (overrides [run] threads); 0: the input's
};

// Runs the simulation the input describes; throws InputError on bad input.
void run_simulation(const RunRequest& request);

// The sections of a run input, each with its registered styles (for validation and the input reference).
struct InputSection {
  const SectionSchema* common;
  std::vector<std::pair<std::string, const SectionSchema*>> styles;  // by kind, for styled sections
};
std::vector<InputSection> run_input_sections();

const SectionSchema& neighbor_section_schema();
const SectionSchema& run_section_schema();
const SectionSchema& output_section_schema();

}  // namespace nqmd
