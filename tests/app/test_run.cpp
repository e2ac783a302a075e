// Whole runs through the command line: restarts that continue bit for bit, blow-ups that stop cleanly,
// checkpoints that belong to another system, and the ideal-gas pressure.
#include <sys/wait.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <sstream>
#include <vector>

#include <catch2/catch.hpp>

#include "cli_runner.hpp"
#include "engine/units.hpp"
#include "io/checkpoint.hpp"
#include "io/extxyz.hpp"
#include "io/trajectory.hpp"

namespace {

using nqmd::test::CliSandbox;
using nqmd::test::CommandResult;

std::string argon_input(const std::string& integrator_section, int steps, const std::string& extra_run = "") {
  return R"([structure]
lattice = "fcc"
lattice_constant = 5.6
repeat = [3, 3, 3]
species = ["Ar"]
random_displacement = 0.05

[velocities]
kind = "maxwell_boltzmann"
temperature = 120.0
seed = 11

[potential]
kind = "lj"
species = ["Ar"]
epsilon = [0.01032]
sigma = [3.405]
cutoff = 7.5
shift = true

[neighbor]
skin = 0.3

)" + integrator_section +
         "\n[run]\nsteps = " + std::to_string(steps) + "\nthermo_every = 5\n" + extra_run;
}

// Thermo columns 0..8 (step .. volume): everything but the throughput.
std::vector<std::string> physical_rows(const std::string& csv) {
  std::vector<std::string> rows;
  std::istringstream lines(csv);
  for (std::string line; std::getline(lines, line);) {
    std::size_t cut = 0;
    for (int comma = 0; comma < 9 && cut != std::string::npos; ++comma) cut = line.find(',', cut + 1);
    rows.push_back(line.substr(0, cut));
  }
  return rows;
}

}  // namespace

TEST_CASE("run: a run split by a restart is bit-identical to the unsplit run", "[app][run][restart]") {
  const std::vector<std::string> integrators{
      "[integrator]\nkind = \"nve\"\ntimestep = 10.0\n",
      "[integrator]\nkind = \"nvt_nose_hoover\"\ntimestep = 10.0\ntemperature = 100.0\ntdamp = 200.0\n",
      "[integrator]\nkind = \"nvt_langevin\"\ntimestep = 10.0\ntemperature = 100.0\nfriction = 0.01\nseed = 5\n",
      "[integrator]\nkind = \"nvt_csvr\"\ntimestep = 10.0\ntemperature = 100.0\ntdamp = 200.0\nseed = 5\n"};
  for (const std::string& integrator : integrators) {
    INFO(integrator);
    CliSandbox whole, split;
    // The split is at step 37, where the unsplit run writes no checkpoint, as at a stop by a signal between periodic
    // checkpoints: the restart must continue with the neighbour list the unsplit run has there.
    const std::string trajectory = "\n[output]\ntrajectory_file = \"traj.h5\"\ntrajectory_every = 10\n";
    whole.write("input.toml", argon_input(integrator, 80) + trajectory);
    const CommandResult unsplit = whole.run("run input.toml");
    INFO(unsplit.err);
    REQUIRE(unsplit.exit_code == 0);

    split.write("first.toml", argon_input(integrator, 37) + trajectory);
    REQUIRE(split.run("run first.toml").exit_code == 0);
    split.write("input.toml", argon_input(integrator, 80, "thermo_file = \"thermo.csv\"\n") + trajectory);
    const CommandResult continued = split.run("run input.toml --restart checkpoint.h5");
    INFO(continued.err);
    REQUIRE(continued.exit_code == 0);
    CHECK(continued.out.find("restarted from checkpoint.h5 at step 37") != std::string::npos);

    const nqmd::Checkpoint a = nqmd::read_checkpoint(whole.path("checkpoint.h5"));
    const nqmd::Checkpoint b = nqmd::read_checkpoint(split.path("checkpoint.h5"));
    REQUIRE(a.step == 80);
    REQUIRE(b.step == 80);
    REQUIRE(a.system.size() == b.system.size());
    bool identical = true;
    for (std::size_t i = 0; i < a.system.size(); ++i) {
      identical = identical && a.system.positions[i] == b.system.positions[i] &&
                  a.system.velocities[i] == b.system.velocities[i] && a.system.images[i] == b.system.images[i] &&
                  a.forces[i] == b.forces[i];
    }
    CHECK(identical);
    CHECK(a.energy == b.energy);
    CHECK(a.integrator.reals == b.integrator.reals);
    CHECK(a.integrator.integers == b.integrator.integers);
    // Thermo rows (all physical columns, printed at full precision) agree row by row: 0, 5, ..., 80, and the split
    // file has the first run's last step, 37, besides.
    const auto rows_whole = physical_rows(whole.read("thermo.csv"));
    auto rows_split = physical_rows(split.read("thermo.csv"));
    CHECK(rows_whole.size() == 18);
    REQUIRE(rows_split.size() == 19);
    CHECK(rows_split[9].rfind("37,", 0) == 0);
    rows_split.erase(rows_split.begin() + 9);
    CHECK(rows_whole == rows_split);
    // The restarted run continues the trajectory: 9 frames (steps 0, 10, ..., 80), identical to the unsplit run's.
    const nqmd::Trajectory frames_whole = nqmd::read_trajectory(whole.path("traj.h5"));
    const nqmd::Trajectory frames_split = nqmd::read_trajectory(split.path("traj.h5"));
    REQUIRE(frames_whole.frames.size() == 9);
    REQUIRE(frames_split.frames.size() == 9);
    for (std::size_t f = 0; f < 9; ++f) {
      CHECK(frames_split.frames[f].step == 10 * f);
      CHECK(frames_split.frames[f].positions == frames_whole.frames[f].positions);
      CHECK(frames_split.frames[f].velocities == frames_whole.frames[f].velocities);
      CHECK(frames_split.frames[f].images == frames_whole.frames[f].images);
    }
  }
}

