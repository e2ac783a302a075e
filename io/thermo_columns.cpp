#include "io/thermo_columns.hpp"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <stdexcept>

#include <fmt/format.h>

#include "engine/thermo.hpp"
#include "engine/units.hpp"

namespace nqmd {
namespace {

double volume_of(const ThermoRow& row) { return row.data.thermo.volume; }

template <int a, int b>
double pressure_component(const ThermoRow& row) {
  return row.pressure_tensor_bar()(a, b);
}

template <int axis>
double cell_length(const ThermoRow& row) {
  return row.data.system.cell.lattice().row(axis).norm();
}

// Angle (degrees) between lattice vectors b and c (alpha), a and c (beta), a and b (gamma).
template <int first, int second>
double cell_angle(const ThermoRow& row) {
  const Mat3& lattice = row.data.system.cell.lattice();
  const double norms = lattice.row(first).norm() * lattice.row(second).norm();
  if (!(norms > 0.0)) return 0.0;
  return std::acos(std::clamp(lattice.row(first).dot(lattice.row(second)) / norms, -1.0, 1.0)) * 180.0 / 3.14159265358979323846;
}

double density(const ThermoRow& row) {
  const double volume = volume_of(row);
  if (!(volume > 0.0)) return 0.0;
  double mass = 0.0;
  for (const double m : row.data.system.masses) mass += m;
  return mass * units::amu_per_a3_to_g_per_cm3 / volume;
}

std::vector<ThermoColumn> make_columns() {
  return {
      {"step", "step", "step", 10, "{}", true, "time step", [](const ThermoRow& r) { return double(r.data.thermo.step); }},
      {"time", "time_fs", "time[fs]", 12, "{:.3f}", false, "simulated time (fs)",
       [](const ThermoRow& r) { return r.data.thermo.time_fs; }},
      {"pe", "potential_energy_eV", "pot[eV]", 16, "{:.8g}", false, "potential energy (eV)",
       [](const ThermoRow& r) { return r.data.thermo.potential_energy; }},
      {"ke", "kinetic_energy_eV", "kin[eV]", 14, "{:.8g}", false, "kinetic energy (eV)",
       [](const ThermoRow& r) { return r.data.thermo.kinetic_energy; }},
      {"etotal", "total_energy_eV", "total[eV]", 16, "{:.8g}", false, "potential + kinetic energy (eV)",
       [](const ThermoRow& r) { return r.data.thermo.total_energy; }},
      {"econserved", "conserved_energy_eV", "conserved[eV]", 16, "{:.8g}", false,
       "total energy + the thermostat's and barostat's (eV; constant in exact dynamics)",
       [](const ThermoRow& r) { return r.data.thermo.conserved_energy; }},
      {"temp", "temperature_K", "T[K]", 10, "{:.3f}", false, "kinetic temperature (K)",
       [](const ThermoRow& r) { return r.data.thermo.temperature; }},
      {"press", "pressure_bar", "P[bar]", 12, "{:.5g}", false, "pressure, kinetic + virial (bar; 0 unless fully periodic)",
       [](const ThermoRow& r) { return r.data.thermo.pressure_bar; }},
      {"pxx", "pxx_bar", "Pxx[bar]", 12, "{:.5g}", false, "pressure tensor xx (bar)", pressure_component<0, 0>},
      {"pyy", "pyy_bar", "Pyy[bar]", 12, "{:.5g}", false, "pressure tensor yy (bar)", pressure_component<1, 1>},
      {"pzz", "pzz_bar", "Pzz[bar]", 12, "{:.5g}", false, "pressure tensor zz (bar)", pressure_component<2, 2>},
      {"pxy", "pxy_bar", "Pxy[bar]", 12, "{:.5g}", false, "pressure tensor xy (bar)", pressure_component<0, 1>},
      {"pxz", "pxz_bar", "Pxz[bar]", 12, "{:.5g}", false, "pressure tensor xz (bar)", pressure_component<0, 2>},
      {"pyz", "pyz_bar", "Pyz[bar]", 12, "{:.5g}", false, "pressure tensor yz (bar)", pressure_component<1, 2>},
      {"vol", "volume_A3", "V[A^3]", 12, "{:.6g}", false, "cell volume (A^3)", volume_of},
      {"density", "density_g_cm3", "rho[g/cm3]", 11, "{:.6g}", false, "mass density (g/cm^3)", density},
      {"cella", "cell_a_A", "a[A]", 10, "{:.5f}", false, "length of lattice vector a (A)", cell_length<0>},
      {"cellb", "cell_b_A", "b[A]", 10, "{:.5f}", false, "length of lattice vector b (A)", cell_length<1>},
      {"cellc", "cell_c_A", "c[A]", 10, "{:.5f}", false, "length of lattice vector c (A)", cell_length<2>},
      {"cellalpha", "cell_alpha_deg", "alpha", 9, "{:.4f}", false, "angle between b and c (degrees)", cell_angle<1, 2>},
      {"cellbeta", "cell_beta_deg", "beta", 9, "{:.4f}", false, "angle between a and c (degrees)", cell_angle<0, 2>},
      {"cellgamma", "cell_gamma_deg", "gamma", 9, "{:.4f}", false, "angle between a and b (degrees)", cell_angle<0, 1>},
      {"ns_per_day", "ns_per_day", "ns/day", 10, "{:.4g}", false, "speed since the previous row (ns/day)",
       [](const ThermoRow& r) { return r.ns_per_day; }},
      {"steps_per_s", "timesteps_per_s", "steps/s", 10, "{:.4g}", false, "speed since the previous row (steps/s)",
       [](const ThermoRow& r) { return r.steps_per_s; }},
      {"us_per_atom_step", "us_per_atom_step", "us/at/st", 10, "{:.4g}", false,
       "cost since the previous row (microseconds per atom and step)",
       [](const ThermoRow& r) { return r.us_per_atom_step; }},
  };
}

}  // namespace

const std::vector<ThermoColumn>& thermo_columns() {
  static const std::vector<ThermoColumn> columns = make_columns();
  return columns;
}

std::vector<std::string> thermo_column_names() {
  std::vector<std::string> names;
  for (const ThermoColumn& column : thermo_columns()) names.push_back(column.name);
  return names;
}

std::vector<std::string> default_thermo_csv_columns() {
  return {"step", "time", "pe", "ke", "etotal", "econserved", "temp", "press", "vol", "ns_per_day", "steps_per_s",
          "us_per_atom_step"};
}

std::vector<std::string> default_thermo_terminal_columns() {
  return {"step", "time", "pe", "ke", "etotal", "econserved", "temp", "press", "ns_per_day", "us_per_atom_step"};
}

const Mat3& ThermoRow::pressure_tensor_bar() const {
  if (!pressure_tensor_bar_) {
    const System& system = data.system;
    const double volume = system.cell.volume();
    // 0 for a system that is not fully periodic, as the pressure.
    pressure_tensor_bar_ = system.cell.fully_periodic() && volume > 0.0
                               ? Mat3(pressure_tensor(system, data.virial, volume) * units::ev_per_a3_to_bar)
                               : Mat3(Mat3::Zero());
  }
  return *pressure_tensor_bar_;
}

std::string csv_text(const ThermoColumn& column, const ThermoRow& row) {
  const double value = column.value(row);
  return column.integer ? fmt::format("{}", static_cast<std::uint64_t>(value)) : fmt::format("{}", value);
}

std::string terminal_text(const ThermoColumn& column, const ThermoRow& row) {
  const double value = column.value(row);
  const std::string text = column.integer ? fmt::format("{}", static_cast<std::uint64_t>(value))
                                          : fmt::format(fmt::runtime(column.terminal_format), value);
  return fmt::format("{:>{}}", text, column.width);
}

const ThermoColumn& thermo_column(const std::string& name) {
  for (const ThermoColumn& column : thermo_columns())
    if (column.name == name) return column;
  throw std::invalid_argument("unknown thermo column " + name);
}

}  // namespace nqmd
