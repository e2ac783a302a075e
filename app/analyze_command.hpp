#pragma once
// `nequip-md analyze analysis.toml`: trajectories -> the registered analyses ([rdf], [msd], [vdos], [arrhenius], ...)
// -> CSV files, gnuplot figures and a summary of the key numbers.
#include <string>
#include <vector>

#include "engine/config.hpp"
#include "io/output_files.hpp"

namespace nqmd {

struct AnalysisRequest {
  std::string input_path;
  bool force = false;  // replace the outputs of an earlier analysis (as [output] overwrite = true)
  std::vector<NamedFile> protected_files;  // besides its own inputs, files no output may replace (a run's)
  // Only check the file (sections, keys, every analysis's options, the reference file's presence), reading and
  // writing nothing: what `run` does before its first step, so that a bad [analysis] file costs no MD.
  bool check_only = false;
};

// Runs every analysis the file names; throws InputError (file, line and key) on bad input, and (one line naming
// them all) if the output directory holds the outputs of an earlier analysis, unless forced or overwrite = true.
void run_analysis(const AnalysisRequest& request);

// The files an earlier analysis of this file left in its output directory (its summary.txt and the outputs that
// summary lists), none if the file's [output] has overwrite = true.
std::vector<std::string> earlier_analysis_files(const std::string& path);

const SectionSchema& analysis_trajectory_schema();  // [trajectory]
const SectionSchema& analysis_reference_schema();   // [reference]
const SectionSchema& analysis_output_schema();      // [output]
// Every section of an analysis file, for validation and the input reference: [trajectory], [reference],
// [output], then the registered analyses by name.
std::vector<const SectionSchema*> analysis_input_sections();

}  // namespace nqmd
