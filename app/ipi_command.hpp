#pragma once
// `nequip-md ipi --model M --structure FRAME.extxyz (--unix NAME | --host HOST --port PORT) [--timeout S]
// [--connect-timeout S] [--skin A]`: nequip-md as a client of the i-PI socket protocol (io/ipi_socket.hpp), so that
// i-PI (path-integral MD) and ASE's SocketIOCalculator (relaxations, NEB, ASE's MD) get energies, forces and the
// virial of a NequIP model. The species (and pbc) are the structure file's first frame; positions and the cell
// come with every call. The neighbour list is kept between calls and rebuilt when an atom has moved more than
// skin/2 or the cell changed, as in MD.
//
// Ends with exit 0 when the server sends EXIT or closes a unix socket in order (ASE's SocketIOCalculator does not
// send EXIT; it removes its socket file); a server that goes away otherwise, sends something the protocol does not
// have, positions that do not fit the structure, or nothing within --timeout is a one-line error and exit 1.
#include <string>

#include "app/model_arguments.hpp"

namespace nqmd {

struct IpiRequest {
  ModelArguments model_arguments;
  std::string structure;              // extxyz: species, masses, pbc of the atoms the server sends
  std::string unix_name;              // /tmp/ipi_NAME; "" for inet
  std::string host = "localhost";
  int port = 0;                       // 0 with a unix socket
  double timeout_seconds = 600.0;     // longest wait for the server's next message
  double connect_seconds = 30.0;      // how long to retry connecting to a server that is not listening yet
  double skin = 1.0;                  // A, neighbour-list skin
};

void run_ipi_client(const IpiRequest& request);

}  // namespace nqmd
