#include <unistd.h>

#include <atomic>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include <catch2/catch.hpp>

#include "engine/error.hpp"
#include "engine/periodic_table.hpp"
#include "engine/units.hpp"
#include "input_error_message.hpp"
#include "io/extxyz.hpp"
#include "temporary_directory.hpp"
#include "test_paths.hpp"

namespace {

using Catch::Matchers::Contains;
using nqmd::Frame;
using nqmd::Mat3;
using nqmd::Vec3;

// A fresh directory per test, removed at the end.
class TemporaryDirectory : public nqmd::test::TemporaryDirectory {
 public:
  TemporaryDirectory() : nqmd::test::TemporaryDirectory("nqmd-test-extxyz") {}
};

void write_text(const std::string& path, const std::string& text) { REQUIRE(nqmd::test::write_text_file(path, text)); }
std::string read_text(const std::string& path) { return nqmd::test::read_text_file(path); }

using nqmd::test::input_error_message;

std::string reading_error(const std::string& path) {
  return input_error_message([&] { nqmd::read_extxyz(path); });
}

Mat3 matrix(double xx, double xy, double xz, double yx, double yy, double yz, double zx, double zy, double zz) {
  Mat3 m;
  m << xx, xy, xz, yx, yy, yz, zx, zy, zz;
  return m;
}

// Full-precision random numbers, so that the round trip exercises the shortest round-trip formatting.
struct RandomNumbers {
  std::mt19937_64 engine{20240611};
  double operator()(double low, double high) { return std::uniform_real_distribution<double>(low, high)(engine); }
  Vec3 vector(double scale) { return Vec3((*this)(-scale, scale), (*this)(-scale, scale), (*this)(-scale, scale)); }
};

// A frame that uses every feature of the format: triclinic slab cell, mixed species, a non-standard mass,
// velocities, forces, per-atom energies, energy, non-symmetric stress and virial, free info keys with spaces,
// quotes and backslashes, and extra columns of every type.
Frame feature_complete_frame() {
  RandomNumbers random;
  Frame frame;
  frame.system.cell = nqmd::Cell(matrix(7.123456789012345, 0.1, -0.2,  //
                                        0.3, 6.987654321098765, 0.05,  //
                                        -0.15, 0.25, 20.5),
                                 {true, true, false});
  const std::vector<std::string> symbols{"Cu", "Au", "H", "Cu", "O"};
  for (std::size_t i = 0; i < symbols.size(); ++i) frame.system.add_atom(symbols[i], random.vector(5.0));
  frame.system.masses[2] = 2.01410177811;  // deuterium
  for (Vec3& velocity : frame.system.velocities) velocity = random.vector(0.05);
  frame.has_velocities = true;
  frame.forces.emplace();
  frame.energies.emplace();
  for (std::size_t i = 0; i < symbols.size(); ++i) {
    frame.forces->push_back(random.vector(3.0));
    frame.energies->push_back(random(-4.0, -2.0));
  }
  frame.energy = random(-20.0, -10.0);
  frame.stress = matrix(random(-1, 1), random(-1, 1), random(-1, 1), random(-1, 1), random(-1, 1), random(-1, 1),
                        random(-1, 1), random(-1, 1), random(-1, 1));
  frame.virial = matrix(random(-9, 9), random(-9, 9), random(-9, 9), random(-9, 9), random(-9, 9), random(-9, 9),
                        random(-9, 9), random(-9, 9), random(-9, 9));
  frame.info = {{"config_name", "bulk with spaces"},
                {"quoted", "say \"hi\" to 'them'"},
                {"backslash", "C:\\path\\file"},
                {"temperature", "300.5"},
                {"flag", "T"}};
  frame.extra_columns.push_back({"tags", 'I', 1, {"1", "2", "-3", "4", "0"}});
  frame.extra_columns.push_back({"label", 'S', 1, {"a", "bb", "c", "dd", "e"}});
  frame.extra_columns.push_back({"charge", 'R', 1, {"0.125", "-1.5", "1e-05", "2", "0.3333333333333333"}});
  frame.extra_columns.push_back({"fixed", 'L', 3, {"T", "F", "T", "F", "F", "F", "T", "T", "T", "F", "T", "F", "T",
                                                   "F", "F"}});
  return frame;
}

// Runs Debian's python3 (which has ASE 3.22; the python3 on PATH may not) and returns whether it succeeded.
bool run_system_python(const std::string& arguments, const std::string& output_path) {
  const std::string command =
      "env -u PYTHONPATH -u PYTHONHOME /usr/bin/python3 " + arguments + " > '" + output_path + "' 2>&1";
  return std::system(command.c_str()) == 0;
}

bool system_python_has_ase() {
  return std::system("env -u PYTHONPATH -u PYTHONHOME /usr/bin/python3 -c 'import ase' > /dev/null 2>&1") == 0;
}

std::vector<double> parse_numbers(const std::string& text) {
  std::vector<double> numbers;
  std::istringstream fields(text);
  std::string field;
  while (fields >> field) numbers.push_back(std::strtod(field.c_str(), nullptr));
  return numbers;
}

}  // namespace

