// `nequip-md export-kim` and the KIM model driver in LAMMPS (docs/lammps.md): model A exported and installed into
// a private KIM user collection (HOME is the sandbox), then LAMMPS' `run 0` on 1 and 2 MPI ranks against
// `nequip-md evaluate` of the same frame (energy, every force, the pressure tensor), also on a cell whose ghost
// shell (num_layers x r_max = 8 A) is wider than a rank's subdomain; a short NVE on 2 ranks; and the errors a user
// meets (an unreadable model file, a species the model lacks) as clean LAMMPS errors. Needs lmp, mpirun and
// kim-api-collections-management (Debian: lammps, openmpi-bin, libkim-api-dev; scripts/install-deps.sh --tests);
// without them, or in a build without the driver, the tests say so and pass.
#include <cmath>
#include <cstdlib>
#include <fstream>
#include <map>
#include <random>
#include <sstream>
#include <vector>

#include <catch2/catch.hpp>

#include "cli_runner.hpp"
#include "io/extxyz.hpp"
#include "potential/nequip/reference_data.hpp"

namespace {

using nqmd::Vec3;
using nqmd::test::CliSandbox;
using nqmd::test::nequip_path;

// LAMMPS' pressure conversion of units metal (force.cpp: nktv2p = 1.6021765e6 bar per eV/A^3).
constexpr double kLammpsMetalNktv2p = 1.6021765e6;

bool have_program(const std::string& name) {
  return std::system(("command -v " + name + " > /dev/null 2>&1").c_str()) == 0;
}

bool have_lammps_kim() {
#ifndef NQMD_HAVE_KIM_DRIVER
  WARN("skipped: this build has no KIM model driver (kim-api was not found at configure time: libkim-api-dev)");
  return false;
#endif
  for (const char* program : {"lmp", "mpirun", "kim-api-collections-management"})
    if (!have_program(program)) {
      WARN("skipped: " << program << " not found (Debian: lammps, openmpi-bin, libkim-api-dev)");
      return false;
    }
  return true;
}

// Runs a shell command in the sandbox with HOME there (so the KIM user collection is the sandbox's own) and no KIM
// collection variables from the caller's environment; stdout and stderr go to NAME.out / NAME.err.
nqmd::test::CommandResult shell(const CliSandbox& sandbox, const std::string& name, const std::string& command) {
  const std::string dir = sandbox.directory().string();
  const std::string full = "cd '" + dir + "' && env -u KIM_API_CONFIGURATION_FILE -u KIM_API_MODEL_DRIVERS_DIR " +
                           "-u KIM_API_PORTABLE_MODELS_DIR -u KIM_API_SIMULATOR_MODELS_DIR HOME='" + dir +
                           "/home' OMP_NUM_THREADS=1 " + command + " > " + name + ".out 2> " + name +
                           ".err < /dev/null";
  const int status = std::system(full.c_str());
  nqmd::test::CommandResult result;
  result.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  result.out = sandbox.read(name + ".out");
  result.err = sandbox.read(name + ".err");
  return result;
}

struct Frame {
  double box = 0;  // cubic cell edge, A
  std::vector<Vec3> positions;
  std::vector<int> types;  // 1 Cu, 2 Au (LAMMPS types)
};

// n x n x n fcc cells (a = 3.8 A), positions perturbed by 0.1 A, 40% Au, all inside [0, box).
Frame alloy(int n, std::uint32_t seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<double> normal(0.0, 0.1);
  std::bernoulli_distribution gold(0.4);
  Frame f;
  const double a = 3.8;
  f.box = n * a;
  const double basis[4][3] = {{0.25, 0.25, 0.25}, {0.75, 0.75, 0.25}, {0.75, 0.25, 0.75}, {0.25, 0.75, 0.75}};
  for (int x = 0; x < n; ++x)
    for (int y = 0; y < n; ++y)
      for (int z = 0; z < n; ++z)
        for (const auto& b : basis) {
          f.positions.push_back(Vec3((x + b[0]) * a + normal(rng), (y + b[1]) * a + normal(rng),
                                     (z + b[2]) * a + normal(rng)));
          f.types.push_back(gold(rng) ? 2 : 1);
        }
  return f;
}

void write_inputs(const CliSandbox& sandbox, const Frame& f) {
  std::ostringstream xyz, data;
  xyz.precision(17);
  data.precision(17);
  xyz << f.positions.size() << "\nLattice=\"" << f.box << " 0 0 0 " << f.box << " 0 0 0 " << f.box
      << "\" Properties=species:S:1:pos:R:3 pbc=\"T T T\"\n";
  data << "LAMMPS data file of the nequip-md KIM test\n\n"
       << f.positions.size() << " atoms\n2 atom types\n\n0 " << f.box
       << " xlo xhi\n0 " << f.box << " ylo yhi\n0 " << f.box << " zlo zhi\n\nMasses\n\n1 63.546\n2 196.96657\n\n"
       << "Atoms # atomic\n\n";
  for (std::size_t i = 0; i < f.positions.size(); ++i) {
    const Vec3& x = f.positions[i];
    xyz << (f.types[i] == 1 ? "Cu" : "Au") << ' ' << x[0] << ' ' << x[1] << ' ' << x[2] << '\n';
    data << i + 1 << ' ' << f.types[i] << ' ' << x[0] << ' ' << x[1] << ' ' << x[2] << '\n';
  }
  sandbox.write("frame.extxyz", xyz.str());
  sandbox.write("frame.data", data.str());
}

// Exports model A as the KIM model NequIP_A and installs it into the sandbox's user collection.
void install_model_a(const CliSandbox& sandbox) {
  const auto exported = shell(sandbox, "export", std::string("'") + NQMD_EXECUTABLE + "' export-kim --model '" +
                                                     nequip_path("modelA/deployed.pth") +
                                                     "' --name NequIP_A --output kim_model_a");
  INFO(exported.out << exported.err);
  REQUIRE(exported.exit_code == 0);
  const auto installed = shell(sandbox, "install", "kim-api-collections-management install user kim_model_a");
  INFO(installed.out << installed.err);
  REQUIRE(installed.exit_code == 0);
}

std::string lammps_input(const std::string& model, const std::string& species, const std::string& tail) {
  return "kim init " + model + " metal\nboundary p p p\nread_data frame.data\nkim interactions " + species +
         "\nneighbor 1.0 bin\nthermo_style custom step pe ke etotal press pxx pyy pzz pxy pxz pyz\n" + tail;
}

const char* kRunZero =
    "run 0\n"
    "print \"$(pe:%.17g) $(pxx:%.17g) $(pyy:%.17g) $(pzz:%.17g) $(pxy:%.17g) $(pxz:%.17g) $(pyz:%.17g)\" "
    "file result.txt screen no\n"
    "write_dump all custom forces.dump id fx fy fz modify sort id format float %.17g\n";

nqmd::test::CommandResult run_lammps(const CliSandbox& sandbox, const std::string& name, int ranks,
                                     const std::string& input) {
  sandbox.write(name + ".in", input);
  return shell(sandbox, name,
               "mpirun --allow-run-as-root --oversubscribe -np " + std::to_string(ranks) + " lmp -log " + name +
                   ".log -in " + name + ".in");
}

struct Agreement {
  double energy = 0, forces = 0, pressure = 0;
};

// LAMMPS' run 0 results in the sandbox against the evaluated frame.
Agreement compare(const CliSandbox& sandbox, const nqmd::Frame& expected) {
  std::istringstream result(sandbox.read("result.txt"));
  double pe = 0, p[6] = {};
  result >> pe >> p[0] >> p[1] >> p[2] >> p[3] >> p[4] >> p[5];
  REQUIRE(result);
  const std::size_t n = expected.system.size();
  std::istringstream dump(sandbox.read("forces.dump"));
  std::string line;
  for (int k = 0; k < 9; ++k) std::getline(dump, line);
  double max_force = 0, max_diff = 0;
  for (std::size_t i = 0; i < n; ++i) {
    int id = 0;
    Vec3 f;
    dump >> id >> f[0] >> f[1] >> f[2];
    REQUIRE(dump);
    REQUIRE(id == static_cast<int>(i) + 1);
    const Vec3& want = (*expected.forces)[i];
    max_force = std::max(max_force, want.cwiseAbs().maxCoeff());
    max_diff = std::max(max_diff, (f - want).cwiseAbs().maxCoeff());
  }
  // LAMMPS' pressure with zero velocities: virial / V, the virial sum r (x) F = nequip's -dE/d(strain).
  const nqmd::Mat3& w = *expected.virial;
  const double volume = expected.system.cell.volume();
  const double want[6] = {w(0, 0), w(1, 1), w(2, 2), w(0, 1), w(0, 2), w(1, 2)};
  double max_p = 0, max_dp = 0;
  for (int k = 0; k < 6; ++k) {
    const double bar = want[k] / volume * kLammpsMetalNktv2p;
    max_p = std::max(max_p, std::abs(bar));
    max_dp = std::max(max_dp, std::abs(p[k] - bar));
  }
  return {std::abs(pe - *expected.energy) / std::abs(*expected.energy), max_diff / max_force, max_dp / max_p};
}

nqmd::Frame evaluate(const CliSandbox& sandbox) {
  const auto evaluated = shell(sandbox, "evaluate", std::string("'") + NQMD_EXECUTABLE + "' evaluate --model '" +
                                                        nequip_path("modelA/deployed.pth") +
                                                        "' --data frame.extxyz --output evaluated.extxyz --force");
  INFO(evaluated.err);
  REQUIRE(evaluated.exit_code == 0);
  const std::vector<nqmd::Frame> frames = nqmd::read_extxyz((sandbox.directory() / "evaluated.extxyz").string());
  REQUIRE(frames.size() == 1);
  REQUIRE(frames[0].energy);
  REQUIRE(frames[0].forces);
  REQUIRE(frames[0].virial);
  return frames[0];
}

}  // namespace

