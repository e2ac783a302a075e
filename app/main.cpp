// nequip-md command line: parses arguments and hands over to the run wiring. Exit codes: 0 success,
// 1 user error (one line on stderr), 2 internal error, 128 + signal after a clean stop on SIGINT/SIGTERM/SIGUSR1.
#include <cstdio>
#include <exception>

#include <CLI/CLI.hpp>
#include <fmt/format.h>

#include "app/build_info.hpp"
#include "app/input_reference.hpp"
#include "app/run_command.hpp"
#include "engine/error.hpp"
#include "engine/log.hpp"
#include "engine/stop_signals.hpp"

int main(int argc, char** argv) {
  CLI::App app{"nequip-md: molecular dynamics with the NequIP equivariant potential (units: A, eV, fs, amu, K)"};
  app.require_subcommand(0, 1);
  bool show_version = false, quiet = false, verbose = false;
  app.add_flag("--version", show_version, "print the version, the libtorch version and the build type");
  app.add_flag("-q,--quiet", quiet, "print only warnings and errors");
  app.add_flag("-v,--verbose", verbose, "print more detail");

  nqmd::RunRequest run_request;
  std::string restart_path;
  CLI::App* run = app.add_subcommand("run", "run molecular dynamics as INPUT.toml describes");
  run->add_option("input", run_request.input_path, "input file (TOML)")->required();
  run->add_option("--restart", restart_path, "continue from this checkpoint (HDF5) of the same input");
  run->add_flag("-f,--force", run_request.force, "replace output files left by another run");

  CLI::App* reference = app.add_subcommand("input-reference", "print the reference of every input.toml key (Markdown)");

  try {
    app.parse(argc, argv);
  } catch (const CLI::Success& success) {
    return app.exit(success);
  } catch (const CLI::ParseError& error) {
    app.exit(error);
    return 1;
  }

  nqmd::log::set_level(quiet ? nqmd::log::Level::quiet : verbose ? nqmd::log::Level::verbose : nqmd::log::Level::normal);
  try {
    if (show_version) {
      fmt::print("{}\n", nqmd::version_text());
    } else if (*run) {
      if (!restart_path.empty()) run_request.restart_path = restart_path;
      nqmd::install_stop_signal_handlers();
      nqmd::run_simulation(run_request);
    } else if (*reference) {
      fmt::print("{}", nqmd::input_reference_markdown());
    } else {
      fmt::print("{}", app.help());
    }
  } catch (const nqmd::StopRequested& stop) {
    std::fflush(stdout);
    fmt::print(stderr, "{}\n", stop.what());
    return 128 + stop.signal();
  } catch (const nqmd::InputError& error) {
    std::fflush(stdout);
    fmt::print(stderr, "error: {}\n", error.what());
    return 1;
  } catch (const std::exception& error) {
    std::fflush(stdout);
    fmt::print(stderr, "internal error: {}\n", error.what());
    return 2;
  }
  return 0;
}
