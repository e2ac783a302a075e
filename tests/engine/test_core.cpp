// Units, periodic table, Cell, System, lattices and input validation: the engine's core types.
#include <cmath>
#include <fstream>
#include <random>

#include <catch2/catch.hpp>

#include "engine/cell.hpp"
#include "engine/config.hpp"
#include "engine/error.hpp"
#include "engine/lattice.hpp"
#include "engine/periodic_table.hpp"
#include "engine/structure.hpp"
#include "engine/system.hpp"
#include "engine/units.hpp"

using nqmd::Cell;
using nqmd::Mat3;
using nqmd::Vec3;
using nqmd::Vec3i;

TEST_CASE("units: metal units with fs against CODATA values", "[core][units]") {
  namespace u = nqmd::units;
  // CODATA 2018: 1 amu A^2 / fs^2 = 1.66053906660e-27 kg * 1e10 m^2/s^2 = 103.6426965 eV (e = 1.602176634e-19 C)
  CHECK(u::amu_a2_per_fs2_to_ev == Approx(103.64269652680).epsilon(1e-12));
  CHECK(u::ev_per_a_amu_to_a_per_fs2 * u::amu_a2_per_fs2_to_ev == Approx(1.0).epsilon(1e-15));
  CHECK(u::ev_per_a3_to_gpa == Approx(160.2176634).epsilon(1e-12));
  CHECK(u::ev_per_a3_to_bar == Approx(1.602176634e6).epsilon(1e-12));
  CHECK(u::boltzmann_ev_per_k == 8.617333262e-5);
  // ASE's time unit from its CODATA 2014 constants (ase.units: 1 / fs = 10.1805...).
  CHECK(u::ase_time_unit_fs == Approx(1e-10 * std::sqrt(1.660539040e-27 / 1.6021766208e-19) * 1e15).epsilon(1e-14));
}

TEST_CASE("periodic table: symbols, numbers and standard masses", "[core][elements]") {
  CHECK(nqmd::element_by_symbol("H").atomic_number == 1);
  CHECK(nqmd::element_by_symbol("O").standard_mass_amu == Approx(15.999));
  CHECK(nqmd::element_by_symbol("Cu").standard_mass_amu == Approx(63.546));
  CHECK(nqmd::element_by_symbol("Au").atomic_number == 79);
  CHECK(nqmd::element_by_number(3).symbol == "Li");
  CHECK(nqmd::element_by_number(118).symbol == "Og");
  CHECK_THROWS_WITH(nqmd::element_by_symbol("Xx"), Catch::Contains("unknown element symbol 'Xx'"));
  CHECK_THROWS_AS(nqmd::element_by_symbol("cu"), nqmd::InputError);
  CHECK_THROWS_AS(nqmd::element_by_number(0), nqmd::InputError);
  CHECK_THROWS_AS(nqmd::element_by_number(119), nqmd::InputError);
}

TEST_CASE("cell: fractional coordinates, volume and perpendicular widths of a triclinic cell", "[core][cell]") {
  Mat3 lattice;
  lattice << 5.0, 0.0, 0.0, 1.5, 4.0, 0.0, -0.7, 0.9, 6.0;
  const Cell cell(lattice, {true, true, true});
  CHECK(cell.volume() == Approx(5.0 * 4.0 * 6.0).epsilon(1e-14));
  // Widths: V / |a_j x a_k|, the distance between opposite faces.
  const Vec3 a = lattice.row(0), b = lattice.row(1), c = lattice.row(2);
  const Vec3 widths = cell.perpendicular_widths();
  CHECK(widths[0] == Approx(120.0 / b.cross(c).norm()).epsilon(1e-14));
  CHECK(widths[1] == Approx(120.0 / c.cross(a).norm()).epsilon(1e-14));
  CHECK(widths[2] == Approx(6.0).epsilon(1e-14));
  const Vec3 x(1.3, -2.2, 7.9);
  const Vec3 f = cell.to_fractional(x);
  CHECK((f.transpose() * lattice - x.transpose()).norm() < 1e-13);
  CHECK((cell.to_cartesian(f) - x).norm() < 1e-13);
  CHECK((cell.shift_vector(Vec3i(1, -2, 3)) - (a - 2 * b + 3 * c)).norm() < 1e-13);
}

