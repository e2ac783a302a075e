#pragma once
// Analyses of trajectories as registered styles, for `nequip-md analyze analysis.toml`.
//
// Each analysis is one class in its own .cpp file registered by name with the schema of its keys; the TOML
// section of the analysis file is the style name ([rdf], [msd], [vdos], [arrhenius]):
//   const bool registered = AnalysisRegistry::instance().add({"rdf", rdf_schema(), factory});
// The factory reads and checks the section's options (before any trajectory is read); run() computes, writes
// CSV files and figures through the AnalysisReport and adds lines to the summary. Errors are InputErrors that
// name the file, line and key of the analysis file.
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "analysis/plot.hpp"
#include "engine/config.hpp"
#include "engine/error.hpp"
#include "engine/registry.hpp"
#include "io/output_files.hpp"
#include "io/trajectory.hpp"

namespace nqmd::analysis {

// What an analysis reads: the [trajectory] (and the optional [reference]) of the analysis file, already read.
struct AnalysisInput {
  const Trajectory* trajectory = nullptr;  // null if the analysis file has no [trajectory]
  const Trajectory* reference = nullptr;   // null without [reference]
  TrajectoryReadOptions read_options;      // [trajectory]'s frame interval and selection, for further files
  std::string directory;                   // of the analysis file: relative paths start here
};

// Where results go: CSV files and figures in the output directory, summary lines, warnings.
class AnalysisReport {
 public:
  AnalysisReport(std::string directory, PlotOptions plots);

  const std::string& directory() const { return directory_; }
  std::string path(const std::string& name) const;

  // NAME as CSV: a header row (names with units, e.g. "r_A") and equally long columns of numbers (full precision;
  // NaN as "nan"). InputError if the file cannot be written.
  void write_csv(const std::string& name, const std::vector<std::string>& header,
                 const std::vector<std::vector<double>>& columns);
  // NAME as CSV from rows of cells already formatted (tables that mix text and numbers).
  void write_csv_rows(const std::string& name, const std::vector<std::string>& header,
                      const std::vector<std::vector<std::string>>& rows);
  // Draws a figure (see Plotter); nothing if figures are off or gnuplot is missing.
  void plot(const Plot& plot);
  // NAME with this text. InputError if it cannot be written.
  void write_text(const std::string& name, const std::string& text);
  // Files no output may replace (the analysis's inputs; after a run, the run's files too): writing one is an
  // InputError naming it, before anything is written over it.
  void protect(std::vector<NamedFile> files) { protected_ = std::move(files); }

  // A line of the summary printed at the end (and written to summary.txt).
  void summary(std::string line);
  // A warning: printed now, and repeated at the end of the summary.
  void warn(const std::string& source, const std::string& message);

  const std::vector<std::string>& summary_lines() const { return summary_; }
  const std::vector<std::string>& warnings() const { return warnings_; }
  const std::vector<std::string>& files() const { return files_; }

 private:
  std::string directory_;
  Plotter plotter_;
  std::vector<std::string> summary_;
  std::vector<std::string> warnings_;
  std::vector<std::string> files_;  // written so far, in order
  std::vector<NamedFile> protected_;
  void check_not_protected(const std::string& name) const;
};

class Analysis {
 public:
  explicit Analysis(const ConfigSection& section) : section_(section) {}
  virtual ~Analysis() = default;
  Analysis(const Analysis&) = delete;
  Analysis& operator=(const Analysis&) = delete;

  const std::string& name() const { return section_.name(); }
  // Whether run() reads AnalysisInput::trajectory (then [trajectory] is required).
  virtual bool needs_trajectory() const { return true; }
  virtual void run(const AnalysisInput& input, AnalysisReport& report) = 0;

 protected:
  const ConfigSection& section() const { return section_; }
  // Runs `work`; an InputError from it is rethrown naming this section's `key` (file, line and key), or the
  // section itself for an empty key.
  template <typename Work>
  decltype(auto) about(const std::string& key, Work&& work) const {
    try {
      return work();
    } catch (const InputError& error) {
      fail(key, error.what());
    }
  }
  // Throws InputError "FILE:LINE: [section] key: message" ("FILE:LINE: [section]: message" for an empty key).
  [[noreturn]] void fail(const std::string& key, const std::string& message) const;
  // The trajectory, or an InputError naming this section if the analysis file has no [trajectory].
  const Trajectory& trajectory(const AnalysisInput& input) const;

 private:
  ConfigSection section_;
};

using AnalysisRegistry = StyleRegistry<Analysis>;

// Shared option parsing: a list of species names (`key`), each checked against the trajectory's species.
// Empty `requested` means every species of the trajectory, in order of appearance.
std::vector<std::string> checked_species(const ConfigSection& section, const std::string& key,
                                         const std::vector<std::string>& requested, const Trajectory& trajectory);

// Formatting for summaries: "v +- e" with `digits` significant digits in the error's scale.
std::string format_estimate(double value, double error);

}  // namespace nqmd::analysis