TEST_CASE("run: the last step always has its thermo row, whatever thermo_every", "[app][run]") {
  CliSandbox sandbox;
  std::string input = argon_input("[integrator]\nkind = \"nve\"\ntimestep = 5.0\n", 23);
  input.replace(input.find("thermo_every = 5"), 16, "thermo_every = 800");
  sandbox.write("input.toml", input);
  const CommandResult result = sandbox.run("run input.toml");
  INFO(result.err);
  REQUIRE(result.exit_code == 0);
  const std::vector<double> steps = nqmd::test::csv_column(sandbox.read("thermo.csv"), 0);
  CHECK(steps == std::vector<double>{0.0, 23.0});
}

TEST_CASE("run: thermo_columns choose and order the thermo columns, units in the CSV header", "[app][run]") {
  CliSandbox sandbox;
  std::string input = argon_input("[integrator]\nkind = \"nve\"\ntimestep = 5.0\n", 20,
                                  "checkpoint_every = 10\nthermo_columns = [\"step\", \"press\", \"pxx\", \"pyy\", "
                                  "\"pzz\", \"pxy\", \"cella\", \"cellgamma\", \"density\", \"temp\"]\n");
  input.replace(input.find("thermo_every = 5"), 16, "thermo_every = 10");
  sandbox.write("input.toml", input);
  CommandResult result = sandbox.run("run input.toml");
  INFO(result.out << result.err);
  REQUIRE(result.exit_code == 0);
  const std::string csv = sandbox.read("thermo.csv");
  CHECK(csv.rfind("step,pressure_bar,pxx_bar,pyy_bar,pzz_bar,pxy_bar,cell_a_A,cell_gamma_deg,density_g_cm3,"
                  "temperature_K\n", 0) == 0);
  CHECK(result.out.find("      step       P[bar]     Pxx[bar]") != std::string::npos);
  CHECK(nqmd::test::csv_column(csv, 0) == std::vector<double>{0.0, 10.0, 20.0});
  // 108 argon atoms (39.948 amu) in a cube of 3 x 5.6 A.
  const double volume = 16.8 * 16.8 * 16.8;
  for (std::size_t row = 0; row < 3; ++row) {
    const double trace = nqmd::test::csv_column(csv, 2)[row] + nqmd::test::csv_column(csv, 3)[row] +
                         nqmd::test::csv_column(csv, 4)[row];
    CHECK(nqmd::test::csv_column(csv, 1)[row] == Approx(trace / 3.0).epsilon(1e-12));
    CHECK(nqmd::test::csv_column(csv, 6)[row] == Approx(16.8).epsilon(1e-14));
    CHECK(nqmd::test::csv_column(csv, 7)[row] == Approx(90.0).epsilon(1e-14));
    CHECK(nqmd::test::csv_column(csv, 8)[row] ==
          Approx(108 * 39.948 * nqmd::units::amu_per_a3_to_g_per_cm3 / volume).epsilon(1e-12));
  }
  // A restart writes the same columns; other columns are refused before the file is touched.
  result = sandbox.run("run --restart checkpoint.h5 input.toml");
  REQUIRE(result.exit_code == 0);
  CHECK(sandbox.read("thermo.csv") == csv);
  std::string other = input;
  other.replace(other.find("\"step\", \"press\""), 15, "\"step\", \"temp\"");
  sandbox.write("other.toml", other);
  result = sandbox.run("run --restart checkpoint.h5 other.toml");
  CHECK(result.exit_code == 1);
  CHECK(result.err.find("thermo_columns") != std::string::npos);
  CHECK(sandbox.read("thermo.csv") == csv);
}

