// `nequip-md analyze analysis.toml` end to end: synthetic trajectories written as extended XYZ (fcc crystal with
// thermal noise, random walkers with a known D, harmonic oscillators with velocities), run through the command
// line, checked in the CSV files, the summary and the figures; and bad analysis files -> exit 1 with one line.
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <random>
#include <regex>
#include <sstream>
#include <string>
#include <vector>

#include <catch2/catch.hpp>
#include <fmt/format.h>

#include "app/analyze_command.hpp"
#include "app/input_reference.hpp"
#include "cli_runner.hpp"
#include "engine/units.hpp"
#include "io/extxyz.hpp"
#include "test_paths.hpp"

namespace {

using nqmd::Vec3;
using nqmd::test::CliSandbox;
using nqmd::test::CommandResult;

constexpr double kPi = 3.14159265358979323846;

// Frames [frame][atom] of positions (and velocities, A/fs) in a cubic periodic box of side `box`, written as
// extended XYZ with the info key time_fs = k * dt.
void write_trajectory(const std::string& path, double box, const std::vector<std::string>& symbols,
                      const std::vector<std::vector<Vec3>>& positions, double dt_fs,
                      const std::vector<std::vector<Vec3>>& velocities = {}) {
  nqmd::Mat3 lattice = nqmd::Mat3::Identity() * box;
  nqmd::ExtxyzWriter writer(path);
  for (std::size_t k = 0; k < positions.size(); ++k) {
    nqmd::Frame frame;
    frame.system.cell = nqmd::Cell(lattice, {true, true, true});
    for (std::size_t i = 0; i < symbols.size(); ++i) frame.system.add_atom(symbols[i], positions[k][i]);
    if (!velocities.empty()) {
      frame.system.velocities = velocities[k];
      frame.has_velocities = true;
    }
    frame.info = {{"step", std::to_string(k)}, {"time_fs", fmt::format("{:.1f}", dt_fs * static_cast<double>(k))}};
    writer.write(frame);
  }
  writer.flush();
}

// fcc, lattice constant a, 3 x 3 x 3 conventional cells (108 atoms), Gaussian noise sigma per coordinate; all
// argon, or Na on the corner sites and Cl on the face centres (108 = 27 Na + 81 Cl).
void write_fcc(const std::string& path, double a, double sigma, std::size_t frames, unsigned seed,
               bool two_species = false) {
  const Vec3 basis[4] = {Vec3(0, 0, 0), Vec3(0, 0.5, 0.5), Vec3(0.5, 0, 0.5), Vec3(0.5, 0.5, 0)};
  std::vector<Vec3> lattice_sites;
  for (int i = 0; i < 3; ++i)
    for (int j = 0; j < 3; ++j)
      for (int k = 0; k < 3; ++k)
        for (const Vec3& b : basis) lattice_sites.push_back(a * (Vec3(i, j, k) + b));
  std::mt19937_64 generator(seed);
  std::normal_distribution<double> noise(0.0, sigma);
  std::vector<std::vector<Vec3>> positions(frames, lattice_sites);
  for (auto& frame : positions)
    for (Vec3& x : frame) x += Vec3(noise(generator), noise(generator), noise(generator));
  std::vector<std::string> symbols(lattice_sites.size(), "Ar");
  if (two_species)
    for (std::size_t i = 0; i < symbols.size(); ++i) symbols[i] = i % 4 == 0 ? "Na" : "Cl";
  write_trajectory(path, 3 * a, symbols, positions, 10.0);
}

// Independent Gaussian random walks, D per atom in A^2/ps, in a box too large for them to wrap.
void write_walkers(const std::string& path, const std::vector<std::string>& symbols, const std::vector<double>& d_a2_per_ps,
                   std::size_t frames, double dt_fs, unsigned seed) {
  std::mt19937_64 generator(seed);
  std::normal_distribution<double> unit(0.0, 1.0);
  std::vector<std::vector<Vec3>> positions(frames, std::vector<Vec3>(symbols.size()));
  for (std::size_t i = 0; i < symbols.size(); ++i) positions[0][i] = Vec3(400.0 + 3.0 * i, 500.0, 500.0 - 2.0 * i);
  for (std::size_t k = 1; k < frames; ++k)
    for (std::size_t i = 0; i < symbols.size(); ++i) {
      const double step = std::sqrt(2.0 * d_a2_per_ps[i] / 1000.0 * dt_fs);
      positions[k][i] = positions[k - 1][i] + step * Vec3(unit(generator), unit(generator), unit(generator));
    }
  write_trajectory(path, 1000.0, symbols, positions, dt_fs);
}

// A CSV file as columns by header name.
std::map<std::string, std::vector<std::string>> read_csv(const std::string& text) {
  std::istringstream in(text);
  std::string line;
  std::getline(in, line);
  std::vector<std::string> header;
  std::stringstream header_line(line);
  for (std::string name; std::getline(header_line, name, ',');) header.push_back(name);
  std::map<std::string, std::vector<std::string>> columns;
  for (const std::string& name : header) columns[name];
  while (std::getline(in, line)) {
    std::stringstream cells(line);
    std::string cell;
    for (std::size_t c = 0; c < header.size() && std::getline(cells, cell, ','); ++c) columns[header[c]].push_back(cell);
  }
  return columns;
}

std::vector<double> numbers(const std::vector<std::string>& cells) {
  std::vector<double> values;
  for (const std::string& cell : cells) values.push_back(std::stod(cell));
  return values;
}

bool gnuplot_present() { return std::system("command -v gnuplot > /dev/null 2>&1") == 0; }

bool is_png(const CliSandbox& sandbox, const std::string& name) {
  const std::string bytes = sandbox.read(name);
  return bytes.size() > 1000 && bytes.compare(0, 8, "\x89PNG\r\n\x1a\n") == 0;
}

std::size_t count_lines(const std::string& text) {
  std::size_t lines = 0;
  for (const char c : text) lines += c == '\n';
  return lines;
}

}  // namespace