TEST_CASE("LAMMPS with the KIM driver: run 0 on 1 and 2 ranks equals nequip-md evaluate", "[app][kim][lammps]") {
  if (!have_lammps_kim()) return;
  CliSandbox sandbox;
  install_model_a(sandbox);
  struct Case {
    int cells;
    int ranks;
    const char* what;
  };
  // 5^3 x 4 = 500 atoms in a 19 A box; 4^3 x 4 = 256 atoms in a 15.2 A box, whose halves (7.6 A) on 2 ranks are
  // narrower than the ghost shell (8 A + 1 A skin): ghosts of ghosts, several subdomains deep.
  for (const Case c : {Case{5, 1, "500 atoms, 1 rank"}, Case{5, 2, "500 atoms, 2 ranks"},
                       Case{4, 2, "256 atoms, 2 ranks, ghost shell wider than a subdomain"}}) {
    write_inputs(sandbox, alloy(c.cells, 11u + static_cast<std::uint32_t>(c.cells)));
    const nqmd::Frame expected = evaluate(sandbox);
    const auto lammps = run_lammps(sandbox, "run0", c.ranks, lammps_input("NequIP_A", "Cu Au", kRunZero));
    INFO(c.what << "\n" << lammps.out << lammps.err);
    REQUIRE(lammps.exit_code == 0);
    const Agreement a = compare(sandbox, expected);
    WARN(c.what << ": relative differences to nequip-md evaluate: energy " << a.energy << ", forces " << a.forces
                << ", pressure " << a.pressure);
    CHECK(a.energy < 1e-10);
    CHECK(a.forces < 1e-10);
    CHECK(a.pressure < 1e-10);
  }
}

