// `nequip-md ipi` driven by ASE 3.22's SocketIOCalculator (Debian's /usr/bin/python3): the numbers ASE gets are
// `nequip-md evaluate`'s, ASE's MD conserves energy as nequip-md's own NVE does, a relaxation with a cell filter
// converges, and a server that dies, hangs or sends atoms that do not fit ends the client with exit 1 and a message.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <map>
#include <sstream>
#include <string>
#include <thread>

#include <catch2/catch.hpp>

#include "cli_runner.hpp"
#include "io/extxyz.hpp"
#include "potential/nequip/reference_data.hpp"
#include "test_paths.hpp"

namespace {

using nqmd::test::CliSandbox;

bool system_python_has_ase() {
  return std::system("env -u PYTHONPATH -u PYTHONHOME /usr/bin/python3 -c 'import ase' > /dev/null 2>&1") == 0;
}

// Runs `python3 SCRIPT ARGS` (Debian's, with ASE) in the sandbox; its output goes to python.txt there.
int run_python(const CliSandbox& sandbox, const std::string& script, const std::string& arguments) {
  const std::string command = "cd '" + sandbox.directory().string() +
                              "' && env -u PYTHONPATH -u PYTHONHOME OMP_NUM_THREADS=1 /usr/bin/python3 " + script + " " +
                              arguments + " > python.txt 2>&1";
  const int status = std::system(command.c_str());
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

// A socket name no other test (or test process) uses: /tmp/ipi_NAME.
std::string unique_socket_name() {
  static std::atomic<int> counter{0};
  return "nqmd-test-" + std::to_string(::getpid()) + "-" + std::to_string(counter++);
}

// "key value" lines printed by a script, as numbers.
std::map<std::string, double> printed_numbers(const std::string& text) {
  std::map<std::string, double> values;
  std::istringstream lines(text);
  for (std::string line; std::getline(lines, line);) {
    std::istringstream fields(line);
    std::string key;
    double value = 0;
    if (fields >> key >> value) values[key] = value;
  }
  return values;
}

std::string water_model() { return nqmd::test::source_path("inputs/water/water_model.npz"); }
std::string water_frames() { return nqmd::test::shared_path("data/water-64-deepmd/water.extxyz"); }
// The arguments of the scripts that start a client: executable, model, ab-initio frames, socket name.
std::string client_arguments(const std::string& name) {
  return std::string("'") + NQMD_EXECUTABLE + "' '" + water_model() + "' '" + water_frames() + "' " + name;
}

// Shared by the scripts: the client as a Python user starts it, beside ASE's server.
const char* const kClientHelper = R"(import os, subprocess, sys

def start_client(executable, model, structure, name, *extra):
    out = open(f"client_{name}_out.txt", "w")
    err = open(f"client_{name}_err.txt", "w")
    return subprocess.Popen([executable, "ipi", "--model", model, "--structure", structure, "--unix", name, *extra],
                            stdout=out, stderr=err)
)";

// A box of 8 whole water molecules (24 atoms) cut from an ab-initio frame, with 1 A more between the faces so that
// no pair is closer than in the model's training data: small enough for a quick relaxation.
const char* const kSmallWaterBox = R"(
import numpy as np, ase.io
from ase import Atoms

def small_water_box(path):
    frame = ase.io.read(path, 0)
    half = frame.cell[0, 0] / 2
    hydrogens = [i for i, s in enumerate(frame.get_chemical_symbols()) if s == "H"]
    symbols, positions = [], []
    for o in (i for i, s in enumerate(frame.get_chemical_symbols()) if s == "O"):
        x = frame.positions[o] % (2 * half)
        if (x < half).all():
            vectors = frame.get_distances(o, hydrogens, mic=True, vector=True)
            symbols.append("O")
            positions.append(x)
            for k in np.argsort(np.linalg.norm(vectors, axis=1))[:2]:
                symbols.append("H")
                positions.append(x + vectors[k])
    return Atoms(symbols, positions=positions, cell=[half + 1.0] * 3, pbc=True)
)";

}  // namespace