TEST_CASE("run: terminal output that cannot be written never stops a run", "[app][run][terminal]") {
  if (!std::filesystem::exists("/dev/full")) {
    WARN("no /dev/full here: skipped");
    return;
  }
  std::string input = argon_input("[integrator]\nkind = \"nve\"\ntimestep = 5.0\n", 300);
  input.replace(input.find("thermo_every = 5"), 16, "thermo_every = 1");
  for (const std::string redirect : {" > /dev/full", " > /dev/full 2> /dev/full", " 2> /dev/full"}) {
    INFO(redirect);
    CliSandbox sandbox;
    sandbox.write("input.toml", input);
    const std::string command = "cd '" + sandbox.directory().string() + "' && '" + NQMD_EXECUTABLE +
                                "' -v run input.toml" + redirect + " < /dev/null";
    const int status = std::system(command.c_str());
    REQUIRE(WIFEXITED(status));
    CHECK(WEXITSTATUS(status) == 0);
    const std::vector<double> steps = nqmd::test::csv_column(sandbox.read("thermo.csv"), 0);
    CHECK(steps.size() == 301);
    CHECK(nqmd::read_checkpoint(sandbox.path("checkpoint.h5")).step == 300);
  }
}

TEST_CASE("run: a bad [analysis] file is an error before the first step", "[app][run][bad-input]") {
  const std::string run = argon_input("[integrator]\nkind = \"nve\"\ntimestep = 5.0\n", 20) +
                          "\n[output]\ntrajectory_file = \"traj.h5md\"\ntrajectory_every = 5\n"
                          "\n[analysis]\nfile = \"analysis.toml\"\n";
  const std::vector<std::pair<std::string, std::string>> cases{
      {"[trajectory]\nfile = \"traj.h5md\"\n[rdf]\nr_max = 6.0\nbinz = 100\n", "analysis.toml:5: unknown key 'binz'"},
      {"[trajectory]\nfile = \"traj.h5md\"\n[msd]\nspecies = [\"Xe\", 3]\n", "analysis.toml:4: [msd] species"},
      {"[trajectory]\nfile = \"traj.h5md\"\n[reference]\nfile = \"missing.extxyz\"\n[rdf]\n",
       "analysis.toml:4: [reference] file: missing.extxyz: trajectory file not found"},
      {"[rdf]\n", "analysis.toml: missing section [trajectory]"},
      {"[trajectory]\nfile = \"traj.h5md\"\n", "analysis.toml: no analysis to run"}};
  for (const auto& [analysis, expected] : cases) {
    INFO(analysis);
    CliSandbox sandbox;
    sandbox.write("input.toml", run);
    sandbox.write("analysis.toml", analysis);
    const CommandResult result = sandbox.run("run input.toml");
    CHECK(result.exit_code == 1);
    CHECK(result.err.find(expected) != std::string::npos);
    CHECK(std::count(result.err.begin(), result.err.end(), '\n') == 1);
    // Nothing ran: no output of the run exists.
    CHECK_FALSE(sandbox.exists("thermo.csv"));
    CHECK_FALSE(sandbox.exists("traj.h5md"));
    CHECK_FALSE(sandbox.exists("checkpoint.h5"));
  }
}

