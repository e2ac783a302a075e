#pragma once
// A temperature study in one input ([study]): the input's run (all its stages) at each temperature, each in its own
// directory with its own checkpoints, as many at once as the cores allow; run again, a stopped or killed study
// continues where each run stopped; then the Arrhenius analysis of the diffusing species over all the runs.
#include <string>

#include "app/run_command.hpp"
#include "engine/config.hpp"

namespace nqmd {

const SectionSchema& study_section_schema();

// Runs or continues the study that `input` ([study] present) describes: one child process per temperature
// (`run INPUT --study-member NAME`), then the analyses. InputError if a run failed or the input is bad; stops
// cleanly (the runs checkpoint) on a stop signal.
void run_temperature_study(const RunRequest& request, const InputFile& input);

// The input of one run of the study ("T600"): the study's temperature in every [velocities] and [integrator]
// that sets one, every output file in the run's directory, its own copy of the [analysis] file, no [study].
InputFile study_member_input(const InputFile& input, const std::string& member);

}  // namespace nqmd