TEST_CASE("analyze [rdf]: thermal fcc crystal, first peak at a/sqrt(2) with 12 neighbours, an identical reference "
          "differs by zero", "[app][analyze]") {
  CliSandbox sandbox;
  const double a = 4.0;
  write_fcc(sandbox.path("fcc.extxyz"), a, 0.05, 24, 11);
  sandbox.write("analysis.toml", R"([trajectory]
file = "fcc.extxyz"

[reference]
file = "fcc.extxyz"

[rdf]
bins = 300
blocks = 4

[output]
directory = "out"
)");
  const CommandResult result = sandbox.run("analyze analysis.toml");
  INFO(result.out << result.err);
  REQUIRE(result.exit_code == 0);

  const std::string csv = sandbox.read("out/rdf.csv");
  REQUIRE(csv.rfind("r_A,g_total,g_total_err,n_total,g_Ar_Ar,g_Ar_Ar_err,n_Ar_Ar\n", 0) == 0);
  auto columns = read_csv(csv);
  const std::vector<double> r = numbers(columns["r_A"]), g = numbers(columns["g_Ar_Ar"]),
                            n = numbers(columns["n_Ar_Ar"]), g_err = numbers(columns["g_Ar_Ar_err"]);
  REQUIRE(r.size() == 300);
  CHECK(r.back() == Approx(6.0 - 0.01));  // r_max = half the 12 A box
  std::size_t top = 0;
  for (std::size_t k = 0; k < g.size(); ++k)
    if (g[k] > g[top]) top = k;
  CHECK(r[top] == Approx(a / std::sqrt(2.0)).margin(0.03));
  CHECK(g_err[top] > 0.0);
  CHECK(g_err[top] < 0.2 * g[top]);
  // 12 nearest neighbours within the gap between the first (2.83 A) and second (4.0 A) shells.
  for (std::size_t k = 0; k < r.size(); ++k)
    if (std::abs(r[k] - 3.41) < 0.011) CHECK(n[k] == Approx(12.0).margin(1e-9));
  CHECK(result.out.find("[rdf] Ar-Ar: first peak r = 2.8") != std::string::npos);
  CHECK(result.out.find("coordination n = 12.000") != std::string::npos);

  // The reference is the same file: every difference is zero and the first peaks agree.
  CHECK(sandbox.read("out/rdf_reference.csv") == csv);
  auto comparison = read_csv(sandbox.read("out/rdf_comparison.csv"));
  REQUIRE(comparison["pair"] == std::vector<std::string>{"Ar-Ar"});
  CHECK(std::stod(comparison["integral_abs_difference_A"][0]) == 0.0);
  CHECK(std::stod(comparison["max_abs_difference"][0]) == 0.0);
  CHECK(comparison["first_peak_r_A"][0] == comparison["reference_first_peak_r_A"][0]);
  CHECK(result.out.find("[rdf] Ar-Ar vs reference: integral |g - g_ref| dr = 0 A, max |g - g_ref| = 0") !=
        std::string::npos);
  CHECK(result.out.find("first peak shift +0.0000 A, height ratio 1.0000") != std::string::npos);
  CHECK(sandbox.read("out/summary.txt").find("[rdf] Ar-Ar: first peak") != std::string::npos);

  if (gnuplot_present()) {
    CHECK(is_png(sandbox, "out/rdf_Ar_Ar.png"));
    CHECK(sandbox.read("out/rdf_Ar_Ar.svg").find("<svg") != std::string::npos);
    CHECK(sandbox.read("out/rdf_Ar_Ar.gp").find("rdf_reference.csv") != std::string::npos);
    CHECK_FALSE(sandbox.exists("out/rdf_total.png"));  // one species: the total is the Ar-Ar curve
  }
}

TEST_CASE("analyze [rdf]: chosen pairs of two species, a reference without one of them is compared where it can "
          "be, with warnings", "[app][analyze]") {
  CliSandbox sandbox;
  write_fcc(sandbox.path("nacl.extxyz"), 4.0, 0.05, 8, 7, true);
  write_fcc(sandbox.path("reference.extxyz"), 4.0, 0.05, 8, 8);
  sandbox.write("analysis.toml", R"([trajectory]
file = "nacl.extxyz"

[reference]
file = "reference.extxyz"

[rdf]
pairs = ["Na-Cl", "Cl-Cl"]
blocks = 2
)");
  const CommandResult result = sandbox.run("analyze analysis.toml");
  INFO(result.out << result.err);
  REQUIRE(result.exit_code == 0);
  const std::string csv = sandbox.read("analysis/rdf.csv");
  CHECK(csv.rfind("r_A,g_total,g_total_err,n_total,g_Na_Cl,g_Na_Cl_err,n_Na_Cl,g_Cl_Cl,g_Cl_Cl_err,n_Cl_Cl\n", 0) == 0);
  // Each Na (a cube corner) has 12 Cl (face centres) at a/sqrt(2); each Cl has 8 Cl there.
  CHECK(result.out.find("[rdf] Na-Cl: first peak r = 2.8") != std::string::npos);
  CHECK(result.out.find("coordination n = 12.000") != std::string::npos);
  CHECK(result.out.find("coordination n = 8.000") != std::string::npos);
  // The all-argon reference has the total only: its partial columns are NaN, and only the total is compared.
  auto reference = read_csv(sandbox.read("analysis/rdf_reference.csv"));
  CHECK(reference["g_Na_Cl"][0] == "nan");
  auto comparison = read_csv(sandbox.read("analysis/rdf_comparison.csv"));
  CHECK(comparison["pair"] == std::vector<std::string>{"total"});
  CHECK(std::stod(comparison["integral_abs_difference_A"][0]) < 0.5);  // two noisy samples of the same crystal
  CHECK(result.err.find("warning: [rdf] pair Na-Cl is not in the reference trajectory: not compared") !=
        std::string::npos);
  CHECK(result.out.find("warnings (2):") != std::string::npos);
  if (gnuplot_present()) {
    CHECK(is_png(sandbox, "analysis/rdf_total.png"));
    CHECK(is_png(sandbox, "analysis/rdf_Na_Cl.png"));
    CHECK(sandbox.read("analysis/rdf_total.gp").find("rdf_reference.csv") != std::string::npos);
    CHECK(sandbox.read("analysis/rdf_Na_Cl.gp").find("rdf_reference.csv") == std::string::npos);
  }
}