TEST_CASE("run: an extxyz trajectory without a fields key gets the default fields it can hold", "[app][run]") {
  CliSandbox sandbox;
  sandbox.write("input.toml", argon_input("[integrator]\nkind = \"nve\"\ntimestep = 5.0\n", 10) +
                                  "\n[output]\ntrajectory_file = \"traj.extxyz\"\ntrajectory_every = 5\n");
  const CommandResult result = sandbox.run("run input.toml");
  INFO(result.err);
  REQUIRE(result.exit_code == 0);
  const nqmd::Trajectory frames = nqmd::read_trajectory(sandbox.path("traj.extxyz"));
  REQUIRE(frames.frames.size() == 3);
  CHECK(frames.frames[2].velocities.size() == 108);
}

TEST_CASE("run: per-atom energies in extxyz and H5MD trajectories are the brute-force half pair sums",
          "[app][run][trajectory]") {
  // 108 argon atoms, LJ shifted at 7.5 A in a 16.8 A box: every pair within the cutoff is a minimum-image pair.
  const double epsilon = 0.01032, sigma = 3.405, cutoff = 7.5;
  const auto pair_energy = [&](double r) {
    const auto lj = [&](double x) { return 4.0 * epsilon * (std::pow(sigma / x, 12) - std::pow(sigma / x, 6)); };
    return r < cutoff ? lj(r) - lj(cutoff) : 0.0;
  };
  const std::string input = argon_input("[integrator]\nkind = \"nve\"\ntimestep = 5.0\n", 10);
  CliSandbox sandbox;
  sandbox.write("input.toml", input + "\n[output]\ntrajectory_file = \"traj.extxyz\"\ntrajectory_every = 5\n"
                                      "fields = [\"energies\"]\n");
  CommandResult result = sandbox.run("run input.toml");
  INFO(result.err);
  REQUIRE(result.exit_code == 0);
  nqmd::ExtxyzReader reader(sandbox.path("traj.extxyz"));
  REQUIRE(reader.count() == 3);
  std::vector<std::vector<double>> extxyz_energies;
  for (long k = 0; k < 3; ++k) {
    const nqmd::Frame frame = reader.read(k);
    REQUIRE(frame.energies);
    REQUIRE(frame.energies->size() == 108);
    REQUIRE(frame.energy);
    const nqmd::System& system = frame.system;
    double sum = 0.0;
    for (std::size_t i = 0; i < system.size(); ++i) {
      double expected = 0.0;
      for (std::size_t j = 0; j < system.size(); ++j) {
        if (j == i) continue;
        nqmd::Vec3 d = system.positions[j] - system.positions[i];
        for (int axis = 0; axis < 3; ++axis) d[axis] -= 16.8 * std::round(d[axis] / 16.8);
        expected += 0.5 * pair_energy(d.norm());
      }
      CHECK((*frame.energies)[i] == Approx(expected).margin(1e-12));
      sum += (*frame.energies)[i];
    }
    CHECK(sum == Approx(*frame.energy).epsilon(1e-12));
    extxyz_energies.push_back(*frame.energies);
  }

  // The same run to H5MD: particles/all/potential_energy, in eV, equal to the extxyz values as written.
  CliSandbox h5md;
  h5md.write("input.toml", input + "\n[output]\ntrajectory_file = \"traj.h5md\"\ntrajectory_every = 5\n"
                                   "fields = [\"energies\", \"velocities\"]\n");
  result = h5md.run("run input.toml");
  INFO(result.err);
  REQUIRE(result.exit_code == 0);
  if (std::system("/usr/bin/python3 -c 'import h5py' > /dev/null 2>&1") != 0) {
    WARN("python3 with h5py not found: the H5MD per-atom energies were not read");
    return;
  }
  h5md.write("dump.py", "import h5py, numpy as np\n"
                        "with h5py.File('traj.h5md', 'r') as f:\n"
                        "    e = f['particles/all/potential_energy/value']\n"
                        "    assert e.attrs['unit'] in ('eV', b'eV'), e.attrs['unit']\n"
                        "    assert f['particles/all/potential_energy/step'][()].tolist() == [0, 5, 10]\n"
                        "    total = f['observables/potential_energy/value'][()]\n"
                        "    assert np.allclose(e[()].sum(axis=1), total, rtol=1e-12, atol=0), (e[()].sum(axis=1), total)\n"
                        "    np.savetxt('energies.txt', e[()], fmt='%.17g')\n");
  REQUIRE(std::system(("cd '" + h5md.directory().string() + "' && /usr/bin/python3 dump.py").c_str()) == 0);
  std::istringstream rows(h5md.read("energies.txt"));
  for (std::size_t k = 0; k < 3; ++k)
    for (std::size_t i = 0; i < 108; ++i) {
      double value = 0.0;
      REQUIRE(rows >> value);
      CHECK(value == Approx(extxyz_energies[k][i]).margin(1e-15));
    }
}

