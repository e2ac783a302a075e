#include "app/temperature_study.hpp"

#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <optional>
#include <thread>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "analysis/msd_options.hpp"
#include "app/analyze_command.hpp"
#include "engine/error.hpp"
#include "engine/log.hpp"
#include "engine/stop_signals.hpp"
#include "io/atomic_file.hpp"
#include "io/output_files.hpp"

namespace nqmd {
namespace fs = std::filesystem;

const SectionSchema& study_section_schema() {
  static const SectionSchema schema = [] {
    SectionSchema s{"study",
                    "A temperature study in one input: the run this input describes (all its stages) at each "
                    "temperature, each in its own directory DIRECTORY/T<temperature> with its own outputs and "
                    "checkpoints. The temperature replaces every `temperature` the input sets in [velocities] and "
                    "[integrator] (top level and stages); output names are relative to the run's directory, input "
                    "names to this file; [analysis] runs on each run's trajectory. Runs go as many at once as the "
                    "cores allow. Run the same command again and a stopped or killed study continues: finished "
                    "runs are kept, the others go on from their last checkpoint (--force starts every run afresh). "
                    "With `species`, the Arrhenius analysis of all runs follows (DIRECTORY/analysis/).",
                    {}};
    s.keys.push_back(KeySpec("temperatures", KeyType::real_array, "temperature of each run (K)").require());
    s.keys.push_back(KeySpec("steps", KeyType::integer_array,
                             "steps of each run's last stage (of the run, without stages), one per temperature, e.g. "
                             "fewer at high temperature where diffusion is fast; default the input's steps"));
    s.keys.push_back(KeySpec("directory", KeyType::string,
                             "directory of the study, relative to this file; it holds study.txt, which names this "
                             "input, and no other study's runs")
                         .defaults_to("study"));
    s.keys.push_back(KeySpec("concurrent", KeyType::integer,
                             "runs at once; 0: the cores this process may use divided by the threads per run "
                             "(-t or [run] threads; without them, the cores are shared out)")
                         .at_least(0)
                         .at_most(4096)
                         .defaults_to(std::int64_t{0}));
    s.keys.push_back(KeySpec("species", KeyType::string,
                             "diffusing species: after the runs, the Arrhenius analysis of its tracer D over all "
                             "temperatures (each run's last-stage trajectory)"));
    s.keys.push_back(
        KeySpec("extrapolate_to", KeyType::real, "with species: also give D at this temperature (K)").greater_than(0.0));
    s.keys.push_back(KeySpec("charge", KeyType::real,
                             "with species: the ion's charge (e) for the Nernst-Einstein conductivity of the "
                             "Arrhenius analysis (its key charge)"));
    for (const KeySpec& key : analysis::diffusion_fit_keys()) s.keys.push_back(key);
    return s;
  }();
  return schema;
}

namespace {

constexpr const char* kStudyRecord = "study.txt";
constexpr const char* kRunComplete = "complete";
constexpr const char* kRunLog = "run.log";
constexpr std::size_t kMostTemperatures = 1000;

std::string member_name(double temperature) { return fmt::format("T{:g}", temperature); }

std::vector<double> checked_temperatures(const ConfigSection& study) {
  const std::vector<double> temperatures = study.real_array("temperatures");
  if (temperatures.empty() || temperatures.size() > kMostTemperatures)
    study.fail("temperatures", fmt::format("expected 1 to {} temperatures, got {}", kMostTemperatures, temperatures.size()));
  std::vector<std::string> names;
  for (const double t : temperatures) {
    if (!(t > 0.0) || t > 1e5) study.fail("temperatures", fmt::format("expected temperatures in (0, 1e5] K, got {}", t));
    const std::string name = member_name(t);
    if (std::find(names.begin(), names.end(), name) != names.end())
      study.fail("temperatures", fmt::format("{} K is given twice", t));
    names.push_back(name);
  }
  if (study.has("species") && temperatures.size() < 2)
    study.fail("species", "the Arrhenius analysis needs at least 2 temperatures");
  return temperatures;
}

// [study] steps: one count per temperature, or none (each run keeps the input's steps).
std::vector<std::int64_t> checked_steps(const ConfigSection& study, std::size_t temperatures) {
  if (!study.has("steps")) return {};
  const std::vector<std::int64_t> steps = study.integer_array("steps");
  if (steps.size() != temperatures)
    study.fail("steps", fmt::format("expected {} values, one per temperature, got {}", temperatures, steps.size()));
  for (const std::int64_t n : steps)
    if (n < 1 || n > 1000000000000) study.fail("steps", fmt::format("expected step counts in [1, 1e12], got {}", n));
  return steps;
}

fs::path study_directory(const ConfigSection& study) { return fs::absolute(study.path("directory")).lexically_normal(); }

// The run directories hold only what the study writes; the study directory is this input's alone.
void claim_directory(const fs::path& directory, const std::string& input_path, const ConfigSection& study) {
  const std::string input = fs::weakly_canonical(fs::absolute(input_path)).string();
  const fs::path record = directory / kStudyRecord;
  std::error_code error;
  if (fs::exists(directory, error)) {
    if (!fs::is_directory(directory, error))
      study.fail("directory", fmt::format("'{}' exists and is not a directory", directory.string()));
    if (fs::exists(record, error)) {
      std::ifstream stream(record);
      std::string line, owner;
      while (std::getline(stream, line))
        if (line.rfind("input = ", 0) == 0) owner = line.substr(8);
      if (owner != input)
        study.fail("directory", fmt::format("'{}' holds the runs of another study ({}); choose another directory",
                                            directory.string(), owner.empty() ? "unreadable study.txt" : owner));
    } else if (!fs::is_empty(directory, error)) {
      study.fail("directory", fmt::format("'{}' holds other files and no study.txt: choose a new directory for the "
                                          "study",
                                          directory.string()));
    }
  }
  fs::create_directories(directory, error);
  if (error) study.fail("directory", fmt::format("cannot create '{}' ({})", directory.string(), error.message()));
  if (!fs::exists(record))
    replace_text_file_atomically(
        record.string(),
        fmt::format("# nequip-md temperature study: the runs in this directory belong to this input\ninput = {}\n", input));
}

// The cores this process may run on.
int usable_cores() {
  cpu_set_t set;
  CPU_ZERO(&set);
  if (sched_getaffinity(0, sizeof(set), &set) == 0) return std::max(1, CPU_COUNT(&set));
  return std::max(1U, std::thread::hardware_concurrency());
}

struct MemberRun {
  double temperature = 0.0;
  std::string name;
  fs::path directory;
  InputFile input;                     // study_member_input
  std::string trajectory;              // of its last stage; "" for none
  std::optional<std::string> restart;  // the checkpoint it continues from
  pid_t pid = 0;
  std::chrono::steady_clock::time_point started;
};

// The last non-empty line of a run's log, for a failure message.
std::string last_log_line(const fs::path& log) {
  std::ifstream stream(log);
  std::string line, last;
  while (std::getline(stream, line))
    if (!line.empty()) last = line;
  return last.empty() ? "(no output)" : last;
}

// Starts `nequip-md run INPUT --study-member NAME` with its output appended to the run's log. The child has its
// own process group (a terminal's Ctrl-C reaches the study, which stops the runs) and gets SIGTERM if the study
// dies (it then checkpoints and stops, and the study continues from there when run again).
pid_t launch(const MemberRun& run, const std::string& input_path, int threads, bool fresh) {
  std::vector<std::string> arguments{"nequip-md"};
  if (log::level() == log::Level::verbose) arguments.push_back("-v");
  arguments.insert(arguments.end(), {"run", input_path, "--study-member", run.name, "-t", std::to_string(threads)});
  if (run.restart) arguments.insert(arguments.end(), {"--restart", *run.restart});
  if (fresh) arguments.push_back("--force");
  std::vector<char*> argv;
  for (std::string& argument : arguments) argv.push_back(argument.data());
  argv.push_back(nullptr);
  const std::string log_path = (run.directory / kRunLog).string();
  const pid_t parent = getpid();
  std::fflush(stdout);
  std::fflush(stderr);
  const pid_t pid = fork();
  if (pid < 0) throw InputError(fmt::format("[study]: cannot start the run {} (fork failed)", run.name));
  if (pid == 0) {
    setpgid(0, 0);
    prctl(PR_SET_PDEATHSIG, SIGTERM);
    if (getppid() != parent) _exit(128 + SIGTERM);
    const int log_file = open(log_path.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
    const int nothing = open("/dev/null", O_RDONLY);
    if (log_file < 0 || nothing < 0 || dup2(log_file, 1) < 0 || dup2(log_file, 2) < 0 || dup2(nothing, 0) < 0)
      _exit(127);
    execv("/proc/self/exe", argv.data());
    _exit(127);
  }
  return pid;
}

// The per-run copy of the [analysis] file: the same analyses of the run's own trajectory, outputs in its directory.
void write_member_analysis(const InputFile& input, const InputFile& member, const fs::path& directory) {
  const std::string original = input.section(analysis_after_run_schema()).path("file");
  InputFile analysis(original);
  const std::string trajectory = final_trajectory_file(member);
  if (analysis.has_section("trajectory")) {
    if (trajectory.empty())
      input.section(analysis_after_run_schema())
          .fail("file", "its [trajectory] needs the run's trajectory, but the input writes none ([output] "
                        "trajectory_file)");
    analysis = analysis.with_string("trajectory", "file", trajectory);
  }
  if (analysis.has_section("reference"))
    analysis = analysis.with_string("reference", "file",
                                    fs::absolute(analysis.section(analysis_reference_schema()).path("file")).string());
  const std::string text = fmt::format("# nequip-md study: {} for the run in this directory\n{}", original,
                                       analysis.toml_text());
  replace_text_file_atomically((directory / "analysis.toml").string(), text);
}

// DIRECTORY/arrhenius.toml: the [arrhenius] analysis of the study's runs, with the study's fit keys.
std::string write_arrhenius_input(const std::string& input_path, const ConfigSection& study, const fs::path& directory,
                                  const std::vector<MemberRun>& runs) {
  std::vector<std::string> files, temperatures;
  for (std::size_t k = 0; k < runs.size(); ++k) {
    files.push_back(toml_quoted(fs::path(runs[k].trajectory).lexically_relative(directory).string()));
    temperatures.push_back(fmt::format("{}", runs[k].temperature));
  }
  std::string text = fmt::format(
      "# nequip-md: the Arrhenius analysis of the runs of the study {} (again: nequip-md analyze "
      "arrhenius.toml)\n[arrhenius]\nruns = [{}]\ntemperatures = [{}]\nspecies = {}\n",
      input_path, fmt::join(files, ", "), fmt::join(temperatures, ", "),
      toml_quoted(study.string("species")));
  if (study.has("extrapolate_to")) text += fmt::format("extrapolate_to = {}\n", study.real("extrapolate_to"));
  if (study.has("charge")) text += fmt::format("charge = {}\n", study.real("charge"));
  for (const KeySpec& key : analysis::diffusion_fit_keys()) {
    if (!study.has(key.name)) continue;
    if (key.type == KeyType::real)
      text += fmt::format("{} = {}\n", key.name, study.real(key.name));
    else if (key.type == KeyType::integer)
      text += fmt::format("{} = {}\n", key.name, study.integer(key.name));
    else if (key.type == KeyType::boolean)
      text += fmt::format("{} = {}\n", key.name, study.boolean(key.name) ? "true" : "false");
    else
      text += fmt::format("{} = {}\n", key.name, toml_quoted(study.string(key.name)));
  }
  const std::string path = (directory / "arrhenius.toml").string();
  replace_text_file_atomically(path, text);
  return path;
}

// The newest checkpoint of a run: that of its latest stage that has one.
std::optional<std::string> latest_checkpoint(const InputFile& member) {
  const std::vector<std::string> checkpoints = stage_checkpoint_files(member);
  for (auto it = checkpoints.rbegin(); it != checkpoints.rend(); ++it)
    if (!it->empty() && fs::exists(*it)) return *it;
  return std::nullopt;
}

// Every run writes into its own directory: an absolute output path would be shared by all of them.
void check_outputs_are_relative(const InputFile& member) {
  std::vector<InputFile> inputs;
  for (const InputStage& stage : run_stages_of(member)) inputs.push_back(stage.input);
  if (inputs.empty()) inputs.push_back(member);
  for (const InputFile& input : inputs)
    for (const auto& [schema, key] : {std::pair{&run_section_schema(), "thermo_file"},
                                      std::pair{&run_section_schema(), "checkpoint_file"},
                                      std::pair{&output_section_schema(), "trajectory_file"}}) {
      const ConfigSection section = input.section(*schema);
      if (fs::path(section.string(key)).is_absolute())
        section.fail(key, fmt::format("\"{}\" is an absolute path, but in a study each run writes into its own "
                                      "directory: give a name relative to it",
                                      section.string(key)));
    }
}

}  // namespace

InputFile study_member_input(const InputFile& input, const std::string& member) {
  const ConfigSection study = input.section(study_section_schema());
  const std::vector<double> temperatures = checked_temperatures(study);
  std::vector<std::string> names;
  for (const double t : temperatures) names.push_back(member_name(t));
  const auto found = std::find(names.begin(), names.end(), member);
  if (found == names.end())
    throw InputError(fmt::format("{}: {} is not a run of [study] (its runs: {})", input.path(), member,
                                 fmt::join(names, ", ")));
  const auto index = static_cast<std::size_t>(found - names.begin());
  const double temperature = temperatures[index];
  const std::vector<std::int64_t> steps = checked_steps(study, temperatures.size());
  for (const InputStage& stage : run_stages_of(input.without({"study"})))
    if (std::find(stage.sections.begin(), stage.sections.end(), "analysis") != stage.sections.end())
      throw InputError(fmt::format("{}:{}: [[stage]] {}: in a study, give [analysis] at the top level (it runs on "
                                   "each run's last stage)",
                                   input.path(), stage.line, stage.name));
  std::vector<std::string> places;
  InputFile out = input.without({"study"})
                      .with_number_where_set("stage", "velocities", "temperature", temperature, places)
                      .with_number_where_set("stage", "integrator", "temperature", temperature, places);
  if (places.empty())
    study.fail("temperatures", "the input sets no temperature for the study to vary ([velocities] or [integrator] "
                               "temperature, at the top level or in a stage)");
  if (!steps.empty()) {
    const std::vector<InputStage> stages = run_stages_of(out);
    if (!stages.empty() && std::find(stages.back().sections.begin(), stages.back().sections.end(), "run") ==
                               stages.back().sections.end())
      study.fail("steps", fmt::format("the last [[stage]] ({}) has no [stage.run] of its own to set steps in: give "
                                      "it one",
                                      stages.back().name));
    out = out.with_integer_in_last("stage", "run", "steps", steps[index]);
  }
  const fs::path directory = study_directory(study) / member;
  out = out.with_output_directory(directory.string());
  check_outputs_are_relative(out);
  if (input.has_section("analysis")) out = out.with_string("analysis", "file", (directory / "analysis.toml").string());
  return out;
}

void run_temperature_study(const RunRequest& request, const InputFile& input) {
  if (request.restart_path)
    throw InputError(fmt::format("{}: --restart is not for a study: run the same command again and every run "
                                 "continues from its own checkpoint",
                                 input.path()));
  const ConfigSection study = input.section(study_section_schema());
  const std::vector<double> temperatures = checked_temperatures(study);
  const fs::path directory = study_directory(study);

  // Every run's input is built (and its errors found) before anything is written or started.
  std::vector<MemberRun> runs;
  for (const double t : temperatures) {
    const std::string name = member_name(t);
    InputFile member = study_member_input(input, name);
    const std::string trajectory = final_trajectory_file(member);
    if (study.has("species") && trajectory.empty())
      study.fail("species", "the Arrhenius analysis needs the runs' trajectories: set [output] trajectory_file");
    runs.push_back({t, name, directory / name, std::move(member), trajectory, std::nullopt, 0, {}});
  }
  claim_directory(directory, input.path(), study);
  const OutputLock lock({{study.where("directory"), (directory / kStudyRecord).string()}});

  std::vector<std::size_t> pending;
  for (std::size_t k = 0; k < runs.size(); ++k) {
    MemberRun& run = runs[k];
    fs::create_directories(run.directory);
    if (request.force) {
      fs::remove(run.directory / kRunComplete);
      for (const std::string& checkpoint : stage_checkpoint_files(run.input))
        if (!checkpoint.empty()) fs::remove(checkpoint);
    }
    if (fs::exists(run.directory / kRunComplete)) {
      log::info("study: {} is complete (in {})", run.name, run.directory.string());
      continue;
    }
    run.restart = latest_checkpoint(run.input);
    if (input.has_section("analysis")) write_member_analysis(input, run.input, run.directory);
    pending.push_back(k);
  }

  const int cores = usable_cores();
  int threads = request.threads;
  if (threads <= 0) {
    const std::vector<InputStage> stages = run_stages_of(runs.front().input);
    const InputFile& first = stages.empty() ? runs.front().input : stages.front().input;
    threads = static_cast<int>(first.section(run_section_schema()).integer("threads"));
  }
  int concurrent = static_cast<int>(study.integer("concurrent"));
  if (concurrent <= 0)
    concurrent = threads > 0 ? std::max(1, cores / threads)
                             : std::max(1, std::min(cores, static_cast<int>(pending.size())));
  if (threads <= 0) threads = std::max(1, cores / concurrent);
  if (!pending.empty())
    log::info("study: {} runs to do of {}, {} at a time with {} thread{} each ({} cores), in {}", pending.size(),
              runs.size(), concurrent, threads, threads == 1 ? "" : "s", cores, directory.string());

  const std::string input_path = fs::absolute(input.path()).string();
  begin_graceful_stops();
  std::vector<std::size_t> running;
  std::vector<std::string> failures, stopped;
  std::size_t next = 0;
  int stop_signal = 0;
  while (!running.empty() || (stop_signal == 0 && next < pending.size())) {
    if (stop_signal == 0 && pending_stop_signal() != 0) {
      stop_signal = pending_stop_signal();
      log::info("study: {}: stopping the {} running run{} (each writes its checkpoint)", signal_name(stop_signal),
                running.size(), running.size() == 1 ? "" : "s");
      for (const std::size_t k : running) kill(runs[k].pid, SIGTERM);
    }
    while (stop_signal == 0 && next < pending.size() && static_cast<int>(running.size()) < concurrent) {
      MemberRun& run = runs[pending[next++]];
      run.pid = launch(run, input_path, threads, !run.restart);
      run.started = std::chrono::steady_clock::now();
      log::info("study: {} {} (pid {}, log {})", run.name,
                run.restart ? "continues from " + fs::path(*run.restart).filename().string() : std::string("starts"),
                run.pid, (run.directory / kRunLog).string());
      running.push_back(pending[next - 1]);
    }
    int status = 0;
    const pid_t done = waitpid(-1, &status, WNOHANG);
    if (done <= 0) {
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
      continue;
    }
    const auto it = std::find_if(running.begin(), running.end(), [&](std::size_t k) { return runs[k].pid == done; });
    if (it == running.end()) continue;
    MemberRun& run = runs[*it];
    running.erase(it);
    const int code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    const double seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - run.started).count();
    if (code == 0) {
      replace_text_file_atomically(
          (run.directory / kRunComplete).string(),
          fmt::format("complete: remove this file or run with --force to run {} again\n", run.name));
      log::info("study: {} done in {:.1f} s", run.name, seconds);
    } else if (code > 128) {
      stopped.push_back(run.name);
      log::info("study: {} stopped ({}) after {:.1f} s", run.name, signal_name(code - 128), seconds);
    } else {
      failures.push_back(fmt::format("{} (exit {}: {})", run.name, code, last_log_line(run.directory / kRunLog)));
      log::warn("study: {} failed (exit {}); its log: {}", run.name, code, (run.directory / kRunLog).string());
    }
  }
  if (!failures.empty())
    throw InputError(fmt::format("{}: [study]: {} of {} runs failed: {}", input.path(), failures.size(), runs.size(),
                                 fmt::join(failures, "; ")));
  if (stop_signal != 0)
    throw StopRequested(stop_signal, fmt::format("study stopped by {}: the runs wrote their checkpoints; run the "
                                                 "same command again to continue",
                                                 signal_name(stop_signal)));
  if (!stopped.empty())
    throw InputError(fmt::format("{}: [study]: run{} {} stopped by a signal; run the same command again to continue",
                                 input.path(), stopped.size() == 1 ? "" : "s", fmt::join(stopped, ", ")));
  log::info("study: all {} runs complete", runs.size());
  if (study.has("species")) {
    const std::string analysis = write_arrhenius_input(input.path(), study, directory, runs);
    log::info("analysis: {}", analysis);
    AnalysisRequest arrhenius;
    arrhenius.input_path = analysis;
    arrhenius.force = true;  // the study's own analysis, redone from all runs
    run_analysis(arrhenius);
  }
}

}  // namespace nqmd