TEST_CASE("ipi: ASE SocketIOCalculator gets evaluate's energy, forces and stress", "[app][nequip][ipi]") {
  if (!system_python_has_ase()) {
    WARN("skipped: /usr/bin/python3 cannot import ase");
    return;
  }
  CliSandbox sandbox;
  // Three water frames, the last with a 3% larger cell (the client sees the cell change); a triclinic Cu/Au frame
  // for a nequip-deploy model, and the same strained by 2% and rattled.
  sandbox.write("frames.py", R"(import sys, ase.io
water = ase.io.read(sys.argv[1], "0:14:6")
water[2].set_cell(water[2].cell * 1.03, scale_atoms=True)
for atoms in water: atoms.calc = None
ase.io.write("water.extxyz", water)
metal = [ase.io.read(sys.argv[2], 0) for _ in range(2)]
metal[1].set_cell(metal[1].cell * 1.02, scale_atoms=True)
metal[1].rattle(0.05, seed=3)
for atoms in metal: atoms.calc = None
ase.io.write("metal.extxyz", metal)
)");
  REQUIRE(run_python(sandbox, "frames.py", "'" + water_frames() + "' '" + nqmd::test::nequip_path("test_frames.extxyz") +
                                               "'") == 0);
  sandbox.write("compare.py", std::string(kClientHelper) + R"(
import numpy as np, ase.io
from ase.calculators.socketio import SocketIOCalculator
executable, model, data, reference, name, *extra = sys.argv[1:]
frames = ase.io.read(data, ":")
expected = ase.io.read(reference, ":")
ase.io.write("structure.extxyz", frames[0])
worst = dict(energy=0.0, forces=0.0, stress=0.0)
with SocketIOCalculator(unixsocket=name) as calc:
    client = start_client(executable, model, "structure.extxyz", name, *extra)
    for atoms, ref in zip(frames, expected):
        atoms.calc = calc
        e, f, s = atoms.get_potential_energy(), atoms.get_forces(), atoms.get_stress(voigt=False)
        worst["energy"] = max(worst["energy"], abs(e - ref.get_potential_energy()) / abs(ref.get_potential_energy()))
        worst["forces"] = max(worst["forces"], np.abs(f - ref.get_forces()).max() / np.abs(ref.get_forces()).max())
        ref_s = ref.get_stress(voigt=False)
        worst["stress"] = max(worst["stress"], np.abs(s - ref_s).max() / np.abs(ref_s).max())
for key, value in worst.items(): print(key, value)
print("frames", len(frames))
print("client_exit", client.wait())
)");
  struct Case {
    std::string model, data, extra;
  };
  const Case water{water_model(), "water.extxyz", ""};
  const Case metal{nqmd::test::nequip_path("modelB/deployed.pth"), "metal.extxyz", "--species-map Cu=Cu,Au=Au"};
  for (const Case& c : {water, metal}) {
    INFO(c.model);
    const auto evaluated = sandbox.run("evaluate --model '" + c.model + "' --data " + c.data +
                                       " --output evaluated.extxyz --force " + c.extra);
    INFO(evaluated.out << evaluated.err);
    REQUIRE(evaluated.exit_code == 0);
    const std::string name = unique_socket_name();
    const int status = run_python(sandbox, "compare.py",
                                  std::string("'") + NQMD_EXECUTABLE + "' '" + c.model + "' " + c.data +
                                      " evaluated.extxyz " + name + " " + c.extra);
    INFO(sandbox.read("python.txt") << sandbox.read("client_" + name + "_err.txt"));
    REQUIRE(status == 0);
    auto values = printed_numbers(sandbox.read("python.txt"));
    CHECK(values["frames"] >= 2);
    CHECK(values["client_exit"] == 0);
    CHECK(values.count("energy") == 1);
    CHECK(values["energy"] < 1e-10);
    CHECK(values["forces"] < 1e-10);
    CHECK(values["stress"] < 1e-10);
  }
}