TEST_CASE("cell: wrapping keeps x = wrapped + n . lattice and respects per-axis pbc", "[core][cell]") {
  Mat3 lattice;
  lattice << 4.0, 0.0, 0.0, 2.0, 3.5, 0.0, 1.0, 1.0, 5.0;
  std::mt19937_64 generator(3);
  std::uniform_real_distribution<double> coordinate(-40.0, 40.0);
  for (const std::array<bool, 3> pbc : {std::array<bool, 3>{true, true, true}, std::array<bool, 3>{true, true, false}}) {
    const Cell cell(lattice, pbc);
    for (int trial = 0; trial < 1000; ++trial) {
      const Vec3 original(coordinate(generator), coordinate(generator), coordinate(generator));
      Vec3 wrapped = original;
      const Vec3i shift = cell.wrap(wrapped);
      CHECK((wrapped + cell.shift_vector(shift) - original).norm() < 1e-12);
      const Vec3 f = cell.to_fractional(wrapped);
      for (int axis = 0; axis < 3; ++axis) {
        if (pbc[axis]) {
          CHECK(f[axis] >= 0.0);
          CHECK(f[axis] < 1.0);
        } else {
          CHECK(shift[axis] == 0);
        }
      }
    }
  }
}

TEST_CASE("cell: clusters and slabs get a completed lattice, bad cells are errors", "[core][cell]") {
  const Cell none;
  CHECK(none.volume() == 0.0);
  CHECK_FALSE(none.any_periodic());
  CHECK(std::abs(none.completed_lattice().determinant()) == Approx(1.0));
  Mat3 slab = Mat3::Zero();
  slab.row(0) = Vec3(3.0, 0.0, 0.0);
  slab.row(1) = Vec3(1.0, 3.0, 0.0);
  const Cell slab_cell(slab, {true, true, false});
  CHECK(slab_cell.completed_lattice().row(2).norm() == Approx(1.0));
  CHECK(std::abs(slab_cell.completed_lattice().row(2).dot(Vec3(3, 0, 0))) < 1e-14);
  CHECK(slab_cell.completed_lattice().determinant() > 0);

  Mat3 flat;
  flat << 3, 0, 0, 6, 0, 0, 0, 0, 3;
  CHECK_THROWS_WITH(Cell(flat, {true, true, true}), Catch::Contains("zero cell volume"));
  Mat3 left = Mat3::Identity() * 3.0;
  left(2, 2) = -3.0;
  CHECK_THROWS_WITH(Cell(left, {true, true, true}), Catch::Contains("negative volume"));
  CHECK_THROWS_WITH(Cell(Mat3::Zero(), {true, false, false}), Catch::Contains("zero"));
}

TEST_CASE("system: image counters make unwrapped positions exact across wraps", "[core][system]") {
  nqmd::System system;
  Mat3 lattice;
  lattice << 6.0, 0.0, 0.0, 1.0, 6.0, 0.0, 0.5, -0.5, 6.0;
  system.cell = Cell(lattice, {true, true, true});
  system.add_atom("Cu", Vec3(0.1, 0.2, 0.3));
  system.add_atom("Au", Vec3(5.9, 5.9, 5.9));
  CHECK(system.species_symbols == std::vector<std::string>{"Cu", "Au"});
  CHECK(system.masses[1] == Approx(196.966569));
  // Walk the first atom through many cells, wrapping after every move.
  Vec3 truth = system.positions[0];
  const Vec3 move(2.7, -1.9, 3.3);
  for (int step = 0; step < 200; ++step) {
    system.positions[0] += move;
    truth += move;
    system.wrap_into_cell();
  }
  CHECK((system.unwrapped_position(0) - truth).norm() < 1e-10);
  CHECK(system.images[0] != Vec3i::Zero());
  system.masses[0] = -1.0;
  CHECK_THROWS_WITH(system.validate(), Catch::Contains("mass"));
}

