// The i-PI protocol's framing, byte by byte, against a fake server on the other end of a socketpair: the whole
// conversation is written before serve() runs (it fits in the socket buffer), then the answers are read back.
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <string>
#include <vector>

#include <catch2/catch.hpp>

#include "engine/error.hpp"
#include "engine/units.hpp"
#include "io/ipi_socket.hpp"

namespace {

using nqmd::Mat3;
using nqmd::Vec3;
namespace ipi = nqmd::ipi;
constexpr double kBohr = nqmd::units::ipi_bohr_a, kHartree = nqmd::units::ipi_hartree_ev;

// The server's end of a socketpair; the client's end goes into an ipi::Connection.
struct FakeServer {
  int server_fd = -1;
  int client_fd = -1;
  FakeServer() {
    int fds[2];
    REQUIRE(::socketpair(AF_UNIX, SOCK_STREAM, 0, fds) == 0);
    server_fd = fds[0];
    client_fd = fds[1];
  }
  ~FakeServer() {
    if (server_fd >= 0) ::close(server_fd);
  }
  ipi::Connection connection(double timeout_seconds = 5.0) {
    const int fd = client_fd;
    client_fd = -1;
    return ipi::Connection(fd, timeout_seconds);
  }
  void header(const std::string& text) {
    std::string padded = text;
    padded.resize(12, ' ');
    bytes(padded.data(), padded.size());
  }
  template <typename T>
  void value(T x) {
    bytes(&x, sizeof x);
  }
  void bytes(const void* data, std::size_t size) { REQUIRE(::write(server_fd, data, size) == static_cast<ssize_t>(size)); }
  // POSDATA as ASE sends it: cell.T / Bohr, inverse cell, natoms, positions / Bohr.
  void posdata(const Mat3& lattice_rows, const std::vector<Vec3>& positions_a) {
    header("POSDATA");
    const Mat3 h = lattice_rows.transpose() / kBohr;
    const Mat3 ih = lattice_rows.inverse() * kBohr;
    for (int r = 0; r < 3; ++r)
      for (int c = 0; c < 3; ++c) value(h(r, c));
    for (int r = 0; r < 3; ++r)
      for (int c = 0; c < 3; ++c) value(ih(r, c));
    value(static_cast<std::int32_t>(positions_a.size()));
    for (const Vec3& x : positions_a)
      for (int d = 0; d < 3; ++d) value(x[d] / kBohr);
  }
  void close_writing() { ::shutdown(server_fd, SHUT_WR); }
  // Everything the client wrote, once its end is closed.
  std::string answers() {
    std::string all;
    char buffer[4096];
    for (ssize_t n; (n = ::read(server_fd, buffer, sizeof buffer)) > 0;) all.append(buffer, static_cast<std::size_t>(n));
    return all;
  }
};

// Reads values from the client's answers in order.
struct Reader {
  std::string bytes;
  std::size_t at = 0;
  std::string header() {
    REQUIRE(at + 12 <= bytes.size());
    std::string text = bytes.substr(at, 12);
    at += 12;
    while (!text.empty() && text.back() == ' ') text.pop_back();
    return text;
  }
  template <typename T>
  T value() {
    REQUIRE(at + sizeof(T) <= bytes.size());
    T x;
    std::memcpy(&x, bytes.data() + at, sizeof x);
    at += sizeof x;
    return x;
  }
};

const Mat3 kLattice = (Mat3() << 10.0, 0.0, 0.0, 1.5, 9.0, 0.0, -0.5, 2.0, 8.0).finished();
const std::vector<Vec3> kPositions{{0.1, 0.2, 0.3}, {4.0, -1.0, 7.5}};

// Answers every call with forces and a virial that tell which atom, component and call they belong to.
void fake_forces(const ipi::Positions& received, ipi::Forces& answer) {
  answer.energy = -12.5;
  answer.forces.clear();
  for (std::size_t i = 0; i < received.positions.size(); ++i)
    answer.forces.push_back(Vec3(1.0 + static_cast<double>(i), -2.0, 0.25));
  answer.virial << 1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0, 9.0;
}

std::string error_of(FakeServer& server, double timeout_seconds = 5.0) {
  ipi::Connection connection = server.connection(timeout_seconds);
  try {
    ipi::serve(connection, fake_forces);
  } catch (const nqmd::InputError& error) {
    return error.what();
  }
  return "";
}

}  // namespace