TEST_CASE("extxyz reads the seven nequip reference frames exactly", "[extxyz]") {
  const std::string path = nqmd::test::shared_path("reference/nequip-0.6.2/test_frames.extxyz");
  const std::vector<Frame> frames = nqmd::read_extxyz(path);
  REQUIRE(frames.size() == 7);

  const std::vector<std::size_t> atom_counts{32, 32, 27, 15, 2, 32, 17};
  const std::vector<std::array<bool, 3>> pbcs{{true, true, true},    {true, true, true},   {true, true, true},
                                              {false, false, false}, {true, true, true},   {true, true, false},
                                              {false, false, false}};
  const std::vector<std::string> names{"bulk_cubic_32",
                                       "bulk_triclinic_32_unwrapped",
                                       "fcc_primitive_3x3x3_triclinic",
                                       "cluster_nonperiodic",
                                       "tiny_cell_2atoms_self_images",
                                       "slab_pbc_TTF",
                                       "cluster_with_isolated_atom"};
  for (std::size_t k = 0; k < frames.size(); ++k) {
    INFO("frame " << k);
    CHECK(frames[k].system.size() == atom_counts[k]);
    CHECK(frames[k].system.cell.pbc() == pbcs[k]);
    REQUIRE(frames[k].find_info("config_name") != nullptr);
    CHECK(*frames[k].find_info("config_name") == names[k]);
    REQUIRE(frames[k].forces);
    CHECK(frames[k].forces->size() == atom_counts[k]);
    CHECK(frames[k].energy.has_value());
    CHECK_FALSE(frames[k].has_velocities);
    CHECK_FALSE(frames[k].energies.has_value());
    CHECK(frames[k].extra_columns.empty());
    // Bulk frames carry virial and stress; the clusters and the slab carry neither.
    const bool bulk = k <= 2 || k == 4;
    CHECK(frames[k].virial.has_value() == bulk);
    CHECK(frames[k].stress.has_value() == bulk);
  }

  const Frame& cubic = frames[0];
  CHECK(cubic.system.cell.lattice() == matrix(7.37293227528412, -0.08342804343855742, -0.00955092557330584,
                                              -0.08342804343855742, 7.522529958091485, -0.0321380329950897,
                                              -0.00955092557330584, -0.0321380329950897, 7.508340724939852));
  CHECK(cubic.system.symbol(0) == "Au");
  CHECK(cubic.system.positions[0] == Vec3(-0.17241546, -0.25909141, -0.04323404));
  CHECK((*cubic.forces)[0] == Vec3(0.48212489, 0.80034227, 0.55178403));
  CHECK(cubic.system.positions[31] == Vec3(5.41163875, 5.65967020, 3.62788230));
  CHECK(cubic.system.masses[0] == nqmd::element_by_symbol("Au").standard_mass_amu);
  CHECK(*cubic.energy == 11.951814227149807);
  CHECK((*cubic.virial)(0, 0) == 95.69990647680018);
  CHECK((*cubic.virial)(0, 1) == 13.504952525409756);
  CHECK((*cubic.virial)(2, 2) == 90.65600693804164);
  CHECK((*cubic.stress)(0, 0) == -0.2298405152596781);
  CHECK((*cubic.stress)(1, 2) == -0.00798803547712942);

  // Lattice rows are the lattice vectors: a = (7.725, 1.35, -0.525) of the general triclinic cell.
  CHECK(frames[1].system.cell.lattice() == matrix(7.7250000000000005, 1.3499999999999999, -0.525,  //
                                                  0.0, 7.35, 0.8999999999999999,                   //
                                                  0.0, 0.0, 7.575));
  CHECK(*frames[1].energy == 12.868436770268818);

  CHECK(frames[3].system.cell.lattice() == Mat3::Zero());
  CHECK(frames[3].system.symbol(0) == "Cu");
  CHECK(frames[3].system.positions[0] == Vec3(0.58854350, 0.67659249, 0.15212077));
  CHECK(*frames[3].energy == 12.541669267985272);

  CHECK(frames[4].system.cell.lattice() == matrix(2.651650429449553, 0.0, 0.0,  //
                                                  0.1, 2.651650429449553, 0.0,  //
                                                  0.0, 0.05, 3.75));
  CHECK(frames[4].system.positions[1] == Vec3(1.36990687, 1.37805054, 1.80782633));
  CHECK((*frames[4].forces)[1] == Vec3(0.03511165, -0.07145459, 0.31354621));
  CHECK((*frames[4].virial)(1, 2) == -0.2103636748349224);
  CHECK((*frames[4].stress)(2, 2) == -0.052526793201474346);

  CHECK(frames[5].system.cell.lattice() == matrix(7.5, 0, 0, 0, 7.5, 0, 0, 0, 30.0));
  CHECK(frames[5].system.positions[0] == Vec3(0.04693357, 0.08375508, -0.02601700));
  CHECK(*frames[5].energy == 10.372727529831831);

  CHECK(frames[6].system.positions[15] == Vec3(0.23039855, -0.14709016, 3.64652784));
  // The isolated atom, 20 A away, with zero force.
  CHECK(frames[6].system.positions[16] == Vec3(19.54598223, -0.18280148, -1.07477944));
  CHECK((*frames[6].forces)[16] == Vec3::Zero());
  CHECK(*frames[6].energy == 18.990443341510105);
}

