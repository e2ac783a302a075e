#pragma once
// The client side of the i-PI socket protocol (i-PI, ASE's SocketIOCalculator, LAMMPS fix ipi): the server sends
// 12-byte ASCII headers (space padded) and the client answers.
//
//   STATUS   -> client sends NEEDINIT (before INIT), READY, or HAVEDATA (after POSDATA, before GETFORCE)
//   INIT     <- int32 bead index, int32 n, n bytes of parameters (ignored here)
//   POSDATA  <- 9 float64 cell, 9 float64 inverse cell, int32 natoms, 3 natoms float64 positions
//   GETFORCE -> "FORCEREADY", float64 energy, int32 natoms, 3 natoms float64 forces, 9 float64 virial,
//               int32 n, n bytes of extra string
//   EXIT        the client stops (so does a blank header, as old servers sent)
//
// On the wire: native byte order (both ends on one machine or alike), Bohr and Hartree as ASE converts them
// (units::ipi_bohr_a, units::ipi_hartree_ev), forces Hartree/Bohr, virial Hartree (-dE/d(strain), not divided by
// the volume; stress = -virial / V). The 3x3 matrices are sent as the C-order bytes of i-PI's h, whose columns
// are the lattice vectors: the transpose of nequip-md's cell (rows are lattice vectors), and so the virial too.
//
// Nothing here knows what computes the forces: serve() hands each POSDATA, converted to A, to a callback.
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "engine/cell.hpp"

namespace nqmd::ipi {

// A connected stream socket (closed when destroyed) with the timeout of every wait for the server.
class Connection {
 public:
  // Takes ownership of a connected socket `fd` (tests pass one end of a socketpair); timeout_seconds > 0.
  Connection(int fd, double timeout_seconds);
  Connection(Connection&& other) noexcept;
  Connection& operator=(Connection&&) = delete;
  Connection(const Connection&) = delete;
  ~Connection();

  // The next header, trimmed of its padding (an all-blank header, old servers' way to say EXIT, is ""); nothing
  // if the server closed the connection here (between messages). InputError if nothing arrives within the
  // timeout or the connection breaks inside a header; StopRequested if a stop signal arrives meanwhile.
  std::optional<std::string> receive_header();
  // Exactly `size` bytes of the message `what` (InputError naming it if the server stops sending).
  void receive(void* data, std::size_t size, const char* what);
  void send_header(const std::string& header);
  void send(const void* data, std::size_t size);

 private:
  // Exactly `size` bytes of `what` (nullptr: a header); false if the server closed the connection before the first.
  bool receive_or_closed(char* bytes, std::size_t size, const char* what);
  // Waits until the socket is readable; false on timeout.
  bool wait_readable();
  int fd_;
  double timeout_seconds_;
};

// /tmp/ipi_NAME, where i-PI and ASE create the unix socket they call NAME; InputError if too long for a socket.
std::string unix_socket_path(const std::string& name);
// Connects to a server, retrying while it is not listening yet (no socket file, connection refused) for up to
// `connect_seconds`; InputError naming the address and the reason after that.
Connection connect_unix(const std::string& name, double connect_seconds, double timeout_seconds);
Connection connect_inet(const std::string& host, int port, double connect_seconds, double timeout_seconds);
// Whether the socket file at `path` disappears within `wait_seconds`: i-PI and ASE remove it when they close in
// order; a server that was killed leaves it behind.
bool socket_file_removed(const std::string& path, double wait_seconds);

// One POSDATA, in nequip-md's units and convention.
struct Positions {
  Mat3 lattice = Mat3::Zero();  // A, rows are lattice vectors
  std::vector<Vec3> positions;  // A
};

// The answer to GETFORCE, in nequip-md's units.
struct Forces {
  double energy = 0.0;          // eV
  std::vector<Vec3> forces;     // eV/A
  Mat3 virial = Mat3::Zero();   // eV, -dE/d(strain)
  std::string extra;            // sent as i-PI's extra string ("" sends nothing)
};

enum class ServeEnd {
  exit_message,   // the server sent EXIT
  server_closed,  // the server closed the connection between calls
};

// Answers the server's messages until EXIT or the connection closes between calls; `compute` fills the forces of
// each POSDATA (it may throw InputError, e.g. for a wrong atom count). InputError for an unknown message, a
// message out of order (GETFORCE before POSDATA), non-finite numbers in POSDATA, a negative or absurd atom count,
// a connection that closes inside a message or with positions it has not asked forces for, and on timeouts.
ServeEnd serve(Connection& connection, const std::function<void(const Positions&, Forces&)>& compute);

}  // namespace nqmd::ipi
