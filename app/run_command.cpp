#include "app/run_command.hpp"

#include <sys/resource.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <limits>
#include <map>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "app/analyze_command.hpp"
#include "app/temperature_study.hpp"
#include "engine/error.hpp"
#include "engine/log.hpp"
#include "engine/minimization.hpp"
#include "engine/simulation.hpp"
#include "engine/structure.hpp"
#include "engine/threads.hpp"
#include "engine/units.hpp"
#include "integrators/initial_velocities.hpp"
#include "io/checkpoint.hpp"
#include "io/output_files.hpp"
#include "io/thermo_columns.hpp"
#include "io/thermo_output.hpp"
#include "io/trajectory.hpp"
#include "io/trajectory_writer.hpp"
#ifdef NQMD_HAVE_NEQUIP
#include "potential/nequip/build_info.hpp"
#endif

namespace nqmd {

namespace {

// "step (time step), time (simulated time (fs)), ..." for the schema's description of thermo_columns.
std::string thermo_column_list() {
  std::string text;
  for (const ThermoColumn& column : thermo_columns())
    text += fmt::format("{}{} ({})", text.empty() ? "" : ", ", column.name, column.description);
  return text;
}

// Peak resident memory of this process (kB), from the kernel's high-water mark.
long peak_resident_kb() {
  struct rusage usage {};
  if (getrusage(RUSAGE_SELF, &usage) != 0) return -1;
  return usage.ru_maxrss;  // kB on Linux
}

// Where the time of the steps went (as LAMMPS' timing breakdown) and the peak memory.
void print_timings(const StepTimings& t, std::size_t atoms) {
  const double total = t.total();
  if (t.steps == 0 || total <= 0) return;
  const double atom_steps = static_cast<double>(t.steps) * static_cast<double>(atoms);
  auto share = [&](double seconds) { return 100.0 * seconds / total; };
  log::info("timing: {} steps in {:.4g} s, {:.4g} us/atom/step: potential {:.1f}%, neighbour list {:.1f}%, "
            "integrator {:.1f}%, checks {:.1f}%, output {:.1f}%",
            t.steps, total, total * 1e6 / atom_steps, share(t.potential), share(t.neighbor), share(t.integrator),
            share(t.checks), share(t.output));
  const long peak = peak_resident_kb();
  if (peak > 0)
    log::info("memory: peak resident {:.1f} MB, {:.2f} kB/atom", static_cast<double>(peak) / 1024.0,
              static_cast<double>(peak) / static_cast<double>(std::max<std::size_t>(atoms, 1)));
}

}  // namespace

const SectionSchema& neighbor_section_schema() {
  static const SectionSchema schema{
      "neighbor",
      "Verlet neighbour list: built with radius cutoff + skin, rebuilt when an atom has moved more than skin/2 "
      "(checked every `every` steps; LAMMPS neigh_modify every/check).",
      {KeySpec("skin", KeyType::real, "skin distance added to the potential's cutoff (A)").at_least(0.0).defaults_to(1.0),
       KeySpec("every", KeyType::integer, "consider a rebuild only on steps that are multiples of this")
           .at_least(1)
           .defaults_to(std::int64_t{1}),
       KeySpec("check", KeyType::boolean,
               "rebuild only if an atom moved more than skin/2; false rebuilds every `every` steps regardless and "
               "counts the dangerous builds (pairs may be missed: for benchmarks that copy LAMMPS settings)")
           .defaults_to(true)}};
  return schema;
}

const SectionSchema& run_section_schema() {
  static const SectionSchema schema{
      "run",
      "Length of the run and what it writes. Output paths are relative to this input file (in a [study], to the "
      "run's directory).",
      {KeySpec("steps", KeyType::integer, "number of time steps (at most 1e12: years of CPU time)")
           .at_least(0)
           .at_most(1e12)
           .require(),
       KeySpec("thermo_every", KeyType::integer, "steps between thermo rows (terminal and CSV)").at_least(1).defaults_to(
           std::int64_t{100}),
       KeySpec("thermo_file", KeyType::string, "thermo CSV file; \"\" for none").defaults_to("thermo.csv"),
       KeySpec("thermo_columns", KeyType::string_array,
               "columns of the thermo output, in order (LAMMPS thermo_style custom), e.g. [\"step\", \"temp\", "
               "\"press\", \"pxx\", \"cella\"]; CSV headers carry the units; default: " +
                   fmt::format("{}", fmt::join(default_thermo_csv_columns(), " ")) + ". Columns: " +
                   thermo_column_list())
           .one_of(thermo_column_names()),
       KeySpec("checkpoint_every", KeyType::integer, "steps between checkpoints; 0: only at the end")
           .at_least(0)
           .defaults_to(std::int64_t{0}),
       KeySpec("checkpoint_file", KeyType::string, "checkpoint file (HDF5); \"\" for none").defaults_to("checkpoint.h5"),
       KeySpec("threads", KeyType::integer,
               "threads of the run: the potential and the neighbour list (0: OMP_NUM_THREADS if set, else every "
               "core; the command line's -t overrides it)")
           .at_least(0)
           .at_most(4096)
           .defaults_to(std::int64_t{0}),
       KeySpec("min_distance", KeyType::real,
               "warn at start about atom pairs closer than this (A); closer than 0.01 A is an error")
           .at_least(0.0)
           .at_most(10.0)
           .defaults_to(0.5),
       KeySpec("final_cell", KeyType::string,
               "in a staged input, the cell the next stage starts in: \"last\" (this stage's final cell) or "
               "\"mean\" (the mean cell of the second half of this stage's trajectory frames, atoms scaled with it: "
               "equilibrate at constant pressure, then run NVT at the mean cell, as LAMMPS change_box to averaged "
               "cell lengths)")
           .one_of({"last", "mean"})
           .defaults_to("last"),
       KeySpec("overwrite", KeyType::boolean,
               "replace output files left by another run (otherwise a fresh run refuses to start; see --force)")
           .defaults_to(false)}};
  return schema;
}

const SectionSchema& output_section_schema() {
  static const SectionSchema schema{
      "output",
      "Trajectory output. The format follows the file name: .h5 or .h5md is H5MD 1.1 (readable by h5py and "
      "MDAnalysis), .extxyz or .xyz is extended XYZ (readable by ASE and OVITO).",
      {KeySpec("trajectory_file", KeyType::string, "trajectory file; \"\" for none").defaults_to(""),
       KeySpec("trajectory_every", KeyType::integer, "steps between trajectory frames")
           .at_least(1)
           .defaults_to(std::int64_t{100}),
       KeySpec("flush_every", KeyType::integer, "frames between flushes to disk (a killed run keeps what was flushed)")
           .at_least(1)
           .defaults_to(std::int64_t{10}),
       KeySpec("fields", KeyType::string_array,
               "per-atom fields besides positions: velocities, forces, energies (per-atom potential energies, eV), "
               "images (H5MD only); default velocities, and images for H5MD")
           .one_of({"velocities", "forces", "energies", "images"}),
       KeySpec("compression", KeyType::integer, "H5MD deflate level of per-atom data, 0 (none) to 9")
           .at_least(0)
           .at_most(9)
           .defaults_to(std::int64_t{4})}};
  return schema;
}

const SectionSchema& analysis_after_run_schema() {
  static const SectionSchema schema{
      "analysis",
      "Analysis when the run has finished: `nequip-md analyze` of the given analysis file (whose [trajectory] "
      "names this run's trajectory).",
      {KeySpec("file", KeyType::string, "analysis input (TOML) to run after the MD, relative to this input file")
           .require()}};
  return schema;
}

std::vector<InputSection> run_input_sections() {
  auto styles_of = [](const auto& registry) {
    std::vector<std::pair<std::string, const SectionSchema*>> styles;
    for (const auto& style : registry.styles()) styles.emplace_back(style.name, &style.schema);
    return styles;
  };
  return {{&structure_section_schema(), {}},
          {&velocities_section_schema(), {}},
          {&neighbor_section_schema(), {}},
          {&potential_section_schema(), styles_of(PotentialRegistry::instance())},
          {&integrator_section_schema(), styles_of(IntegratorRegistry::instance())},
          {&minimize_section_schema(), {}},
          {&watchdog_section_schema(), {}},
          {&output_section_schema(), {}},
          {&run_section_schema(), {}},
          {&analysis_after_run_schema(), {}},
          {&study_section_schema(), {}}};
}

namespace {

// A stage of a staged input ([[stage]]): its name, the keys it sets itself, the state it starts from (none: the
// [structure]) and where its final state goes. A plain input is one unnamed stage.
struct StageContext {
  std::string name;
  std::vector<std::string> own_keys;  // "section.key"
  std::optional<System> start;
  System* end = nullptr;
};

// An output path of `section`; in a named stage, a file name the stage does not set itself gets the stage's name
// in front ("npt_thermo.csv"), so that the stages of one input never write the same file.
std::string output_path(const ConfigSection& section, const std::string& key, const StageContext& stage = {}) {
  if (section.string(key).empty()) return "";
  const std::string path = section.output_path(key);
  const std::string own = section.name() + "." + key;
  if (stage.name.empty() || std::find(stage.own_keys.begin(), stage.own_keys.end(), own) != stage.own_keys.end())
    return path;
  const std::filesystem::path as_path(path);
  return (as_path.parent_path() / (stage.name + "_" + as_path.filename().string())).string();
}

// The trajectory writer [output] asks for, or nothing; the format follows the file name (io/trajectory_writer.hpp).
std::unique_ptr<Observer> trajectory_writer(const ConfigSection& output, const std::string& path, bool overwrite,
                                            std::optional<std::uint64_t> resume_after_step) {
  if (path.empty()) return nullptr;
  const TrajectoryFormat* format = TrajectoryFormatRegistry::instance().for_path(path);
  if (format == nullptr)
    output.fail("trajectory_file", fmt::format("unknown format: the name must end in {}",
                                               TrajectoryFormatRegistry::instance().endings_text()));
  // Default: velocities, and image counters where the format has them (extxyz has none).
  std::vector<std::string> fields{"velocities"};
  if (format->writes_images) fields.push_back("images");
  if (output.has("fields")) fields = output.string_array("fields");
  auto wants = [&](const char* field) { return std::find(fields.begin(), fields.end(), field) != fields.end(); };
  if (wants("images") && !format->writes_images)
    output.fail("fields", "images are written to H5MD trajectories only");
  TrajectoryWriterOptions options;
  options.path = path;
  options.velocities = wants("velocities");
  options.forces = wants("forces");
  options.energies = wants("energies");
  options.images = wants("images");
  options.compression_level = static_cast<int>(output.integer("compression"));
  options.flush_every = static_cast<std::size_t>(output.integer("flush_every"));
  options.overwrite = overwrite;
  options.resume_after_step = resume_after_step;
  return format->create(options);
}

// One thread count for the run (after the potential is made, which may have set its own): OpenMP's and libtorch's.
void use_threads(int threads, const InputFile& input) {
  if (threads <= 0) return;
  const ConfigSection potential = input.section(potential_section_schema().merged_with(
      PotentialRegistry::instance().find(input.kind_of("potential", PotentialRegistry::instance().names()))->schema));
  if (potential.has("threads") && potential.integer("threads") != threads)
    log::warn("[potential] threads = {} is overridden by the run's {} threads ([run] threads or -t)",
              potential.integer("threads"), threads);
  set_openmp_threads(threads);
#ifdef NQMD_HAVE_NEQUIP
  set_libtorch_threads(threads);
#endif
  log::detail("threads: {}", threads);
}

// A time step that is not in fs (1e-15 given in seconds), or large for the lightest atom: refused, or warned.
void check_timestep(const InputFile& input, double timestep_fs, const System& system) {
  const auto& registry = IntegratorRegistry::instance();
  const std::string kind = input.kind_of(integrator_section_schema().name, registry.names());
  const ConfigSection section = input.section(integrator_section_schema().merged_with(registry.find(kind)->schema));
  if (timestep_fs < 1e-3)
    section.fail("timestep", fmt::format("{:g} fs is below 0.001 fs: the time step is in fs (given in seconds?); "
                                         "typical steps are 0.5-1 fs with hydrogen, 1-5 fs with heavier atoms",
                                         timestep_fs));
  std::size_t lightest = 0;
  for (std::size_t i = 1; i < system.size(); ++i)
    if (system.masses[i] < system.masses[lightest]) lightest = i;
  // About a tenth of the fastest vibration's period: ~1 fs for hydrogen (O-H stretch ~9 fs), scaling as sqrt(mass).
  if (system.size() > 0) {
    const double largest_sensible = 2.5 * std::sqrt(system.masses[lightest]);
    if (timestep_fs > largest_sensible)
      log::warn("[integrator] timestep = {} fs is large for the lightest atom ({}, {:.4g} amu): steps above about "
                "{:.2g} fs often lose energy conservation",
                timestep_fs, system.symbol(lightest), system.masses[lightest], largest_sensible);
  }
}

void print_system_summary(const System& system, const NeighborList& neighbors, double cutoff) {
  std::map<std::string, int> counts;
  for (std::size_t i = 0; i < system.size(); ++i) ++counts[system.symbol(i)];
  std::string composition;
  for (const auto& [symbol, count] : counts) composition += fmt::format("{}{} ", symbol, count);
  log::info("system: {} atoms ({}), pbc {} {} {}", system.size(), composition, system.cell.periodic(0) ? "T" : "F",
            system.cell.periodic(1) ? "T" : "F", system.cell.periodic(2) ? "T" : "F");
  if (system.cell.volume() > 0) {
    const Mat3& lattice = system.cell.lattice();
    for (int axis = 0; axis < 3; ++axis)
      log::info("  cell {}: {:12.6f} {:12.6f} {:12.6f} A", "abc"[axis], lattice(axis, 0), lattice(axis, 1), lattice(axis, 2));
    double mass = 0.0;
    for (double m : system.masses) mass += m;
    log::info("  volume {:.4f} A^3, density {:.6f} atoms/A^3, {:.5f} g/cm^3", system.cell.volume(),
              system.size() / system.cell.volume(), mass * units::amu_per_a3_to_g_per_cm3 / system.cell.volume());
  }
  std::size_t within_cutoff = 0;
  for (std::size_t e = 0; e < neighbors.num_edges(); ++e) {
    if (neighbors.edge_vector(system, e).norm() < cutoff) ++within_cutoff;
  }
  const double pairs_factor = neighbors.kind() == NeighborListKind::half ? 2.0 : 1.0;
  log::info("neighbour list: cutoff {} A + skin {} A, {:.2f} neighbours per atom within the cutoff ({:.2f} in the list)",
            cutoff, neighbors.skin(), pairs_factor * within_cutoff / std::max<std::size_t>(1, system.size()),
            pairs_factor * neighbors.num_edges() / std::max<std::size_t>(1, system.size()));
}

// The state moved into the mean cell of the second half of the trajectory's frames (the first half is taken as
// equilibration): fractional coordinates kept, Cartesian positions scaled; velocities as they are.
void start_in_mean_cell(System& system, const std::string& trajectory_path, const ConfigSection& run) {
  const Trajectory trajectory = read_trajectory(trajectory_path);
  const std::size_t first = trajectory.frames.size() / 2;
  if (trajectory.frames.size() - first < 2)
    run.fail("final_cell", fmt::format("\"mean\": {} has {} frames; at least 4 are needed for a mean over the "
                                       "second half",
                                       trajectory_path, trajectory.frames.size()));
  Mat3 mean = Mat3::Zero();
  for (std::size_t k = first; k < trajectory.frames.size(); ++k) mean += trajectory.frames[k].cell.lattice();
  mean /= static_cast<double>(trajectory.frames.size() - first);
  const Cell cell(mean, system.cell.pbc());
  for (Vec3& x : system.positions) x = cell.to_cartesian(system.cell.to_fractional(x));
  log::info("final_cell = \"mean\": the next stage starts in the mean cell of frames {} to {} of {} (volume {:.4f} "
            "A^3; the final cell's is {:.4f})",
            first, trajectory.frames.size() - 1, trajectory_path, cell.volume(), system.cell.volume());
  system.cell = cell;
}

void check_close_pairs(const std::string& input_path, const System& system, double min_distance) {
  // Closer than this, no potential is meant to be evaluated: the structure is wrong (atoms written twice, a
  // cell thinner than an atom).
  constexpr double kCoincident = 0.01;
  const Vec3 widths = system.cell.perpendicular_widths();
  for (int axis = 0; axis < 3; ++axis)
    if (system.cell.periodic(axis) && widths[axis] < kCoincident)
      throw InputError(fmt::format("{}: [structure]: the cell is {:.3g} A wide along {}, thinner than an atom",
                                   input_path, widths[axis], "abc"[axis]));
  NeighborList neighbors(std::max(min_distance, kCoincident), 0.0);
  try {
    neighbors.build(system);
  } catch (const InputError& error) {
    throw InputError(fmt::format("{}: [structure]: {}", input_path, error.what()));
  }
  double closest = std::numeric_limits<double>::infinity();
  std::size_t closest_edge = 0;
  for (std::size_t e = 0; e < neighbors.num_edges(); ++e) {
    const double distance = neighbors.edge_vector(system, e).norm();
    if (distance < closest) {
      closest = distance;
      closest_edge = e;
    }
  }
  // Distinct atoms: an atom's own images are at least the smallest cell width away, checked above.
  if (closest < kCoincident) {
    const int i = neighbors.centers()[closest_edge], j = neighbors.neighbors()[closest_edge];
    throw InputError(fmt::format("{}: [structure]: atoms {} ({}) and {} ({}) are {:.3g} A apart, on top of each "
                                 "other (an atom written twice?)",
                                 input_path, i, system.symbol(i), j, system.symbol(j), closest));
  }
  if (closest < min_distance) {
    const int i = neighbors.centers()[closest_edge], j = neighbors.neighbors()[closest_edge];
    log::warn("atoms {} ({}) and {} ({}) are only {:.4f} A apart at the start (below min_distance = {} A)", i,
              system.symbol(i), j, system.symbol(j), closest, min_distance);
  }
}

}  // namespace

namespace {

// The files a run reads and writes, each under the key that names it.
struct RunFiles {
  std::vector<NamedFile> inputs;
  std::vector<NamedFile> outputs;
};

RunFiles run_files(const RunRequest& request, const InputFile& input, const ConfigSection& run,
                   const ConfigSection& output, const std::optional<std::string>& analysis, const StageContext& stage) {
  RunFiles files;
  files.outputs = {{run.where("thermo_file"), output_path(run, "thermo_file", stage)},
                   {run.where("checkpoint_file"), output_path(run, "checkpoint_file", stage)},
                   {output.where("trajectory_file"), output_path(output, "trajectory_file", stage)}};
  files.inputs.push_back({"`run` INPUT", input.path()});
  const ConfigSection structure = input.section(structure_section_schema());
  for (const char* key : {"file", "checkpoint"})
    if (structure.has(key)) files.inputs.push_back({structure.where(key), structure.path(key)});
  const auto& potentials = PotentialRegistry::instance();
  const ConfigSection potential = input.section(
      potential_section_schema().merged_with(potentials.find(input.kind_of("potential", potentials.names()))->schema));
  if (potential.has("model")) files.inputs.push_back({potential.where("model"), potential.path("model")});
  if (potential.has("training_data"))
    for (const std::string& path : potential.paths("training_data"))
      files.inputs.push_back({potential.where("training_data"), path});
  if (request.restart_path)  // continued in place: read whole before the checkpoint replaces it atomically
    files.inputs.push_back({"--restart", *request.restart_path, run.where("checkpoint_file")});
  if (analysis) files.inputs.push_back({input.section(analysis_after_run_schema()).where("file"), *analysis});
  return files;
}

// What the MD part of a run leaves for the analysis after it.
struct MdOutcome {
  std::optional<std::string> analysis;
  bool replace_earlier_analysis = false;  // a restart or an overwriting run replaces what an earlier one left
  std::vector<NamedFile> run_files;       // the run's inputs and outputs, which the analysis must not replace
  OutputLock lock;
};

// "[section] key" of a ConfigSection::where text ("FILE:LINE: [section] key").
std::string key_of(const std::string& where) {
  const std::size_t section = where.rfind(": [");
  return section == std::string::npos ? where : where.substr(section + 2);
}

// The MD part of a run; returns the analysis file to run afterwards, if any, and the lock on the run's outputs,
// which the caller holds until the analysis is done too. The Simulation and its writers are gone when it returns,
// so the trajectory is closed before the analysis reads it.
MdOutcome run_md(const InputFile& input, const RunRequest& request, const StageContext& stage) {
  const ConfigSection run = input.section(run_section_schema());
  const ConfigSection neighbor = input.section(neighbor_section_schema());
  const ConfigSection output = input.section(output_section_schema());
  MdOutcome outcome;
  std::optional<std::string>& analysis = outcome.analysis;
  if (input.has_section("analysis")) {
    analysis = input.section(analysis_after_run_schema()).path("file");
    if (!std::filesystem::exists(*analysis))
      input.section(analysis_after_run_schema()).fail("file", fmt::format("{} does not exist", *analysis));
    AnalysisRequest check;
    check.input_path = *analysis;
    check.check_only = true;
    run_analysis(check);  // its errors now, not after the MD
  }
  const std::string thermo_path = output_path(run, "thermo_file", stage);
  const std::string checkpoint_path = output_path(run, "checkpoint_file", stage);
  const std::string trajectory_path = output_path(output, "trajectory_file", stage);
  if (run.string("final_cell") == "mean" && trajectory_path.empty())
    run.fail("final_cell", "\"mean\" averages the stage's trajectory frames: set [output] trajectory_file");

  // Nothing is opened for writing before the outputs are known to be distinct, none is an input, and this
  // process holds their lock.
  const RunFiles files = run_files(request, input, run, output, analysis, stage);
  check_output_files(files.outputs, files.inputs);
  outcome.lock = OutputLock(files.outputs);
  outcome.run_files = files.inputs;
  outcome.run_files.insert(outcome.run_files.end(), files.outputs.begin(), files.outputs.end());

  // A fresh run never clobbers the outputs of another run; a restart continues its own.
  const bool overwrite = request.force || run.boolean("overwrite");
  outcome.replace_earlier_analysis = overwrite || request.restart_path.has_value();
  if (!request.restart_path && !overwrite) {
    std::vector<std::string> existing;
    for (const NamedFile& file : files.outputs)
      if (!file.path.empty() && std::filesystem::exists(file.path))
        existing.push_back(fmt::format("{} ({})", file.path, key_of(file.name)));
    if (analysis)
      for (const std::string& path : earlier_analysis_files(*analysis))
        existing.push_back(fmt::format("{} (an earlier [analysis])", path));
    if (!existing.empty())
      throw InputError(fmt::format("{}: files of another run already exist: {}; choose other names, set [run] "
                                   "overwrite = true, or pass --force",
                                   input.path(), fmt::join(existing, ", ")));
  }

  const ConfigSection minimize = input.section(minimize_section_schema());
  if (minimize.present()) (void)minimize_settings(minimize);  // its errors before anything runs
  Frame frame;
  if (stage.start) {
    frame.system = *stage.start;  // the previous stage's final state, as a [structure] checkpoint of it gives
    frame.has_velocities = true;
  } else {
    frame = load_structure(input.section(structure_section_schema()));
  }
  auto potential = PotentialRegistry::instance().create(input, potential_section_schema(), frame.system);
  use_threads(request.threads > 0 ? request.threads : static_cast<int>(run.integer("threads")), input);
  auto integrator = IntegratorRegistry::instance().create(input, integrator_section_schema());
  const double timestep = integrator->timestep_fs();
  check_timestep(input, timestep, frame.system);
  const ConfigSection velocities = input.section(velocities_section_schema());
  if (!request.restart_path)
    initialize_velocities(velocities, frame.system, frame.has_velocities, integrator->conserves_momentum());
  const auto steps = static_cast<std::uint64_t>(run.integer("steps"));

  if (!request.restart_path) check_close_pairs(input.path(), frame.system, run.real("min_distance"));
  Simulation simulation(std::move(frame.system), std::move(potential), std::move(integrator), neighbor.real("skin"));
  std::optional<Checkpoint> restart;
  if (request.restart_path) restart = read_checkpoint(*request.restart_path);
  const std::uint64_t first_step = restart ? restart->step : 0;
  if (restart && restart->step > 0) {
    const double written_with = restart->time_fs / static_cast<double>(restart->step);
    if (std::abs(written_with - timestep) > 1e-9 * timestep)
      log::warn("{} was written with a time step of {:.6g} fs (time {} fs at step {}); this input's timestep is {} "
                "fs: times from here on are step x {} fs",
                *request.restart_path, written_with, restart->time_fs, restart->step, timestep, timestep);
  }
  if (restart && first_step > steps)
    throw InputError(fmt::format("{}: checkpoint is at step {}, beyond [run] steps = {}", *request.restart_path,
                                 first_step, steps));
  simulation.add_observer(std::make_unique<ThermoOutput>(
                              thermo_path, timestep, steps,
                              restart ? std::optional<std::uint64_t>(first_step) : std::nullopt,
                              run.has("thermo_columns") ? run.string_array("thermo_columns") : std::vector<std::string>{}),
                          static_cast<std::uint64_t>(run.integer("thermo_every")));
  if (auto writer = trajectory_writer(output, trajectory_path, overwrite,
                                      restart ? std::optional<std::uint64_t>(first_step) : std::nullopt))
    simulation.add_observer(std::move(writer), static_cast<std::uint64_t>(output.integer("trajectory_every")));
  simulation.set_checkpoints({checkpoint_path, static_cast<std::uint64_t>(run.integer("checkpoint_every"))});
  simulation.set_watchdog(Watchdog(watchdog_limits(input.section(watchdog_section_schema()))));
  simulation.set_neighbor_schedule(
      {static_cast<std::uint64_t>(neighbor.integer("every")), neighbor.boolean("check")});

  if (restart) {
    simulation.restore(*restart);
    log::info("restarted from {} at step {} ({} fs)", *request.restart_path, restart->step, restart->time_fs);
    if (minimize.present()) log::info("minimize: skipped on a restart (the checkpoint continues the minimised run)");
  } else {
    simulation.initialize();
    if (minimize.present()) run_minimization(minimize, simulation);
  }
  print_system_summary(simulation.system(), simulation.neighbor_list(), simulation.potential().cutoff());
  log::detail("potential: [potential] kind = \"{}\", cutoff {} A; integrator: [integrator] kind = \"{}\", "
              "timestep {} fs; steps {} to {}",
              input.kind_of("potential", PotentialRegistry::instance().names()), simulation.potential().cutoff(),
              input.kind_of("integrator", IntegratorRegistry::instance().names()), timestep, first_step, steps);
  for (const NamedFile& file : files.inputs)
    if (!file.path.empty()) log::detail("reads {} ({})", file.path, file.name);
  for (const NamedFile& file : files.outputs)
    if (!file.path.empty()) log::detail("writes {} ({})", file.path, file.name);

  if (const std::string domain = simulation.potential().training_domain();
      !domain.empty() && simulation.watchdog() && simulation.watchdog()->checks_extrapolation())
    log::info("model extrapolation check: {}", domain);
  auto print_extrapolation = [&] {
    if (const Watchdog* watchdog = simulation.watchdog())
      if (const std::string summary = watchdog->extrapolation_summary(); !summary.empty()) log::info("{}", summary);
  };
  try {
    simulation.run_until(steps);
  } catch (...) {
    print_extrapolation();
    throw;
  }
  print_extrapolation();
  log::info("neighbour list: {} builds in {} steps", simulation.neighbor_list().num_builds(), steps - first_step);
  print_timings(simulation.timings(), simulation.system().size());
  if (!neighbor.boolean("check")) {
    const std::uint64_t dangerous = simulation.dangerous_builds();
    if (dangerous > 0) {
      log::warn("neighbour list: {} dangerous builds (an atom had moved more than skin/2: interactions may have been "
                "missed; lower [neighbor] every or set check = true)",
                dangerous);
    } else {
      log::info("neighbour list: 0 dangerous builds");
    }
  }
  if (!checkpoint_path.empty()) {
    simulation.write_checkpoint();
    log::info("checkpoint: {} (step {})", checkpoint_path, simulation.step());
  }
  if (stage.end != nullptr) {
    *stage.end = simulation.system();
    if (run.string("final_cell") == "mean") start_in_mean_cell(*stage.end, trajectory_path, run);
  }
  return outcome;
}

// The sections a [[stage]] may hold. Of the top-level ones, [minimize] and [velocities] apply to the first stage
// only (later stages carry the state over) and [analysis] to the last.
const std::vector<std::string> kStageSections{"minimize", "velocities", "neighbor", "integrator",
                                              "watchdog", "output",     "run",      "analysis"};

// Runs the stages of a staged input in turn, each from the final state of the one before, exactly as separate
// runs chained by [structure] checkpoint = (the previous stage's checkpoint) would. A restart names the checkpoint
// of the stage it continues: the stages before it are done, the ones after it follow.
std::vector<MdOutcome> run_stages(const InputFile& input, const std::vector<InputStage>& stages,
                                  const RunRequest& request) {
  std::vector<MdOutcome> outcomes;
  std::size_t first = 0;
  if (request.restart_path) {
    std::vector<std::string> checkpoints;
    first = stages.size();
    for (std::size_t k = 0; k < stages.size(); ++k) {
      const std::string path = output_path(stages[k].input.section(run_section_schema()), "checkpoint_file",
                                           {stages[k].name, stages[k].keys, std::nullopt, nullptr});
      checkpoints.push_back(path);
      std::error_code error;
      if (!path.empty() && std::filesystem::equivalent(path, *request.restart_path, error)) first = k;
    }
    if (first == stages.size())
      throw InputError(fmt::format("--restart {}: not the checkpoint of a stage of {} (the stages write {})",
                                   *request.restart_path, input.path(), fmt::join(checkpoints, ", ")));
  }
  std::optional<System> state;
  for (std::size_t k = first; k < stages.size(); ++k) {
    const InputStage& stage = stages[k];
    std::vector<std::string> dropped;
    auto owns = [&](const char* section) {
      return std::find(stage.sections.begin(), stage.sections.end(), section) != stage.sections.end();
    };
    if (k > 0 && !owns("velocities")) dropped.push_back("velocities");
    if (k > 0 && !owns("minimize")) dropped.push_back("minimize");
    if (k + 1 < stages.size() && !owns("analysis")) dropped.push_back("analysis");
    log::info("stage {} of {}: {}{}", k + 1, stages.size(), stage.name,
              stage.line > 0 ? fmt::format(" (line {})", stage.line) : std::string());
    RunRequest stage_request = request;
    if (k != first) {
      stage_request.restart_path.reset();
      // A later stage of a continued run starts afresh: what it left before the stop is replaced.
      if (request.restart_path) stage_request.force = true;
    }
    System end;
    outcomes.push_back(run_md(stage.input.without(dropped), stage_request, {stage.name, stage.keys, state, &end}));
    state = std::move(end);
  }
  return outcomes;
}

}  // namespace

std::vector<InputStage> run_stages_of(const InputFile& input) { return input.stages("stage", kStageSections); }

std::vector<std::string> stage_checkpoint_files(const InputFile& input) {
  const std::vector<InputStage> stages = run_stages_of(input);
  if (stages.empty()) return {output_path(input.section(run_section_schema()), "checkpoint_file")};
  std::vector<std::string> files;
  for (const InputStage& stage : stages)
    files.push_back(output_path(stage.input.section(run_section_schema()), "checkpoint_file",
                                {stage.name, stage.keys, std::nullopt, nullptr}));
  return files;
}

std::string final_trajectory_file(const InputFile& input) {
  const std::vector<InputStage> stages = run_stages_of(input);
  if (stages.empty()) return output_path(input.section(output_section_schema()), "trajectory_file");
  const InputStage& last = stages.back();
  return output_path(last.input.section(output_section_schema()), "trajectory_file",
                     {last.name, last.keys, std::nullopt, nullptr});
}

void run_simulation(const RunRequest& request) {
  const InputFile file(request.input_path);
  std::vector<std::string> known;
  for (const InputSection& section : run_input_sections()) known.push_back(section.common->name);
  file.without({"stage"}).check_sections(known);
  if (file.has_section("study") && request.study_member.empty()) {
    run_temperature_study(request, file);
    return;
  }
  if (!request.study_member.empty() && !file.has_section("study"))
    throw InputError(fmt::format("{}: --study-member {}: the input has no [study]", file.path(), request.study_member));
  const InputFile input = request.study_member.empty() ? file : study_member_input(file, request.study_member);
  // Each outcome holds the lock on its outputs until every analysis is done.
  std::vector<MdOutcome> outcomes;
  const std::vector<InputStage> stages = run_stages_of(input);
  if (stages.empty())
    outcomes.push_back(run_md(input, request, {}));
  else
    outcomes = run_stages(input, stages, request);
  for (const MdOutcome& md : outcomes)
    if (md.analysis) {
      log::info("analysis: {}", *md.analysis);
      run_analysis({*md.analysis, md.replace_earlier_analysis, md.run_files});
    }
}

}  // namespace nqmd