TEST_CASE("lattice: fcc, bcc, hcp, diamond and sc have their nearest-neighbour shells", "[core][lattice]") {
  auto nearest = [](const nqmd::System& system) {
    double best = 1e9;
    int count = 0;
    const Mat3& lattice = system.cell.lattice();
    for (std::size_t j = 1; j < system.size(); ++j)
      for (int a = -1; a <= 1; ++a)
        for (int b = -1; b <= 1; ++b)
          for (int c = -1; c <= 1; ++c) {
            const double r = (system.positions[j] - system.positions[0] +
                              lattice.transpose() * Vec3(a, b, c)).norm();
            if (r < best - 1e-9) {
              best = r;
              count = 1;
            } else if (std::abs(r - best) < 1e-9) {
              ++count;
            }
          }
    return std::make_pair(best, count);
  };
  const double a = 4.0;
  struct Case {
    const char* kind;
    std::size_t atoms;
    double distance;
    int neighbours;
  };
  for (const Case& c : {Case{"fcc", 4 * 27, a / std::sqrt(2.0), 12}, Case{"bcc", 2 * 27, a * std::sqrt(3.0) / 2, 8},
                        Case{"sc", 27, a, 6}, Case{"diamond", 8 * 27, a * std::sqrt(3.0) / 4, 4},
                        Case{"hcp", 2 * 27, a, 12}}) {
    nqmd::LatticeSpec spec;
    spec.kind = c.kind;
    spec.lattice_constant = a;
    spec.repeat = {3, 3, 3};
    spec.species = {"Cu"};
    const nqmd::System system = nqmd::build_lattice(spec);
    INFO(c.kind);
    CHECK(system.size() == c.atoms);
    const auto [distance, count] = nearest(system);
    CHECK(distance == Approx(c.distance).epsilon(1e-12));
    CHECK(count == c.neighbours);
  }
  nqmd::LatticeSpec two_species{"sc", 3.0, 0.0, {2, 1, 1}, {"Na", "Cl"}};
  const nqmd::System rock = nqmd::build_lattice(two_species);
  CHECK(rock.symbol(0) == "Na");
  CHECK(rock.symbol(1) == "Cl");
  nqmd::LatticeSpec bad{"fcx", 3.0, 0.0, {1, 1, 1}, {"Cu"}};
  CHECK_THROWS_WITH(nqmd::build_lattice(bad), Catch::Contains("unknown lattice 'fcx'"));
}

namespace {
// Each test case writes its own file: ctest runs the cases in parallel in one directory.
std::string write_toml(const std::string& path, const std::string& text) {
  std::ofstream(path) << text;
  return path;
}
}  // namespace

TEST_CASE("config: schemas check types, ranges, choices and unknown keys with file and line", "[core][config]") {
  const nqmd::SectionSchema schema{
      "integrator",
      "test",
      {nqmd::KeySpec("kind", nqmd::KeyType::string, "style").require(),
       nqmd::KeySpec("timestep", nqmd::KeyType::real, "fs").greater_than(0.0).defaults_to(1.0),
       nqmd::KeySpec("temperature", nqmd::KeyType::real, "K").at_least(0.0),
       nqmd::KeySpec("mode", nqmd::KeyType::string, "m").one_of({"fast", "slow"}),
       nqmd::KeySpec("repeat", nqmd::KeyType::integer_array, "r").length(3).at_least(1)}};
  auto section_of = [&](const std::string& text) {
    const nqmd::InputFile input(write_toml("core_test_input.toml", text));
    return input.section(schema);
  };
  const nqmd::ConfigSection ok = section_of("[integrator]\nkind = \"nve\"\ntemperature = 300\n");
  CHECK(ok.real("timestep") == 1.0);       // default
  CHECK(ok.real("temperature") == 300.0);  // integers are accepted for numbers
  CHECK(ok.string("kind") == "nve");
  CHECK_THROWS_WITH(section_of("[integrator]\nkind = \"nve\"\ntemprature = 300\n"),
                    "core_test_input.toml:3: unknown key 'temprature' in [integrator]; did you mean 'temperature'?");
  CHECK_THROWS_WITH(section_of("[integrator]\nkind = \"nve\"\ntimestep = 0.0\n"),
                    "core_test_input.toml:3: [integrator] timestep: must be > 0 (got 0)");
  CHECK_THROWS_WITH(section_of("[integrator]\nkind = \"nve\"\ntemperature = -5.0\n"),
                    "core_test_input.toml:3: [integrator] temperature: must be >= 0 (got -5)");
  CHECK_THROWS_WITH(section_of("[integrator]\nkind = \"nve\"\ntimestep = \"1 fs\"\n"),
                    "core_test_input.toml:3: [integrator] timestep: expected number, got \"1 fs\"");
  CHECK_THROWS_WITH(section_of("[integrator]\nkind = \"nve\"\nmode = \"fats\"\n"),
                    Catch::Contains("unknown value \"fats\"; did you mean 'fast'?"));
  CHECK_THROWS_WITH(section_of("[integrator]\nkind = \"nve\"\nrepeat = [1, 2]\n"),
                    Catch::Contains("expected 3 values, got 2"));
  CHECK_THROWS_WITH(section_of("[integrator]\nkind = \"nve\"\nrepeat = [1, 0, 2]\n"),
                    Catch::Contains("must be >= 1 (got 0)"));
  CHECK_THROWS_WITH(section_of("[integrator]\ntimestep = 2.0\n"), Catch::Contains("missing required key 'kind'"));
  CHECK_THROWS_WITH(nqmd::InputFile(write_toml("core_test_input.toml", "[integrator\nkind = 1\n")),
                    Catch::StartsWith("core_test_input.toml:1:") && Catch::Contains("TOML syntax error"));
  CHECK_THROWS_WITH(nqmd::InputFile("no_such_input.toml"), Catch::Contains("cannot open input file 'no_such_input.toml'"));
  const nqmd::InputFile input(write_toml("core_test_input.toml", "[integratr]\nkind = \"nve\"\n"));
  CHECK_THROWS_WITH(input.check_sections({"integrator", "run"}),
                    "core_test_input.toml:1: unknown section [integratr]; did you mean 'integrator'?");
}

