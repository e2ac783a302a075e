// nequip-md command line: parses arguments and hands over to the run wiring. Exit codes: 0 success,
// 1 user error (one line on stderr), 2 internal error, 128 + signal after a clean stop on SIGINT/SIGTERM/SIGUSR1.
#include <csignal>
#include <cstdio>
#include <exception>
#include <new>

#include <CLI/CLI.hpp>
#include <fmt/format.h>

#include "app/analyze_command.hpp"
#include "app/build_info.hpp"
#include "app/evaluate_command.hpp"
#include "app/export_kim_command.hpp"
#include "app/input_reference.hpp"
#include "app/ipi_command.hpp"
#include "app/run_command.hpp"
#include "app/train_command.hpp"
#include "engine/error.hpp"
#include "engine/log.hpp"
#include "engine/stop_signals.hpp"
#include "engine/text.hpp"

int main(int argc, char** argv) {
  CLI::App app{"nequip-md: molecular dynamics with the NequIP equivariant potential (units: A, eV, fs, amu, K)"};
  app.require_subcommand(0, 1);
  bool show_version = false, quiet = false, verbose = false;
  app.add_flag("--version", show_version, "print the version, the libtorch version and the build type");
  app.add_flag("-q,--quiet", quiet, "print only warnings and errors");
  app.add_flag("-v,--verbose", verbose, "print more detail");

  // `nequip-md input.toml`, as LAMMPS and GPUMD users start a run: the same as `nequip-md run input.toml`.
  std::string bare_input;
  app.add_option("input", bare_input, "input file (TOML): run it, as `run INPUT` does");
  nqmd::RunRequest run_request;
  app.add_option("-t,--threads", run_request.threads, "with a bare INPUT: threads of the run (as run -t)")
      ->check(CLI::Range(1, 4096));

  std::string restart_path;
  CLI::App* run = app.add_subcommand("run", "run molecular dynamics as INPUT.toml describes");
  run->add_option("input", run_request.input_path, "input file (TOML)")->required();
  run->add_option("--restart", restart_path, "continue from this checkpoint (HDF5) of the same input");
  run->add_flag("-f,--force", run_request.force, "replace output files left by another run");
  run->add_option("-t,--threads", run_request.threads, "threads of the run (overrides [run] threads)")
      ->check(CLI::Range(1, 4096));
  // How a [study] starts each of its runs; not for users (group "" hides it from --help).
  run->add_option("--study-member", run_request.study_member, "run NAME of the input's [study]")->group("");

  nqmd::AnalysisRequest analysis_request;
  CLI::App* analyze = app.add_subcommand("analyze", "analyse trajectories as ANALYSIS.toml describes: CSV, figures, summary");
  analyze->add_option("input", analysis_request.input_path, "analysis file (TOML)")->required();
  analyze->add_flag("-f,--force", analysis_request.force, "replace the outputs of an earlier analysis");

  CLI::App* reference = app.add_subcommand("input-reference", "print the reference of every input.toml key (Markdown)");
  std::string reference_section;
  bool reference_template = false;
  reference->add_option("section", reference_section, "only this section (e.g. integrator)");
  reference->add_flag("--template", reference_template, "print a commented input.toml that runs as it is");

  nqmd::TrainRequest train_request;
  CLI::App* train = app.add_subcommand("train", "fit a NequIP model to extxyz frames as TRAIN.toml describes");
  train->add_option("input", train_request.input_path, "training input (TOML)")->required();
  train->add_flag("--resume", train_request.resume, "continue exactly from the output directory's checkpoint.npz");
  train->add_flag("-f,--force", train_request.force, "replace the files of an earlier training");

  nqmd::EvaluateRequest evaluate_request;
  CLI::App* evaluate = app.add_subcommand("evaluate", "evaluate a NequIP model on extxyz frames; score it against their labels");
  evaluate->add_option("--model", evaluate_request.model_arguments.model, "nequip-deploy .pth or native model file")->required();
  evaluate->add_option("--data", evaluate_request.data, "extxyz frames")->required();
  evaluate->add_option("--output", evaluate_request.output, "extxyz file for the frames with the model's results");
  evaluate->add_flag("-f,--force", evaluate_request.force, "replace an existing --output file");
  evaluate->add_option("--backend", evaluate_request.model_arguments.backend, "native (default) or torchscript")
      ->check(CLI::IsMember({"native", "torchscript"}));
  evaluate->add_option("--dtype", evaluate_request.model_arguments.dtype, "float64 or float32 (default: the model's own)")
      ->check(CLI::IsMember({"float64", "float32"}));
  evaluate->add_option("--species-map", evaluate_request.model_arguments.species_map, "chemical symbol to model type, e.g. Cu=Cu,Au=Au");
  evaluate->add_option("--threads", evaluate_request.model_arguments.threads, "torch threads (0: OMP_NUM_THREADS or torch's default)")
      ->check(CLI::NonNegativeNumber);
  evaluate->add_option("--training-data", evaluate_request.model_arguments.training_data,
                       "extxyz training frames of the model: count atoms closer than their closest pairs (models "
                       "trained by nequip-md carry this record)");

  nqmd::IpiRequest ipi_request;
  CLI::App* ipi = app.add_subcommand("ipi", "serve a NequIP model to i-PI or ASE (SocketIOCalculator) over the i-PI "
                                            "socket protocol (docs/python.md)");
  ipi->add_option("--model", ipi_request.model_arguments.model, "nequip-deploy .pth or native model file")->required();
  ipi->add_option("--structure", ipi_request.structure, "extxyz file whose first frame gives the species and pbc")
      ->required();
  CLI::Option* ipi_unix = ipi->add_option("--unix", ipi_request.unix_name, "connect to the unix socket /tmp/ipi_NAME");
  CLI::Option* ipi_port = ipi->add_option("--port", ipi_request.port, "connect to TCP port PORT of --host")
                              ->check(CLI::Range(1, 65535));
  ipi->add_option("--host", ipi_request.host, "server host name or address for --port (default localhost)")
      ->needs(ipi_port);
  ipi_unix->excludes(ipi_port);
  ipi->add_option("--timeout", ipi_request.timeout_seconds,
                  "seconds to wait for the server's next message before giving up (default 600)");
  ipi->add_option("--connect-timeout", ipi_request.connect_seconds,
                  "seconds to retry connecting while the server is not listening yet (default 30)");
  ipi->add_option("--skin", ipi_request.skin, "neighbour-list skin (A, default 1): rebuilt when an atom moves skin/2");
  ipi->add_option("--backend", ipi_request.model_arguments.backend, "native (default) or torchscript")
      ->check(CLI::IsMember({"native", "torchscript"}));
  ipi->add_option("--dtype", ipi_request.model_arguments.dtype, "float64 or float32 (default: the model's own)")
      ->check(CLI::IsMember({"float64", "float32"}));
  ipi->add_option("--species-map", ipi_request.model_arguments.species_map,
                  "chemical symbol to model type, e.g. Cu=Cu,Au=Au");
  ipi->add_option("--threads", ipi_request.model_arguments.threads,
                  "torch threads (0: OMP_NUM_THREADS or torch's default)")
      ->check(CLI::NonNegativeNumber);

  nqmd::ExportKimRequest export_kim_request;
  CLI::App* export_kim = app.add_subcommand("export-kim", "write a NequIP model as a KIM portable model for LAMMPS "
                                                          "(installs the nequip-md KIM driver; docs/lammps.md)");
  export_kim->add_option("--model", export_kim_request.model, "nequip-deploy .pth or native model file")->required();
  export_kim->add_option("--name", export_kim_request.name,
                         "KIM model name (a C identifier), as in `kim init NAME metal`")
      ->required();
  export_kim->add_option("--output", export_kim_request.output, "new directory for the KIM model item")->required();

  try {
    app.parse(argc, argv);
  } catch (const CLI::Success& success) {
    return app.exit(success);
  } catch (const CLI::ParseError& error) {
    app.exit(error);
    return 1;
  }

  // A closed pipe on stdout (`nequip-md run in.toml | head`) is a failed write (engine/log.hpp), not a killed run.
  std::signal(SIGPIPE, SIG_IGN);
  nqmd::log::set_level(quiet ? nqmd::log::Level::quiet : verbose ? nqmd::log::Level::verbose : nqmd::log::Level::normal);
  try {
    if (show_version) {
      nqmd::log::result("{}\n", nqmd::version_text());
    } else if (*run || !bare_input.empty()) {
      if (!bare_input.empty()) run_request.input_path = bare_input;
      if (!restart_path.empty()) run_request.restart_path = restart_path;
      nqmd::install_stop_signal_handlers();
      nqmd::run_simulation(run_request);
    } else if (*train) {
      nqmd::run_training(train_request);
    } else if (*evaluate) {
      nqmd::evaluate_frames(evaluate_request);
    } else if (*export_kim) {
      nqmd::export_kim(export_kim_request);
    } else if (*ipi) {
      nqmd::install_stop_signal_handlers();
      nqmd::run_ipi_client(ipi_request);
    } else if (*analyze) {
      nqmd::run_analysis(analysis_request);
    } else if (*reference) {
      nqmd::log::result("{}", reference_template ? nqmd::input_template()
                                                 : nqmd::input_reference_markdown(reference_section));
    } else {
      nqmd::log::result("{}", app.help());
    }
  } catch (const nqmd::StopRequested& stop) {
    nqmd::log::write(stderr, nqmd::printable_line(stop.what()) + "\n");
    return 128 + stop.signal();
  } catch (const nqmd::InputError& error) {
    nqmd::log::write(stderr, "error: " + nqmd::printable_line(error.what()) + "\n");
    return 1;
  } catch (const std::bad_alloc&) {
    // Sizes read from inputs are bounded before allocation; this is the last line of defence.
    nqmd::log::write(stderr, "error: out of memory: the input asks for more memory than this machine has (check "
                             "atom counts, repeats, bins and model sizes)\n");
    return 1;
  } catch (const std::exception& error) {
    nqmd::log::write(stderr, "internal error: " + nqmd::printable_line(error.what()) + "\n");
    return 2;
  }
  return 0;
}
