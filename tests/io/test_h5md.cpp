#include <fmt/format.h>
#include <hdf5.h>
#include <sys/resource.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <atomic>
#include <catch2/catch.hpp>
#include <cmath>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "engine/error.hpp"
#include "io/extxyz.hpp"
#include "io/extxyz_trajectory.hpp"
#include "io/h5md.hpp"
#include "temporary_directory.hpp"
#include "io/trajectory.hpp"

namespace {

using Catch::Matchers::Contains;
using nqmd::Mat3;
using nqmd::Vec3;
using nqmd::Vec3i;

// A fresh directory per test, removed at the end.
class TemporaryDirectory : public nqmd::test::TemporaryDirectory {
 public:
  TemporaryDirectory() : nqmd::test::TemporaryDirectory("nqmd-test-h5md") {}
};

template <typename Action>
std::string input_error_message(Action&& action) {
  try {
    action();
  } catch (const nqmd::InputError& error) {
    return error.what();
  }
  FAIL("expected an nqmd::InputError, but nothing was thrown");
  return {};
}

void write_text(const std::string& path, const std::string& text) { REQUIRE(nqmd::test::write_text_file(path, text)); }
std::string read_text(const std::string& path) { return nqmd::test::read_text_file(path); }

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

Vec3 normal_vector(std::mt19937_64& rng, double sigma) {
  std::normal_distribution<double> normal(0.0, sigma);
  return Vec3(normal(rng), normal(rng), normal(rng));
}

nqmd::System initial_system(Shape shape, std::mt19937_64& rng) {
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

std::vector<WrittenFrame> random_walk(Shape shape, std::size_t count, double step_size, unsigned seed) {
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

void write_frames(nqmd::Observer& observer, const std::vector<WrittenFrame>& frames, std::size_t first = 0,
                  std::size_t end = static_cast<std::size_t>(-1)) {
  for (std::size_t k = first; k < std::min(end, frames.size()); ++k) {
    const WrittenFrame& frame = frames[k];
    const nqmd::StepData data{frame.system, frame.forces, frame.virial, frame.thermo};
    observer.observe(data);
  }
}

std::vector<std::string> symbols_of(const nqmd::System& system) {
  std::vector<std::string> symbols;
  for (std::size_t i = 0; i < system.size(); ++i) symbols.push_back(system.symbol(i));
  return symbols;
}

// Everything read_trajectory returns for a frame, compared bit for bit with what was written.
void require_same_frame(const nqmd::TrajectoryFrame& read, const WrittenFrame& written, bool velocities, bool images) {
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

nqmd::H5mdWriterOptions h5md_options(const std::string& path) {
  nqmd::H5mdWriterOptions options;
  options.path = path;
  options.velocities = true;
  options.forces = true;
  options.images = true;
  options.author = "nequip-md tests";
  return options;
}

// Image changes summed over atoms, axes and frames: how often the walk crossed the cell boundary.
int boundary_crossings(const std::vector<WrittenFrame>& frames) {
  int crossings = 0;
  for (std::size_t t = 1; t < frames.size(); ++t)
    for (std::size_t i = 0; i < frames[t].system.size(); ++i)
      crossings += (frames[t].system.images[i] - frames[t - 1].system.images[i]).cwiseAbs().sum();
  return crossings;
}

// SIGALRM handler of the killed-writer test: the writer dies wherever it is.
void kill_self(int) { ::raise(SIGKILL); }

double max_deviation(const std::vector<std::vector<Vec3>>& unwrapped, const std::vector<WrittenFrame>& frames) {
  double deviation = 0.0;
  for (std::size_t t = 0; t < frames.size(); ++t)
    for (std::size_t i = 0; i < frames[t].true_positions.size(); ++i)
      deviation = std::max(deviation, (unwrapped[t][i] - frames[t].true_positions[i]).norm());
  return deviation;
}

// ---------------------------------------------------------------------------------------------------------------
// Python (Debian's /usr/bin/python3, with h5py, MDAnalysis and ASE from Debian packages)

bool system_python_has(const std::string& module) {
  const std::string command =
      "env -u PYTHONPATH -u PYTHONHOME /usr/bin/python3 -c 'import " + module + "' > /dev/null 2>&1";
  return std::system(command.c_str()) == 0;
}

// Runs a script; returns its exit status and output (stdout and stderr).
std::pair<int, std::string> run_system_python(const TemporaryDirectory& directory, const std::string& script,
                                              const std::string& arguments) {
  const std::string script_path = directory.file("check.py");
  const std::string output_path = directory.file("python-output.txt");
  write_text(script_path, script);
  const std::string command = "env -u PYTHONPATH -u PYTHONHOME /usr/bin/python3 '" + script_path + "' " + arguments +
                              " > '" + output_path + "' 2>&1";
  const int status = std::system(command.c_str());
  return {WIFEXITED(status) ? WEXITSTATUS(status) : -1, read_text(output_path)};
}

// Lattice parameters a, b, c (A) and alpha, beta, gamma (degrees) of lattice rows.
std::array<double, 6> cell_parameters(const Mat3& lattice) {
  const Vec3 a = lattice.row(0), b = lattice.row(1), c = lattice.row(2);
  const auto angle = [](const Vec3& u, const Vec3& v) {
    return std::acos(u.dot(v) / (u.norm() * v.norm())) * 180.0 / std::acos(-1.0);
  };
  return {a.norm(), b.norm(), c.norm(), angle(b, c), angle(a, c), angle(a, b)};
}

// What the Python checks compare against: a line of symbols, a line of masses, then a row per frame: step, time
// (fs), lattice (9), cell parameters (6), positions, velocities (A/fs), forces, images (3N each), the seven
// observables, stress (9, eV/A^3, -virial/V or zeros).
void write_expected(const std::string& path, const std::vector<WrittenFrame>& frames) {
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

constexpr const char* kPythonExpected = R"PY(
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
constexpr const char* kH5pyCheck = R"PY(
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

// MDAnalysis: positions (A), box (a, b, c, alpha, beta, gamma), times (ps), velocities (A/ps), observables.
constexpr const char* kMDAnalysisCheck = R"PY(
import warnings
warnings.filterwarnings("ignore")
import h5py
import MDAnalysis as mda
path, expected_path = sys.argv[1], sys.argv[2]
symbols, masses, frames = load_expected(expected_path)
n = len(symbols)
# MDAnalysis 2.4 reads no topology from H5MD: the atom names come from our species and its symbols attribute.
with h5py.File(path, "r") as f:
    table = [text(s) for s in f["particles/all/species"].attrs["symbols"]]
    names = [table[i] for i in f["particles/all/species"][()]]
assert names == symbols
u = mda.Universe.empty(n, trajectory=False)
u.add_TopologyAttr("names", names)
u.load_new(path, format="H5MD")
assert u.trajectory.n_frames == len(frames), (u.trajectory.n_frames, len(frames))
assert u.trajectory.units["time"] == "fs" and u.trajectory.units["length"] == "Angstrom"
for ts, f in zip(u.trajectory, frames):
    assert ts.data["step"] == f["step"]
    assert abs(ts.time - f["time"] / 1000.0) <= 1e-12 * max(1.0, abs(ts.time)), (ts.time, f["time"])
    np.testing.assert_allclose(ts.positions, f["positions"], rtol=0, atol=2e-5)
    np.testing.assert_allclose(ts.dimensions[:3], f["cellpar"][:3], rtol=1e-6)
    np.testing.assert_allclose(ts.dimensions[3:], f["cellpar"][3:], rtol=0, atol=1e-4)
    # MDAnalysis before 2.10 inverts the A/fs -> A/ps factor (its issue #5051): compare with its own factor, and
    # the stored values in A/fs below.
    speed = mda.units.convert(1.0, "Angstrom/fs", "Angstrom/ps")
    np.testing.assert_allclose(ts.velocities, speed * f["velocities"], rtol=1e-6, atol=1e-6 * speed)
    assert ts.data["potential_energy"] == f["thermo"][0] and ts.data["temperature"] == f["thermo"][4]
native = mda.Universe.empty(n, trajectory=False)
native.load_new(path, format="H5MD", convert_units=False)
for ts, f in zip(native.trajectory, frames):
    assert ts.time == f["time"]
    np.testing.assert_allclose(ts.velocities, f["velocities"], rtol=1e-6, atol=1e-9)
print("MDAnalysis", mda.__version__, ": positions, box, times, velocities of", len(frames), "frames as written")
)PY";

// ASE: the extxyz trajectory's positions, cell, masses, velocities, forces, energy, stress and info keys.
constexpr const char* kAseCheck = R"PY(
import ase.io
import ase.units
path, expected_path = sys.argv[1], sys.argv[2]
symbols, masses, frames = load_expected(expected_path)
images = ase.io.read(path, index=":")
assert len(images) == len(frames)
for atoms, f in zip(images, frames):
    assert atoms.get_chemical_symbols() == symbols
    assert np.array_equal(atoms.positions, f["positions"])
    assert np.array_equal(atoms.cell.array, f["lattice"])
    assert np.array_equal(atoms.get_masses(), masses)
    np.testing.assert_allclose(atoms.get_velocities() * ase.units.fs, f["velocities"], rtol=1e-12, atol=1e-16)
    assert np.array_equal(atoms.get_forces(), f["forces"])
    assert atoms.get_potential_energy() == f["thermo"][0]
    np.testing.assert_allclose(atoms.get_stress(voigt=False), f["stress"], rtol=1e-14, atol=1e-18)
    assert atoms.info["step"] == f["step"] and atoms.info["time_fs"] == f["time"]
print("ASE: all", len(frames), "frames as written")
)PY";

// An H5MD file as another program might write it: particles group `atoms`, fixed-increment step and time with
// offsets, time in ps, lengths in nm, a cuboid box as a fixed 3-vector, boundary as variable-length strings,
// species as atomic numbers, float32 positions.
void write_foreign_h5md(const std::string& path) {
  H5Eset_auto2(H5E_DEFAULT, nullptr, nullptr);
  const hid_t file = H5Fcreate(path.c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
  REQUIRE(file >= 0);
  const auto group = [&](const char* name) {
    const hid_t id = H5Gcreate2(file, name, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    REQUIRE(id >= 0);
    return id;
  };
  const auto variable_string = [] {
    const hid_t type = H5Tcopy(H5T_C_S1);
    H5Tset_size(type, H5T_VARIABLE);
    return type;
  };
  const auto dataset = [&](const char* name, hid_t file_type, hid_t memory_type, std::vector<hsize_t> dims,
                           const void* data, const char* unit) {
    const hid_t space =
        dims.empty() ? H5Screate(H5S_SCALAR) : H5Screate_simple(static_cast<int>(dims.size()), dims.data(), nullptr);
    const hid_t id = H5Dcreate2(file, name, file_type, space, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    REQUIRE(id >= 0);
    REQUIRE(H5Dwrite(id, memory_type, H5S_ALL, H5S_ALL, H5P_DEFAULT, data) >= 0);
    if (unit != nullptr) {
      const hid_t type = variable_string();
      const hid_t scalar = H5Screate(H5S_SCALAR);
      const hid_t attribute = H5Acreate2(id, "unit", type, scalar, H5P_DEFAULT, H5P_DEFAULT);
      REQUIRE(H5Awrite(attribute, type, &unit) >= 0);
      H5Aclose(attribute);
      H5Sclose(scalar);
      H5Tclose(type);
    }
    H5Sclose(space);
    return id;
  };
  const auto scalar_attribute = [](hid_t object, const char* name, hid_t type, const void* value) {
    const hid_t scalar = H5Screate(H5S_SCALAR);
    const hid_t attribute = H5Acreate2(object, name, type, scalar, H5P_DEFAULT, H5P_DEFAULT);
    REQUIRE(H5Awrite(attribute, type, value) >= 0);
    H5Aclose(attribute);
    H5Sclose(scalar);
  };

  H5Gclose(group("h5md"));
  H5Gclose(group("particles"));
  H5Gclose(group("particles/atoms"));
  const hid_t box = group("particles/atoms/box");
  const int dimension = 3;
  scalar_attribute(box, "dimension", H5T_NATIVE_INT, &dimension);
  {
    const hid_t type = variable_string();
    const hsize_t three = 3;
    const hid_t space = H5Screate_simple(1, &three, nullptr);
    const char* boundary[3] = {"periodic", "periodic", "periodic"};
    const hid_t attribute = H5Acreate2(box, "boundary", type, space, H5P_DEFAULT, H5P_DEFAULT);
    REQUIRE(H5Awrite(attribute, type, boundary) >= 0);
    H5Aclose(attribute);
    H5Sclose(space);
    H5Tclose(type);
  }
  H5Gclose(box);
  const double edges[3] = {1.2, 1.5, 1.8};
  H5Dclose(dataset("particles/atoms/box/edges", H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, {3}, edges, "nm"));

  H5Gclose(group("particles/atoms/position"));
  const float positions[3][2][3] = {{{0.1f, 0.2f, 0.3f}, {0.4f, 0.5f, 0.6f}},
                                    {{0.11f, 0.21f, 0.31f}, {0.41f, 0.51f, 0.61f}},
                                    {{0.12f, 0.22f, 0.32f}, {0.42f, 0.52f, 0.62f}}};
  H5Dclose(dataset("particles/atoms/position/value", H5T_IEEE_F32LE, H5T_NATIVE_FLOAT, {3, 2, 3}, positions, "nm"));
  const long long step_increment = 5, step_offset = 100;
  const hid_t step =
      dataset("particles/atoms/position/step", H5T_STD_I64LE, H5T_NATIVE_LLONG, {}, &step_increment, nullptr);
  scalar_attribute(step, "offset", H5T_NATIVE_LLONG, &step_offset);
  H5Dclose(step);
  const double time_increment = 0.25, time_offset = 1.0;
  const hid_t time =
      dataset("particles/atoms/position/time", H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, {}, &time_increment, "ps");
  scalar_attribute(time, "offset", H5T_NATIVE_DOUBLE, &time_offset);
  H5Dclose(time);
  const int species[2] = {8, 1};
  H5Dclose(dataset("particles/atoms/species", H5T_STD_I32LE, H5T_NATIVE_INT, {2}, species, nullptr));
  H5Fclose(file);
}

// When the timer that kills a writer child starts: with the child, or at its first flush (a restart needs a
// checkpoint, which is written after a flush).
enum class KillTimer { from_start, from_first_flush };

// Forks a child that writes `frames` to an H5MD file at `path` (flush_every, deflate level) and is killed by
// SIGKILL `delay_us` after the timer starts, wherever it is (between frames, inside HDF5 calls or a flush).
// Returns the child's last reported count of flushed frames and whether SIGKILL ended it; the child must have
// been killed or have finished cleanly.
std::pair<std::uint32_t, bool> run_killed_writer(const std::string& path, const std::vector<WrittenFrame>& frames,
                                                 std::size_t flush_every, int compression_level, int delay_us,
                                                 KillTimer start) {
  int pipe_ends[2];
  REQUIRE(::pipe(pipe_ends) == 0);
  std::fflush(nullptr);
  const pid_t child = ::fork();
  REQUIRE(child >= 0);
  if (child == 0) {
    ::close(pipe_ends[0]);
    std::signal(SIGALRM, kill_self);
    itimerval timer{};
    timer.it_value.tv_usec = delay_us;
    if (start == KillTimer::from_start) ::setitimer(ITIMER_REAL, &timer, nullptr);
    try {
      nqmd::H5mdWriterOptions options = h5md_options(path);
      options.flush_every = flush_every;
      options.compression_level = compression_level;
      nqmd::H5mdWriter writer(options);
      for (std::size_t k = 0; k < frames.size(); ++k) {
        write_frames(writer, frames, k, k + 1);
        if (start == KillTimer::from_first_flush && k + 1 == flush_every) ::setitimer(ITIMER_REAL, &timer, nullptr);
        // Tell the parent how many frames are known to be flushed.
        const auto flushed = static_cast<std::uint32_t>(writer.frames() / flush_every * flush_every);
        if (::write(pipe_ends[1], &flushed, sizeof flushed) != sizeof flushed) ::_exit(5);
      }
    } catch (...) {
      ::_exit(3);
    }
    ::_exit(0);
  }
  ::close(pipe_ends[1]);
  std::uint32_t flushed = 0, reported = 0;
  while (::read(pipe_ends[0], &reported, sizeof reported) == sizeof reported) flushed = reported;
  ::close(pipe_ends[0]);
  int status = 0;
  REQUIRE(::waitpid(child, &status, 0) == child);
  REQUIRE(((WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL) || (WIFEXITED(status) && WEXITSTATUS(status) == 0)));
  return {flushed, WIFSIGNALED(status)};
}

}  // namespace

// -------------------------------------------------------------------------------------------------------------------

TEST_CASE("h5md: read_trajectory returns exactly what the writer wrote", "[h5md]") {
  TemporaryDirectory directory;
  const auto [shape, name] = GENERATE(
      table<Shape, const char*>({{Shape::triclinic, "triclinic"}, {Shape::slab, "slab"}, {Shape::cluster, "cluster"}}));
  const int level = GENERATE(0, 6);
  INFO(name << " system, deflate level " << level);
  const std::vector<WrittenFrame> frames = random_walk(shape, 25, 0.4, 11);
  const std::string path = directory.file("run.h5");
  {
    nqmd::H5mdWriterOptions options = h5md_options(path);
    options.compression_level = level;
    options.flush_every = 4;
    nqmd::H5mdWriter writer(options);
    write_frames(writer, frames);
    REQUIRE(writer.frames() == frames.size());
  }
  const nqmd::Trajectory trajectory = nqmd::read_trajectory(path);
  REQUIRE(trajectory.source == path);
  REQUIRE(trajectory.symbols == symbols_of(frames.front().system));
  REQUIRE(trajectory.masses == frames.front().system.masses);
  REQUIRE(trajectory.frames.size() == frames.size());
  REQUIRE(trajectory.has_velocities());
  for (std::size_t k = 0; k < frames.size(); ++k) require_same_frame(trajectory.frames[k], frames[k], true, true);

  // Frame selection: first, last (inclusive) and stride.
  nqmd::TrajectoryReadOptions selection;
  selection.first_frame = 2;
  selection.last_frame = 9;
  selection.stride = 3;
  const nqmd::Trajectory selected = nqmd::read_trajectory(path, selection);
  REQUIRE(selected.frames.size() == 3);
  for (std::size_t k = 0; k < 3; ++k) require_same_frame(selected.frames[k], frames[2 + 3 * k], true, true);
  selection.last_frame = 1000;  // clamped to the last frame
  REQUIRE(nqmd::read_trajectory(path, selection).frames.back().step == frames[23].thermo.step);
  selection.first_frame = 25;
  REQUIRE_THAT(input_error_message([&] { nqmd::read_trajectory(path, selection); }),
               Contains(path) && Contains("first frame 25"));
}

TEST_CASE("h5md: optional fields are left out and read back as absent", "[h5md]") {
  TemporaryDirectory directory;
  const std::vector<WrittenFrame> frames = random_walk(Shape::triclinic, 6, 0.4, 12);
  const std::string path = directory.file("positions-only.h5");
  {
    nqmd::H5mdWriterOptions options = h5md_options(path);
    options.velocities = options.forces = options.images = false;
    nqmd::H5mdWriter writer(options);
    write_frames(writer, frames);
  }
  const nqmd::Trajectory trajectory = nqmd::read_trajectory(path);
  REQUIRE(trajectory.frames.size() == frames.size());
  REQUIRE_FALSE(trajectory.has_velocities());
  for (std::size_t k = 0; k < frames.size(); ++k) require_same_frame(trajectory.frames[k], frames[k], false, false);
}

TEST_CASE("h5md: unwrapped positions follow a random walk across many cell boundaries", "[h5md]") {
  TemporaryDirectory directory;
  const auto [shape, name] =
      GENERATE(table<Shape, const char*>({{Shape::triclinic, "triclinic"}, {Shape::slab, "slab"}}));
  INFO(name << " cell");
  const std::vector<WrittenFrame> frames = random_walk(shape, 400, 0.35, 21);
  const int crossings = boundary_crossings(frames);
  CAPTURE(crossings);
  REQUIRE(crossings >= 100);

  const std::string with_images = directory.file("images.h5");
  const std::string without_images = directory.file("no-images.h5");
  {
    nqmd::H5mdWriter writer(h5md_options(with_images));
    write_frames(writer, frames);
    nqmd::H5mdWriterOptions options = h5md_options(without_images);
    options.images = false;
    nqmd::H5mdWriter jump_writer(options);
    write_frames(jump_writer, frames);
  }
  // From the image counters.
  const nqmd::Trajectory counted = nqmd::read_trajectory(with_images);
  REQUIRE(counted.frames.front().images.size() == counted.atoms());
  REQUIRE(max_deviation(counted.unwrapped_positions(), frames) < 1e-9);

  // From the minimum-image jump rule, with the file's wrapped positions only (steps are small here).
  const nqmd::Trajectory jumped = nqmd::read_trajectory(without_images);
  REQUIRE(jumped.frames.front().images.empty());
  REQUIRE(max_deviation(jumped.unwrapped_positions(), frames) < 1e-9);

  // The same through an extxyz trajectory, which has no image counters.
  const std::string extxyz = directory.file("walk.extxyz");
  {
    nqmd::ExtxyzTrajectoryOptions options;
    options.path = extxyz;
    nqmd::ExtxyzTrajectoryWriter writer(options);
    write_frames(writer, frames);
  }
  REQUIRE(max_deviation(nqmd::read_trajectory(extxyz).unwrapped_positions(), frames) < 1e-9);
}

TEST_CASE("h5md: extxyz trajectories round-trip through read_trajectory and ASE", "[h5md][ase]") {
  TemporaryDirectory directory;
  const std::vector<WrittenFrame> frames = random_walk(Shape::triclinic, 12, 0.4, 31);
  const std::string path = directory.file("run.extxyz");
  {
    nqmd::ExtxyzTrajectoryOptions options;
    options.path = path;
    options.flush_every = 5;
    nqmd::ExtxyzTrajectoryWriter writer(options);
    write_frames(writer, frames);
  }
  const nqmd::Trajectory trajectory = nqmd::read_trajectory(path);
  REQUIRE(trajectory.symbols == symbols_of(frames.front().system));
  REQUIRE(trajectory.masses == frames.front().system.masses);
  REQUIRE(trajectory.frames.size() == frames.size());
  for (std::size_t k = 0; k < frames.size(); ++k) {
    const nqmd::TrajectoryFrame& read = trajectory.frames[k];
    const nqmd::System& written = frames[k].system;
    REQUIRE(read.step == frames[k].thermo.step);
    REQUIRE(read.time_fs == frames[k].thermo.time_fs);
    REQUIRE(read.cell.lattice() == written.cell.lattice());
    REQUIRE(read.positions == written.positions);
    REQUIRE(read.images.empty());
    // Velocities pass through ASE momenta (m v in ASE units): equal to rounding.
    for (std::size_t i = 0; i < written.size(); ++i)
      REQUIRE((read.velocities[i] - written.velocities[i]).norm() <= 1e-15 * written.velocities[i].norm() + 1e-300);
  }
  const std::vector<nqmd::Frame> raw = nqmd::read_extxyz(path);
  for (std::size_t k = 0; k < frames.size(); ++k) {
    REQUIRE(*raw[k].energy == frames[k].thermo.potential_energy);
    REQUIRE(*raw[k].forces == frames[k].forces);
    REQUIRE(*raw[k].stress == Mat3(-frames[k].virial / frames[k].system.cell.volume()));
  }

  if (!system_python_has("ase")) {
    WARN("/usr/bin/python3 has no ASE: the ASE check of extxyz trajectories was skipped");
    return;
  }
  write_expected(directory.file("expected.txt"), frames);
  const auto [status, output] = run_system_python(directory, std::string(kPythonExpected) + kAseCheck,
                                                  "'" + path + "' '" + directory.file("expected.txt") + "'");
  INFO(output);
  REQUIRE(status == 0);
}

TEST_CASE("h5md: h5py sees the H5MD 1.1 layout and every value as written", "[h5md][h5py]") {
  if (!system_python_has("h5py")) {
    WARN("/usr/bin/python3 has no h5py: the h5py check was skipped");
    return;
  }
  TemporaryDirectory directory;
  const auto [shape, boundary] = GENERATE(table<Shape, const char*>(
      {{Shape::triclinic, "periodic,periodic,periodic"}, {Shape::slab, "periodic,periodic,none"}}));
  const int level = GENERATE(0, 4);
  const std::vector<WrittenFrame> frames = random_walk(shape, 9, 0.4, 41);
  const std::string path = directory.file("run.h5");
  {
    nqmd::H5mdWriterOptions options = h5md_options(path);
    options.compression_level = level;
    nqmd::H5mdWriter writer(options);
    write_frames(writer, frames);
  }
  write_expected(directory.file("expected.txt"), frames);
  const auto [status, output] =
      run_system_python(directory, std::string(kPythonExpected) + kH5pyCheck,
                        fmt::format("'{}' '{}' {} {}", path, directory.file("expected.txt"), level, boundary));
  INFO(output);
  REQUIRE(status == 0);
}

TEST_CASE("h5md: a resumed file is a fresh copy that h5py reads with the same layout and values",
          "[h5md][h5py][resume]") {
  if (!system_python_has("h5py")) {
    WARN("/usr/bin/python3 has no h5py: the h5py check was skipped");
    return;
  }
  TemporaryDirectory directory;
  const int level = GENERATE(0, 4);
  const std::vector<WrittenFrame> frames = random_walk(Shape::slab, 9, 0.4, 42);
  const std::vector<WrittenFrame> continuation = random_walk(Shape::slab, 12, 0.4, 43);
  const std::string path = directory.file("run.h5");
  nqmd::H5mdWriterOptions options = h5md_options(path);
  options.compression_level = level;
  {
    nqmd::H5mdWriter writer(options);
    write_frames(writer, frames);
  }
  // Resumed after step 45 (frames 0..4 kept, 5..8 dropped), then frames 5..11 of another walk, in two runs.
  write_text(path + ".tmp", "left by a run killed while copying");
  options.resume_after_step = 45;
  {
    nqmd::H5mdWriter writer(options);
    REQUIRE(writer.frames() == 5);
    write_frames(writer, continuation, 5, 8);
  }
  REQUIRE(!std::filesystem::exists(path + ".tmp"));
  options.resume_after_step = 75;
  {
    nqmd::H5mdWriter writer(options);
    REQUIRE(writer.frames() == 8);
    write_frames(writer, continuation, 8, 12);
  }
  std::vector<WrittenFrame> expected(frames.begin(), frames.begin() + 5);
  expected.insert(expected.end(), continuation.begin() + 5, continuation.end());
  write_expected(directory.file("expected.txt"), expected);
  const auto [status, output] =
      run_system_python(directory, std::string(kPythonExpected) + kH5pyCheck,
                        fmt::format("'{}' '{}' {} {}", path, directory.file("expected.txt"), level,
                                    "periodic,periodic,none"));
  INFO(output);
  REQUIRE(status == 0);
  const nqmd::Trajectory trajectory = nqmd::read_trajectory(path);
  REQUIRE(trajectory.frames.size() == expected.size());
  for (std::size_t k = 0; k < expected.size(); ++k) require_same_frame(trajectory.frames[k], expected[k], true, true);
}

TEST_CASE("h5md: MDAnalysis reads positions, box and times as written", "[h5md][mdanalysis]") {
  if (!system_python_has("MDAnalysis") || !system_python_has("h5py")) {
    WARN("/usr/bin/python3 has no MDAnalysis (or h5py): the MDAnalysis check was skipped");
    return;
  }
  TemporaryDirectory directory;
  const std::vector<WrittenFrame> frames = random_walk(Shape::triclinic, 8, 0.4, 51);
  const std::string path = directory.file("run.h5md");
  {
    // Without forces: MDAnalysis 2.4 knows no eV/A force unit and refuses files that have one.
    nqmd::H5mdWriterOptions options = h5md_options(path);
    options.forces = false;
    options.compression_level = 3;
    nqmd::H5mdWriter writer(options);
    write_frames(writer, frames);
  }
  write_expected(directory.file("expected.txt"), frames);
  const auto [status, output] = run_system_python(directory, std::string(kPythonExpected) + kMDAnalysisCheck,
                                                  "'" + path + "' '" + directory.file("expected.txt") + "'");
  INFO(output);
  REQUIRE(status == 0);
}

TEST_CASE("h5md: a writer killed with SIGKILL leaves every flushed frame readable and exact", "[h5md]") {
  TemporaryDirectory directory;
  const std::vector<WrittenFrame> frames = random_walk(Shape::triclinic, 45, 0.4, 61);
  constexpr int kRuns = 10;
  const std::size_t flush_every[kRuns] = {1, 1, 1, 2, 3, 4, 5, 1, 3, 7};
  std::size_t total_written = 0, total_flushed = 0, total_recovered = 0;
  for (int run = 0; run < kRuns; ++run) {
    const std::size_t kill_after = 3 + 4 * static_cast<std::size_t>(run);  // frames written before the kill
    const std::size_t flushed = kill_after / flush_every[run] * flush_every[run];
    const std::string path = directory.file(fmt::format("killed-{}.h5", run));
    INFO("run " << run << ": flush every " << flush_every[run] << ", killed after " << kill_after << " frames");
    std::fflush(nullptr);
    const pid_t child = ::fork();
    REQUIRE(child >= 0);
    if (child == 0) {
      try {
        nqmd::H5mdWriterOptions options = h5md_options(path);
        options.flush_every = flush_every[run];
        options.compression_level = run % 2 == 0 ? 0 : 4;
        nqmd::H5mdWriter writer(options);
        write_frames(writer, frames, 0, kill_after);
        ::raise(SIGKILL);
      } catch (...) {
        ::_exit(3);
      }
      ::_exit(4);
    }
    int status = 0;
    REQUIRE(::waitpid(child, &status, 0) == child);
    REQUIRE(WIFSIGNALED(status));
    REQUIRE(WTERMSIG(status) == SIGKILL);

    const nqmd::Trajectory trajectory = nqmd::read_trajectory(path);
    const std::size_t recovered = trajectory.frames.size();
    CAPTURE(recovered);
    REQUIRE(recovered >= flushed);
    REQUIRE(recovered <= kill_after);
    for (std::size_t k = 0; k < recovered; ++k) require_same_frame(trajectory.frames[k], frames[k], true, true);
    total_written += kill_after;
    total_flushed += flushed;
    total_recovered += recovered;
  }
  CAPTURE(total_written, total_flushed, total_recovered);
  REQUIRE(total_recovered >= total_flushed);
  SUCCEED(fmt::format("{} killed runs: {} frames written, {} flushed, {} recovered exactly", kRuns, total_written,
                      total_flushed, total_recovered));
}

TEST_CASE("h5md: a full disk is an InputError naming the file", "[h5md]") {
  TemporaryDirectory directory;
  const std::vector<WrittenFrame> frames = random_walk(Shape::triclinic, 400, 0.4, 65);
  const std::string path = directory.file("full.h5");
  const std::string message_path = directory.file("message.txt");
  std::fflush(nullptr);
  const pid_t child = ::fork();
  REQUIRE(child >= 0);
  if (child == 0) {
    // A file size limit makes writes past 64 KiB fail with EFBIG, as on a full disk. (The writer's destructor
    // warns on stderr that its last flush failed too.)
    std::freopen("/dev/null", "w", stderr);
    std::signal(SIGXFSZ, SIG_IGN);
    const rlimit limit{64 * 1024, 64 * 1024};
    ::setrlimit(RLIMIT_FSIZE, &limit);
    try {
      nqmd::H5mdWriterOptions options = h5md_options(path);
      nqmd::H5mdWriter writer(options);
      write_frames(writer, frames);
      writer.flush();
    } catch (const nqmd::InputError& error) {
      std::ofstream(message_path) << error.what();
      ::_exit(0);
    } catch (...) {
      ::_exit(2);
    }
    ::_exit(1);  // the limit was never hit
  }
  int status = 0;
  REQUIRE(::waitpid(child, &status, 0) == child);
  REQUIRE(WIFEXITED(status));
  REQUIRE(WEXITSTATUS(status) == 0);
  const std::string message = read_text(message_path);
  CAPTURE(message);
  REQUIRE_THAT(message, Contains(path) && Contains("disk full"));
}

TEST_CASE("h5md: existing files are refused unless overwritten or appended to after a step", "[h5md]") {
  TemporaryDirectory directory;
  const std::vector<WrittenFrame> frames = random_walk(Shape::triclinic, 10, 0.4, 71);
  const std::vector<WrittenFrame> continuation = random_walk(Shape::triclinic, 10, 0.4, 72);
  const std::string path = directory.file("run.h5");
  {
    nqmd::H5mdWriter writer(h5md_options(path));
    write_frames(writer, frames);
  }
  REQUIRE_THAT(input_error_message([&] { nqmd::H5mdWriter writer(h5md_options(path)); }),
               Contains(path) && Contains("already exists"));
  REQUIRE(nqmd::read_trajectory(path).frames.size() == 10);  // the refused writer left the file alone

  SECTION("append after step 45: frames at steps 50.. are dropped and new ones follow") {
    nqmd::H5mdWriterOptions options = h5md_options(path);
    options.resume_after_step = 45;
    {
      nqmd::H5mdWriter writer(options);
      REQUIRE(writer.frames() == 5);  // steps 0, 10, 20, 30, 40
      write_frames(writer, continuation, 5, 8);
    }
    const nqmd::Trajectory trajectory = nqmd::read_trajectory(path);
    REQUIRE(trajectory.frames.size() == 8);
    for (std::size_t k = 0; k < 5; ++k) require_same_frame(trajectory.frames[k], frames[k], true, true);
    for (std::size_t k = 5; k < 8; ++k) require_same_frame(trajectory.frames[k], continuation[k], true, true);
  }
  SECTION("append needs the same fields and atoms") {
    nqmd::H5mdWriterOptions options = h5md_options(path);
    options.resume_after_step = 45;
    options.velocities = false;
    REQUIRE_THAT(input_error_message([&] { nqmd::H5mdWriter writer(options); }),
                 Contains(path) && Contains("velocity"));
    options.velocities = true;
    const std::vector<WrittenFrame> other = random_walk(Shape::slab, 1, 0.4, 73);
    nqmd::System fewer = other.front().system;
    fewer.positions.pop_back();
    fewer.velocities.pop_back();
    fewer.images.pop_back();
    fewer.species.pop_back();
    fewer.masses.pop_back();
    std::vector<Vec3> forces(fewer.size(), Vec3::Zero());
    nqmd::H5mdWriter writer(options);
    const nqmd::StepData data{fewer, forces, other.front().virial, other.front().thermo};
    REQUIRE_THAT(input_error_message([&] { writer.observe(data); }), Contains(path) && Contains("cannot append"));
  }
  SECTION("overwrite replaces the file") {
    nqmd::H5mdWriterOptions options = h5md_options(path);
    options.overwrite = true;
    {
      nqmd::H5mdWriter writer(options);
      write_frames(writer, continuation, 0, 3);
    }
    const nqmd::Trajectory trajectory = nqmd::read_trajectory(path);
    REQUIRE(trajectory.frames.size() == 3);
    for (std::size_t k = 0; k < 3; ++k) require_same_frame(trajectory.frames[k], continuation[k], true, true);
  }
  SECTION("append to a file that does not exist yet creates it") {
    nqmd::H5mdWriterOptions options = h5md_options(directory.file("new.h5"));
    options.resume_after_step = 45;
    {
      nqmd::H5mdWriter writer(options);
      write_frames(writer, continuation, 5, 7);
    }
    REQUIRE(nqmd::read_trajectory(options.path).frames.size() == 2);
  }
}

TEST_CASE("h5md: a resume that cannot continue leaves the file as it was", "[h5md][resume]") {
  TemporaryDirectory directory;
  const std::vector<WrittenFrame> frames = random_walk(Shape::triclinic, 10, 0.4, 74);
  const std::string path = directory.file("run.h5");
  {
    nqmd::H5mdWriter writer(h5md_options(path));
    write_frames(writer, frames);
  }
  const std::string before = read_text(path);
  nqmd::H5mdWriterOptions options = h5md_options(path);
  options.resume_after_step = 45;
  options.images = false;  // the file has images
  REQUIRE_THAT(input_error_message([&] { nqmd::H5mdWriter writer(options); }), Contains(path) && Contains("image"));
  REQUIRE(read_text(path) == before);
  REQUIRE(!std::filesystem::exists(path + ".tmp"));
  // No room for the copy (a file-size limit below the file's size): an error naming the copy, the file unchanged.
  std::fflush(nullptr);
  const pid_t child = ::fork();
  REQUIRE(child >= 0);
  if (child == 0) {
    std::signal(SIGXFSZ, SIG_IGN);
    const rlimit limit{8 * 1024, 8 * 1024};
    ::setrlimit(RLIMIT_FSIZE, &limit);
    options.images = true;
    try {
      nqmd::H5mdWriter writer(options);
    } catch (const nqmd::InputError& error) {
      ::_exit(std::string(error.what()).find(path + ".tmp") != std::string::npos ? 0 : 2);
    } catch (...) {
      ::_exit(3);
    }
    ::_exit(1);
  }
  int status = 0;
  REQUIRE(::waitpid(child, &status, 0) == child);
  REQUIRE(WIFEXITED(status));
  REQUIRE(WEXITSTATUS(status) == 0);
  REQUIRE(read_text(path) == before);
  REQUIRE(!std::filesystem::exists(path + ".tmp"));
}

TEST_CASE("h5md: extxyz trajectories refuse existing files and resume after a step", "[h5md]") {
  TemporaryDirectory directory;
  const std::vector<WrittenFrame> frames = random_walk(Shape::slab, 10, 0.4, 81);
  const std::vector<WrittenFrame> continuation = random_walk(Shape::slab, 10, 0.4, 82);
  const std::string path = directory.file("run.extxyz");
  nqmd::ExtxyzTrajectoryOptions options;
  options.path = path;
  {
    nqmd::ExtxyzTrajectoryWriter writer(options);
    write_frames(writer, frames);
  }
  REQUIRE_THAT(input_error_message([&] { nqmd::ExtxyzTrajectoryWriter writer(options); }),
               Contains(path) && Contains("already exists"));
  // A killed run may leave half a frame at the end: resuming drops it with the frames after the restart step.
  {
    std::ofstream out(path, std::ios::app);
    out << "7\nLattice=\"1 0 0 0 1 0 0 0 1\" step=100 time_fs=70.0\nCu 0.0 0.0";
  }
  options.resume_after_step = 30;
  {
    nqmd::ExtxyzTrajectoryWriter writer(options);
    write_frames(writer, continuation, 4, 6);
  }
  const nqmd::Trajectory trajectory = nqmd::read_trajectory(path);
  REQUIRE(trajectory.frames.size() == 6);
  for (std::size_t k = 0; k < 6; ++k) {
    const WrittenFrame& expected = k < 4 ? frames[k] : continuation[k];
    REQUIRE(trajectory.frames[k].step == expected.thermo.step);
    REQUIRE(trajectory.frames[k].positions == expected.system.positions);
  }
}

TEST_CASE("h5md: files of other H5MD writers are read with their units", "[h5md]") {
  TemporaryDirectory directory;
  const std::string path = directory.file("foreign.h5");
  write_foreign_h5md(path);
  const nqmd::Trajectory trajectory = nqmd::read_trajectory(path);
  REQUIRE(trajectory.symbols == std::vector<std::string>{"O", "H"});
  REQUIRE(trajectory.masses[0] == Approx(15.999));
  REQUIRE(trajectory.frames.size() == 3);
  for (std::size_t k = 0; k < 3; ++k) {
    const nqmd::TrajectoryFrame& frame = trajectory.frames[k];
    REQUIRE(frame.step == 100 + 5 * k);
    REQUIRE(frame.time_fs == Approx(1000.0 + 250.0 * static_cast<double>(k)));
    REQUIRE(frame.cell.fully_periodic());
    REQUIRE(frame.cell.lattice().isApprox(Vec3(12.0, 15.0, 18.0).asDiagonal().toDenseMatrix(), 1e-14));
    REQUIRE(frame.positions[1].isApprox(Vec3(4.0 + 0.1 * k, 5.0 + 0.1 * k, 6.0 + 0.1 * k), 1e-6));
    REQUIRE(frame.velocities.empty());
    REQUIRE(frame.images.empty());
  }
}

TEST_CASE("h5md: bad trajectory input is an InputError naming the file", "[h5md]") {
  TemporaryDirectory directory;
  const auto frame_text = [](std::size_t atoms, const std::string& info) {
    std::string text =
        fmt::format("{}\nLattice=\"5 0 0 0 5 0 0 0 5\" Properties=species:S:1:pos:R:3 {} pbc=\"T T T\"\n", atoms, info);
    for (std::size_t i = 0; i < atoms; ++i) text += fmt::format("Ar {} 1.0 1.0\n", i + 0.5);
    return text;
  };

  SECTION("not HDF5 and not extxyz") {
    const std::string path = directory.file("notes.txt");
    write_text(path, "these are my notes\nnot a trajectory\n");
    REQUIRE_THAT(input_error_message([&] { nqmd::read_trajectory(path); }),
                 Contains(path) && Contains("neither H5MD nor"));
  }
  SECTION("an HDF5 file that is not H5MD") {
    const std::string path = directory.file("other.h5");
    const hid_t file = H5Fcreate(path.c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
    const hsize_t three = 3;
    const hid_t space = H5Screate_simple(1, &three, nullptr);
    const double values[3] = {1, 2, 3};
    const hid_t dataset = H5Dcreate2(file, "numbers", H5T_IEEE_F64LE, space, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    H5Dwrite(dataset, H5T_NATIVE_DOUBLE, H5S_ALL, H5S_ALL, H5P_DEFAULT, values);
    H5Dclose(dataset);
    H5Sclose(space);
    H5Fclose(file);
    REQUIRE_THAT(input_error_message([&] { nqmd::read_trajectory(path); }), Contains(path) && Contains("not H5MD"));
  }
  SECTION("a missing file") {
    const std::string path = directory.file("missing.h5");
    REQUIRE_THAT(input_error_message([&] { nqmd::read_trajectory(path); }), Contains(path) && Contains("not found"));
  }
  SECTION("N changing between extxyz frames") {
    const std::string path = directory.file("changing.extxyz");
    write_text(path, frame_text(3, "time_fs=0.0") + frame_text(3, "time_fs=1.0") + frame_text(4, "time_fs=2.0"));
    REQUIRE_THAT(input_error_message([&] { nqmd::read_trajectory(path); }),
                 Contains(path) && Contains("frame 2") && Contains("4 atoms"));
  }
  SECTION("species changing between extxyz frames") {
    const std::string path = directory.file("species.extxyz");
    std::string second = frame_text(3, "time_fs=1.0");
    second.replace(second.rfind("Ar"), 2, "Kr");
    write_text(path, frame_text(3, "time_fs=0.0") + second);
    REQUIRE_THAT(input_error_message([&] { nqmd::read_trajectory(path); }),
                 Contains(path) && Contains("frame 1") && Contains("species"));
  }
  SECTION("extxyz without times needs a frame interval") {
    const std::string path = directory.file("untimed.extxyz");
    write_text(path, frame_text(2, "") + frame_text(2, ""));
    REQUIRE_THAT(input_error_message([&] { nqmd::read_trajectory(path); }),
                 Contains(path) && Contains("time_fs") && Contains("frame interval"));
    nqmd::TrajectoryReadOptions options;
    options.frame_interval_fs = 2.5;
    const nqmd::Trajectory trajectory = nqmd::read_trajectory(path, options);
    REQUIRE(trajectory.frames.size() == 2);
    REQUIRE(trajectory.frames[1].time_fs == 2.5);
    REQUIRE(trajectory.frames[1].step == 1);
  }
  SECTION("writers reject bad options") {
    nqmd::H5mdWriterOptions options = h5md_options(directory.file("bad.h5"));
    options.compression_level = 12;
    REQUIRE_THAT(input_error_message([&] { nqmd::H5mdWriter writer(options); }), Contains("compression level 12"));
    options.compression_level = 0;
    options.flush_every = 0;
    REQUIRE_THAT(input_error_message([&] { nqmd::H5mdWriter writer(options); }), Contains("flush_every"));
  }
  SECTION("an unwritable path") {
    const std::string path = directory.file("no-such-directory/run.h5");
    REQUIRE_THAT(input_error_message([&] { nqmd::H5mdWriter writer(h5md_options(path)); }), Contains(path));
  }
}

TEST_CASE("h5md: a writer killed at random moments, even while flushing, never yields a wrong frame", "[h5md]") {
  TemporaryDirectory directory;
  const std::vector<WrittenFrame> frames = random_walk(Shape::triclinic, 45, 0.4, 62);
  constexpr int kRuns = 100;
  std::mt19937 rng(5);
  int killed_before_first_flush = 0;
  std::size_t total_flushed = 0, total_recovered = 0;
  for (int run = 0; run < kRuns; ++run) {
    const std::string path = directory.file(fmt::format("killed-{}.h5", run));
    const std::size_t flush_every = 1 + static_cast<std::size_t>(run % 3);
    const int delay_us = std::uniform_int_distribution<int>(2000, 40000)(rng);
    INFO("run " << run << ": flush every " << flush_every << ", killed after " << delay_us << " us");
    const std::uint32_t flushed =
        run_killed_writer(path, frames, flush_every, run % 2 == 0 ? 0 : 4, delay_us, KillTimer::from_start).first;
    CAPTURE(flushed);

    if (flushed == 0) {
      // Killed before its first frame was flushed: the file may hold no frame or be unreadable, but is never wrong.
      ++killed_before_first_flush;
      try {
        const nqmd::Trajectory trajectory = nqmd::read_trajectory(path);
        for (std::size_t k = 0; k < trajectory.frames.size(); ++k)
          require_same_frame(trajectory.frames[k], frames[k], true, true);
      } catch (const nqmd::InputError& error) {
        REQUIRE_THAT(error.what(), Contains(path));
      }
      continue;
    }
    const nqmd::Trajectory trajectory = nqmd::read_trajectory(path);
    REQUIRE(trajectory.frames.size() >= flushed);
    for (std::size_t k = 0; k < trajectory.frames.size(); ++k)
      require_same_frame(trajectory.frames[k], frames[k], true, true);
    total_flushed += flushed;
    total_recovered += trajectory.frames.size();
  }
  CAPTURE(killed_before_first_flush, total_flushed, total_recovered);
  REQUIRE(killed_before_first_flush < kRuns / 2);
  SUCCEED(
      fmt::format("{} runs killed by a timer: {} before their first flush; the others flushed {} frames, "
                  "{} recovered exactly",
                  kRuns, killed_before_first_flush, total_flushed, total_recovered));
}

TEST_CASE("h5md: a file whose writer was killed at a random moment is resumed with every frame up to the step",
          "[h5md][resume]") {
  TemporaryDirectory directory;
  const std::vector<WrittenFrame> frames = random_walk(Shape::triclinic, 45, 0.4, 63);
  const std::vector<WrittenFrame> continuation = random_walk(Shape::triclinic, 50, 0.4, 64);
  constexpr int kRuns = 60;
  std::mt19937 rng(7);
  int resumed = 0, killed = 0;
  std::size_t total_kept = 0;
  for (int run = 0; run < kRuns; ++run) {
    const std::string path = directory.file(fmt::format("killed-{}.h5", run));
    const std::size_t flush_every = 1 + static_cast<std::size_t>(run % 3);
    const int delay_us = std::uniform_int_distribution<int>(200, 8000)(rng);
    INFO("run " << run << ": flush every " << flush_every << ", killed after " << delay_us << " us");
    const auto [flushed, was_killed] = run_killed_writer(path, frames, flush_every, run % 2 == 0 ? 0 : 4, delay_us,
                                                         KillTimer::from_first_flush);
    if (was_killed) ++killed;
    REQUIRE(flushed > 0);
    // The restart step, as a checkpoint's: at or after the last frame kept, before the frames not flushed.
    const std::size_t keep = std::uniform_int_distribution<std::size_t>(1, flushed)(rng);
    const std::uint64_t step = 10 * (keep - 1) + (run % 4 == 0 ? 5 : 0);
    CAPTURE(flushed, keep, step);
    nqmd::H5mdWriterOptions options = h5md_options(path);
    options.flush_every = flush_every;
    options.compression_level = run % 2 == 0 ? 0 : 4;
    options.resume_after_step = step;
    {
      nqmd::H5mdWriter writer(options);
      REQUIRE(writer.frames() == keep);
      write_frames(writer, continuation, keep, keep + 5);
    }
    REQUIRE(!std::filesystem::exists(path + ".tmp"));
    const nqmd::Trajectory trajectory = nqmd::read_trajectory(path);
    REQUIRE(trajectory.frames.size() == keep + 5);
    for (std::size_t k = 0; k < keep; ++k) require_same_frame(trajectory.frames[k], frames[k], true, true);
    for (std::size_t k = keep; k < keep + 5; ++k)
      require_same_frame(trajectory.frames[k], continuation[k], true, true);
    ++resumed;
    total_kept += keep;
  }
  CAPTURE(killed, resumed, total_kept);
  REQUIRE(killed > 0);
  SUCCEED(fmt::format("{} writers killed; {} files resumed: {} frames kept, each exact, 5 appended to each", killed,
                      resumed, total_kept));
}