TEST_CASE("analyze [msd]: random walkers, D within its error of the truth, Haven ratio 1, D ratio to an identical "
          "reference 1", "[app][analyze]") {
  CliSandbox sandbox;
  std::vector<std::string> symbols;
  std::vector<double> d;
  for (int i = 0; i < 80; ++i) {
    symbols.push_back(i % 2 ? "Na" : "Li");
    d.push_back(i % 2 ? 0.1 : 0.5);  // A^2/ps
  }
  write_walkers(sandbox.path("walk.extxyz"), symbols, d, 500, 10.0, 5);
  sandbox.write("analysis.toml", R"([trajectory]
file = "walk.extxyz"

[reference]
file = "walk.extxyz"

[msd]
collective = true
)");
  const CommandResult result = sandbox.run("analyze analysis.toml");
  INFO(result.out << result.err);
  REQUIRE(result.exit_code == 0);

  auto msd = read_csv(sandbox.read("analysis/msd.csv"));
  REQUIRE(msd.count("time_ps") == 1);
  REQUIRE(msd.count("msd_Li_A2") == 1);
  REQUIRE(msd.count("msd_Li_collective_A2") == 1);
  REQUIRE(msd.count("msd_Na_A2") == 1);
  const std::vector<double> time = numbers(msd["time_ps"]), msd_li = numbers(msd["msd_Li_A2"]);
  REQUIRE(time.size() == 500);
  CHECK(time[1] == Approx(0.01));
  CHECK(msd_li[100] == Approx(6 * 0.5 * time[100]).epsilon(0.25));  // 6 D t at 1 ps

  auto diffusion = read_csv(sandbox.read("analysis/diffusion.csv"));
  REQUIRE(diffusion["species"] == std::vector<std::string>{"Li", "Li", "Na", "Na"});
  REQUIRE(diffusion["kind"] == std::vector<std::string>{"tracer", "collective", "tracer", "collective"});
  const std::vector<double> value = numbers(diffusion["D_A2_per_ps"]), error = numbers(diffusion["D_err_A2_per_ps"]),
                            cm2 = numbers(diffusion["D_cm2_per_s"]);
  for (const std::size_t row : {0, 2}) {
    const double truth = row == 0 ? 0.5 : 0.1;
    INFO("tracer row " << row << ": D = " << value[row] << " +- " << error[row] << ", truth " << truth);
    CHECK(std::abs(value[row] - truth) < 3.0 * error[row]);
    CHECK(error[row] < 0.25 * truth);
    CHECK(cm2[row] == Approx(value[row] * 1e-4));
  }
  CHECK(diffusion["error_method"][0] == "atoms");
  CHECK(diffusion["error_method"][1] == "time_blocks");
  // Automatic window: 10% to 50% of the 4.99 ps trajectory.
  CHECK(std::stod(diffusion["fit_start_ps"][0]) == Approx(0.5).margin(0.011));
  CHECK(std::stod(diffusion["fit_end_ps"][0]) == Approx(2.49).margin(0.011));

  auto haven = read_csv(sandbox.read("analysis/haven_ratio.csv"));
  const std::vector<double> ratio = numbers(haven["haven_ratio"]), ratio_error = numbers(haven["haven_ratio_err"]);
  REQUIRE(ratio.size() == 2);
  for (std::size_t s = 0; s < 2; ++s) {
    INFO("Haven ratio " << ratio[s] << " +- " << ratio_error[s]);
    CHECK(std::abs(ratio[s] - 1.0) < 3.0 * ratio_error[s]);
  }
  CHECK(result.out.find("[msd] Li: D* = ") != std::string::npos);
  CHECK(result.out.find("cm^2/s (error from atoms, 40 samples") != std::string::npos);
  CHECK(result.out.find("[msd] Na: D_sigma = ") != std::string::npos);
  CHECK(result.out.find("Haven ratio H_R = D*/D_sigma = ") != std::string::npos);

  auto comparison = read_csv(sandbox.read("analysis/diffusion_comparison.csv"));
  REQUIRE(comparison["species"] == std::vector<std::string>{"Li", "Na"});
  for (std::size_t s = 0; s < 2; ++s) {
    CHECK(std::stod(comparison["ratio"][s]) == Approx(1.0));
    CHECK(std::stod(comparison["difference_sigma"][s]) == 0.0);
    // Relative errors of two equal values added in quadrature.
    CHECK(std::stod(comparison["ratio_err"][s]) == Approx(std::sqrt(2.0) * error[2 * s] / value[2 * s]).epsilon(1e-6));
  }
  CHECK(result.out.find("D*/D*_reference = 1.") != std::string::npos);

  if (gnuplot_present()) {
    CHECK(is_png(sandbox, "analysis/msd_Li.png"));
    CHECK(is_png(sandbox, "analysis/msd_Na.png"));
    const std::string script = sandbox.read("analysis/msd_Li.gp");
    CHECK(script.find("set object 1 rect from 0.5") != std::string::npos);  // the fit window
    CHECK(script.find("? 6 * ") != std::string::npos);                     // the fitted line
  }
}