TEST_CASE("run: a blow-up stops with the step and atom, keeping a checkpoint of the last good step",
          "[app][run][bad-input]") {
  CliSandbox sandbox;
  // Two atoms 1.0 A apart (warned about), and one launched at 1e10 A/fs: after one 5 fs step it is 5e10 A
  // away, and the run must stop there rather than bin it.
  sandbox.write("start.extxyz",
                "3\nLattice=\"20 0 0 0 20 0 0 0 20\" Properties=species:S:1:pos:R:3:velocities:R:3 pbc=\"T T T\"\n"
                "Ar 5 5 5 0 0 0\nAr 6 5 5 0 0 0\nAr 12 12 12 1e10 0 0\n");
  std::string input = argon_input("[integrator]\nkind = \"nve\"\ntimestep = 5.0\n", 1000, "min_distance = 1.5\n");
  const std::string lattice = "lattice = \"fcc\"\nlattice_constant = 5.6\nrepeat = [3, 3, 3]\nspecies = [\"Ar\"]\n"
                              "random_displacement = 0.05";
  input.replace(input.find(lattice), lattice.size(), "file = \"start.extxyz\"");
  const std::string velocities = "kind = \"maxwell_boltzmann\"\ntemperature = 120.0\nseed = 11";
  input.replace(input.find(velocities), velocities.size(), "kind = \"structure\"");
  sandbox.write("input.toml", input);
  const CommandResult result = sandbox.run("run input.toml");
  INFO(result.err);
  CHECK(result.exit_code == 1);
  CHECK(result.err.find("warning: atoms 0 (Ar) and 1 (Ar) are only 1.0000 A apart") != std::string::npos);
  CHECK(result.err.find("error: step 1: atom 2 (Ar) is at (5e+10, 12, 12) A, far outside the cell") !=
        std::string::npos);
  CHECK(result.err.find("blew up") != std::string::npos);
  REQUIRE(sandbox.exists("checkpoint.h5"));
  const nqmd::Checkpoint last_good = nqmd::read_checkpoint(sandbox.path("checkpoint.h5"));
  CHECK(std::isfinite(last_good.energy));
  for (const nqmd::Vec3& position : last_good.system.positions) CHECK(position.allFinite());
  // The checkpoint holds the last good step, 0, with the atom still at its start.
  CHECK(last_good.step == 0);
  CHECK(last_good.system.positions[2].x() == 12.0);
}

TEST_CASE("run: a checkpoint of another system is refused", "[app][run][bad-input]") {
  CliSandbox sandbox;
  const std::string integrator = "[integrator]\nkind = \"nve\"\ntimestep = 5.0\n";
  sandbox.write("small.toml", argon_input(integrator, 5));
  REQUIRE(sandbox.run("run small.toml").exit_code == 0);
  std::string bigger = argon_input(integrator, 10);
  bigger.replace(bigger.find("repeat = [3, 3, 3]"), 18, "repeat = [4, 3, 3]");
  sandbox.write("bigger.toml", bigger);
  const CommandResult result = sandbox.run("run bigger.toml --restart checkpoint.h5");
  CHECK(result.exit_code == 1);
  CHECK(result.err.find("checkpoint has 108 atoms but the input describes 144") != std::string::npos);
  sandbox.write("not_a_checkpoint.h5", "hello");
  const CommandResult garbage = sandbox.run("run small.toml --restart not_a_checkpoint.h5");
  CHECK(garbage.exit_code == 1);
  CHECK(garbage.err.find("not_a_checkpoint.h5: not an HDF5 file") != std::string::npos);
}

