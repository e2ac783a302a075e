#include "app/ipi_command.hpp"

#include <memory>

#include <fmt/format.h>

#include "engine/error.hpp"
#include "engine/force_evaluation.hpp"
#include "engine/log.hpp"
#include "engine/stop_signals.hpp"
#include "engine/stopwatch.hpp"
#include "io/extxyz.hpp"
#include "io/ipi_socket.hpp"
#ifdef NQMD_HAVE_NEQUIP
#include "potential/nequip/nequip_potential.hpp"
#endif

namespace nqmd {
namespace {

void check_request(const IpiRequest& request) {
  if (request.unix_name.empty() == (request.port == 0))
    throw InputError("ipi: give either --unix NAME or --port PORT (with --host HOST), not both or neither");
  if (!(request.timeout_seconds > 0))
    throw InputError(fmt::format("--timeout {}: expected seconds > 0", request.timeout_seconds));
  if (!(request.connect_seconds >= 0))
    throw InputError(fmt::format("--connect-timeout {}: expected seconds >= 0", request.connect_seconds));
  if (!(request.skin >= 0)) throw InputError(fmt::format("--skin {}: expected A >= 0", request.skin));
}

}  // namespace

void run_ipi_client(const IpiRequest& request) {
  check_request(request);
#ifndef NQMD_HAVE_NEQUIP
  throw InputError("ipi: this nequip-md was built without NequIP (libtorch)");
#else
  System system = ExtxyzReader(request.structure).read(0).system;
  std::unique_ptr<nequip::NequipPotential> model = load_nequip_model(request.model_arguments, "ipi");
  model->check_system(system);
  const std::string model_text = fmt::format("NequIP model '{}' (backend {}, {}, cutoff {:g} A)",
                                             request.model_arguments.model, nequip::name(model->backend()),
                                             nequip::name(model->dtype()), model->cutoff());
  ForceEvaluation evaluation(std::move(model), request.skin);

  const bool unix_socket = !request.unix_name.empty();
  const std::string address = unix_socket ? ipi::unix_socket_path(request.unix_name)
                                          : fmt::format("{}:{}", request.host, request.port);
  ipi::Connection connection =
      unix_socket ? ipi::connect_unix(request.unix_name, request.connect_seconds, request.timeout_seconds)
                  : ipi::connect_inet(request.host, request.port, request.connect_seconds, request.timeout_seconds);
  log::info("i-PI client: connected to {}; {} atoms of {}; {}", address, system.size(), request.structure, model_text);
  // From here a stop signal ends the wait for the next message (the server sees the connection close).
  begin_graceful_stops();

  std::uint64_t calls = 0, calls_outside = 0;
  double compute_seconds = 0;
  const auto compute = [&](const ipi::Positions& received, ipi::Forces& answer) {
    if (received.positions.size() != system.size())
      throw InputError(fmt::format("the i-PI server sent {} atoms; the structure {} has {} (the server's atoms must "
                                   "be those of --structure, in the same order)",
                                   received.positions.size(), request.structure, system.size()));
    if (received.lattice != system.cell.lattice()) {
      try {
        system.cell = Cell(received.lattice, system.cell.pbc());
      } catch (const InputError& error) {
        throw InputError(fmt::format("the i-PI server sent a cell nequip-md cannot use with the pbc of {}: {}",
                                     request.structure, error.what()));
      }
    }
    // The list was built from positions wrapped into the cell (images[i] lattice vectors away from where the server
    // has atom i): shifted the same way, an atom that only moved a little does not trigger a rebuild.
    for (std::size_t i = 0; i < system.size(); ++i)
      system.positions[i] = received.positions[i] - system.cell.shift_vector(system.images[i]);
    Stopwatch clock;
    evaluation.set_step(calls++);
    const ForceResult& result = evaluation.compute(system);
    compute_seconds += clock.lap();
    // As evaluate counts them: configurations with atoms closer than any such pair in the model's training data.
    if (!result.extrapolation.empty() && calls_outside++ == 0)
      log::warn("call {}: {} atoms outside the model's training data, e.g. {} (counted until the end)", calls,
                result.extrapolation.size(), describe_extrapolation(result.extrapolation.front(), system));
    answer.energy = result.energy;
    answer.forces = result.forces;
    answer.virial = result.virial;
  };
  const ipi::ServeEnd end = ipi::serve(connection, compute);
  if (calls_outside > 0) log::warn("{} of {} calls had atoms outside the model's training data", calls_outside, calls);
  const std::string summary =
      fmt::format("{} calls, {} neighbour-list builds, {:.3g} s in the neighbour list and the model", calls,
                  evaluation.neighbor_list().num_builds(), compute_seconds);
  if (end == ipi::ServeEnd::exit_message) {
    log::info("i-PI client: the server sent EXIT after {}", summary);
  } else if (unix_socket && ipi::socket_file_removed(address, 2.0)) {
    log::info("i-PI client: the server closed the connection and removed {} after {}", address, summary);
  } else {
    throw InputError(fmt::format("the i-PI server at {} closed the connection without EXIT{} after {}: it stopped or "
                                 "crashed",
                                 address, unix_socket ? " and left its socket file behind" : "", summary));
  }
#endif
}

}  // namespace nqmd
