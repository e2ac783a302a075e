#pragma once
// The columns thermo output can print and write ([run] thermo_columns, as LAMMPS thermo_style custom): each a name
// (LAMMPS' keyword where it has one), a CSV header with its unit, a terminal header and format, and its value.
#include <string>
#include <vector>

#include "engine/observer.hpp"

namespace nqmd {

// What a thermo row is computed from: the step's data and the throughput since the previous row.
struct ThermoRow {
  const StepData& data;
  double ns_per_day = 0.0;
  double steps_per_s = 0.0;
  double us_per_atom_step = 0.0;
};

struct ThermoColumn {
  std::string name;             // in [run] thermo_columns
  std::string csv_header;       // with the unit, e.g. temperature_K
  std::string terminal_header;  // e.g. T[K]
  std::string terminal_format;  // fmt spec with width, e.g. {:>10.3f}
  bool integer = false;         // written as an integer (the step)
  std::string description;
  double (*value)(const ThermoRow&) = nullptr;
};

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