TEST_CASE("analyze [msd]: a reference without times is left out of the MSD comparison, a trajectory without "
          "times is an error",
          "[app][analyze]") {
  CliSandbox sandbox;
  write_walkers(sandbox.path("walk.extxyz"), std::vector<std::string>(20, "Li"), std::vector<double>(20, 0.5), 100, 10.0,
                5);
  // The same frames as ab-initio snapshots usually come: no time_fs info key.
  const std::string timed = sandbox.read("walk.extxyz");
  const std::string untimed = std::regex_replace(timed, std::regex(" time_fs=[0-9.]+"), "");
  REQUIRE(untimed != timed);
  sandbox.write("snapshots.extxyz", untimed);

  sandbox.write("analysis.toml", "[trajectory]\nfile = \"walk.extxyz\"\n[reference]\nfile = \"snapshots.extxyz\"\n"
                                 "[msd]\n");
  CommandResult result = sandbox.run("analyze analysis.toml");
  INFO(result.out << result.err);
  REQUIRE(result.exit_code == 0);
  CHECK(result.out.find("snapshots.extxyz: 100 frames, no times") != std::string::npos);
  CHECK((result.out + result.err).find("records no times: its MSD is not compared") != std::string::npos);
  CHECK(result.out.find("D*/D*_reference") == std::string::npos);
  CHECK_FALSE(sandbox.exists("analysis/diffusion_comparison.csv"));
  CHECK_FALSE(sandbox.exists("analysis/msd_reference.csv"));
  CHECK(sandbox.exists("analysis/diffusion.csv"));

  // Given the interval, the reference is a trajectory again: the same walk, so the ratio is 1.
  sandbox.write("analysis.toml", "[trajectory]\nfile = \"walk.extxyz\"\n[reference]\nfile = \"snapshots.extxyz\"\n"
                                 "frame_interval = 10.0\n[msd]\n[output]\noverwrite = true\n");
  result = sandbox.run("analyze analysis.toml");
  INFO(result.out << result.err);
  REQUIRE(result.exit_code == 0);
  auto comparison = read_csv(sandbox.read("analysis/diffusion_comparison.csv"));
  REQUIRE(comparison["species"] == std::vector<std::string>{"Li"});
  CHECK(std::stod(comparison["ratio"][0]) == Approx(1.0));

  // The trajectory analysed must have times.
  sandbox.write("analysis.toml", "[trajectory]\nfile = \"snapshots.extxyz\"\n[msd]\n[output]\noverwrite = true\n");
  result = sandbox.run("analyze analysis.toml");
  CHECK(result.exit_code == 1);
  CHECK(result.err.find("analysis.toml") != std::string::npos);
  CHECK(result.err.find("no time_fs info key") != std::string::npos);
  CHECK(result.err.find("frame interval") != std::string::npos);
}

TEST_CASE("analyze [msd]: direction-resolved D of an anisotropic random walk, parallel and perpendicular to an axis",
          "[app][analyze]") {
  // 60 Li walkers with D_x = 0.1, D_y = 0.2, D_z = 0.6 A^2/ps (Gaussian steps of variance 2 D dt per axis).
  const double d_axis[3] = {0.1, 0.2, 0.6};
  const std::size_t atoms = 60, frames = 500;
  const double dt_fs = 10.0;
  std::mt19937_64 generator(17);
  std::normal_distribution<double> unit(0.0, 1.0);
  std::vector<std::vector<Vec3>> positions(frames, std::vector<Vec3>(atoms));
  for (std::size_t i = 0; i < atoms; ++i) positions[0][i] = Vec3(300.0 + 6.0 * i, 500.0, 700.0 - 5.0 * i);
  for (std::size_t k = 1; k < frames; ++k)
    for (std::size_t i = 0; i < atoms; ++i)
      for (int axis = 0; axis < 3; ++axis)
        positions[k][i][axis] =
            positions[k - 1][i][axis] + std::sqrt(2.0 * d_axis[axis] / 1000.0 * dt_fs) * unit(generator);
  CliSandbox sandbox;
  write_trajectory(sandbox.path("walk.extxyz"), 1000.0, std::vector<std::string>(atoms, "Li"), positions, dt_fs);
  sandbox.write("analysis.toml", "[trajectory]\nfile = \"walk.extxyz\"\n[msd]\ndirections = [\"x\", \"y\", \"z\"]\n"
                                 "axis = [0, 0, 2]\n");
  const CommandResult result = sandbox.run("analyze analysis.toml");
  INFO(result.out << result.err);
  REQUIRE(result.exit_code == 0);
  auto table = read_csv(sandbox.read("analysis/diffusion_directions.csv"));
  REQUIRE(table["direction"] ==
          std::vector<std::string>{"x", "y", "z", "parallel [0 0 2]", "perpendicular [0 0 2]"});
  const std::vector<double> value = numbers(table["D_A2_per_ps"]), error = numbers(table["D_err_A2_per_ps"]);
  const double truth[5] = {0.1, 0.2, 0.6, 0.6, 0.15};
  for (std::size_t row = 0; row < 5; ++row) {
    INFO(table["direction"][row] << ": D = " << value[row] << " +- " << error[row] << ", truth " << truth[row]);
    CHECK(std::abs(value[row] - truth[row]) < 3.0 * error[row]);
    CHECK(error[row] < 0.2 * truth[row]);
  }
  // The z component and the component along the axis [0 0 2] are the same projection.
  CHECK(value[3] == Approx(value[2]).epsilon(1e-12));
  // The 3D D* is the mean of the three components (trace / 3), fit for fit.
  auto diffusion = read_csv(sandbox.read("analysis/diffusion.csv"));
  CHECK(numbers(diffusion["D_A2_per_ps"])[0] == Approx((value[0] + value[1] + value[2]) / 3.0).epsilon(1e-7));  // 8 digits in CSV
  CHECK(result.out.find("anisotropy D*_parallel / D*_perpendicular along [0 0 2] = ") != std::string::npos);

  sandbox.write("analysis.toml", "[trajectory]\nfile = \"walk.extxyz\"\n[msd]\naxis = [0, 0, 0]\n[output]\n"
                                 "overwrite = true\n");
  const CommandResult bad = sandbox.run("analyze analysis.toml");
  CHECK(bad.exit_code == 1);
  CHECK(bad.err.find("analysis.toml:4: [msd] axis: must be a non-zero vector") != std::string::npos);
}