TEST_CASE("ipi socket: a whole conversation, byte by byte, with the cell transposed and atomic units", "[ipi]") {
  FakeServer server;
  server.header("STATUS");
  server.header("INIT");
  server.value<std::int32_t>(0);
  server.value<std::int32_t>(1);
  server.value<char>(0);
  server.header("STATUS");
  server.posdata(kLattice, kPositions);
  server.header("STATUS");
  server.header("GETFORCE");
  server.header("STATUS");
  server.header("EXIT");
  server.close_writing();

  ipi::Connection connection = server.connection();
  ipi::Positions seen;
  int calls = 0;
  const ipi::ServeEnd end = ipi::serve(connection, [&](const ipi::Positions& received, ipi::Forces& answer) {
    seen = received;
    ++calls;
    fake_forces(received, answer);
  });
  CHECK(end == ipi::ServeEnd::exit_message);
  CHECK(calls == 1);
  CHECK((seen.lattice - kLattice).cwiseAbs().maxCoeff() < 1e-13);  // rows are lattice vectors again, in A
  REQUIRE(seen.positions.size() == 2);
  for (std::size_t i = 0; i < 2; ++i) CHECK((seen.positions[i] - kPositions[i]).cwiseAbs().maxCoeff() < 1e-13);

  { ipi::Connection closed = std::move(connection); }  // the client's end closes: answers() sees the end
  Reader reply{server.answers()};
  CHECK(reply.header() == "NEEDINIT");
  CHECK(reply.header() == "READY");
  CHECK(reply.header() == "HAVEDATA");
  CHECK(reply.header() == "FORCEREADY");
  CHECK(reply.value<double>() == Approx(-12.5 / kHartree).epsilon(1e-15));
  REQUIRE(reply.value<std::int32_t>() == 2);
  for (int i = 0; i < 2; ++i) {
    CHECK(reply.value<double>() == Approx((1.0 + i) * kBohr / kHartree).epsilon(1e-15));
    CHECK(reply.value<double>() == Approx(-2.0 * kBohr / kHartree).epsilon(1e-15));
    CHECK(reply.value<double>() == Approx(0.25 * kBohr / kHartree).epsilon(1e-15));
  }
  // ASE reads the 9 numbers as a C-order 3x3 and transposes it: virial(c, r) is at 3 r + c.
  const Mat3 virial = (Mat3() << 1, 2, 3, 4, 5, 6, 7, 8, 9).finished();
  for (int r = 0; r < 3; ++r)
    for (int c = 0; c < 3; ++c) CHECK(reply.value<double>() == Approx(virial(c, r) / kHartree).epsilon(1e-15));
  CHECK(reply.value<std::int32_t>() == 0);  // no extra string
  CHECK(reply.header() == "READY");
  CHECK(reply.at == reply.bytes.size());
}

TEST_CASE("ipi socket: POSDATA without INIT (as ASE may send it) and the connection closed between calls", "[ipi]") {
  FakeServer server;
  server.posdata(kLattice, kPositions);
  server.header("GETFORCE");
  server.close_writing();
  ipi::Connection connection = server.connection();
  CHECK(ipi::serve(connection, fake_forces) == ipi::ServeEnd::server_closed);
}

TEST_CASE("ipi socket: a blank header ends the conversation as EXIT does", "[ipi]") {
  FakeServer server;
  server.header("STATUS");
  server.header("");
  ipi::Connection connection = server.connection();
  CHECK(ipi::serve(connection, fake_forces) == ipi::ServeEnd::exit_message);
}

TEST_CASE("ipi socket: an unknown message is an error that names it", "[ipi]") {
  FakeServer server;
  server.header("STATUS");
  server.header("HELLO");
  server.close_writing();
  const std::string error = error_of(server);
  CHECK(error.find("unknown message 'HELLO'") != std::string::npos);
}

TEST_CASE("ipi socket: NaN and infinite positions and cells are refused", "[ipi]") {
  const double nan = std::numeric_limits<double>::quiet_NaN(), inf = std::numeric_limits<double>::infinity();
  {
    FakeServer server;
    server.posdata(kLattice, {{0.1, 0.2, 0.3}, {4.0, nan, 7.5}});
    server.close_writing();
    const std::string error = error_of(server);
    CHECK(error.find("non-finite position for atom 1") != std::string::npos);
  }
  {
    FakeServer server;
    Mat3 lattice = kLattice;
    lattice(2, 2) = inf;
    server.posdata(lattice, kPositions);
    server.close_writing();
    CHECK(error_of(server).find("non-finite component") != std::string::npos);
  }
}

TEST_CASE("ipi socket: messages out of order, cut short, or a negative atom count", "[ipi]") {
  {
    FakeServer server;
    server.header("GETFORCE");
    server.close_writing();
    CHECK(error_of(server).find("before sending positions") != std::string::npos);
  }
  {
    FakeServer server;
    server.header("POSDATA");
    server.value(1.0);
    server.close_writing();
    CHECK(error_of(server).find("in the middle of POSDATA") != std::string::npos);
  }
  {
    FakeServer server;
    server.bytes("STAT", 4);  // 4 of a header's 12 bytes
    server.close_writing();
    CHECK(error_of(server).find("in the middle of a message header") != std::string::npos);
  }
  {
    FakeServer server;
    server.posdata(kLattice, kPositions);
    server.close_writing();  // positions sent, forces never asked for
    CHECK(error_of(server).find("before asking for forces") != std::string::npos);
  }
  {
    FakeServer server;
    server.header("POSDATA");
    for (int k = 0; k < 18; ++k) server.value(1.0);
    server.value<std::int32_t>(-3);
    server.close_writing();
    CHECK(error_of(server).find("POSDATA for -3 atoms") != std::string::npos);
  }
}

TEST_CASE("ipi socket: a silent server is an error after the timeout, not a hang", "[ipi]") {
  FakeServer server;
  server.header("STATUS");  // and then nothing, with the connection open
  const auto start = std::chrono::steady_clock::now();
  const std::string error = error_of(server, 0.3);
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  CHECK(error.find("no message from the i-PI server in 0.3 s") != std::string::npos);
  CHECK(seconds >= 0.25);
  CHECK(seconds < 30.0);
}

TEST_CASE("ipi socket: no server at the address is an error after the connect timeout", "[ipi]") {
  const std::string name = "nqmd-test-none-" + std::to_string(::getpid());
  try {
    ipi::connect_unix(name, 0.2, 1.0);
    FAIL("connected to a socket nobody created");
  } catch (const nqmd::InputError& error) {
    CHECK(std::string(error.what()).find("cannot connect to the i-PI server at unix socket /tmp/ipi_" + name) !=
          std::string::npos);
  }
  CHECK_THROWS_AS(ipi::unix_socket_path(std::string(200, 'x')), nqmd::InputError);
}