TEST_CASE("extxyz random access agrees with sequential reading", "[extxyz]") {
  const std::string path = nqmd::test::shared_path("reference/nequip-0.6.2/test_frames.extxyz");
  const std::vector<Frame> sequential = nqmd::read_extxyz(path);
  REQUIRE(sequential.size() == 7);

  const auto same_frame = [](const Frame& a, const Frame& b) {
    CHECK(a.system.size() == b.system.size());
    CHECK(a.system.positions == b.system.positions);
    CHECK(a.system.cell.lattice() == b.system.cell.lattice());
    CHECK(a.system.cell.pbc() == b.system.cell.pbc());
    CHECK(*a.forces == *b.forces);
    CHECK(a.energy == b.energy);
    CHECK(a.info == b.info);
  };

  SECTION("read(index) on a fresh reader, then backwards and from the end") {
    nqmd::ExtxyzReader reader(path);
    same_frame(reader.read(5), sequential[5]);
    same_frame(reader.read(-1), sequential[6]);
    same_frame(reader.read(0), sequential[0]);
    same_frame(reader.read(-7), sequential[0]);
    same_frame(reader.read(3), sequential[3]);
    CHECK(reader.count() == 7);
    CHECK_THAT(input_error_message([&] { reader.read(7); }), Contains(path) && Contains("out of range") &&
                                                                 Contains("7 frames"));
    CHECK_THAT(input_error_message([&] { reader.read(-8); }), Contains("out of range"));
  }
  SECTION("next() keeps its place when read(index) jumps around in between") {
    nqmd::ExtxyzReader reader(path);
    same_frame(*reader.next(), sequential[0]);
    same_frame(reader.read(6), sequential[6]);
    same_frame(*reader.next(), sequential[1]);
    CHECK(reader.count() == 7);
    same_frame(*reader.next(), sequential[2]);
    same_frame(reader.read(-1), sequential[6]);
    for (std::size_t k = 3; k < 7; ++k) same_frame(*reader.next(), sequential[k]);
    CHECK_FALSE(reader.next().has_value());
    CHECK_FALSE(reader.next().has_value());
    same_frame(reader.read(4), sequential[4]);
  }
}

TEST_CASE("extxyz reads the 400-frame water data set", "[extxyz]") {
  const std::string path = nqmd::test::shared_path("data/water-64-deepmd/water.extxyz");
  nqmd::ExtxyzReader reader(path);

  const Frame last = reader.read(399);
  CHECK(last.system.size() == 192);
  CHECK(*last.energy == -29943.65625);
  CHECK(last.system.positions[0] == Vec3(9.2335605621337891, 1.5378314256668091, 2.867225170135498));
  CHECK((*last.forces)[0] == Vec3(-2.7658591270446777, 1.514971137046814, -0.86172580718994141));
  CHECK(last.system.positions[191] == Vec3(0.22101776301860809, 3.8468751907348633, 8.1056194305419922));
  CHECK(*last.find_info("source") == "data_3/set.000");
  CHECK(*last.find_info("frame") == "79");
  CHECK(reader.count() == 400);

  std::size_t frames = 0;
  while (std::optional<Frame> frame = reader.next()) {
    INFO("frame " << frames);
    REQUIRE(frame->system.size() == 192);
    REQUIRE(frame->energy.has_value());
    REQUIRE(frame->forces);
    REQUIRE(frame->forces->size() == 192);
    REQUIRE(frame->system.cell.lattice() == Mat3::Identity() * 12.444661140441895);
    REQUIRE(frame->system.cell.fully_periodic());
    if (frames == 0) {
      CHECK(*frame->energy == -29943.90625);
      CHECK(frame->system.symbol(0) == "O");
      CHECK(frame->system.positions[0] == Vec3(7.5387859344482422, 2.0562100410461426, 4.5207386016845703));
      CHECK(frame->system.species_symbols == std::vector<std::string>{"O", "H"});
    }
    ++frames;
  }
  CHECK(frames == 400);
}

