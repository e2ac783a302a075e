#include "io/ipi_socket.hpp"

#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <thread>

#include <fmt/format.h>

#include "engine/error.hpp"
#include "engine/stop_signals.hpp"
#include "engine/system.hpp"
#include "engine/units.hpp"

namespace nqmd::ipi {
namespace {

constexpr std::size_t kHeaderBytes = 12;
// Waits are cut into slices this long (ms) so that a stop signal is noticed even if it arrives just before poll().
constexpr int kSliceMs = 200;

using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

void throw_if_stopped() {
  if (const int signal = pending_stop_signal())
    throw StopRequested(signal, fmt::format("stopped by {}: the i-PI client closed its connection",
                                            signal_name(signal)));
}

// Waits up to `seconds` for `events` on `fd`; false on timeout.
bool wait_for(int fd, short events, double seconds) {
  const Clock::time_point start = Clock::now();
  for (;;) {
    throw_if_stopped();
    const double left = seconds - seconds_since(start);
    if (left <= 0) return false;
    pollfd entry{fd, events, 0};
    const int ready = ::poll(&entry, 1, std::min(kSliceMs, static_cast<int>(std::ceil(left * 1e3))));
    if (ready > 0) return true;
    if (ready < 0 && errno != EINTR) throw InputError(fmt::format("i-PI socket: poll failed: {}", std::strerror(errno)));
  }
}

void set_nonblocking(int fd) {
  const int flags = ::fcntl(fd, F_GETFL, 0);
  if (flags < 0 || ::fcntl(fd, F_SETFL, flags | O_NONBLOCK) < 0)
    throw InputError(fmt::format("i-PI socket: cannot make it non-blocking: {}", std::strerror(errno)));
}

// One non-blocking connect to `address`; returns the connected socket, or -1 with errno set.
int try_connect(int family, const sockaddr* address, socklen_t length, double seconds) {
  const int fd = ::socket(family, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return -1;
  set_nonblocking(fd);
  if (::connect(fd, address, length) == 0) return fd;
  if (errno == EINPROGRESS) {
    if (!wait_for(fd, POLLOUT, std::max(seconds, 0.05))) {
      ::close(fd);
      errno = ETIMEDOUT;
      return -1;
    }
    int error = 0;
    socklen_t size = sizeof error;
    if (::getsockopt(fd, SOL_SOCKET, SO_ERROR, &error, &size) == 0 && error == 0) return fd;
    errno = error;
  }
  const int saved = errno;
  ::close(fd);
  errno = saved;
  return -1;
}

// Connection attempts until one succeeds or `connect_seconds` have passed; a server that is not listening yet
// (ENOENT, ECONNREFUSED) is waited for.
template <typename Attempt>
int connect_with_retries(const std::string& address, double connect_seconds, Attempt attempt) {
  const Clock::time_point start = Clock::now();
  for (;;) {
    throw_if_stopped();
    const int fd = attempt(std::max(0.0, connect_seconds - seconds_since(start)));
    if (fd >= 0) return fd;
    const int error = errno;
    const bool not_yet = error == ENOENT || error == ECONNREFUSED || error == EAGAIN || error == ETIMEDOUT;
    if (!not_yet || seconds_since(start) >= connect_seconds)
      throw InputError(fmt::format("cannot connect to the i-PI server at {}: {}{}", address, std::strerror(error),
                                   not_yet ? fmt::format(" (tried for {:g} s; is the server running?)", connect_seconds)
                                           : ""));
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
}

template <typename T>
void append(std::string& buffer, const T& value) {
  buffer.append(reinterpret_cast<const char*>(&value), sizeof value);
}

}  // namespace

Connection::Connection(int fd, double timeout_seconds) : fd_(fd), timeout_seconds_(timeout_seconds) {
  if (!(timeout_seconds > 0)) {
    ::close(fd_);
    throw InputError(fmt::format("i-PI timeout must be positive, got {}", timeout_seconds));
  }
  try {
    set_nonblocking(fd_);
  } catch (...) {
    ::close(fd_);
    throw;
  }
}

Connection::Connection(Connection&& other) noexcept : fd_(other.fd_), timeout_seconds_(other.timeout_seconds_) {
  other.fd_ = -1;
}

Connection::~Connection() {
  if (fd_ >= 0) ::close(fd_);
}

bool Connection::wait_readable() { return wait_for(fd_, POLLIN, timeout_seconds_); }

std::optional<std::string> Connection::receive_header() {
  char header[kHeaderBytes];
  if (!receive_or_closed(header, kHeaderBytes, nullptr)) return std::nullopt;
  std::string text(header, kHeaderBytes);
  while (!text.empty() && (text.back() == ' ' || text.back() == '\0')) text.pop_back();
  return text;
}

void Connection::receive(void* data, std::size_t size, const char* what) {
  if (!receive_or_closed(static_cast<char*>(data), size, what))
    throw InputError(fmt::format("the i-PI server closed the connection in the middle of {}", what));
}

bool Connection::receive_or_closed(char* bytes, std::size_t size, const char* what) {
  const char* part = what != nullptr ? what : "a message header";
  std::size_t got = 0;
  while (got < size) {
    const ssize_t n = ::recv(fd_, bytes + got, size - got, 0);
    if (n > 0) {
      got += static_cast<std::size_t>(n);
    } else if (n == 0) {
      if (got == 0) return false;
      throw InputError(fmt::format("the i-PI server closed the connection in the middle of {}", part));
    } else if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) {
      if (wait_readable()) continue;
      if (what == nullptr)
        throw InputError(fmt::format("no message from the i-PI server in {:g} s (the timeout); is it still running?",
                                     timeout_seconds_));
      throw InputError(fmt::format("the i-PI server stopped sending in the middle of {} (nothing for {:g} s)", what,
                                   timeout_seconds_));
    } else if (what == nullptr) {
      throw InputError(fmt::format("the connection to the i-PI server broke: {}", std::strerror(errno)));
    } else {
      throw InputError(fmt::format("the connection to the i-PI server broke in {}: {}", what, std::strerror(errno)));
    }
  }
  return true;
}

void Connection::send_header(const std::string& header) {
  std::string padded = header;
  padded.resize(kHeaderBytes, ' ');
  send(padded.data(), padded.size());
}

void Connection::send(const void* data, std::size_t size) {
  const char* bytes = static_cast<const char*>(data);
  std::size_t sent = 0;
  while (sent < size) {
    const ssize_t n = ::send(fd_, bytes + sent, size - sent, MSG_NOSIGNAL);
    if (n >= 0) {
      sent += static_cast<std::size_t>(n);
    } else if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) {
      if (!wait_for(fd_, POLLOUT, timeout_seconds_))
        throw InputError(fmt::format("the i-PI server has not read nequip-md's answer for {:g} s (the timeout)",
                                     timeout_seconds_));
    } else {
      throw InputError(fmt::format("cannot send to the i-PI server: {} (did it stop?)", std::strerror(errno)));
    }
  }
}

std::string unix_socket_path(const std::string& name) {
  const std::string path = "/tmp/ipi_" + name;
  if (name.empty() || path.size() >= sizeof(sockaddr_un::sun_path))
    throw InputError(fmt::format("--unix '{}': expected a name of 1 to {} characters (the socket is /tmp/ipi_NAME)",
                                 name, sizeof(sockaddr_un::sun_path) - 1 - std::strlen("/tmp/ipi_")));
  return path;
}

Connection connect_unix(const std::string& name, double connect_seconds, double timeout_seconds) {
  const std::string path = unix_socket_path(name);
  sockaddr_un address{};
  address.sun_family = AF_UNIX;
  std::memcpy(address.sun_path, path.c_str(), path.size() + 1);
  const int fd = connect_with_retries("unix socket " + path, connect_seconds, [&](double seconds) {
    return try_connect(AF_UNIX, reinterpret_cast<const sockaddr*>(&address), sizeof address, seconds);
  });
  return Connection(fd, timeout_seconds);
}

Connection connect_inet(const std::string& host, int port, double connect_seconds, double timeout_seconds) {
  if (port < 1 || port > 65535) throw InputError(fmt::format("--port {}: expected 1 to 65535", port));
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* found = nullptr;
  if (const int status = ::getaddrinfo(host.c_str(), std::to_string(port).c_str(), &hints, &found); status != 0)
    throw InputError(fmt::format("cannot connect to the i-PI server at {}:{}: {}", host, port, ::gai_strerror(status)));
  const int fd = connect_with_retries(fmt::format("{}:{}", host, port), connect_seconds, [&](double seconds) {
    int error = ECONNREFUSED;
    for (addrinfo* entry = found; entry; entry = entry->ai_next) {
      const int connected = try_connect(entry->ai_family, entry->ai_addr, entry->ai_addrlen, seconds);
      if (connected >= 0) return connected;
      error = errno;
    }
    errno = error;
    return -1;
  });
  ::freeaddrinfo(found);
  // Each answer is one send; without this, Nagle's algorithm and delayed ACKs can hold it back for 40 ms.
  const int on = 1;
  ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &on, sizeof on);
  return Connection(fd, timeout_seconds);
}