TEST_CASE("LAMMPS with the KIM driver: NVE on 2 ranks conserves energy as nequip-md does", "[app][kim][lammps]") {
  if (!have_lammps_kim()) return;
  CliSandbox sandbox;
  install_model_a(sandbox);
  const std::size_t atoms = 256;
  write_inputs(sandbox, alloy(4, 3));
  // 500 steps of 2 fs from 300 K (NQMD_KIM_NVE_STEPS, a multiple of 10, for other lengths), total energy every 10
  // steps: LAMMPS on 2 ranks, and nequip-md itself.
  const auto steps = static_cast<int>(nqmd::test::environment_number("NQMD_KIM_NVE_STEPS", 500));
  const std::string tail =
      "velocity all create 300 4928459 mom yes rot yes dist gaussian loop geom\n"
      "fix nve all nve\ntimestep 0.002\nthermo 10\nthermo_modify format float %.15g\nrun " +
      std::to_string(steps) + "\n";
  const auto lammps = run_lammps(sandbox, "nve", 2, lammps_input("NequIP_A", "Cu Au", tail));
  INFO(lammps.out << lammps.err);
  REQUIRE(lammps.exit_code == 0);
  std::istringstream log(sandbox.read("nve.log"));
  std::vector<double> lammps_total;
  bool in_thermo = false;
  for (std::string line; std::getline(log, line);) {
    if (line.find("Step") != std::string::npos && line.find("TotEng") != std::string::npos) {
      in_thermo = true;
      continue;
    }
    if (!in_thermo) continue;
    if (line.rfind("Loop time", 0) == 0) break;
    std::istringstream fields(line);
    double step = 0, pe = 0, ke = 0, e = 0;
    if (fields >> step >> pe >> ke >> e) lammps_total.push_back(e);
  }
  REQUIRE(lammps_total.size() == static_cast<std::size_t>(steps / 10 + 1));
  sandbox.write("nve.toml", "[structure]\nfile = \"frame.extxyz\"\n\n[velocities]\nkind = \"maxwell_boltzmann\"\n"
                            "temperature = 300.0\nseed = 7\n\n[potential]\nkind = \"nequip\"\nmodel = \"" +
                                nequip_path("modelA/deployed.pth") +
                                "\"\n\n[neighbor]\nskin = 1.0\n\n[integrator]\nkind = \"nve\"\ntimestep = 2.0\n\n"
                                "[run]\nsteps = " + std::to_string(steps) + "\nthermo_every = 10\ncheckpoint_file = \"\"\n");
  const auto own = sandbox.run("run nve.toml");
  INFO(own.err);
  REQUIRE(own.exit_code == 0);
  const std::vector<double> own_total = nqmd::test::csv_column(sandbox.read("thermo.csv"), 4);
  REQUIRE(own_total.size() == static_cast<std::size_t>(steps / 10 + 1));
  // Fluctuation (max - min) and drift (last - first) of the total energy, eV/atom.
  auto measures = [&](const std::vector<double>& e) {
    double low = e.front(), high = e.front();
    for (double x : e) low = std::min(low, x), high = std::max(high, x);
    return std::pair<double, double>((high - low) / atoms, std::abs(e.back() - e.front()) / atoms);
  };
  const auto [lammps_fluctuation, lammps_drift] = measures(lammps_total);
  const auto [own_fluctuation, own_drift] = measures(own_total);
  WARN("NVE " << steps << " steps of 2 fs from 300 K, 256 atoms: LAMMPS + KIM on 2 ranks: fluctuation " << lammps_fluctuation * 1e3
       << " meV/atom, drift " << lammps_drift * 1e3 << " meV/atom; nequip-md: fluctuation " << own_fluctuation * 1e3
       << ", drift " << own_drift * 1e3 << " meV/atom");
  // nequip-md's own NVE test holds 0.3 meV/atom fluctuation and 0.2 meV/atom drift; the same bounds here, and
  // no worse than nequip-md on this frame (velocities differ in detail: a factor 2 of room).
  CHECK(lammps_fluctuation < 0.3e-3);
  CHECK(lammps_drift < 0.2e-3);
  CHECK(lammps_fluctuation < 2 * own_fluctuation + 2e-6);
}