TEST_CASE("extxyz write then read back is bit-exact", "[extxyz]") {
  TemporaryDirectory directory;
  const std::string path = directory.file("round_trip.extxyz");
  const Frame original = feature_complete_frame();

  Frame cluster;  // no cell at all, no results
  cluster.system.add_atom("C", Vec3(0.1, 0.2, 0.3));
  cluster.system.add_atom("O", Vec3(1.2345678901234567, -1e-300, 123456789.125));

  {
    nqmd::ExtxyzWriter writer(path);
    writer.write(original);
    writer.write(cluster);
    writer.flush();
  }
  {
    nqmd::ExtxyzWriter appender(path, /*append=*/true);
    appender.write(original);
  }
  std::FILE* file = std::fopen(path.c_str(), "a");
  REQUIRE(file != nullptr);
  nqmd::write_extxyz_frame(file, cluster);
  REQUIRE(std::fclose(file) == 0);

  nqmd::ExtxyzReader reader(path);
  REQUIRE(reader.count() == 4);
  for (const long index : {0L, 2L}) {
    INFO("frame " << index);
    const Frame back = reader.read(index);
    const nqmd::System& a = original.system;
    const nqmd::System& b = back.system;
    REQUIRE(b.size() == a.size());
    CHECK(b.cell.lattice() == a.cell.lattice());
    CHECK(b.cell.pbc() == a.cell.pbc());
    for (std::size_t i = 0; i < a.size(); ++i) {
      CHECK(b.symbol(i) == a.symbol(i));
      CHECK(b.masses[i] == a.masses[i]);
      CHECK(b.positions[i] == a.positions[i]);
      CHECK((*back.forces)[i] == (*original.forces)[i]);
      CHECK((*back.energies)[i] == (*original.energies)[i]);
      // Velocities travel as ASE momenta (v * m * ASE time unit), so they come back to within rounding.
      for (int axis = 0; axis < 3; ++axis)
        CHECK(std::abs(b.velocities[i][axis] - a.velocities[i][axis]) <= 1e-15 * std::abs(a.velocities[i][axis]));
    }
    CHECK(back.has_velocities);
    CHECK(*back.energy == *original.energy);
    CHECK(*back.stress == *original.stress);
    CHECK(*back.virial == *original.virial);
    CHECK(back.info == original.info);
    REQUIRE(back.extra_columns.size() == original.extra_columns.size());
    for (std::size_t c = 0; c < original.extra_columns.size(); ++c) {
      CHECK(back.extra_columns[c].name == original.extra_columns[c].name);
      CHECK(back.extra_columns[c].type == original.extra_columns[c].type);
      CHECK(back.extra_columns[c].width == original.extra_columns[c].width);
      CHECK(back.extra_columns[c].values == original.extra_columns[c].values);
    }
  }
  for (const long index : {1L, 3L}) {
    const Frame back = reader.read(index);
    CHECK(back.system.cell.lattice() == Mat3::Zero());
    CHECK_FALSE(back.system.cell.any_periodic());
    CHECK(back.system.positions == cluster.system.positions);
    CHECK(back.system.masses == cluster.system.masses);
    CHECK_FALSE(back.has_velocities);
    CHECK_FALSE(back.energy.has_value());
    CHECK_FALSE(back.forces.has_value());
    CHECK(back.info.empty());
  }

  // The layout is ASE's: count, Lattice first, Properties, results, free keys, pbc last; standard masses are
  // not written, and the cluster has no Lattice.
  const std::string text = read_text(path);
  const std::string comment = text.substr(text.find('\n') + 1, text.find('\n', text.find('\n') + 1) - text.find('\n') - 1);
  CHECK(text.rfind("5\nLattice=\"7.123456789012345 0.1 -0.2 0.3 6.987654321098765 0.05 -0.15 0.25 20.5\" "
                   "Properties=species:S:1:pos:R:3:masses:R:1:momenta:R:3:forces:R:3:energies:R:1:tags:I:1:label:S:1:"
                   "charge:R:1:fixed:L:3 energy=",
                   0) == 0);
  CHECK_THAT(comment, Contains(" config_name=\"bulk with spaces\" quoted=\"say \\\"hi\\\" to 'them'\" "
                               "backslash=C:\\\\path\\\\file temperature=300.5 flag=T pbc=\"T T F\""));
  CHECK(comment.find(" energy=") < comment.find(" stress=\""));
  CHECK(comment.find(" stress=\"") < comment.find(" virial=\""));
  CHECK(comment.find(" virial=\"") < comment.find(" config_name="));
  CHECK_THAT(text, Contains("\n2\nProperties=species:S:1:pos:R:3 pbc=\"F F F\"\nC               0.1              0.2"
                            "              0.3\nO  1.2345678901234567          -1e-300    123456789.125\n"));
}