TEST_CASE("ipi: ASE's VelocityVerlet conserves energy as nequip-md's own NVE does", "[app][nequip][ipi]") {
  if (!system_python_has_ase()) {
    WARN("skipped: /usr/bin/python3 cannot import ase");
    return;
  }
  CliSandbox sandbox;
  // 192 atoms of liquid water at 300 K, 200 steps of 0.5 fs from the same positions and velocities both ways.
  sandbox.write("md.py", std::string(kClientHelper) + R"(
import numpy as np, ase.io
from ase import units
from ase.md.verlet import VelocityVerlet
from ase.md.velocitydistribution import MaxwellBoltzmannDistribution, Stationary
from ase.calculators.socketio import SocketIOCalculator
executable, model, frames, name = sys.argv[1:]
atoms = ase.io.read(frames, 0)
atoms.calc = None
MaxwellBoltzmannDistribution(atoms, temperature_K=300, rng=np.random.RandomState(7))
Stationary(atoms)
ase.io.write("start.extxyz", atoms)
energies = []
with SocketIOCalculator(unixsocket=name) as calc:
    client = start_client(executable, model, "start.extxyz", name)
    atoms.calc = calc
    dynamics = VelocityVerlet(atoms, 0.5 * units.fs)
    dynamics.attach(lambda: energies.append(atoms.get_total_energy()), interval=1)
    dynamics.run(200)
energies = np.array(energies)
print("steps", len(energies) - 1)
print("max_deviation_per_atom", np.abs(energies - energies[0]).max() / len(atoms))
print("client_exit", client.wait())
)");
  const std::string name = unique_socket_name();
  const int status = run_python(sandbox, "md.py", client_arguments(name));
  INFO(sandbox.read("python.txt") << sandbox.read("client_" + name + "_err.txt"));
  REQUIRE(status == 0);
  auto ase_values = printed_numbers(sandbox.read("python.txt"));
  CHECK(ase_values["steps"] == 200);
  CHECK(ase_values["client_exit"] == 0);

  sandbox.write("nve.toml", "[structure]\nfile = \"start.extxyz\"\n[velocities]\nkind = \"structure\"\n"
                            "[potential]\nkind = \"nequip\"\nmodel = \"" + water_model() + "\"\n"
                            "[neighbor]\nskin = 1.0\n[integrator]\nkind = \"nve\"\ntimestep = 0.5\n"
                            "[run]\nsteps = 200\nthermo_every = 1\nthermo_file = \"thermo.csv\"\n");
  const auto own = sandbox.run("run nve.toml");
  INFO(own.out << own.err);
  REQUIRE(own.exit_code == 0);
  const std::vector<double> total = nqmd::test::csv_column(sandbox.read("thermo.csv"), 4);  // total_energy_eV
  REQUIRE(total.size() == 201);
  double own_deviation = 0;
  for (double e : total) own_deviation = std::max(own_deviation, std::abs(e - total[0]) / 192.0);
  // The same integrator with the same forces from the same start follows the same trajectory for 100 fs (measured:
  // both 1.197e-4 eV/atom, equal to 7 digits), so ASE's fluctuation of the total energy is nequip-md's within a few
  // percent; nequip-md's own is the bound, and it is small (well under 1 meV/atom) at this timestep.
  const double ase_deviation = ase_values["max_deviation_per_atom"];
  INFO("ASE " << ase_deviation << " eV/atom, nequip-md " << own_deviation << " eV/atom");
  CHECK(own_deviation < 1e-3);
  CHECK(ase_deviation > 0);
  CHECK(ase_deviation <= 1.05 * own_deviation);
  CHECK(ase_deviation >= 0.95 * own_deviation);
}

TEST_CASE("ipi: ASE's BFGS with a cell filter relaxes atoms and cell", "[app][nequip][ipi]") {
  if (!system_python_has_ase()) {
    WARN("skipped: /usr/bin/python3 cannot import ase");
    return;
  }
  CliSandbox sandbox;
  sandbox.write("relax.py", std::string(kClientHelper) + kSmallWaterBox + R"(
from ase.constraints import UnitCellFilter
from ase.optimize import BFGS
from ase.calculators.socketio import SocketIOCalculator
executable, model, frames, name = sys.argv[1:]
atoms = small_water_box(frames)
ase.io.write("start.extxyz", atoms)
volume = atoms.get_volume()
with SocketIOCalculator(unixsocket=name) as calc:
    client = start_client(executable, model, "start.extxyz", name)
    atoms.calc = calc
    optimizer = BFGS(UnitCellFilter(atoms), logfile="bfgs.log")
    converged = optimizer.run(fmax=0.05, steps=1000)
    atoms.calc = None
    ase.io.write("relaxed.extxyz", atoms)
    written = ase.io.read("relaxed.extxyz")  # what evaluate will read, to the last digit
    written.calc = calc
    energy = written.get_potential_energy()
print("converged", int(converged))
print("steps", optimizer.nsteps)
print("volume_ratio", written.get_volume() / volume)
print("energy %.17g" % energy)
print("client_exit", client.wait())
)");
  const std::string name = unique_socket_name();
  const int status = run_python(sandbox, "relax.py", client_arguments(name));
  INFO(sandbox.read("python.txt") << sandbox.read("client_" + name + "_err.txt"));
  REQUIRE(status == 0);
  auto values = printed_numbers(sandbox.read("python.txt"));
  // Measured: 171 steps to fmax 0.05 eV/A (forces and stress * volume), the volume 0.81 of the cut-out box.
  CHECK(values["converged"] == 1);
  CHECK(values["steps"] < 1000);
  CHECK(std::abs(values["volume_ratio"] - 1.0) > 0.01);  // the cell took part
  CHECK(values["client_exit"] == 0);
  // The answer for the relaxed cell and positions (as written) is evaluate's.
  const auto evaluated = sandbox.run("evaluate --model '" + water_model() + "' --data relaxed.extxyz --output e.extxyz");
  INFO(evaluated.out << evaluated.err);
  REQUIRE(evaluated.exit_code == 0);
  const std::vector<nqmd::Frame> result = nqmd::read_extxyz(sandbox.path("e.extxyz"));
  REQUIRE(result.size() == 1);
  REQUIRE(result[0].energy);
  CHECK(std::abs(*result[0].energy - values["energy"]) <= 1e-10 * std::abs(*result[0].energy));
}

