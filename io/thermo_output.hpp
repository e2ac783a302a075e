#pragma once
// Thermo output every N steps: a line on the terminal and a row in a CSV file whose header states the units,
// plus throughput (ns/day, timesteps/s, us/atom/step) over the interval since the previous row. On a terminal
// a progress bar with the estimated time left is drawn on stderr between rows. The last step of a run always
// has its row, whatever the interval.
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <optional>
#include <string>
#include <vector>

#include "engine/observer.hpp"
#include "io/thermo_columns.hpp"

namespace nqmd {

class ThermoOutput final : public Observer {
 public:
  // `csv_path` empty: terminal only. With `resume_after_step`, an existing CSV keeps its rows up to that step
  // and new rows are appended (a restarted run continues the same file).
  // `columns` (io/thermo_columns.hpp names) choose and order the columns of both; empty: the default columns.
  ThermoOutput(const std::string& csv_path, double timestep_fs, std::uint64_t last_step,
               std::optional<std::uint64_t> resume_after_step = std::nullopt,
               const std::vector<std::string>& columns = {});
  ~ThermoOutput() override;
  ThermoOutput(const ThermoOutput&) = delete;
  ThermoOutput& operator=(const ThermoOutput&) = delete;

  void observe(const StepData& data) override;
  void flush() override;
  // Redraws the progress bar (at most a few times per second, only on a terminal).
  void after_step(std::uint64_t step) override;
  bool observes_last_step() const override { return true; }

 private:
  std::string csv_path_;
  std::vector<const ThermoColumn*> csv_columns_;
  std::vector<const ThermoColumn*> terminal_columns_;
  std::string csv_header_;
  std::FILE* csv_ = nullptr;
  double timestep_fs_;
  std::uint64_t last_step_;
  bool header_printed_ = false;
  bool progress_on_terminal_;
  bool progress_drawn_ = false;
  std::uint64_t previous_step_ = 0;
  std::chrono::steady_clock::time_point previous_time_;
  std::chrono::steady_clock::time_point start_time_;
  std::uint64_t start_step_ = 0;
  std::chrono::steady_clock::time_point last_draw_;
  bool first_row_ = true;
};

}  // namespace nqmd
