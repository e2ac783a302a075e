#pragma once
// `nequip-md analyze analysis.toml`: trajectories -> the registered analyses ([rdf], [msd], [vdos], [arrhenius], ...)
// -> CSV files, gnuplot figures and a summary of the key numbers.
#include <string>
#include <vector>

#include "engine/config.hpp"

namespace nqmd {

// Runs every analysis the file names; throws InputError (file, line and key) on bad input.
void run_analysis(const std::string& path);

const SectionSchema& analysis_trajectory_schema();  // [trajectory]
const SectionSchema& analysis_reference_schema();   // [reference]
const SectionSchema& analysis_output_schema();      // [output]
// Every section of an analysis file, for validation and the input reference: [trajectory], [reference],
// [output], then the registered analyses by name.
std::vector<const SectionSchema*> analysis_input_sections();

}  // namespace nqmd
