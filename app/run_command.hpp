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
  std::string study_member;  // a run of the input's [study] ("T600"), as the study starts it; "": the input itself
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
const SectionSchema& analysis_after_run_schema();

// The stages of a staged input ([[stage]]); none for a plain input.
std::vector<InputStage> run_stages_of(const InputFile& input);
// The checkpoint file of each stage in order (one entry for a plain input; "" where none is written).
std::vector<std::string> stage_checkpoint_files(const InputFile& input);
// The trajectory file of the last stage (of the run, for a plain input); "" for none.
std::string final_trajectory_file(const InputFile& input);

}  // namespace nqmd
