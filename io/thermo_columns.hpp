#pragma once
// The columns thermo output can print and write ([run] thermo_columns, as LAMMPS thermo_style custom): each a name
// (LAMMPS' keyword where it has one), a CSV header with its unit, a terminal header and format, and its value.
#include <optional>
#include <string>
#include <vector>

#include "engine/observer.hpp"

namespace nqmd {

// What a thermo row is computed from: the step's data and the throughput since the previous row. The pressure
// tensor is computed once per row, whichever of its columns ask for it.
struct ThermoRow {
  ThermoRow(const StepData& step_data, double ns_per_day_, double steps_per_s_, double us_per_atom_step_)
      : data(step_data), ns_per_day(ns_per_day_), steps_per_s(steps_per_s_), us_per_atom_step(us_per_atom_step_) {}

  const StepData& data;
  double ns_per_day;
  double steps_per_s;
  double us_per_atom_step;

  // (sum m v v^T + virial) / V in bar; zero unless the cell is periodic along all three axes.
  const Mat3& pressure_tensor_bar() const;

 private:
  mutable std::optional<Mat3> pressure_tensor_bar_;
};

struct ThermoColumn {
  std::string name;             // in [run] thermo_columns
  std::string csv_header;       // with the unit, e.g. temperature_K
  std::string terminal_header;  // e.g. T[K]
  int width = 0;                // terminal column width (header and values right-aligned in it)
  std::string terminal_format;  // fmt format of a value on the terminal, e.g. {:.3f}
  bool integer = false;         // written as an integer (the step)
  std::string description;
  double (*value)(const ThermoRow&) = nullptr;
};

// A column's value as the CSV file holds it (shortest round-trip text) and as the terminal shows it.
std::string csv_text(const ThermoColumn& column, const ThermoRow& row);
std::string terminal_text(const ThermoColumn& column, const ThermoRow& row);

// Every column, in the order input-reference lists them.
const std::vector<ThermoColumn>& thermo_columns();
// The names of every column, for the schema.
std::vector<std::string> thermo_column_names();
// The default columns: what nequip-md has always written (CSV) and printed (terminal).
std::vector<std::string> default_thermo_csv_columns();
std::vector<std::string> default_thermo_terminal_columns();
// The column of a name (std::invalid_argument if unknown; the schema has checked it).
const ThermoColumn& thermo_column(const std::string& name);

}  // namespace nqmd
