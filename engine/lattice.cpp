#include "engine/lattice.hpp"

#include <cmath>

#include <fmt/format.h>

#include "engine/error.hpp"

namespace nqmd {
namespace {

struct UnitCell {
  Mat3 lattice;                  // rows, in units of a (c for the third hcp vector is set separately)
  std::vector<Vec3> fractional;  // basis sites
};

UnitCell unit_cell(const LatticeSpec& spec) {
  const double a = spec.lattice_constant;
  UnitCell cell;
  cell.lattice = a * Mat3::Identity();
  if (spec.kind == "sc") {
    cell.fractional = {{0, 0, 0}};
  } else if (spec.kind == "bcc") {
    cell.fractional = {{0, 0, 0}, {0.5, 0.5, 0.5}};
  } else if (spec.kind == "fcc") {
    cell.fractional = {{0, 0, 0}, {0, 0.5, 0.5}, {0.5, 0, 0.5}, {0.5, 0.5, 0}};
  } else if (spec.kind == "diamond") {
    cell.fractional = {{0, 0, 0}, {0, 0.5, 0.5}, {0.5, 0, 0.5}, {0.5, 0.5, 0},
                       {0.25, 0.25, 0.25}, {0.25, 0.75, 0.75}, {0.75, 0.25, 0.75}, {0.75, 0.75, 0.25}};
  } else if (spec.kind == "hcp") {
    // Hexagonal cell with a1, a2 at 60 degrees; the B layer sits over the centroid of a1, a2 at half height.
    const double c = spec.c > 0 ? spec.c : std::sqrt(8.0 / 3.0) * a;
    cell.lattice << a, 0, 0, a / 2, a * std::sqrt(3.0) / 2, 0, 0, 0, c;
    cell.fractional = {{0, 0, 0}, {1.0 / 3, 1.0 / 3, 0.5}};
  }
  return cell;
}

}  // namespace

const std::vector<std::string>& lattice_kinds() {
  static const std::vector<std::string> kinds{"fcc", "bcc", "hcp", "diamond", "sc"};
  return kinds;
}

std::size_t lattice_basis_size(const std::string& kind) {
  LatticeSpec spec;
  spec.kind = kind;
  spec.lattice_constant = 1.0;
  return unit_cell(spec).fractional.size();
}

System build_lattice(const LatticeSpec& spec) {
  bool known = false;
  for (const std::string& kind : lattice_kinds()) known = known || kind == spec.kind;
  if (!known) throw InputError(fmt::format("unknown lattice '{}' (expected fcc, bcc, hcp, diamond or sc)", spec.kind));
  if (!(spec.lattice_constant > 0)) throw InputError("lattice_constant must be > 0");
  for (int n : spec.repeat)
    if (n < 1) throw InputError("repeat must be >= 1 along every axis");
  if (spec.species.empty()) throw InputError("species must name at least one element");

  const UnitCell unit = unit_cell(spec);
  System system;
  Mat3 lattice = unit.lattice;
  for (int axis = 0; axis < 3; ++axis) lattice.row(axis) *= spec.repeat[axis];
  system.cell = Cell(lattice, {true, true, true});
  std::size_t site = 0;
  for (int i = 0; i < spec.repeat[0]; ++i)
    for (int j = 0; j < spec.repeat[1]; ++j)
      for (int k = 0; k < spec.repeat[2]; ++k)
        for (const Vec3& basis : unit.fractional) {
          const Vec3 fractional = basis + Vec3(i, j, k);
          system.add_atom(spec.species[site % spec.species.size()], unit.lattice.transpose() * fractional);
          ++site;
        }
  return system;
}

}  // namespace nqmd
