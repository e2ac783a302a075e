#pragma once
// What the H5MD tests share (test_h5md_writer.cpp, _reader, _resume, _kill): frames of a random walk to write, the
// writer's options, exact comparison of what is read with what was written, and the checks run by Debian's Python
// (h5py) on the files written.
#include <fmt/format.h>
#include <sys/wait.h>

#include <array>
#include <catch2/catch.hpp>
#include <cmath>
#include <cstdlib>
#include <fstream>
#include <random>
#include <string>
#include <utility>
#include <vector>

#include "engine/error.hpp"
#include "engine/observer.hpp"
#include "input_error_message.hpp"
#include "io/h5md.hpp"
#include "io/trajectory.hpp"
#include "temporary_directory.hpp"

namespace nqmd::test::h5md {

using Catch::Matchers::Contains;
using nqmd::Mat3;
using nqmd::Vec3;
using nqmd::Vec3i;

// A fresh directory per test, removed at the end.
class TemporaryDirectory : public nqmd::test::TemporaryDirectory {
 public:
  TemporaryDirectory() : nqmd::test::TemporaryDirectory("nqmd-test-h5md") {}
};

using nqmd::test::input_error_message;

inline void write_text(const std::string& path, const std::string& text) {
  REQUIRE(nqmd::test::write_text_file(path, text));
}
inline std::string read_text(const std::string& path) { return nqmd::test::read_text_file(path); }

// ---------------------------------------------------------------------------------------------------------------
// Frames to write: a random walk of a few atoms, stored wrapped with image counters, in a slightly fluctuating cell.

enum class Shape { triclinic, slab, cluster };

struct WrittenFrame {
  nqmd::System system;
  std::vector<Vec3> forces;
  Mat3 virial;
  nqmd::ThermoState thermo;
  std::vector<Vec3> true_positions;  // the unwrapped path
};

inline Vec3 normal_vector(std::mt19937_64& rng, double sigma) {
  std::normal_distribution<double> normal(0.0, sigma);
  return Vec3(normal(rng), normal(rng), normal(rng));
}

inline nqmd::System initial_system(Shape shape, std::mt19937_64& rng) {
  nqmd::System system;
  Mat3 lattice = Mat3::Zero();
  if (shape == Shape::triclinic) {
    lattice << 8.3, 0.0, 0.0, 1.7, 7.9, 0.0, -1.2, 0.8, 9.1;
    system.cell = nqmd::Cell(lattice, {true, true, true});
  } else if (shape == Shape::slab) {
    lattice << 7.5, 0.0, 0.0, 2.1, 6.8, 0.0, 0.0, 0.0, 0.0;
    system.cell = nqmd::Cell(lattice, {true, true, false});
  }
  std::uniform_real_distribution<double> unit(0.0, 1.0);
  const std::vector<std::string> symbols{"Cu", "O", "H", "O", "Cu", "H", "C"};
  for (const std::string& symbol : symbols) {
    Vec3 position = Vec3(unit(rng), unit(rng), unit(rng));
    position = shape == Shape::cluster ? Vec3(10.0 * position.array() - 5.0) : Vec3(lattice.transpose() * position);
    if (shape == Shape::slab) position.z() = 6.0 * unit(rng) - 3.0;
    system.add_atom(symbol, position);
  }
  system.masses[2] = 2.01410177811;  // deuterium: a mass that is not the standard one
  return system;
}

inline std::vector<WrittenFrame> random_walk(Shape shape, std::size_t count, double step_size, unsigned seed) {
  std::mt19937_64 rng(seed);
  std::uniform_real_distribution<double> uniform(-1.0, 1.0);
  const nqmd::System start = initial_system(shape, rng);
  std::vector<Vec3> path = start.positions;
  std::vector<WrittenFrame> frames;
  for (std::size_t t = 0; t < count; ++t) {
    if (t > 0)
      for (Vec3& position : path) position += normal_vector(rng, step_size);
    WrittenFrame frame;
    frame.system = start;
    if (shape != Shape::cluster) {
      const double scale = 1.0 + 0.002 * std::sin(0.37 * static_cast<double>(t));  // a breathing cell, as in NPT
      frame.system.cell = nqmd::Cell(start.cell.lattice() * scale, start.cell.pbc());
    }
    frame.system.positions = path;
    frame.system.wrap_into_cell();
    for (Vec3& velocity : frame.system.velocities) velocity = normal_vector(rng, 0.02);
    for (std::size_t i = 0; i < path.size(); ++i) frame.forces.push_back(normal_vector(rng, 1.5));
    frame.virial = Mat3::Zero();
    for (int a = 0; a < 3; ++a)
      for (int b = a; b < 3; ++b) frame.virial(a, b) = frame.virial(b, a) = 4.0 * uniform(rng);
    nqmd::ThermoState& thermo = frame.thermo;
    thermo.step = 10 * t;
    thermo.time_fs = 0.7 * static_cast<double>(thermo.step);
    thermo.potential_energy = -20.0 + uniform(rng);
    thermo.kinetic_energy = 0.5 + 0.1 * uniform(rng);
    thermo.total_energy = thermo.potential_energy + thermo.kinetic_energy;
    thermo.conserved_energy = thermo.total_energy + 0.01 * uniform(rng);
    thermo.temperature = 300.0 + 20.0 * uniform(rng);
    thermo.pressure_bar = 1000.0 * uniform(rng);
    thermo.volume = frame.system.cell.volume();
    frame.true_positions = path;
    frames.push_back(std::move(frame));
  }
  return frames;
}

inline void write_frames(nqmd::Observer& observer, const std::vector<WrittenFrame>& frames, std::size_t first = 0,
                         std::size_t end = static_cast<std::size_t>(-1)) {
  for (std::size_t k = first; k < std::min(end, frames.size()); ++k) {
    const WrittenFrame& frame = frames[k];
    const nqmd::StepData data{frame.system, frame.forces, frame.virial, frame.thermo};
    observer.observe(data);
  }
}

inline std::vector<std::string> symbols_of(const nqmd::System& system) {
  std::vector<std::string> symbols;
  for (std::size_t i = 0; i < system.size(); ++i) symbols.push_back(system.symbol(i));
  return symbols;
}

// Everything read_trajectory returns for a frame, compared bit for bit with what was written.
inline void require_same_frame(const nqmd::TrajectoryFrame& read, const WrittenFrame& written, bool velocities,
                               bool images) {
  INFO("frame at step " << written.thermo.step);
  REQUIRE(read.step == written.thermo.step);
  REQUIRE(read.time_fs == written.thermo.time_fs);
  REQUIRE(read.cell.lattice() == written.system.cell.lattice());
  REQUIRE(read.cell.pbc() == written.system.cell.pbc());
  REQUIRE(read.positions == written.system.positions);
  if (velocities) {
    REQUIRE(read.velocities == written.system.velocities);
  } else {
    REQUIRE(read.velocities.empty());
  }
  if (images) {
    REQUIRE(read.images == written.system.images);
  } else {
    REQUIRE(read.images.empty());
  }
}

inline nqmd::H5mdWriterOptions h5md_options(const std::string& path) {
  nqmd::H5mdWriterOptions options;
  options.path = path;
  options.velocities = true;
  options.forces = true;
  options.images = true;
  options.author = "nequip-md tests";
  return options;
}

// ---------------------------------------------------------------------------------------------------------------
// Python (Debian's /usr/bin/python3, with h5py, MDAnalysis and ASE from Debian packages)

inline bool system_python_has(const std::string& module) {
  const std::string command =
      "env -u PYTHONPATH -u PYTHONHOME /usr/bin/python3 -c 'import " + module + "' > /dev/null 2>&1";
  return std::system(command.c_str()) == 0;
}

// Runs a script; returns its exit status and output (stdout and stderr).
inline std::pair<int, std::string> run_system_python(const TemporaryDirectory& directory,
                                                     const std::string& script, const std::string& arguments) {
  const std::string script_path = directory.file("check.py");
  const std::string output_path = directory.file("python-output.txt");
  write_text(script_path, script);
  const std::string command = "env -u PYTHONPATH -u PYTHONHOME /usr/bin/python3 '" + script_path + "' " + arguments +
                              " > '" + output_path + "' 2>&1";
  const int status = std::system(command.c_str());
  return {WIFEXITED(status) ? WEXITSTATUS(status) : -1, read_text(output_path)};
}

// Lattice parameters a, b, c (A) and alpha, beta, gamma (degrees) of lattice rows.
inline std::array<double, 6> cell_parameters(const Mat3& lattice) {
  const Vec3 a = lattice.row(0), b = lattice.row(1), c = lattice.row(2);
  const auto angle = [](const Vec3& u, const Vec3& v) {
    return std::acos(u.dot(v) / (u.norm() * v.norm())) * 180.0 / std::acos(-1.0);
  };
  return {a.norm(), b.norm(), c.norm(), angle(b, c), angle(a, c), angle(a, b)};
}

// What the Python checks compare against: a line of symbols, a line of masses, then a row per frame: step, time
// (fs), lattice (9), cell parameters (6), positions, velocities (A/fs), forces, images (3N each), the seven
// observables, stress (9, eV/A^3, -virial/V or zeros).
inline void write_expected(const std::string& path, const std::vector<WrittenFrame>& frames) {
  std::ofstream out(path);
  const nqmd::System& first = frames.front().system;
  out << fmt::format("{}\n", fmt::join(symbols_of(first), " "));
  for (double mass : first.masses) out << fmt::format("{:.17g} ", mass);
  out << "\n";
  for (const WrittenFrame& frame : frames) {
    const nqmd::System& system = frame.system;
    std::vector<double> row{static_cast<double>(frame.thermo.step), frame.thermo.time_fs};
    for (int i = 0; i < 3; ++i)
      for (int j = 0; j < 3; ++j) row.push_back(system.cell.lattice()(i, j));
    for (double parameter : cell_parameters(system.cell.lattice())) row.push_back(parameter);
    for (const std::vector<Vec3>* vectors : {&system.positions, &system.velocities, &frame.forces})
      for (const Vec3& v : *vectors) row.insert(row.end(), {v.x(), v.y(), v.z()});
    for (const Vec3i& image : system.images) row.insert(row.end(), {1.0 * image.x(), 1.0 * image.y(), 1.0 * image.z()});
    const nqmd::ThermoState& t = frame.thermo;
    row.insert(row.end(), {t.potential_energy, t.kinetic_energy, t.total_energy, t.conserved_energy, t.temperature,
                           t.pressure_bar, t.volume});
    const Mat3 stress = system.cell.fully_periodic() ? Mat3(-frame.virial / system.cell.volume()) : Mat3::Zero();
    for (int i = 0; i < 3; ++i)
      for (int j = 0; j < 3; ++j) row.push_back(stress(i, j));
    for (double value : row) out << fmt::format("{:.17g} ", value);
    out << "\n";
  }
  REQUIRE(out.good());
}

inline constexpr const char* kPythonExpected = R"PY(
import sys
import numpy as np

def load_expected(path):
    lines = open(path).read().splitlines()
    symbols = lines[0].split()
    masses = np.array(lines[1].split(), dtype=float)
    n = len(symbols)
    frames = []
    for line in lines[2:]:
        v = np.array(line.split(), dtype=float)
        f = {"step": int(v[0]), "time": v[1], "lattice": v[2:11].reshape(3, 3), "cellpar": v[11:17]}
        o = 17
        for name in ("positions", "velocities", "forces", "images"):
            f[name] = v[o:o + 3 * n].reshape(n, 3)
            o += 3 * n
        f["thermo"] = v[o:o + 7]
        f["stress"] = v[o + 7:o + 16].reshape(3, 3)
        frames.append(f)
    return symbols, masses, frames

def text(value):
    return value.decode() if isinstance(value, bytes) else str(value)
)PY";