TEST_CASE("ipi: a server that is killed or hangs ends the client with exit 1 and a message", "[app][nequip][ipi]") {
  if (!system_python_has_ase()) {
    WARN("skipped: /usr/bin/python3 cannot import ase");
    return;
  }
  for (const std::string how : {"SIGKILL", "SIGSTOP"}) {
    INFO(how);
    CliSandbox sandbox;
    sandbox.write("server.py", std::string(kSmallWaterBox) + R"(
import os, signal, sys
from ase.calculators.socketio import SocketIOCalculator
frames, name, how = sys.argv[1:]
atoms = small_water_box(frames)
ase.io.write("start.extxyz", atoms)
with open("server.pid", "w") as f: f.write(str(os.getpid()))
calc = SocketIOCalculator(unixsocket=name)
atoms.calc = calc
atoms.get_potential_energy()
atoms.rattle(0.01)
atoms.get_potential_energy()
print("two calls", flush=True)
os.kill(os.getpid(), getattr(signal, how))  # mid-run: the client waits for its next message
)");
    const std::string name = unique_socket_name();
    const std::string server_command = "cd '" + sandbox.directory().string() +
                                       "' && env -u PYTHONPATH -u PYTHONHOME OMP_NUM_THREADS=1 /usr/bin/python3 "
                                       "server.py '" + water_frames() + "' " + name + " " + how +
                                       " > server.txt 2>&1 &";
    REQUIRE(std::system(server_command.c_str()) == 0);
    // The structure file is the server's: wait for it (the client itself retries connecting until the server listens).
    for (int k = 0; k < 300 && !sandbox.exists("server.pid"); ++k)
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    REQUIRE(sandbox.exists("start.extxyz"));
    const auto start = std::chrono::steady_clock::now();
    const pid_t client = nqmd::test::start(sandbox, {"ipi", "--model", water_model(), "--structure", "start.extxyz",
                                                     "--unix", name, "--timeout", "2"});
    int exit_code = -100;
    for (int k = 0; k < 600; ++k) {  // 60 s at most, then the test fails instead of hanging
      int status = 0;
      if (::waitpid(client, &status, WNOHANG) == client) {
        exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -WTERMSIG(status);
        break;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    if (exit_code == -100) {
      ::kill(client, SIGKILL);
      ::waitpid(client, nullptr, 0);
    }
    const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    const std::string server_pid = sandbox.read("server.pid");
    if (!server_pid.empty()) ::kill(static_cast<pid_t>(std::stol(server_pid)), SIGKILL);  // the stopped one
    std::filesystem::remove("/tmp/ipi_" + name);  // a killed server leaves its socket behind
    const std::string err = sandbox.read("stderr.txt");
    INFO(sandbox.read("server.txt") << sandbox.read("stdout.txt") << err);
    CHECK(sandbox.read("server.txt").find("two calls") != std::string::npos);
    CHECK(exit_code == 1);
    CHECK(seconds < 30.0);
    const auto errors = nqmd::test::error_lines(err);
    REQUIRE(errors.size() == 1);
    if (how == "SIGKILL") {
      CHECK(errors[0].find("closed the connection without EXIT and left its socket file behind") != std::string::npos);
    } else {
      CHECK(errors[0].find("no message from the i-PI server in 2 s") != std::string::npos);
    }
  }
}

TEST_CASE("ipi: atoms that do not fit the structure, NaN positions and a flat cell are one-line errors",
          "[app][nequip][ipi]") {
  if (!system_python_has_ase()) {
    WARN("skipped: /usr/bin/python3 cannot import ase");
    return;
  }
  CliSandbox sandbox;
  sandbox.write("bad.py", std::string(kClientHelper) + kSmallWaterBox + R"(
import numpy as np
from ase.calculators.socketio import SocketIOCalculator
executable, model, frames, name, case = sys.argv[1:]
atoms = small_water_box(frames)
ase.io.write("start.extxyz", atoms)
if case == "count":
    atoms = atoms[:-3]
elif case == "nan":
    atoms.positions[5, 1] = np.nan
elif case == "flat":
    atoms.cell[2] = atoms.cell[0] + atoms.cell[1]
with SocketIOCalculator(unixsocket=name) as calc:
    client = start_client(executable, model, "start.extxyz", name)
    atoms.calc = calc
    try:
        atoms.get_potential_energy()
        print("answered")
    except Exception as error:
        print("server saw:", type(error).__name__)
    print("client_exit", client.wait())
)");
  const std::map<std::string, std::string> expected{
      {"count", "the i-PI server sent 21 atoms; the structure start.extxyz has 24"},
      {"nan", "non-finite position for atom 5"},
      {"flat", "cell nequip-md cannot use"}};
  for (const auto& [which, message] : expected) {
    INFO(which);
    const std::string name = unique_socket_name();
    const int status = run_python(sandbox, "bad.py", client_arguments(name) + " " + which);
    const std::string err = sandbox.read("client_" + name + "_err.txt");
    INFO(sandbox.read("python.txt") << err);
    REQUIRE(status == 0);
    CHECK(printed_numbers(sandbox.read("python.txt"))["client_exit"] == 1);
    const auto errors = nqmd::test::error_lines(err);
    REQUIRE(errors.size() == 1);
    CHECK(errors[0].find(message) != std::string::npos);
  }
}

TEST_CASE("ipi: no server, or both --unix and --port, is an error", "[app][nequip][ipi]") {
  CliSandbox sandbox;
  const std::string model = water_model();
  const auto refused = sandbox.run("ipi --model '" + model + "' --structure '" + water_frames() + "' --unix " +
                                   unique_socket_name() + " --connect-timeout 0.3");
  CHECK(refused.exit_code == 1);
  CHECK(refused.err.find("cannot connect to the i-PI server at unix socket /tmp/ipi_nqmd-test-") != std::string::npos);
  const auto inet = sandbox.run("ipi --model '" + model + "' --structure '" + water_frames() +
                                "' --host 127.0.0.1 --port 9 --connect-timeout 0.3");
  CHECK(inet.exit_code == 1);
  CHECK(inet.err.find("cannot connect to the i-PI server at 127.0.0.1:9") != std::string::npos);
  const auto both = sandbox.run("ipi --model '" + model + "' --structure '" + water_frames() + "' --unix x --port 4000");
  CHECK(both.exit_code == 1);
  const auto neither = sandbox.run("ipi --model '" + model + "' --structure '" + water_frames() + "'");
  CHECK(neither.exit_code == 1);
  CHECK(neither.err.find("give either --unix NAME or --port PORT") != std::string::npos);
}

TEST_CASE("ipi: over TCP, the client answers STATUS and stops cleanly on SIGTERM", "[app][nequip][ipi]") {
  // A server of a few lines: listen on an ephemeral port of 127.0.0.1, ask for the status, then stop the client.
  const int listener = ::socket(AF_INET, SOCK_STREAM, 0);
  REQUIRE(listener >= 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  REQUIRE(::bind(listener, reinterpret_cast<sockaddr*>(&address), sizeof address) == 0);
  socklen_t length = sizeof address;
  REQUIRE(::getsockname(listener, reinterpret_cast<sockaddr*>(&address), &length) == 0);
  REQUIRE(::listen(listener, 1) == 0);
  const int port = ntohs(address.sin_port);

  CliSandbox sandbox;
  const pid_t client = nqmd::test::start(sandbox, {"ipi", "--model", water_model(), "--structure", water_frames(),
                                                   "--host", "127.0.0.1", "--port", std::to_string(port)});
  pollfd waiting{listener, POLLIN, 0};
  REQUIRE(::poll(&waiting, 1, 60000) == 1);
  const int connection = ::accept(listener, nullptr, nullptr);
  REQUIRE(connection >= 0);
  const char status[13] = "STATUS      ";
  REQUIRE(::write(connection, status, 12) == 12);
  char answer[13] = {};
  std::size_t got = 0;
  pollfd reading{connection, POLLIN, 0};
  while (got < 12 && ::poll(&reading, 1, 60000) == 1) {
    const ssize_t n = ::read(connection, answer + got, 12 - got);
    if (n <= 0) break;
    got += static_cast<std::size_t>(n);
  }
  CHECK(std::string(answer) == "NEEDINIT    ");
  ::kill(client, SIGTERM);
  const int exit_code = nqmd::test::wait_for(client);
  ::close(connection);
  ::close(listener);
  INFO(sandbox.read("stdout.txt") << sandbox.read("stderr.txt"));
  CHECK(exit_code == 128 + SIGTERM);
  CHECK(sandbox.read("stderr.txt").find("stopped by SIGTERM") != std::string::npos);
}