TEST_CASE("analyze [msd]: the Yeh-Hummer finite-size correction of D*", "[app][analyze]") {
  CliSandbox sandbox;
  write_walkers(sandbox.path("walk.extxyz"), std::vector<std::string>(20, "Li"), std::vector<double>(20, 0.5), 100, 10.0,
                3);
  sandbox.write("analysis.toml", "[trajectory]\nfile = \"walk.extxyz\"\n[msd]\nviscosity_mpa_s = 0.89\n"
                                 "temperature = 300.0\n");
  CommandResult result = sandbox.run("analyze analysis.toml");
  INFO(result.out << result.err);
  REQUIRE(result.exit_code == 0);
  // xi k_B T / (6 pi eta L), xi = 2.837297, L = 1000 A: 7.0046e-12 m^2/s.
  const double correction_cm2_per_s = 2.837297 * 1.380649e-23 * 300.0 / (6.0 * M_PI * 0.89e-3 * 1000e-10) * 1e4;
  CHECK(result.out.find(fmt::format("(correction {:.4g} cm^2/s)", correction_cm2_per_s)) != std::string::npos);
  CHECK(result.out.find("Yeh-Hummer (eta = 0.89 mPa s, T = 300 K, L = 1000.0000 A)") != std::string::npos);
  sandbox.write("analysis.toml", "[trajectory]\nfile = \"walk.extxyz\"\n[msd]\nviscosity_mpa_s = 0.89\n");
  result = sandbox.run("analyze analysis.toml");
  CHECK(result.exit_code == 1);
  CHECK(result.err.find("analysis.toml:3: [msd] temperature: needed by viscosity_mpa_s") != std::string::npos);
}

TEST_CASE("analyze [vdos]: harmonic oscillators, VDOS peak at the analytic frequency", "[app][analyze]") {
  CliSandbox sandbox;
  // 16 atoms oscillating independently along x, y and z at nu = 6 THz with random phases; 2 fs frames.
  const double nu_per_fs = 0.006, dt = 2.0, amplitude = 0.05;
  const std::size_t atoms = 16, frames = 1500;
  std::mt19937_64 generator(3);
  std::uniform_real_distribution<double> phase(0.0, 2.0 * kPi);
  std::vector<Vec3> phases(atoms);
  for (Vec3& p : phases) p = Vec3(phase(generator), phase(generator), phase(generator));
  std::vector<std::vector<Vec3>> positions(frames, std::vector<Vec3>(atoms)), velocities = positions;
  const double omega = 2.0 * kPi * nu_per_fs;
  for (std::size_t k = 0; k < frames; ++k)
    for (std::size_t i = 0; i < atoms; ++i)
      for (int axis = 0; axis < 3; ++axis) {
        const double angle = omega * dt * static_cast<double>(k) + phases[i][axis];
        positions[k][i][axis] = 2.0 + 3.0 * static_cast<double>(i) + amplitude * std::cos(angle);
        velocities[k][i][axis] = -amplitude * omega * std::sin(angle);
      }
  write_trajectory(sandbox.path("oscillators.extxyz"), 60.0, std::vector<std::string>(atoms, "Ar"), positions, dt,
                   velocities);
  sandbox.write("analysis.toml", R"([trajectory]
file = "oscillators.extxyz"

[vdos]
correlation_time_fs = 1000.0
)");
  const CommandResult result = sandbox.run("analyze analysis.toml");
  INFO(result.out << result.err);
  REQUIRE(result.exit_code == 0);

  const std::string csv = sandbox.read("analysis/vdos.csv");
  REQUIRE(csv.rfind("frequency_THz,frequency_cm-1,vdos_total,vdos_Ar\n", 0) == 0);
  auto vdos = read_csv(csv);
  const std::vector<double> thz = numbers(vdos["frequency_THz"]), cm1 = numbers(vdos["frequency_cm-1"]),
                            total = numbers(vdos["vdos_total"]);
  REQUIRE(thz.size() == 501);  // nu_k = k / (2 t_c), k = 0 .. t_c / dt
  CHECK(thz[1] == Approx(0.5));
  CHECK(cm1[12] == Approx(6.0 * 33.35640951981521));
  std::size_t top = 0;
  double integral = 0.0;
  for (std::size_t k = 0; k < total.size(); ++k) {
    if (total[k] > total[top]) top = k;
    if (k > 0) integral += 0.5 * (total[k] + total[k - 1]) * (thz[k] - thz[k - 1]);
  }
  CHECK(thz[top] == Approx(6.0).margin(1e-9));
  CHECK(integral == Approx(3.0 * atoms).epsilon(1e-6));  // 3N degrees of freedom
  CHECK(result.out.find("[vdos] peaks: 6.000 THz (200.1 cm^-1)") != std::string::npos);
  CHECK(result.out.find("resolution 0.5 THz, Nyquist frequency 250 THz, correlation time 1000 fs") !=
        std::string::npos);

  auto vacf = read_csv(sandbox.read("analysis/vacf.csv"));
  const std::vector<double> normalized = numbers(vacf["vacf_all_normalized"]);
  CHECK(normalized[0] == Approx(1.0));
  // cos(omega t) at half a period (t = 1 / (2 nu) = 83.3 fs is not on the grid; 84 fs is): about -1.
  CHECK(normalized[42] == Approx(std::cos(omega * 84.0)).margin(0.02));
  if (gnuplot_present()) {
    CHECK(is_png(sandbox, "analysis/vdos.png"));
    CHECK(is_png(sandbox, "analysis/vacf.png"));
  }
}

