#include "engine/stop_signals.hpp"

#include <unistd.h>

#include <csignal>

namespace nqmd {
namespace {

volatile std::sig_atomic_t received_signal = 0;
volatile std::sig_atomic_t graceful = 0;

extern "C" void on_stop_signal(int signal) {
  if (!graceful) _exit(128 + signal);                                        // start-up: stop now
  if (received_signal == SIGINT && signal == SIGINT) _exit(128 + SIGINT);  // second Ctrl-C: stop now
  received_signal = signal;
}

}  // namespace

void install_stop_signal_handlers() {
  struct sigaction action {};
  action.sa_handler = on_stop_signal;
  sigemptyset(&action.sa_mask);
  action.sa_flags = SA_RESTART;
  for (int signal : {SIGINT, SIGTERM, SIGUSR1}) sigaction(signal, &action, nullptr);
}

void begin_graceful_stops() { graceful = 1; }

int pending_stop_signal() { return received_signal; }

const char* signal_name(int signal) {
  switch (signal) {
    case SIGINT: return "SIGINT";
    case SIGTERM: return "SIGTERM";
    case SIGUSR1: return "SIGUSR1";
    default: return "a signal";
  }
}

}  // namespace nqmd