TEST_CASE("extxyz comment line and columns follow ASE's conventions", "[extxyz]") {
  TemporaryDirectory directory;
  const std::string path = directory.file("conventions.extxyz");

  SECTION("quoting, escapes, flags, spaces around '=', Voigt stress, default pbc, CRLF and trailing blank lines") {
    write_text(path,
               "2\r\n"
               "Lattice=\"4 0 0 0 4 0 0 0 4\" Properties=species:S:1:pos:R:3:velocities:R:3:Z:I:1 "
               "title='single quoted' braces={a b} note=\"escaped \\\"quote\\\" and \\\\ backslash\" "
               "is_relaxed energy = -1.5 stress=\"1 2 3 4 5 6\" last=x=y\r\n"
               "cu 0 0 0 0.01 0.02 0.03 29\r\n"
               "AU 1 1 1 -0.01 -0.02 -0.03 79\r\n"
               "\r\n"
               "   \n");
    const std::vector<Frame> frames = nqmd::read_extxyz(path);
    REQUIRE(frames.size() == 1);
    const Frame& frame = frames[0];
    CHECK(frame.system.cell.fully_periodic());  // ASE: Lattice without pbc means periodic
    CHECK(frame.system.cell.lattice() == Mat3::Identity() * 4.0);
    CHECK(frame.system.symbol(0) == "Cu");
    CHECK(frame.system.symbol(1) == "Au");
    CHECK(frame.system.masses[1] == nqmd::element_by_symbol("Au").standard_mass_amu);
    CHECK(frame.has_velocities);
    CHECK(frame.system.velocities[1] == Vec3(-0.01, -0.02, -0.03));
    CHECK(*frame.energy == -1.5);
    // Voigt order xx yy zz yz xz xy.
    CHECK(*frame.stress == matrix(1, 6, 5, 6, 2, 4, 5, 4, 3));
    const std::vector<std::pair<std::string, std::string>> expected_info{{"title", "single quoted"},
                                                                         {"braces", "a b"},
                                                                         {"note", "escaped \"quote\" and \\ backslash"},
                                                                         {"is_relaxed", "T"},
                                                                         {"last", "x=y"}};
    CHECK(frame.info == expected_info);
    // With a species column, Z is kept as an extra column.
    REQUIRE(frame.extra_columns.size() == 1);
    CHECK(frame.extra_columns[0].name == "Z");
    CHECK(frame.extra_columns[0].values == std::vector<std::string>{"29", "79"});
  }
  SECTION("plain XYZ: no Properties, no Lattice, Z instead of species, momenta converted with the masses column") {
    write_text(path,
               "1\n"
               "\n"
               "Fe 1.5 2.5 3.5\n"
               "2\n"
               "Properties=Z:I:1:pos:R:3:momenta:R:3:masses:R:1 pbc=\"F F F\"\n"
               "1 0 0 0 1.5 0 0 2.0\n"
               "8 0 0 1 0 0 0 16.0\n");
    nqmd::ExtxyzReader reader(path);
    const Frame plain = reader.read(0);
    CHECK(plain.system.symbol(0) == "Fe");
    CHECK(plain.system.positions[0] == Vec3(1.5, 2.5, 3.5));
    CHECK_FALSE(plain.system.cell.any_periodic());
    CHECK(plain.info.empty());
    const Frame with_momenta = reader.read(1);
    CHECK(with_momenta.system.species_symbols == std::vector<std::string>{"H", "O"});
    CHECK(with_momenta.system.masses == std::vector<double>{2.0, 16.0});
    CHECK(with_momenta.has_velocities);
    CHECK(with_momenta.system.velocities[0] == Vec3(1.5 / 2.0 / nqmd::units::ase_time_unit_fs, 0, 0));
    CHECK(with_momenta.extra_columns.empty());
  }
}

TEST_CASE("extxyz files we write are read by ASE with the same numbers", "[extxyz][ase]") {
  if (!system_python_has_ase()) {
    WARN("skipped: /usr/bin/python3 cannot import ase");
    return;
  }
  TemporaryDirectory directory;
  const std::string data_path = directory.file("ours.extxyz");
  const std::string script_path = directory.file("read_with_ase.py");
  const std::string output_path = directory.file("ase_output.txt");

  Frame frame = feature_complete_frame();
  frame.stress = matrix(0.11, 0.04, -0.05, 0.04, 0.22, 0.06, -0.05, 0.06, 0.33);  // ASE keeps stress as Voigt
  {
    nqmd::ExtxyzWriter writer(data_path);
    writer.write(frame);
    writer.flush();
  }
  write_text(script_path, R"(import sys
import ase.io
import ase.units

atoms = ase.io.read(sys.argv[1], index=0, format='extxyz')


def numbers(name, values):
    print(name, ' '.join(repr(float(v)) for v in values))


print('symbols', ' '.join(atoms.get_chemical_symbols()))
numbers('energy', [atoms.get_potential_energy()])
numbers('forces', atoms.get_forces().ravel())
numbers('energies', atoms.get_potential_energies())
numbers('stress', atoms.get_stress(voigt=False).ravel())
numbers('virial', atoms.info['virial'].ravel())
numbers('cell', atoms.cell[:].ravel())
print('pbc', ' '.join('T' if p else 'F' for p in atoms.pbc))
numbers('positions', atoms.positions.ravel())
numbers('masses', atoms.get_masses())
numbers('momenta', atoms.get_momenta().ravel())
numbers('velocities_a_per_fs', (atoms.get_velocities() * ase.units.fs).ravel())
for key in ('config_name', 'quoted', 'backslash', 'temperature', 'flag'):
    print('info_' + key, atoms.info[key])
print('tags', ' '.join(str(t) for t in atoms.arrays['tags']))
)");
  REQUIRE(run_system_python("'" + script_path + "' '" + data_path + "'", output_path));

  std::map<std::string, std::string> printed;
  std::istringstream lines(read_text(output_path));
  std::string line;
  while (std::getline(lines, line)) printed[line.substr(0, line.find(' '))] = line.substr(line.find(' ') + 1);
  INFO("ASE printed:\n" << read_text(output_path));

  const nqmd::System& system = frame.system;
  const std::size_t n = system.size();
  CHECK(printed["symbols"] == "Cu Au H Cu O");
  CHECK(parse_numbers(printed["energy"]) == std::vector<double>{*frame.energy});
  std::vector<double> forces, energies, positions, momenta;
  for (std::size_t i = 0; i < n; ++i) {
    energies.push_back((*frame.energies)[i]);
    for (int axis = 0; axis < 3; ++axis) {
      forces.push_back((*frame.forces)[i][axis]);
      positions.push_back(system.positions[i][axis]);
      momenta.push_back((system.velocities[i] * system.masses[i] * nqmd::units::ase_time_unit_fs)[axis]);
    }
  }
  CHECK(parse_numbers(printed["forces"]) == forces);
  CHECK(parse_numbers(printed["energies"]) == energies);
  CHECK(parse_numbers(printed["positions"]) == positions);
  CHECK(parse_numbers(printed["masses"]) == system.masses);
  CHECK(parse_numbers(printed["momenta"]) == momenta);
  std::vector<double> stress, virial, cell;
  for (int i = 0; i < 3; ++i) {
    for (int j = 0; j < 3; ++j) {
      stress.push_back((*frame.stress)(i, j));
      virial.push_back((*frame.virial)(i, j));  // non-symmetric: checks the orientation of the 9 numbers
      cell.push_back(system.cell.lattice()(i, j));
    }
  }
  CHECK(parse_numbers(printed["stress"]) == stress);
  CHECK(parse_numbers(printed["virial"]) == virial);
  CHECK(parse_numbers(printed["cell"]) == cell);
  CHECK(printed["pbc"] == "T T F");
  const std::vector<double> ase_velocities = parse_numbers(printed["velocities_a_per_fs"]);
  REQUIRE(ase_velocities.size() == 3 * n);
  for (std::size_t i = 0; i < n; ++i)
    for (int axis = 0; axis < 3; ++axis)
      CHECK(std::abs(ase_velocities[3 * i + axis] - system.velocities[i][axis]) <=
            1e-14 * std::abs(system.velocities[i][axis]));
  CHECK(printed["info_config_name"] == "bulk with spaces");
  CHECK(printed["info_quoted"] == "say \"hi\" to 'them'");
  CHECK(printed["info_backslash"] == "C:\\path\\file");
  CHECK(printed["info_temperature"] == "300.5");
  CHECK(printed["info_flag"] == "True");
  CHECK(printed["tags"] == "1 2 -3 4 0");
}

