#include "io/thermo_output.hpp"

#include <unistd.h>

#include <fstream>
#include <sstream>
#include <vector>

#include <fmt/format.h>

#include "engine/error.hpp"
#include "engine/log.hpp"
#include "engine/units.hpp"
#include "io/atomic_file.hpp"

namespace nqmd {
namespace {

std::vector<const ThermoColumn*> columns_named(const std::vector<std::string>& names) {
  std::vector<const ThermoColumn*> columns;
  for (const std::string& name : names) columns.push_back(&thermo_column(name));
  return columns;
}

// Keeps the header and the rows with step <= last_step of an existing thermo CSV.
std::string rows_up_to(const std::string& path, std::uint64_t last_step, const std::string& header_expected) {
  std::ifstream in(path);
  std::string kept, line;
  bool header = true;
  while (std::getline(in, line)) {
    if (header) {
      header = false;
      if (line != header_expected)
        throw InputError(fmt::format("{}: not a nequip-md thermo file with these columns ([run] thermo_columns), will "
                                     "not append to it",
                                     path));
    } else {
      const std::uint64_t step = std::stoull(line.substr(0, line.find(',')));
      if (step > last_step) break;
    }
    kept += line + "\n";
  }
  return kept;
}

}  // namespace

ThermoOutput::ThermoOutput(const std::string& csv_path, double timestep_fs, std::uint64_t last_step,
                           std::optional<std::uint64_t> resume_after_step, const std::vector<std::string>& columns)
    : csv_path_(csv_path),
      csv_columns_(columns_named(columns.empty() ? default_thermo_csv_columns() : columns)),
      terminal_columns_(columns_named(columns.empty() ? default_thermo_terminal_columns() : columns)),
      timestep_fs_(timestep_fs),
      last_step_(last_step),
      progress_on_terminal_(::isatty(STDERR_FILENO) == 1 && log::level() != log::Level::quiet) {
  for (const ThermoColumn* column : csv_columns_)
    csv_header_ += (csv_header_.empty() ? "" : ",") + column->csv_header;
  if (!csv_path_.empty()) {
    std::string kept;
    if (resume_after_step) {
      if (std::ifstream(csv_path_).good()) kept = rows_up_to(csv_path_, *resume_after_step, csv_header_);
    }
    if (kept.empty()) kept = csv_header_ + "\n";
    // The header (and on a restart the rows kept) replace the file whole, so that a kill here loses no row of the
    // run being continued; the run then appends.
    replace_file_atomically(csv_path_, [&](const std::string& temporary) {
      std::ofstream out(temporary, std::ios::binary | std::ios::trunc);
      out << kept;
      out.close();
      if (!out) throw InputError(fmt::format("{}: cannot write the thermo file (through {})", csv_path_, temporary));
    });
    csv_ = std::fopen(csv_path_.c_str(), "a");
    if (csv_ == nullptr) throw InputError(fmt::format("{}: cannot open the thermo file for writing", csv_path_));
  }
  previous_time_ = start_time_ = last_draw_ = std::chrono::steady_clock::now();
}

ThermoOutput::~ThermoOutput() {
  if (progress_drawn_) log::write(stderr, "\n");
  if (csv_ != nullptr) std::fclose(csv_);
}

void ThermoOutput::observe(const StepData& data) {
  const ThermoState& t = data.thermo;
  const auto now = std::chrono::steady_clock::now();
  double ns_per_day = 0.0, steps_per_s = 0.0, us_per_atom_step = 0.0;
  if (first_row_) {
    start_step_ = t.step;
    first_row_ = false;
  } else if (t.step > previous_step_) {
    const double seconds = std::chrono::duration<double>(now - previous_time_).count();
    const double steps = static_cast<double>(t.step - previous_step_);
    steps_per_s = steps / seconds;
    ns_per_day = steps_per_s * timestep_fs_ * units::ns_per_fs * 86400.0;
    us_per_atom_step = seconds * 1e6 / (steps * static_cast<double>(data.system.size()));
  }
  previous_step_ = t.step;
  previous_time_ = now;

  if (progress_drawn_) {
    log::write(stderr, "\r\033[K");
    progress_drawn_ = false;
  }
  const ThermoRow row{data, ns_per_day, steps_per_s, us_per_atom_step};
  if (!header_printed_) {
    std::string header;
    for (const ThermoColumn* column : terminal_columns_)
      header += fmt::format("{}{:>{}}", header.empty() ? "" : " ", column->terminal_header, column->width);
    log::info("{}", header);
    header_printed_ = true;
  }
  std::string line;
  for (const ThermoColumn* column : terminal_columns_) line += (line.empty() ? "" : " ") + terminal_text(*column, row);
  log::info("{}", line);
  if (csv_ != nullptr) {
    std::string csv_row;
    for (const ThermoColumn* column : csv_columns_) csv_row += (csv_row.empty() ? "" : ",") + csv_text(*column, row);
    fmt::print(csv_, "{}\n", csv_row);
    flush();  // a row per interval: cheap, and a killed run keeps every row written
  }
}

void ThermoOutput::flush() {
  if (csv_ == nullptr) return;
  if (std::fflush(csv_) != 0 || std::ferror(csv_))
    throw InputError(fmt::format("{}: write failed (disk full?)", csv_path_));
}

void ThermoOutput::after_step(std::uint64_t step) {
  if (!progress_on_terminal_ || last_step_ <= start_step_) return;
  if (step >= last_step_) {
    // The last step has its thermo row; the bar goes, so that what is printed next starts a clean line.
    if (progress_drawn_) log::write(stderr, "\r\033[K");
    progress_drawn_ = false;
    return;
  }
  const auto now = std::chrono::steady_clock::now();
  if (now - last_draw_ < std::chrono::milliseconds(250)) return;
  last_draw_ = now;
  const double done = static_cast<double>(step - start_step_) / static_cast<double>(last_step_ - start_step_);
  const double elapsed = std::chrono::duration<double>(now - start_time_).count();
  const double left = done > 0 ? elapsed * (1.0 - done) / done : 0.0;
  constexpr int kWidth = 30;
  const int filled = static_cast<int>(done * kWidth);
  log::write(stderr, fmt::format("\r\033[K[{:=<{}}{: <{}}] {:5.1f}%  step {}/{}  ETA {:02d}:{:02d}:{:02d}", "", filled,
                                 "", kWidth - filled, 100.0 * done, step, last_step_, static_cast<int>(left) / 3600,
                                 static_cast<int>(left) / 60 % 60, static_cast<int>(left) % 60));
  progress_drawn_ = true;
}

}  // namespace nqmd