TEST_CASE("analyze [arrhenius]: walkers with D = D0 exp(-Ea / kT) at three temperatures give Ea back",
          "[app][analyze]") {
  CliSandbox sandbox;
  const double ea = 0.3, d0 = 80.0;  // eV, A^2/ps
  const auto d_of = [&](double t) { return d0 * std::exp(-ea / (nqmd::units::boltzmann_ev_per_k * t)); };
  const std::vector<double> temperatures{600.0, 750.0, 900.0};
  // No [trajectory]: [arrhenius] reads its own runs.
  sandbox.write("analysis.toml", R"([arrhenius]
runs = ["runs/t600.extxyz", "runs/t750.extxyz", "runs/t900.extxyz"]
temperatures = [600, 750, 900]
species = "Li"
extrapolate_to = 300
charge = 1

[output]
formats = ["png"]
)");
  std::filesystem::create_directories(sandbox.path("runs"));
  for (std::size_t k = 0; k < temperatures.size(); ++k)
    write_walkers(sandbox.path(fmt::format("runs/t{}.extxyz", temperatures[k])), std::vector<std::string>(64, "Li"),
                  std::vector<double>(64, d_of(temperatures[k])), 300, 10.0, 20 + static_cast<unsigned>(k));
  const CommandResult result = sandbox.run("analyze analysis.toml");
  INFO(result.out << result.err);
  REQUIRE(result.exit_code == 0);

  auto points = read_csv(sandbox.read("analysis/arrhenius.csv"));
  REQUIRE(numbers(points["temperature_K"]) == temperatures);
  const std::vector<double> d = numbers(points["D_A2_per_ps"]), d_error = numbers(points["D_err_A2_per_ps"]);
  for (std::size_t k = 0; k < 3; ++k) {
    INFO("T = " << temperatures[k] << " K: D = " << d[k] << " +- " << d_error[k] << ", truth " << d_of(temperatures[k]));
    CHECK(std::abs(d[k] - d_of(temperatures[k])) < 3.0 * d_error[k]);
    CHECK(std::stod(points["1000_over_T_per_K"][k]) == Approx(1000.0 / temperatures[k]));
    CHECK(std::stod(points["ln_D_A2_per_ps"][k]) == Approx(std::log(d[k])));
  }
  // "[arrhenius] Li: Ea = V +- E eV": Ea within 3 errors of 0.3 eV, the error below 0.05 eV.
  const std::size_t at = result.out.find("[arrhenius] Li: Ea = ");
  REQUIRE(at != std::string::npos);
  std::istringstream line(result.out.substr(at + 21));
  double ea_fit = 0.0, ea_error = 0.0;
  std::string plus_minus;
  line >> ea_fit >> plus_minus >> ea_error;
  REQUIRE(plus_minus == "+-");
  CHECK(std::abs(ea_fit - ea) < 3.0 * ea_error);
  CHECK(ea_error < 0.05);

  auto extrapolated = read_csv(sandbox.read("analysis/arrhenius_extrapolated.csv"));
  const double d300 = std::stod(extrapolated["D_A2_per_ps"][0]), d300_error = std::stod(extrapolated["D_err_A2_per_ps"][0]);
  INFO("D(300 K) = " << d300 << " +- " << d300_error << ", truth " << d_of(300.0));
  CHECK(std::abs(d300 - d_of(300.0)) < 3.0 * d300_error);
  CHECK(result.out.find("[arrhenius] Li: D*(300 K) = ") != std::string::npos);

  // Nernst-Einstein in SI: sigma = n q^2 D / (k_B T), 64 walkers in the (1000 A)^3 box, q = 1.602176634e-19 C.
  auto conductivity = read_csv(sandbox.read("analysis/conductivity.csv"));
  REQUIRE(numbers(conductivity["temperature_K"]) == std::vector<double>{600.0, 750.0, 900.0, 300.0});
  const double n_per_m3 = 64.0 / 1e-21, q_c = 1.602176634e-19, k_j_per_k = 1.380649e-23;
  const auto sigma_ms_per_cm = [&](double d_a2_per_ps, double t) {
    return n_per_m3 * q_c * q_c * (d_a2_per_ps * 1e-8) / (k_j_per_k * t) / 100.0 * 1e3;  // A^2/ps = 1e-8 m^2/s
  };
  const std::vector<double> sigma = numbers(conductivity["sigma_HR1_mS_per_cm"]),
                            haven = numbers(conductivity["haven_ratio"]),
                            haven_error = numbers(conductivity["haven_ratio_err"]);
  for (std::size_t k = 0; k < 3; ++k) {
    INFO("T = " << temperatures[k] << " K: H_R = " << haven[k] << " +- " << haven_error[k]);
    CHECK(std::stod(conductivity["number_density_per_A3"][k]) == Approx(64.0 / 1e9));
    CHECK(sigma[k] == Approx(sigma_ms_per_cm(d[k], temperatures[k])).epsilon(1e-6));
    CHECK(std::abs(haven[k] - 1.0) < 3.0 * haven_error[k]);  // independent walkers: D_sigma = D*
  }
  CHECK(sigma[3] == Approx(sigma_ms_per_cm(d300, 300.0)).epsilon(1e-6));
  CHECK(std::stod(conductivity["sigma_mS_per_cm"][3]) == Approx(sigma[3] / haven[3]).epsilon(1e-6));
  CHECK(std::stod(conductivity["extrapolated"][3]) == 1.0);
  CHECK(result.out.find("[arrhenius] Li: sigma(300 K) = ") != std::string::npos);
  if (gnuplot_present()) {
    CHECK(is_png(sandbox, "analysis/arrhenius.png"));
    CHECK_FALSE(sandbox.exists("analysis/arrhenius.svg"));  // formats = ["png"]
  }
}

