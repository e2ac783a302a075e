// [structure] replicate: a structure read from a file or a checkpoint, repeated along its lattice vectors, against
// the lattice builder's supercell and against the unwrapped positions of the original atoms.
#include <optional>
#include <string>

#include <catch2/catch.hpp>
#include <fmt/format.h>

#include "engine/config.hpp"
#include "engine/error.hpp"
#include "engine/lattice.hpp"
#include "engine/memory_budget.hpp"
#include "engine/structure.hpp"
#include "engine/system.hpp"
#include "input_error_message.hpp"
#include "io/checkpoint.hpp"
#include "temporary_directory.hpp"

namespace nqmd::test {
namespace {

// The frame a [structure] section of an input file in `directory` loads.
Frame load(const TemporaryDirectory& directory, const std::string& structure_section) {
  directory.write("input.toml", "[structure]\n" + structure_section);
  const InputFile input(directory.path("input.toml"));
  return load_structure(input.section(structure_section_schema()));
}

Vec3 velocity_of(std::size_t atom) { return Vec3(0.001 * atom + 0.01, -0.002 * atom, 0.003); }

// The conventional fcc cell of Cu (a = 3.6 A) as extxyz, with a velocity per atom.
std::string fcc_cell_extxyz() {
  const LatticeSpec spec{"fcc", 3.6, 0.0, {1, 1, 1}, {"Cu"}};
  const System cell = build_lattice(spec);
  std::string text = fmt::format("{}\nLattice=\"3.6 0 0 0 3.6 0 0 0 3.6\" Properties=species:S:1:pos:R:3:velocities:R:3 "
                                 "pbc=\"T T T\"\n",
                                 cell.size());
  for (std::size_t i = 0; i < cell.size(); ++i) {
    const Vec3& x = cell.positions[i];
    const Vec3 v = velocity_of(i);
    text += fmt::format("Cu {:.17g} {:.17g} {:.17g} {:.17g} {:.17g} {:.17g}\n", x[0], x[1], x[2], v[0], v[1], v[2]);
  }
  return text;
}

TEST_CASE("replicate: an fcc cell from a file replicated 2x3x2 is the lattice builder's supercell", "[structure]") {
  TemporaryDirectory directory;
  directory.write("cell.extxyz", fcc_cell_extxyz());
  const Frame frame = load(directory, "file = \"cell.extxyz\"\nreplicate = [2, 3, 2]\n");
  const System supercell = build_lattice({"fcc", 3.6, 0.0, {2, 3, 2}, {"Cu"}});
  const System& system = frame.system;
  REQUIRE(system.size() == 4 * 2 * 3 * 2);
  REQUIRE(supercell.size() == system.size());
  CHECK(frame.has_velocities);
  CHECK(system.cell.lattice().isApprox(supercell.cell.lattice(), 1e-15));
  CHECK(system.cell.fully_periodic());
  for (std::size_t i = 0; i < system.size(); ++i) {
    INFO("atom " << i);
    CHECK((system.positions[i] - supercell.positions[i]).cwiseAbs().maxCoeff() < 1e-12);
    CHECK(system.velocities[i] == velocity_of(i % 4));
    CHECK(system.images[i] == Vec3i::Zero());
    CHECK(system.symbol(i) == "Cu");
    CHECK(system.masses[i] == supercell.masses[i]);
  }
}

TEST_CASE("replicate: copies keep the unwrapped positions and velocities of a checkpoint's atoms", "[structure]") {
  TemporaryDirectory directory;
  Checkpoint checkpoint;
  System& original = checkpoint.system;
  original.cell = Cell((Mat3() << 4.0, 0.0, 0.0, 1.0, 5.0, 0.0, 0.5, 0.3, 6.0).finished(), {true, true, true});
  original.add_atom("O", Vec3(0.5, 1.0, 1.5));
  original.add_atom("H", Vec3(3.0, 4.0, 5.0), 2.014);
  original.images = {Vec3i(1, -1, 0), Vec3i(-3, 2, 5)};
  original.velocities = {Vec3(0.01, 0.02, 0.03), Vec3(-0.04, 0.05, -0.06)};
  checkpoint.atom_energies.assign(2, 0.0);
  checkpoint.forces.assign(2, Vec3::Zero());
  write_checkpoint(directory.path("start.h5"), checkpoint);

  const std::array<int, 3> copies{2, 3, 2};
  const System system = load(directory, "checkpoint = \"start.h5\"\nreplicate = [2, 3, 2]\n").system;
  REQUIRE(system.size() == 2 * 12);
  for (int axis = 0; axis < 3; ++axis)
    CHECK(system.cell.lattice().row(axis).isApprox(copies[axis] * original.cell.lattice().row(axis), 1e-15));
  std::size_t atom = 0;
  for (int i = 0; i < 2; ++i)
    for (int j = 0; j < 3; ++j)
      for (int k = 0; k < 2; ++k)
        for (std::size_t source = 0; source < original.size(); ++source, ++atom) {
          INFO("copy " << i << j << k << " of atom " << source);
          const Vec3 expected = original.unwrapped_position(source) + original.cell.shift_vector(Vec3i(i, j, k));
          CHECK((system.unwrapped_position(atom) - expected).cwiseAbs().maxCoeff() < 1e-12);
          CHECK(system.velocities[atom] == original.velocities[source]);
          CHECK(system.masses[atom] == original.masses[source]);
          CHECK(system.symbol(atom) == original.symbol(source));
          // The copy sits in the supercell: its fractional coordinates (of the supercell) are those of the atom's
          // wrapped position shifted by whole small cells, within [0, 1) of the supercell along each axis.
          const Vec3 fractional = system.cell.to_fractional(system.positions[atom]);
          CHECK(fractional.minCoeff() >= -1e-12);
          CHECK(fractional.maxCoeff() < 1.0);
        }
}

TEST_CASE("replicate: bad requests are one-line errors naming the key", "[structure]") {
  TemporaryDirectory directory;
  directory.write("cell.extxyz", fcc_cell_extxyz());
  CHECK_THAT(input_error_message([&] { load(directory, "file = \"cell.extxyz\"\nreplicate = [1000, 1000, 1000]\n"); }),
             Catch::Contains("[structure] replicate") && Catch::Contains("4e+09 atoms"));
  CHECK_THAT(input_error_message([&] {
               load(directory, "file = \"cell.extxyz\"\npbc = [true, true, false]\nreplicate = [1, 1, 2]\n");
             }),
             Catch::Contains("[structure] replicate") && Catch::Contains("non-periodic axis c"));
  CHECK_THAT(input_error_message([&] {
               load(directory, "lattice = \"fcc\"\nlattice_constant = 3.6\nspecies = [\"Cu\"]\nreplicate = [2, 2, 2]\n");
             }),
             Catch::Contains("[structure] replicate") && Catch::Contains("`repeat`"));
  CHECK_THAT(input_error_message([&] { load(directory, "file = \"cell.extxyz\"\nreplicate = [2, 0, 2]\n"); }),
             Catch::Contains("replicate") && Catch::Contains(">= 1"));
  const std::string message =
      input_error_message([&] { load(directory, "file = \"cell.extxyz\"\nreplicate = [1000, 1000, 1000]\n"); });
  CHECK(message.find('\n') == std::string::npos);
}

TEST_CASE("structure sizes are checked against the memory budget before anything is built", "[structure]") {
  TemporaryDirectory directory;
  directory.write("cell.extxyz", fcc_cell_extxyz());
  // 1.1 MB holds 4296 atoms at kBytesPerAtom = 256: a 10x10x10 fcc lattice (4000 atoms) fits, 11x11x11 (5324)
  // not. The budget goes back to the machine's memory however the test ends.
  struct BudgetGuard {
    BudgetGuard() { set_memory_budget_bytes(1.1e6); }
    ~BudgetGuard() { set_memory_budget_bytes(0.0); }
  };
  std::optional<BudgetGuard> budget(std::in_place);
  CHECK(load(directory, "lattice = \"fcc\"\nlattice_constant = 3.6\nspecies = [\"Cu\"]\nrepeat = [10, 10, 10]\n")
            .system.size() == 4000);
  const std::string lattice = input_error_message(
      [&] { load(directory, "lattice = \"fcc\"\nlattice_constant = 3.6\nspecies = [\"Cu\"]\nrepeat = [11, 11, 11]\n"); });
  const std::string replica =
      input_error_message([&] { load(directory, "file = \"cell.extxyz\"\nreplicate = [11, 11, 11]\n"); });
  budget.reset();
  CHECK_THAT(lattice, Catch::Contains("input.toml:5: [structure] repeat: would make 5324 atoms, about 0.00136 GB") &&
                          Catch::Contains("more than the 0.0011 GB of memory here"));
  CHECK_THAT(replica, Catch::Contains("[structure] replicate: would make 5324 atoms"));
  CHECK(memory_budget_bytes() > 1e8);
}

}  // namespace
}  // namespace nqmd::test
