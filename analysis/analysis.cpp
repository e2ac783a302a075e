#include "analysis/analysis.hpp"

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "analysis/trajectory_tools.hpp"
#include "engine/log.hpp"

namespace nqmd::analysis {
namespace {

std::string csv_number(double value) {
  if (std::isnan(value)) return "nan";
  return fmt::format("{:.10g}", value);
}

}  // namespace

AnalysisReport::AnalysisReport(std::string directory, PlotOptions plots)
    : directory_(std::move(directory)), plotter_(directory_, std::move(plots)) {
  std::error_code error;
  std::filesystem::create_directories(directory_, error);
  if (error || !std::filesystem::is_directory(directory_))
    throw InputError(fmt::format("{}: cannot create the output directory ({})", directory_, error.message()));
}

std::string AnalysisReport::path(const std::string& name) const {
  return (std::filesystem::path(directory_) / name).string();
}

void AnalysisReport::check_not_protected(const std::string& name) const {
  for (const NamedFile& file : protected_)
    if (!file.path.empty() && same_file(path(name), file.path))
      throw InputError(fmt::format("{}: the analysis would write over {} = {}; choose another [output] directory",
                                   path(name), file.name, file.path));
}

void AnalysisReport::write_text(const std::string& name, const std::string& text) {
  check_not_protected(name);
  std::ofstream out(path(name));
  out << text;
  out.close();
  if (!out) throw InputError(fmt::format("{}: cannot write", path(name)));
  files_.push_back(name);
}

void AnalysisReport::write_csv(const std::string& name, const std::vector<std::string>& header,
                               const std::vector<std::vector<double>>& columns) {
  if (columns.size() != header.size())
    throw std::logic_error(fmt::format("{}: {} header names for {} columns", name, header.size(), columns.size()));
  std::size_t rows = columns.empty() ? 0 : columns.front().size();
  for (const auto& column : columns)
    if (column.size() != rows) throw std::logic_error(fmt::format("{}: columns of different lengths", name));
  std::string text = fmt::format("{}\n", fmt::join(header, ","));
  for (std::size_t row = 0; row < rows; ++row) {
    for (std::size_t column = 0; column < columns.size(); ++column)
      text += (column ? "," : "") + csv_number(columns[column][row]);
    text += '\n';
  }
  write_text(name, text);
}

void AnalysisReport::write_csv_rows(const std::string& name, const std::vector<std::string>& header,
                                    const std::vector<std::vector<std::string>>& rows) {
  std::string text = fmt::format("{}\n", fmt::join(header, ","));
  for (const auto& row : rows) text += fmt::format("{}\n", fmt::join(row, ","));
  write_text(name, text);
}

void AnalysisReport::plot(const Plot& plot) {
  for (const std::string& name : plotter_.files_of(plot)) check_not_protected(name);
  for (std::string& image : plotter_.render(plot)) files_.push_back(std::move(image));
}

void AnalysisReport::summary(std::string line) { summary_.push_back(std::move(line)); }

void AnalysisReport::warn(const std::string& source, const std::string& message) {
  const std::string text = source.empty() ? message : fmt::format("[{}] {}", source, message);
  if (std::find(warnings_.begin(), warnings_.end(), text) != warnings_.end()) return;
  log::warn("{}", text);
  warnings_.push_back(text);
}

void Analysis::fail(const std::string& key, const std::string& message) const {
  if (!key.empty()) section_.fail(key, message);
  std::string place = section_.where("");
  while (!place.empty() && place.back() == ' ') place.pop_back();
  throw InputError(fmt::format("{}: {}", place, message));
}

const Trajectory& Analysis::trajectory(const AnalysisInput& input) const {
  if (input.trajectory == nullptr) fail("", "needs a trajectory: add a [trajectory] section with its file");
  return *input.trajectory;
}

std::vector<std::string> checked_species(const ConfigSection& section, const std::string& key,
                                         const std::vector<std::string>& requested, const Trajectory& trajectory) {
  const SpeciesTable species(trajectory.symbols);
  if (requested.empty()) return species.names();
  for (const std::string& name : requested) {
    if (std::find(species.names().begin(), species.names().end(), name) == species.names().end())
      section.fail(key, fmt::format("species '{}' is not in the trajectory {} (it has {})", name, trajectory.source,
                                    species.list()));
  }
  return requested;
}

std::string format_estimate(double value, double error) {
  if (!std::isfinite(error) || error <= 0.0 || !std::isfinite(value)) return fmt::format("{:.4g}", value);
  const int error_exponent = static_cast<int>(std::floor(std::log10(error)));
  const double magnitude = std::max(std::abs(value), error);
  const int value_exponent = static_cast<int>(std::floor(std::log10(magnitude)));
  if (value_exponent >= -3 && value_exponent <= 5) {
    const int decimals = std::max(0, 1 - error_exponent);
    return fmt::format("{:.{}f} +- {:.{}f}", value, decimals, error, decimals);
  }
  const double scale = std::pow(10.0, value_exponent);
  const int decimals = std::max(0, 1 - (error_exponent - value_exponent));
  return fmt::format("({:.{}f} +- {:.{}f})e{:+03d}", value / scale, decimals, error / scale, decimals, value_exponent);
}

}  // namespace nqmd::analysis