TEST_CASE("run: the pressure of an ideal gas is N k T / V", "[app][run]") {
  CliSandbox sandbox;
  std::string input = argon_input("[integrator]\nkind = \"nve\"\ntimestep = 5.0\n", 10);
  const std::size_t start = input.find("[potential]");
  input.replace(start, input.find("[neighbor]") - start, "[potential]\nkind = \"none\"\n\n");
  sandbox.write("input.toml", input);
  const CommandResult result = sandbox.run("run input.toml");
  INFO(result.err);
  REQUIRE(result.exit_code == 0);
  std::istringstream rows(sandbox.read("thermo.csv"));
  std::string header, row;
  std::getline(rows, header);
  std::getline(rows, row);
  std::vector<double> values;
  std::istringstream fields(row);
  for (std::string field; std::getline(fields, field, ',');) values.push_back(std::stod(field));
  const double kinetic = values[3], temperature = values[6], pressure_bar = values[7], volume = values[8];
  const double atoms = 108;
  CHECK(volume == Approx(std::pow(3 * 5.6, 3)).epsilon(1e-12));
  // P V = 2 K / 3 exactly (no virial) ...
  CHECK(pressure_bar == Approx(2.0 * kinetic / (3.0 * volume) * nqmd::units::ev_per_a3_to_bar).epsilon(1e-12));
  // ... which is N k T / V with T counted over 3N - 3 degrees of freedom, up to the factor (N - 1) / N.
  CHECK(pressure_bar == Approx((atoms - 1) * nqmd::units::boltzmann_ev_per_k * temperature / volume *
                               nqmd::units::ev_per_a3_to_bar)
                            .epsilon(1e-12));
  CHECK(temperature == Approx(120.0).epsilon(1e-12));
}

TEST_CASE("run: a fresh run refuses to clobber another run's outputs unless told to", "[app][run][bad-input]") {
  CliSandbox sandbox;
  sandbox.write("input.toml", argon_input("[integrator]\nkind = \"nve\"\ntimestep = 5.0\n", 5));
  REQUIRE(sandbox.run("run input.toml").exit_code == 0);
  const std::string first_thermo = sandbox.read("thermo.csv");
  const CommandResult again = sandbox.run("run input.toml");
  CHECK(again.exit_code == 1);
  CHECK(again.err.find("already exist: thermo.csv ([run] thermo_file)") != std::string::npos);
  CHECK(sandbox.read("thermo.csv") == first_thermo);  // untouched
  CHECK(sandbox.run("run input.toml --force").exit_code == 0);
  sandbox.write("input.toml", argon_input("[integrator]\nkind = \"nve\"\ntimestep = 5.0\n", 5, "overwrite = true\n"));
  CHECK(sandbox.run("run input.toml").exit_code == 0);
}

TEST_CASE("run: the watchdog stops a diverging run at the step and atom, keeping the last good step",
          "[app][run][watchdog]") {
  CliSandbox sandbox;
  // 40 fs steps in liquid-like argon at 600 K: atoms move more than 0.5 A within a few steps.
  std::string input = argon_input("[integrator]\nkind = \"nve\"\ntimestep = 40.0\n", 1000);
  input.replace(input.find("temperature = 120.0"), 19, "temperature = 600.0");
  input += "\n[watchdog]\nmax_displacement = 0.5\n";
  sandbox.write("input.toml", input);
  const CommandResult result = sandbox.run("run input.toml");
  INFO(result.err);
  CHECK(result.exit_code == 1);
  CHECK(result.err.find("watchdog: atom ") != std::string::npos);
  CHECK(result.err.find("above max_displacement = 0.5 A") != std::string::npos);
  const std::size_t at = result.err.find("error: step ") + 12;
  const std::uint64_t bad_step = std::stoull(result.err.substr(at));
  const nqmd::Checkpoint last_good = nqmd::read_checkpoint(sandbox.path("checkpoint.h5"));
  CHECK(last_good.step == bad_step - 1);
  // The thermo file ends with the last good step.
  const std::string thermo = sandbox.read("thermo.csv");
  const std::size_t last_row = thermo.rfind('\n', thermo.size() - 2) + 1;
  CHECK(std::stoull(thermo.substr(last_row)) == last_good.step);

  // Turning the check off lets the same run go on (it is only fast, not broken).
  input.replace(input.find("max_displacement = 0.5"), 22, "max_displacement = 0.0");
  input.replace(input.find("steps = 1000"), 12, "steps = 10");
  sandbox.write("input.toml", input);
  CHECK(sandbox.run("run input.toml --force").exit_code == 0);
}