TEST_CASE("analyze without gnuplot: one warning, CSV files all the same", "[app][analyze]") {
  CliSandbox sandbox;
  write_fcc(sandbox.path("fcc.extxyz"), 4.0, 0.05, 10, 2);
  sandbox.write("analysis.toml", "[trajectory]\nfile = \"fcc.extxyz\"\n[rdf]\nblocks = 2\n[msd]\n");
  ::setenv("NQMD_GNUPLOT", "/nonexistent/gnuplot", 1);
  const CommandResult result = sandbox.run("analyze analysis.toml");
  ::unsetenv("NQMD_GNUPLOT");
  INFO(result.out << result.err);
  REQUIRE(result.exit_code == 0);
  std::size_t warnings = 0;
  for (std::size_t at = result.err.find("not found: no figures"); at != std::string::npos;
       at = result.err.find("not found: no figures", at + 1))
    ++warnings;
  CHECK(warnings == 1);
  CHECK(sandbox.exists("analysis/rdf.csv"));
  CHECK(sandbox.exists("analysis/msd.csv"));
  CHECK_FALSE(sandbox.exists("analysis/rdf_Ar_Ar.png"));
  CHECK_FALSE(sandbox.exists("analysis/msd_Ar.png"));
}

TEST_CASE("analyze: bad analysis files end with exit code 1 and one line naming file, line and key",
          "[app][analyze]") {
  CliSandbox sandbox;
  write_fcc(sandbox.path("fcc.extxyz"), 4.0, 0.05, 3, 4);
  write_fcc(sandbox.path("one.extxyz"), 4.0, 0.05, 1, 4);
  struct Case {
    std::string name;
    std::string text;
    std::vector<std::string> expected;  // parts of the error line
  };
  const std::vector<Case> cases{
      {"unknown key", "[trajectory]\nfile = \"fcc.extxyz\"\n\n[rdf]\nr_mx = 5.0\n",
       {"analysis.toml:5: unknown key 'r_mx' in [rdf]; did you mean 'r_max'?"}},
      {"unknown section", "[trajectory]\nfile = \"fcc.extxyz\"\n[rdff]\n", {"analysis.toml:3: unknown section [rdff]; did you mean 'rdf'?"}},
      {"missing trajectory file", "[trajectory]\nfile = \"missing.extxyz\"\n[rdf]\n",
       {"analysis.toml:2: [trajectory] file: ", "missing.extxyz: trajectory file not found"}},
      {"no [trajectory]", "[rdf]\n", {"analysis.toml: missing section [trajectory]"}},
      {"species not in the trajectory", "[trajectory]\nfile = \"fcc.extxyz\"\n[msd]\nspecies = [\"Xe\"]\n",
       {"analysis.toml:4: [msd] species: species 'Xe' is not in the trajectory", "(it has Ar)"}},
      {"pair not in the trajectory", "[trajectory]\nfile = \"fcc.extxyz\"\n[rdf]\npairs = [\"Ar-Kr\"]\n",
       {"analysis.toml:4: [rdf] pairs: species 'Kr' is not in the trajectory"}},
      {"malformed pair", "[trajectory]\nfile = \"fcc.extxyz\"\n[rdf]\npairs = [\"ArAr\"]\n",
       {"analysis.toml:4: [rdf] pairs: \"ArAr\" is not a pair of species"}},
      {"no velocities for [vdos]", "[trajectory]\nfile = \"fcc.extxyz\"\n\n[vdos]\n",
       {"analysis.toml:4: [vdos]: ", "has no velocities"}},
      {"too few frames", "[trajectory]\nfile = \"one.extxyz\"\n[msd]\n", {"analysis.toml:3: [msd]: ", "frame"}},
      {"bad fit window", "[trajectory]\nfile = \"fcc.extxyz\"\n[msd]\nfit_start_ps = 2.0\nfit_end_ps = 1.0\n",
       {"analysis.toml:5: [msd] fit_end_ps: must be after fit_start_ps"}},
      {"wrong error method", "[trajectory]\nfile = \"fcc.extxyz\"\n[msd]\nerror_method = \"atom\"\n",
       {"analysis.toml:4: [msd] error_method: unknown value \"atom\"; did you mean 'atoms'?"}},
      {"r_max beyond half the cell", "[trajectory]\nfile = \"fcc.extxyz\"\n[rdf]\nr_max = 9.0\n",
       {"analysis.toml:4: [rdf] r_max: "}},
      {"unknown figure format", "[trajectory]\nfile = \"fcc.extxyz\"\n[rdf]\n[output]\nformats = [\"pgn\"]\n",
       {"analysis.toml:5: [output] formats: unknown format \"pgn\"; did you mean 'png'?"}},
      {"no analysis", "[trajectory]\nfile = \"fcc.extxyz\"\n", {"analysis.toml: no analysis to run", "[rdf]"}},
      {"temperatures and runs differ", "[arrhenius]\nruns = [\"fcc.extxyz\", \"one.extxyz\"]\ntemperatures = [600]\nspecies = \"Ar\"\n",
       {"analysis.toml:3: [arrhenius] temperatures: has 1 values but runs has 2 files"}},
      {"missing arrhenius key", "[arrhenius]\nruns = [\"a\", \"b\"]\ntemperatures = [600, 700]\n",
       {"analysis.toml:1: [arrhenius] is missing required key 'species'"}},
  };
  for (const Case& bad : cases) {
    SECTION(bad.name) {
      sandbox.write("analysis.toml", bad.text);
      const CommandResult result = sandbox.run("analyze analysis.toml");
      INFO(result.err);
      CHECK(result.exit_code == 1);
      CHECK(count_lines(result.err) == 1);
      CHECK(result.err.rfind("error: ", 0) == 0);
      for (const std::string& part : bad.expected) CHECK(result.err.find(part) != std::string::npos);
    }
  }
  SECTION("a missing analysis file") {
    const CommandResult result = sandbox.run("analyze nothing.toml");
    CHECK(result.exit_code == 1);
    CHECK(result.err.find("nothing.toml") != std::string::npos);
  }
}

