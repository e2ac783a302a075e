#include "app/analyze_command.hpp"

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <optional>
#include <sstream>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "analysis/analysis.hpp"
#include "engine/error.hpp"
#include "engine/log.hpp"
#include "io/trajectory.hpp"

namespace nqmd {
namespace {

std::vector<KeySpec> frame_selection_keys() {
  return {KeySpec("frame_interval", KeyType::real,
                  "time between stored frames (fs) for files without times (plain extxyz); 0: the file's times")
              .at_least(0.0)
              .defaults_to(0.0),
          KeySpec("first_frame", KeyType::integer, "first frame read (counting from 0), e.g. to skip equilibration")
              .at_least(0)
              .defaults_to(std::int64_t{0}),
          KeySpec("last_frame", KeyType::integer, "last frame read (inclusive); default the file's last").at_least(0),
          KeySpec("stride", KeyType::integer, "read every stride-th frame from first_frame on")
              .at_least(1)
              .defaults_to(std::int64_t{1})};
}

TrajectoryReadOptions read_options(const ConfigSection& section) {
  TrajectoryReadOptions options;
  options.frame_interval_fs = section.real("frame_interval");
  options.first_frame = static_cast<std::size_t>(section.integer("first_frame"));
  if (section.has("last_frame")) {
    options.last_frame = static_cast<std::size_t>(section.integer("last_frame"));
    if (*options.last_frame < options.first_frame)
      section.fail("last_frame", fmt::format("must not be before first_frame = {}", options.first_frame));
  }
  options.stride = static_cast<std::size_t>(section.integer("stride"));
  return options;
}

// The trajectory of a section's `file`; errors name the section's file key. Without `times_required` (a
// reference) a file without times is read all the same: its structure is compared, and the analyses that need
// times leave it out.
Trajectory load(const ConfigSection& section, bool times_required) {
  const std::string path = section.path("file");
  Trajectory trajectory;
  try {
    TrajectoryReadOptions options = read_options(section);
    options.require_times = times_required;
    trajectory = read_trajectory(path, options);
  } catch (const InputError& error) {
    section.fail("file", error.what());
  }
  if (trajectory.frames.empty()) section.fail("file", fmt::format("{}: no frames selected", path));
  std::map<std::string, std::size_t> counts;
  std::vector<std::string> order;
  for (const std::string& symbol : trajectory.symbols)
    if (counts[symbol]++ == 0) order.push_back(symbol);
  std::string composition;
  for (const std::string& symbol : order) composition += fmt::format("{}{} {}", composition.empty() ? "" : ", ", symbol, counts[symbol]);
  const auto& frames = trajectory.frames;
  std::string spacing;
  if (!trajectory.has_times)
    spacing = ", no times";
  else if (frames.size() > 1)
    spacing = fmt::format(", {:.6g} fs apart ({:.6g} ps in all)", frames[1].time_fs - frames[0].time_fs,
                          (frames.back().time_fs - frames.front().time_fs) / 1000.0);
  log::info("[{}] {}: {} frames{}, {} atoms ({}), {}", section.name(), path, frames.size(), spacing,
            trajectory.atoms(), composition, trajectory.has_velocities() ? "with velocities" : "no velocities");
  return trajectory;
}

analysis::PlotOptions plot_options(const ConfigSection& output) {
  analysis::PlotOptions options;
  options.enabled = output.boolean("plots");
  if (output.has("formats")) {
    options.formats = output.string_array("formats");
    const std::vector<std::string> known{"png", "svg"};
    for (const std::string& format : options.formats)
      if (std::find(known.begin(), known.end(), format) == known.end()) {
        const std::string match = closest_match(format, known);
        output.fail("formats", fmt::format("unknown format \"{}\"{}", format,
                                           match.empty() ? std::string(" (expected png or svg)")
                                                         : fmt::format("; did you mean '{}'?", match)));
      }
  }
  return options;
}

// The output directory of an analysis file, relative to the file.
std::string output_directory(const InputFile& input, const ConfigSection& output) {
  std::filesystem::path directory(output.string("directory"));
  if (directory.is_relative() && !input.directory().empty()) directory = std::filesystem::path(input.directory()) / directory;
  return directory.lexically_normal().string();
}

const char* const kSummaryFile = "summary.txt";

// summary.txt and the existing files its last line ("outputs in DIR: a.csv b.png ...") lists.
std::vector<std::string> files_of_earlier_analysis(const std::string& directory) {
  const std::filesystem::path summary = std::filesystem::path(directory) / kSummaryFile;
  if (!std::filesystem::exists(summary)) return {};
  std::vector<std::string> files{summary.string()};
  std::ifstream in(summary);
  std::string listed;
  for (std::string line; std::getline(in, line);)
    if (line.rfind("outputs in ", 0) == 0 && line.rfind(": ") != std::string::npos)
      listed = line.substr(line.rfind(": ") + 2);
  std::istringstream names(listed);
  for (std::string name; names >> name;)
    if (std::filesystem::exists(std::filesystem::path(directory) / name))
      files.push_back((std::filesystem::path(directory) / name).string());
  return files;
}

}  // namespace

std::vector<std::string> earlier_analysis_files(const std::string& path) {
  const InputFile input(path);
  const ConfigSection output = input.section(analysis_output_schema());
  if (output.boolean("overwrite")) return {};
  return files_of_earlier_analysis(output_directory(input, output));
}

const SectionSchema& analysis_trajectory_schema() {
  static const SectionSchema schema{
      "trajectory",
      "The trajectory analysed: H5MD (nequip-md's [output] trajectory_file = \"*.h5\", or another program's) or "
      "multi-frame extended XYZ (times from the info key time_fs, or frame_interval), recognised by content. Paths "
      "are relative to the analysis file.",
      [] {
        std::vector<KeySpec> keys{KeySpec("file", KeyType::string,
                                          "trajectory file (required by every analysis that reads it)")};
        for (const KeySpec& key : frame_selection_keys()) keys.push_back(key);
        return keys;
      }()};
  return schema;
}

const SectionSchema& analysis_reference_schema() {
  static const SectionSchema schema{
      "reference",
      "A second trajectory of the same system to compare with (e.g. ab-initio MD frames as extended XYZ): [rdf] "
      "overlays its g(r) and gives the differences per pair, [msd] gives D/D_reference with the combined error "
      "when the reference is a trajectory (its file records times, or frame_interval gives them). Frames without "
      "times (ab-initio snapshots) are compared by structure only.",
      [] {
        std::vector<KeySpec> keys{KeySpec("file", KeyType::string, "reference trajectory file").require()};
        for (const KeySpec& key : frame_selection_keys()) keys.push_back(key);
        return keys;
      }()};
  return schema;
}

const SectionSchema& analysis_output_schema() {
  static const SectionSchema schema{
      "output",
      "Where the results go: CSV files (units in the column names), gnuplot scripts and figures, summary.txt.",
      {KeySpec("directory", KeyType::string, "output directory (relative to the analysis file; created if absent)")
           .defaults_to("analysis"),
       KeySpec("plots", KeyType::boolean, "draw figures with gnuplot (skipped with a warning if gnuplot is missing)")
           .defaults_to(true),
       KeySpec("formats", KeyType::string_array, "figure formats: \"png\" (pngcairo) and/or \"svg\"; default both"),
       KeySpec("overwrite", KeyType::boolean,
               "replace the outputs of an earlier analysis in the directory (otherwise it refuses; see --force)")
           .defaults_to(false)}};
  return schema;
}

std::vector<const SectionSchema*> analysis_input_sections() {
  std::vector<const SectionSchema*> sections{&analysis_trajectory_schema(), &analysis_reference_schema(),
                                             &analysis_output_schema()};
  std::vector<const analysis::AnalysisRegistry::Style*> styles;
  for (const auto& style : analysis::AnalysisRegistry::instance().styles()) styles.push_back(&style);
  std::sort(styles.begin(), styles.end(), [](const auto* a, const auto* b) { return a->name < b->name; });
  for (const auto* style : styles) sections.push_back(&style->schema);
  return sections;
}

void run_analysis(const AnalysisRequest& request) {
  const std::string& path = request.input_path;
  const InputFile input(path);
  std::vector<std::string> known;
  for (const SectionSchema* schema : analysis_input_sections()) known.push_back(schema->name);
  const std::size_t first_analysis = 3;  // after [trajectory], [reference] and [output]
  input.check_sections(known);

  const ConfigSection output = input.section(analysis_output_schema());
  const analysis::PlotOptions plots = plot_options(output);
  const std::string directory = output_directory(input, output);
  std::optional<ConfigSection> trajectory_section, reference_section;
  if (input.has_section("trajectory")) trajectory_section = input.section(analysis_trajectory_schema());
  if (input.has_section("reference")) reference_section = input.section(analysis_reference_schema());

  // Every analysis checks its options before any trajectory is read.
  std::vector<std::unique_ptr<analysis::Analysis>> runs;
  bool needs_trajectory = false;
  for (std::size_t k = first_analysis; k < known.size(); ++k) {
    if (!input.has_section(known[k])) continue;
    const auto* style = analysis::AnalysisRegistry::instance().find(known[k]);
    runs.push_back(style->create(input.section(style->schema)));
    needs_trajectory = needs_trajectory || runs.back()->needs_trajectory();
  }
  if (runs.empty()) {
    std::string choices;
    for (std::size_t k = first_analysis; k < known.size(); ++k)
      choices += fmt::format("{}[{}]", k > first_analysis ? ", " : "", known[k]);
    throw InputError(fmt::format("{}: no analysis to run: add one of the sections {}", path, choices));
  }
  if (needs_trajectory) {
    if (!trajectory_section)
      throw InputError(fmt::format("{}: missing section [trajectory] (it needs key 'file': the trajectory to analyse)", path));
    if (!trajectory_section->has("file")) trajectory_section->fail("file", "is required (the trajectory to analyse)");
  }
  if (request.check_only) {
    // The trajectory may be what the run is about to write; a reference must be there already.
    if (reference_section && !std::filesystem::exists(reference_section->path("file")))
      reference_section->fail("file", fmt::format("{}: trajectory file not found", reference_section->path("file")));
    return;
  }

  // After the options are checked, before anything is read or written.
  if (!request.force && !output.boolean("overwrite"))
    if (const std::vector<std::string> earlier = files_of_earlier_analysis(directory); !earlier.empty())
      output.fail("directory", fmt::format("{} holds the outputs of an earlier analysis: {}; choose another "
                                           "directory, set [output] overwrite = true, or pass --force",
                                           directory, fmt::join(earlier, ", ")));

  analysis::AnalysisInput data;
  data.directory = input.directory();
  if (trajectory_section) data.read_options = read_options(*trajectory_section);
  std::optional<Trajectory> trajectory, reference;
  if (needs_trajectory) {
    trajectory = load(*trajectory_section, true);
    data.trajectory = &*trajectory;
    if (reference_section) {
      reference = load(*reference_section, false);
      data.reference = &*reference;
    }
  }

  analysis::AnalysisReport report(directory, plots);
  std::vector<NamedFile> protected_files = request.protected_files;
  protected_files.push_back({"`analyze` INPUT", path});
  for (const auto& section : {trajectory_section, reference_section})
    if (section && section->has("file")) protected_files.push_back({section->where("file"), section->path("file")});
  report.protect(std::move(protected_files));
  for (const auto& analysis : runs) {
    log::info("[{}] running", analysis->name());
    analysis->run(data, report);
  }

  std::string summary = fmt::format("summary of {}:\n", path);
  for (const std::string& line : report.summary_lines()) summary += "  " + line + "\n";
  if (!report.warnings().empty()) {
    summary += fmt::format("warnings ({}):\n", report.warnings().size());
    for (const std::string& warning : report.warnings()) summary += "  " + warning + "\n";
  }
  summary += fmt::format("outputs in {}: {}\n", report.directory(), fmt::join(report.files(), " "));
  report.write_text(kSummaryFile, summary);
  log::info("{}", summary.substr(0, summary.size() - 1));
}

}  // namespace nqmd