TEST_CASE("extxyz files ASE writes are read with the same numbers", "[extxyz][ase]") {
  if (!system_python_has_ase()) {
    WARN("skipped: /usr/bin/python3 cannot import ase");
    return;
  }
  TemporaryDirectory directory;
  const std::string data_path = directory.file("ase.extxyz");
  const std::string script_path = directory.file("write_with_ase.py");
  const std::string output_path = directory.file("ase_output.txt");
  // Per-atom values have at most 8 decimals, as ASE writes them with %16.8f; info values are written in full.
  write_text(script_path, R"(import sys
from ase import Atoms
from ase.calculators.singlepoint import SinglePointCalculator
import ase.io

bulk = Atoms('CuAuH', positions=[[0.125, 0.25, 0.5], [1.5, 2.75, 3.0625], [2.0, -0.5, 1.25]],
             cell=[[4.0, 0.0, 0.0], [0.5, 4.5, 0.0], [0.25, 0.125, 5.0]], pbc=[True, True, False])
bulk.set_masses([63.5, 196.966569, 2.014])
bulk.set_momenta([[0.5, -1.25, 2.0], [1.5, 0.25, -0.75], [0.0625, 0.125, -0.5]])
bulk.info['config_name'] = 'made by ase'
bulk.info['temperature'] = 300.5
bulk.calc = SinglePointCalculator(bulk, energy=-12.345678901234567,
                                  forces=[[0.1, -0.2, 0.3], [-1.5, 2.25, 0.0], [1.4, -2.05, -0.3]],
                                  stress=[0.1, 0.2, 0.3, 0.04, 0.05, 0.06])
molecule = Atoms('OH2', positions=[[0.0, 0.0, 0.119262], [0.0, 0.763239, -0.477047], [0.0, -0.763239, -0.477047]])
molecule.calc = SinglePointCalculator(molecule, energy=-14.25)
ase.io.write(sys.argv[1], [bulk, molecule], format='extxyz')
)");
  REQUIRE(run_system_python("'" + script_path + "' '" + data_path + "'", output_path));
  INFO("file written by ASE:\n" << read_text(data_path));

  nqmd::ExtxyzReader reader(data_path);
  REQUIRE(reader.count() == 2);
  const Frame bulk = reader.read(0);
  const nqmd::System& system = bulk.system;
  REQUIRE(system.size() == 3);
  CHECK(system.species_symbols == std::vector<std::string>{"Cu", "Au", "H"});
  CHECK(system.cell.lattice() == matrix(4.0, 0.0, 0.0, 0.5, 4.5, 0.0, 0.25, 0.125, 5.0));
  CHECK(system.cell.pbc() == std::array<bool, 3>{true, true, false});
  CHECK(system.positions[1] == Vec3(1.5, 2.75, 3.0625));
  CHECK(system.positions[2] == Vec3(2.0, -0.5, 1.25));
  CHECK(system.masses == std::vector<double>{63.5, 196.966569, 2.014});
  REQUIRE(bulk.has_velocities);
  const std::vector<Vec3> momenta{{0.5, -1.25, 2.0}, {1.5, 0.25, -0.75}, {0.0625, 0.125, -0.5}};
  for (std::size_t i = 0; i < 3; ++i)
    CHECK(system.velocities[i] == Vec3(momenta[i] / system.masses[i] / nqmd::units::ase_time_unit_fs));
  REQUIRE(bulk.forces);
  CHECK((*bulk.forces)[1] == Vec3(-1.5, 2.25, 0.0));
  CHECK((*bulk.forces)[2] == Vec3(1.4, -2.05, -0.3));
  CHECK(*bulk.energy == -12.345678901234567);
  CHECK(*bulk.stress == matrix(0.1, 0.06, 0.05, 0.06, 0.2, 0.04, 0.05, 0.04, 0.3));
  CHECK_FALSE(bulk.virial.has_value());
  CHECK(*bulk.find_info("config_name") == "made by ase");
  CHECK(*bulk.find_info("temperature") == "300.5");
  CHECK(bulk.extra_columns.empty());

  const Frame molecule = reader.read(-1);
  CHECK(molecule.system.species_symbols == std::vector<std::string>{"O", "H"});
  CHECK(molecule.system.positions[1] == Vec3(0.0, 0.763239, -0.477047));
  CHECK(molecule.system.cell.lattice() == Mat3::Zero());
  CHECK_FALSE(molecule.system.cell.any_periodic());
  CHECK(*molecule.energy == -14.25);
  CHECK_FALSE(molecule.has_velocities);
  CHECK(molecule.system.masses[0] == nqmd::element_by_symbol("O").standard_mass_amu);
}