TEST_CASE("structure: lattices and files through [structure], with masses and displacements", "[core][structure]") {
  const nqmd::InputFile input(write_toml("core_structure_input.toml", 
      "[structure]\nlattice = \"fcc\"\nlattice_constant = 3.6\nrepeat = [2, 2, 2]\nspecies = [\"Cu\", \"Au\"]\n"
      "masses = { Cu = 65.0 }\nrandom_displacement = 0.1\nseed = 9\n"));
  const nqmd::Frame frame = nqmd::load_structure(input.section(nqmd::structure_section_schema()));
  CHECK(frame.system.size() == 32);
  CHECK(frame.system.symbol(0) == "Cu");
  CHECK(frame.system.symbol(1) == "Au");
  CHECK(frame.system.masses[0] == 65.0);
  CHECK(frame.system.masses[1] == Approx(196.966569));
  // Displacements of standard deviation 0.1 A from the lattice sites.
  double sum_squares = 0.0;
  nqmd::LatticeSpec spec{"fcc", 3.6, 0.0, {2, 2, 2}, {"Cu", "Au"}};
  const nqmd::System perfect = nqmd::build_lattice(spec);
  for (std::size_t i = 0; i < perfect.size(); ++i) sum_squares += (frame.system.positions[i] - perfect.positions[i]).squaredNorm();
  CHECK(std::sqrt(sum_squares / (3 * 32)) == Approx(0.1).epsilon(0.25));

  const nqmd::InputFile both(write_toml("core_structure_input.toml", "[structure]\nlattice = \"fcc\"\nfile = \"x.extxyz\"\n"));
  CHECK_THROWS_WITH(nqmd::load_structure(both.section(nqmd::structure_section_schema())),
                    Catch::Contains("give exactly one of `file`, `lattice` and `checkpoint`"));
  const nqmd::InputFile missing(write_toml("core_structure_input.toml", "[structure]\nlattice = \"fcc\"\nspecies = [\"Cu\"]\n"));
  CHECK_THROWS_WITH(nqmd::load_structure(missing.section(nqmd::structure_section_schema())),
                    Catch::Contains("lattice_constant: is required with `lattice`"));
}

TEST_CASE("config: choices apply to every element of a string array", "[core][config]") {
  const nqmd::SectionSchema schema{
      "output", "test", {nqmd::KeySpec("fields", nqmd::KeyType::string_array, "f").one_of({"velocities", "forces"})}};
  const nqmd::InputFile good(write_toml("core_choices_input.toml", "[output]\nfields = [\"forces\", \"velocities\"]\n"));
  CHECK(good.section(schema).string_array("fields") == std::vector<std::string>{"forces", "velocities"});
  const nqmd::InputFile bad(write_toml("core_choices_input.toml", "[output]\nfields = [\"forces\", \"velocity\"]\n"));
  CHECK_THROWS_WITH(bad.section(schema),
                    "core_choices_input.toml:2: [output] fields: unknown value \"velocity\"; did you mean 'velocities'?");
}

TEST_CASE("config: tables of strings give their entries sorted by name", "[core][config]") {
  const nqmd::SectionSchema schema{"potential", "test", {nqmd::KeySpec("species_map", nqmd::KeyType::string_table, "m")}};
  const nqmd::InputFile good(write_toml("core_string_table.toml", "[potential]\nspecies_map = { Zn = \"B\", Cu = \"A\" }\n"));
  const auto entries = good.section(schema).string_table("species_map");
  REQUIRE(entries.size() == 2);
  CHECK(entries[0] == std::pair<std::string, std::string>{"Cu", "A"});
  CHECK(entries[1] == std::pair<std::string, std::string>{"Zn", "B"});
  const nqmd::InputFile bad(write_toml("core_string_table.toml", "[potential]\nspecies_map = { Cu = 1 }\n"));
  CHECK_THROWS_WITH(bad.section(schema),
                    "core_string_table.toml:2: [potential] species_map: expected table of strings, got a table");
}