TEST_CASE("input reference documents the analysis.toml sections and keys", "[app][analyze][docs]") {
  const std::string text = nqmd::input_reference_markdown();
  std::size_t keys = 0;
  for (const nqmd::SectionSchema* schema : nqmd::analysis_input_sections()) {
    INFO("[" << schema->name << "]");
    const std::size_t heading = text.find("\n## [" + schema->name + "] (analysis.toml)\n");
    REQUIRE(heading != std::string::npos);
    const std::size_t next = text.find("\n## [", heading + 1);
    for (const nqmd::KeySpec& key : schema->keys) {
      INFO("key " << key.name);
      const std::size_t row = text.find("| `" + key.name + "` |", heading);
      CHECK(row < next);
      ++keys;
    }
  }
  CHECK(keys > 30);
  for (const char* name : {"trajectory", "reference", "output", "rdf", "msd", "vdos", "arrhenius"})
    CHECK(text.find(std::string("\n## [") + name + "] (analysis.toml)\n") != std::string::npos);
}

TEST_CASE("analyze an H5MD trajectory written by nequip-md run", "[app][analyze]") {
  CliSandbox sandbox;
  sandbox.write("input.toml", R"([structure]
lattice = "fcc"
lattice_constant = 5.78
repeat = [3, 3, 3]
species = ["Ar"]

[velocities]
kind = "maxwell_boltzmann"
temperature = 94.4
seed = 11

[potential]
kind = "lj"
species = ["Ar"]
epsilon = [0.01032]
sigma = [3.405]
cutoff = 8.5125
shift = true

[integrator]
kind = "nve"
timestep = 5.0

[output]
trajectory_file = "md.h5"
trajectory_every = 2

[run]
steps = 400
thermo_every = 100
)");
  const CommandResult md = sandbox.run("run input.toml");
  INFO(md.out << md.err);
  REQUIRE(md.exit_code == 0);
  sandbox.write("analysis.toml", R"([trajectory]
file = "md.h5"
first_frame = 100

[rdf]
bins = 100

[msd]

[vdos]

[output]
plots = false
)");
  const CommandResult result = sandbox.run("analyze analysis.toml");
  INFO(result.out << result.err);
  REQUIRE(result.exit_code == 0);
  // Frames 100 .. 200 of the file: 101 frames 10 fs apart, with velocities.
  CHECK(result.out.find("[trajectory] md.h5: 101 frames, 10 fs apart (1 ps in all), 108 atoms (Ar 108), with "
                        "velocities") != std::string::npos);
  auto rdf = read_csv(sandbox.read("analysis/rdf.csv"));
  CHECK(numbers(rdf["r_A"]).back() == Approx(0.5 * 17.34 * 0.995));  // r_max = half the box, last bin centre
  auto vdos = read_csv(sandbox.read("analysis/vdos.csv"));
  CHECK(numbers(vdos["frequency_THz"]).size() == 51);  // t_c = half of 1 ps: 50 lags
  CHECK(sandbox.exists("analysis/diffusion.csv"));
  CHECK_FALSE(sandbox.exists("analysis/vdos.gp"));  // plots = false
  CHECK(result.out.find("[rdf] Ar-Ar: first peak r = ") != std::string::npos);
}

TEST_CASE("the inputs/argon-analysis example runs and gives liquid argon's numbers", "[app][analyze][example]") {
  CliSandbox sandbox;
  std::ifstream input(nqmd::test::source_path("inputs/argon-analysis/input.toml"));
  std::ifstream analysis(nqmd::test::source_path("inputs/argon-analysis/analysis.toml"));
  std::stringstream input_text, analysis_text;
  input_text << input.rdbuf();
  analysis_text << analysis.rdbuf();
  REQUIRE_FALSE(input_text.str().empty());
  sandbox.write("input.toml", input_text.str());
  sandbox.write("analysis.toml", analysis_text.str());
  // The run's [analysis] section analyses the trajectory when the MD ends ...
  const CommandResult md = sandbox.run("run input.toml");
  INFO(md.out << md.err);
  REQUIRE(md.exit_code == 0);
  CHECK(md.out.find("analysis: ") != std::string::npos);
  CHECK(md.out.find("[rdf] Ar-Ar: first peak r = ") != std::string::npos);
  REQUIRE(sandbox.exists("analysis/diffusion.csv"));
  // ... and `analyze` repeats it on its own (replacing what the run's analysis wrote).
  const CommandResult result = sandbox.run("analyze analysis.toml --force");
  INFO(result.out << result.err);
  REQUIRE(result.exit_code == 0);
  auto diffusion = read_csv(sandbox.read("analysis/diffusion.csv"));
  const double d = std::stod(diffusion["D_A2_per_ps"][0]), d_error = std::stod(diffusion["D_err_A2_per_ps"][0]);
  // Rahman (1964): 0.243 A^2/ps at 94.4 K; this short run with a 2.5 sigma cutoff averages about 91 K.
  CHECK(d > 0.15);
  CHECK(d < 0.30);
  CHECK(d_error < 0.1 * d);
  auto comparison = read_csv(sandbox.read("analysis/rdf.csv"));
  const std::vector<double> r = numbers(comparison["r_A"]), g = numbers(comparison["g_Ar_Ar"]);
  std::size_t top = 0;
  for (std::size_t k = 0; k < g.size(); ++k)
    if (g[k] > g[top]) top = k;
  CHECK(r[top] == Approx(3.7).margin(0.1));  // a liquid: first peak near 1.09 sigma, about 3 high
  CHECK(g[top] > 2.5);
  CHECK(g[top] < 3.3);
  CHECK(result.out.find("[vdos] peaks: ") != std::string::npos);
}