TEST_CASE("extxyz bad input is an InputError naming file, line and what was wrong", "[extxyz]") {
  TemporaryDirectory directory;
  const std::string path = directory.file("bad.extxyz");
  const std::string good_frame = "2\nProperties=species:S:1:pos:R:3\nCu 0 0 0\nAu 1 1 1\n";
  const std::string cubic = "Lattice=\"4 0 0 0 4 0 0 0 4\" Properties=species:S:1:pos:R:3";

  SECTION("missing file") {
    const std::string missing = directory.file("does_not_exist.extxyz");
    const std::string message = input_error_message([&] { nqmd::ExtxyzReader reader(missing); });
    CHECK_THAT(message, Contains(missing) && Contains("cannot open") && Contains("No such file"));
  }
  SECTION("garbled count line") {
    write_text(path, good_frame + "two atoms\nProperties=species:S:1:pos:R:3\nCu 0 0 0\nAu 1 1 1\n");
    CHECK_THAT(reading_error(path), Contains(path + ":5:") && Contains("number of atoms") && Contains("'two atoms'"));
  }
  SECTION("wrong number of columns on an atom line") {
    write_text(path, "2\nProperties=species:S:1:pos:R:3:forces:R:3\nCu 0 0 0 1 1 1\nAu 1 1 1 2 2\n");
    CHECK_THAT(reading_error(path), Contains(path + ":4:") && Contains("has 6 fields") && Contains("declares 7"));
  }
  SECTION("non-numeric field") {
    write_text(path, "2\nProperties=species:S:1:pos:R:3:forces:R:3\nCu 0 0 0 1 1 1\nAu 1 1 1 2 abc 2\n");
    CHECK_THAT(reading_error(path),
               Contains(path + ":4:") && Contains("column forces") && Contains("'abc'") && Contains("real number"));
  }
  SECTION("non-integer field in an integer column") {
    write_text(path, "1\nProperties=species:S:1:pos:R:3:tags:I:1\nCu 0 0 0 1.5\n");
    CHECK_THAT(reading_error(path), Contains(path + ":3:") && Contains("column tags") && Contains("an integer"));
  }
  SECTION("truncated last frame") {
    write_text(path, good_frame + "3\nProperties=species:S:1:pos:R:3\nCu 0 0 0\n");
    nqmd::ExtxyzReader reader(path);
    CHECK(reader.read(0).system.size() == 2);  // frames before the damage stay readable
    CHECK_THAT(input_error_message([&] { reader.count(); }),
               Contains(path + ":7:") && Contains("after 1 of 3 atom lines") && Contains("line 5") &&
                   Contains("truncated"));
  }
  SECTION("file ends after a count line") {
    write_text(path, good_frame + "3\n");
    CHECK_THAT(reading_error(path), Contains(path + ":5:") && Contains("after the atom count line"));
  }
  SECTION("Properties widths disagree with the columns") {
    write_text(path, "2\nProperties=species:S:1:pos:R:3:forces:R:3\nCu 0 0 0\nAu 1 1 1\n");
    CHECK_THAT(reading_error(path), Contains(path + ":3:") && Contains("has 4 fields") &&
                                        Contains("Properties=species:S:1:pos:R:3:forces:R:3 declares 7"));
  }
  SECTION("Properties with the wrong width for a known column") {
    write_text(path, "1\nProperties=species:S:1:pos:R:3:forces:R:2\nCu 0 0 0 1 1\n");
    CHECK_THAT(reading_error(path), Contains(path + ":2:") && Contains("forces:R:2") && Contains("expected forces:R:3"));
  }
  SECTION("Properties with an unknown type letter") {
    write_text(path, "1\nProperties=species:S:1:pos:X:3\nCu 0 0 0\n");
    CHECK_THAT(reading_error(path), Contains(path + ":2:") && Contains("type 'X'") && Contains("R, I, L or S"));
  }
  SECTION("Properties that are not triplets") {
    write_text(path, "1\nProperties=species:S:1:pos:R\nCu 0 0 0\n");
    CHECK_THAT(reading_error(path), Contains(path + ":2:") && Contains("5 ':'-separated fields") &&
                                        Contains("name:type:width triplets"));
  }
  SECTION("Properties without positions") {
    write_text(path, "1\nProperties=species:S:1:x:R:3\nCu 0 0 0\n");
    CHECK_THAT(reading_error(path), Contains(path + ":2:") && Contains("no pos column"));
  }
  SECTION("unknown element") {
    write_text(path, good_frame + "2\n" + cubic + "\nCu 0 0 0\nXx 1 1 1\n");
    CHECK_THAT(reading_error(path), Contains(path + ":8:") && Contains("unknown element 'Xx'"));
  }
  SECTION("zero-volume Lattice") {
    write_text(path, "1\nLattice=\"1 0 0 2 0 0 0 0 1\" Properties=species:S:1:pos:R:3\nCu 0 0 0\n");
    CHECK_THAT(reading_error(path), Contains(path + ":2:") && Contains("Lattice") && Contains("zero cell volume"));
  }
  SECTION("negative-volume Lattice") {
    write_text(path, "1\nLattice=\"0 1 0 1 0 0 0 0 1\" Properties=species:S:1:pos:R:3\nCu 0 0 0\n");
    CHECK_THAT(reading_error(path), Contains(path + ":2:") && Contains("Lattice") && Contains("negative volume"));
  }
  SECTION("Lattice that is not 9 numbers") {
    write_text(path, "1\nLattice=\"4 0 0 0 4 0 0 4\" Properties=species:S:1:pos:R:3\nCu 0 0 0\n");
    CHECK_THAT(reading_error(path), Contains(path + ":2:") && Contains("Lattice has 8 numbers") && Contains("9"));
  }
  SECTION("malformed stress") {
    write_text(path, "1\n" + cubic + " stress=\"1 2 3 4\"\nCu 0 0 0\n");
    CHECK_THAT(reading_error(path),
               Contains(path + ":2:") && Contains("stress has 4 numbers") && Contains("expected 9") && Contains("6"));
    write_text(path, "1\n" + cubic + " stress=\"1 2 3 4 five 6\"\nCu 0 0 0\n");
    CHECK_THAT(reading_error(path), Contains(path + ":2:") && Contains("stress has 'five'"));
  }
  SECTION("periodic without a Lattice") {
    write_text(path, "1\nProperties=species:S:1:pos:R:3 pbc=\"T T F\"\nCu 0 0 0\n");
    CHECK_THAT(reading_error(path), Contains(path + ":2:") && Contains("no Lattice"));
  }
  SECTION("unterminated quote") {
    write_text(path, "1\nProperties=species:S:1:pos:R:3 note=\"open\nCu 0 0 0\n");
    CHECK_THAT(reading_error(path), Contains(path + ":2:") && Contains("unterminated"));
  }
  SECTION("blank line between frames") {
    write_text(path, good_frame + "\n" + good_frame);
    CHECK_THAT(reading_error(path), Contains(path + ":5:") && Contains("blank line") && Contains("line 6"));
  }
}