bool socket_file_removed(const std::string& path, double wait_seconds) {
  const Clock::time_point start = Clock::now();
  for (;;) {
    struct stat info {};
    if (::stat(path.c_str(), &info) != 0 && errno == ENOENT) return true;
    if (seconds_since(start) >= wait_seconds) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
}

ServeEnd serve(Connection& connection, const std::function<void(const Positions&, Forces&)>& compute) {
  constexpr double bohr = units::ipi_bohr_a, hartree = units::ipi_hartree_ev;
  bool initialised = false, have_data = false;
  Positions received;
  Forces forces;
  std::string answer;
  for (;;) {
    const std::optional<std::string> received_header = connection.receive_header();
    if (!received_header) {
      if (have_data)
        throw InputError("the i-PI server closed the connection after sending positions, before asking for forces");
      return ServeEnd::server_closed;
    }
    const std::string& header = *received_header;
    if (header == "STATUS") {
      connection.send_header(have_data ? "HAVEDATA" : initialised ? "READY" : "NEEDINIT");
    } else if (header == "INIT") {
      std::int32_t bead = 0, length = 0;
      connection.receive(&bead, sizeof bead, "INIT");
      connection.receive(&length, sizeof length, "INIT");
      if (length < 0 || length > (1 << 24))
        throw InputError(fmt::format("the i-PI server sent INIT with a parameter string of {} bytes", length));
      std::string parameters(static_cast<std::size_t>(length), '\0');
      connection.receive(parameters.data(), parameters.size(), "INIT");
      initialised = true;
    } else if (header == "POSDATA") {
      double cell[9], inverse_cell[9];
      std::int32_t atoms = 0;
      connection.receive(cell, sizeof cell, "POSDATA");
      connection.receive(inverse_cell, sizeof inverse_cell, "POSDATA");  // nequip-md inverts the cell itself
      connection.receive(&atoms, sizeof atoms, "POSDATA");
      if (atoms < 0 || atoms > kMostAtoms)
        throw InputError(fmt::format("the i-PI server sent POSDATA for {} atoms", atoms));
      std::vector<double> coordinates(3 * static_cast<std::size_t>(atoms));
      connection.receive(coordinates.data(), coordinates.size() * sizeof(double), "POSDATA");
      // The wire holds h in C order, h(r, c) = cell[3 r + c], with the lattice vectors as h's columns.
      for (int r = 0; r < 3; ++r)
        for (int c = 0; c < 3; ++c) {
          if (!std::isfinite(cell[3 * r + c]))
            throw InputError(fmt::format("the i-PI server sent a cell with a non-finite component ({})", cell[3 * r + c]));
          received.lattice(c, r) = cell[3 * r + c] * bohr;
        }
      received.positions.resize(static_cast<std::size_t>(atoms));
      for (std::size_t i = 0; i < received.positions.size(); ++i) {
        const Vec3 position(coordinates[3 * i], coordinates[3 * i + 1], coordinates[3 * i + 2]);
        if (!position.allFinite())
          throw InputError(fmt::format("the i-PI server sent a non-finite position for atom {}: ({}, {}, {}) Bohr", i,
                                       position.x(), position.y(), position.z()));
        received.positions[i] = position * bohr;
      }
      forces = Forces{};
      compute(received, forces);
      if (forces.forces.size() != received.positions.size())
        throw std::logic_error("i-PI: the force callback returned forces for another number of atoms");
      have_data = initialised = true;
    } else if (header == "GETFORCE") {
      if (!have_data) throw InputError("the i-PI server asked for forces (GETFORCE) before sending positions (POSDATA)");
      answer.assign("FORCEREADY  ");
      append(answer, forces.energy / hartree);
      append(answer, static_cast<std::int32_t>(forces.forces.size()));
      for (const Vec3& force : forces.forces)
        for (int d = 0; d < 3; ++d) append(answer, force[d] * bohr / hartree);
      // The virial goes as h does (transposed, C order): byte block 3 r + c holds virial(c, r).
      for (int r = 0; r < 3; ++r)
        for (int c = 0; c < 3; ++c) append(answer, forces.virial(c, r) / hartree);
      append(answer, static_cast<std::int32_t>(forces.extra.size()));
      answer += forces.extra;
      connection.send(answer.data(), answer.size());  // one send: one packet for a small system
      have_data = false;
    } else if (header == "EXIT" || header.empty()) {
      return ServeEnd::exit_message;
    } else {
      throw InputError(fmt::format("the i-PI server sent an unknown message '{}' (expected STATUS, INIT, POSDATA, "
                                   "GETFORCE or EXIT)",
                                   header));
    }
  }
}

}  // namespace nqmd::ipi