TEST_CASE("LAMMPS with the KIM driver: an unreadable model and a missing species are clean errors",
          "[app][kim][lammps]") {
  if (!have_lammps_kim()) return;
  CliSandbox sandbox;
  install_model_a(sandbox);
  write_inputs(sandbox, alloy(2, 5));
  {  // a species the model lacks
    const auto lammps = run_lammps(sandbox, "species", 1, lammps_input("NequIP_A", "Cu Ag", kRunZero));
    INFO(lammps.out << lammps.err);
    CHECK(lammps.exit_code != 0);
    CHECK_THAT(lammps.out + lammps.err, Catch::Contains("ERROR") && Catch::Contains("Ag"));
  }
  {  // a model file the driver cannot read
    // A KIM model of the driver whose parameter file is not a model: installed by hand from export-kim's layout.
    std::filesystem::create_directories(sandbox.directory() / "broken");
    std::string cmake = sandbox.read("kim_model_a/CMakeLists.txt");
    const std::size_t project = cmake.find("project(NequIP_A)");
    REQUIRE(project != std::string::npos);
    cmake.replace(project, 17, "project(Broken_model)");
    sandbox.write("broken/CMakeLists.txt", cmake);
    sandbox.write("broken/nequip_model.pth", "not a model\n");
    const auto installed = shell(sandbox, "install_broken", "kim-api-collections-management install user broken");
    INFO(installed.out << installed.err);
    REQUIRE(installed.exit_code == 0);
    const auto lammps = run_lammps(sandbox, "broken", 1, lammps_input("Broken_model", "Cu Au", kRunZero));
    INFO(lammps.out << lammps.err);
    CHECK(lammps.exit_code != 0);
    CHECK_THAT(lammps.out + lammps.err, Catch::Contains("ERROR"));
    CHECK_THAT(sandbox.read("kim.log") + lammps.out + lammps.err, Catch::Contains("nequip_model.pth"));
  }
}

TEST_CASE("export-kim: bad arguments are one-line errors", "[app][kim]") {
  CliSandbox sandbox;
  const std::string model = nequip_path("modelA/deployed.pth");
  const auto bad_name = sandbox.run("export-kim --model '" + model + "' --name 1bad --output out");
  CHECK(bad_name.exit_code == 1);
  CHECK_THAT(bad_name.err, Catch::Contains("--name '1bad'"));
  const auto missing = sandbox.run("export-kim --model missing.pth --name M --output out");
  CHECK(missing.exit_code == 1);
  CHECK_THAT(missing.err, Catch::Contains("missing.pth"));
  std::filesystem::create_directories(sandbox.directory() / "taken");
  sandbox.write("taken/file.txt", "x");
  const auto taken = sandbox.run("export-kim --model '" + model + "' --name M --output taken");
  CHECK(taken.exit_code == 1);
  CHECK_THAT(taken.err, Catch::Contains("--output taken"));
  const auto no_name = sandbox.run("export-kim --model '" + model + "' --output out");
  CHECK(no_name.exit_code == 1);
  const auto help = sandbox.run("export-kim --help");
  CHECK(help.exit_code == 0);
  CHECK_THAT(help.out, Catch::Contains("--name"));
}