TEST_CASE("extxyz writer reports files it cannot open or write", "[extxyz]") {
  Frame frame;
  frame.system.add_atom("Cu", Vec3(0, 0, 0));

  const std::string unwritable = "/nonexistent-directory/out.extxyz";
  CHECK_THAT(input_error_message([&] { nqmd::ExtxyzWriter writer(unwritable); }),
             Contains(unwritable) && Contains("cannot open for writing"));

  if (std::filesystem::exists("/dev/full")) {
    nqmd::ExtxyzWriter writer("/dev/full");
    CHECK_THAT(input_error_message([&] {
                 writer.write(frame);
                 writer.flush();
               }),
               Contains("/dev/full") && Contains("No space left on device"));
  }
}

TEST_CASE("extxyz: a trajectory cut inside its last frame gives its complete frames", "[extxyz]") {
  TemporaryDirectory directory;
  const std::string frame = "2\nLattice=\"5 0 0 0 5 0 0 0 5\" Properties=species:S:1:pos:R:3 pbc=\"T T T\"\nAr 0 0 0\nAr 1 1 1\n";
  write_text(directory.file("cut.extxyz"), frame + frame + "2\nLattice=\"5 0 0 0 5 0 0 0 5\" Properties=species:S:1:pos:R:3\nAr 0 0");
  nqmd::ExtxyzReader reader(directory.file("cut.extxyz"));
  bool truncated = false;
  CHECK(reader.count_complete_frames(truncated) == 2);
  CHECK(truncated);
  CHECK(reader.read(1).system.positions[1] == Vec3(1, 1, 1));
  // count() stays strict, and so does a file that is damaged elsewhere.
  nqmd::ExtxyzReader strict(directory.file("cut.extxyz"));
  CHECK_THROWS_WITH(strict.count(), Contains("truncated frame"));
  write_text(directory.file("bad.extxyz"), frame + "x\n" + frame);
  nqmd::ExtxyzReader damaged(directory.file("bad.extxyz"));
  CHECK_THROWS_AS(damaged.count_complete_frames(truncated), nqmd::InputError);
}