// h5py: the layout, attributes, hard links, chunking and every number, exactly.
inline constexpr const char* kH5pyCheck = R"PY(
import h5py
path, expected_path, level, boundary = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4].split(",")
symbols, masses, frames = load_expected(expected_path)
n, F = len(symbols), len(frames)
steps = np.array([f["step"] for f in frames])
with h5py.File(path, "r") as f:
    assert list(f["h5md"].attrs["version"]) == [1, 1]
    assert text(f["h5md/author"].attrs["name"]) == "nequip-md tests"
    assert text(f["h5md/creator"].attrs["name"]) == "nequip-md"
    assert len(text(f["h5md/creator"].attrs["version"])) > 0
    part = f["particles/all"]
    pos = part["position"]
    assert pos["value"].shape == (F, n, 3) and pos["value"].dtype == np.float64
    assert pos["value"].chunks == (1, n, 3)
    if level > 0:
        assert pos["value"].compression == "gzip" and pos["value"].compression_opts == level
    else:
        assert pos["value"].compression is None
    assert pos["value"].attrs["unit"] == "Angstrom" and pos["time"].attrs["unit"] == "fs"
    assert np.array_equal(pos["step"][()], steps)
    assert np.array_equal(pos["time"][()], [fr["time"] for fr in frames])
    assert np.array_equal(pos["value"][()], [fr["positions"] for fr in frames])
    for name, unit, key in (("velocity", "Angstrom fs-1", "velocities"), ("force", "eV Angstrom-1", "forces"),
                            ("image", None, "images")):
        element = part[name]
        assert element["step"] == pos["step"] and element["time"] == pos["time"], name + " step/time not linked"
        assert element["value"].shape == (F, n, 3)
        if unit is not None:
            assert element["value"].attrs["unit"] == unit
        assert np.array_equal(element["value"][()], [fr[key] for fr in frames]), name
    assert part["image/value"].dtype == np.int32
    box = part["box"]
    assert box.attrs["dimension"] == 3
    assert [text(b) for b in box.attrs["boundary"]] == boundary
    assert box["edges/step"] == pos["step"] and box["edges/time"] == pos["time"]
    assert box["edges/value"].shape == (F, 3, 3) and box["edges/value"].attrs["unit"] == "Angstrom"
    assert np.array_equal(box["edges/value"][()], [fr["lattice"] for fr in frames])
    names = [text(s) for s in part["species"].attrs["symbols"]]
    assert [names[i] for i in part["species"][()]] == symbols
    assert np.array_equal(part["mass"][()], masses) and part["mass"].attrs["unit"] == "amu"
    observables = [("potential_energy", "eV"), ("kinetic_energy", "eV"), ("total_energy", "eV"),
                   ("conserved_energy", "eV"), ("temperature", "K"), ("pressure", "bar"), ("volume", "Angstrom+3")]
    assert sorted(f["observables"].keys()) == sorted(name for name, _ in observables)
    for column, (name, unit) in enumerate(observables):
        group = f["observables"][name]
        assert group["step"] == pos["step"] and group["time"] == pos["time"]
        assert group["value"].attrs["unit"] == unit
        assert np.array_equal(group["value"][()], [fr["thermo"][column] for fr in frames]), name
print("h5py: layout and all values of", F, "frames of", n, "atoms as written")
)PY";

}  // namespace nqmd::test::h5md
