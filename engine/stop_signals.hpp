#pragma once
// Graceful stops. Batch schedulers send SIGTERM or SIGUSR1 before they kill a job, and users press Ctrl-C:
// the run then finishes its current step, flushes its outputs, writes a checkpoint and exits with
// 128 + signal. A second SIGINT exits at once (outputs stay readable up to their last flush, and the last
// complete checkpoint stays in place, since checkpoints are replaced atomically).
#include <stdexcept>
#include <string>

namespace nqmd {

// Installs the handlers for SIGINT, SIGTERM and SIGUSR1 (idempotent). Until begin_graceful_stops(), during
// start-up (reading files, building the system, the first neighbour list and forces), a stop signal ends the
// process at once with 128 + signal: nothing of the run is to be saved yet, and start-up can take long.
void install_stop_signal_handlers();
// From here on a stop signal is a request that the run loop honours after its current step (called by the
// loops of Simulation: the MD steps and the minimisation).
void begin_graceful_stops();
// The stop signal received so far, or 0.
int pending_stop_signal();
const char* signal_name(int signal);

// Thrown by the run loop after it has stopped cleanly on a signal.
class StopRequested : public std::runtime_error {
 public:
  StopRequested(int signal, const std::string& message) : std::runtime_error(message), signal_(signal) {}
  int signal() const { return signal_; }

 private:
  int signal_;
};

}  // namespace nqmd
