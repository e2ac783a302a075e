// Reading trajectories: files of other H5MD writers with their units, MDAnalysis and ASE reading ours, and bad
// input as an InputError naming the file.
#include <hdf5.h>

#include <catch2/catch.hpp>
#include <string>
#include <vector>

#include "engine/error.hpp"
#include "h5md_test_support.hpp"
#include "io/extxyz.hpp"
#include "io/extxyz_trajectory.hpp"
#include "io/h5md.hpp"
#include "io/trajectory.hpp"

using namespace nqmd::test::h5md;

namespace {

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

}  // namespace

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
