#include "analysis/plot.hpp"

#include <cstdlib>
#include <filesystem>
#include <fstream>

#include <fmt/format.h>

#include "engine/error.hpp"
#include "engine/log.hpp"

namespace nqmd::analysis {
namespace {

std::string shell_quote(const std::string& text) {
  std::string quoted = "'";
  for (const char c : text) quoted += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return quoted + "'";
}

std::string terminal_command(const std::string& format) {
  if (format == "png") return "set terminal pngcairo size 900,620 enhanced font 'Sans,13' linewidth 1.5";
  return "set terminal svg size 900,620 enhanced font 'Sans,13' linewidth 1.5 background rgb 'white'";
}

}  // namespace

std::string gnuplot_text(const std::string& text) { return gnuplot_file(text) + " noenhanced"; }

std::string gnuplot_file(const std::string& name) {
  std::string quoted = "'";
  for (const char c : name) quoted += c == '\'' ? std::string("''") : std::string(1, c);
  return quoted + "'";
}

Plotter::Plotter(std::string directory, PlotOptions options) : directory_(std::move(directory)), options_(std::move(options)) {
  const char* program = std::getenv("NQMD_GNUPLOT");
  program_ = program != nullptr && *program != '\0' ? program : "gnuplot";
}

bool Plotter::active() {
  if (!options_.enabled || options_.formats.empty()) return false;
  if (!checked_) {
    checked_ = true;
    const std::string probe = fmt::format("command -v {} > /dev/null 2>&1", shell_quote(program_));
    available_ = std::system(probe.c_str()) == 0;
    if (!available_)
      log::warn("gnuplot ('{}') not found: no figures are drawn (install gnuplot, e.g. Debian's gnuplot-nox, or set "
                "[output] plots = false)",
                program_);
  }
  return available_;
}

std::vector<std::string> Plotter::files_of(const Plot& plot) const {
  std::vector<std::string> files{plot.name + ".gp", plot.name + ".gnuplot.log"};
  for (const std::string& format : options_.formats) files.push_back(plot.name + "." + format);
  return files;
}

std::vector<std::string> Plotter::render(const Plot& plot) {
  if (!active()) return {};
  const std::filesystem::path directory(directory_);
  const std::string script_name = plot.name + ".gp";
  std::string script = fmt::format(
      "# Drawn by `nequip-md analyze`; redraw with: gnuplot {}\n"
      "set encoding utf8\n"
      "set datafile separator ','\n"
      "set title {}\n"
      "set xlabel {}\n"
      "set ylabel {}\n"
      "set key top right box opaque samplen 2.5\n"
      "set grid lc rgb '#d0d0d0' lw 0.5\n"
      "set border lw 1\n"
      "set tics out nomirror\n"
      "set samples 1000\n",
      script_name, gnuplot_text(plot.title), gnuplot_file(plot.x_label), gnuplot_file(plot.y_label));
  for (const std::string& setting : plot.settings) script += setting + "\n";
  std::string plot_command = "plot ";
  for (std::size_t k = 0; k < plot.curves.size(); ++k) plot_command += (k ? ", \\\n     " : "") + plot.curves[k];
  std::vector<std::string> images;
  for (const std::string& format : options_.formats) {
    const std::string image = plot.name + "." + format;
    script += fmt::format("{}\nset output {}\n{}\nunset output\n", terminal_command(format), gnuplot_file(image),
                          plot_command);
    images.push_back(image);
  }
  const std::filesystem::path script_path = directory / script_name;
  {
    std::ofstream out(script_path);
    out << script;
    if (!out) throw InputError(fmt::format("{}: cannot write the figure script", script_path.string()));
  }
  const std::string log_name = plot.name + ".gnuplot.log";
  const std::string command = fmt::format("cd {} && {} {} > {} 2>&1", shell_quote(directory.string()),
                                          shell_quote(program_), shell_quote(script_name), shell_quote(log_name));
  const int status = std::system(command.c_str());
  const std::filesystem::path log_path = directory / log_name;
  std::string first_line;
  {
    std::ifstream log_file(log_path);
    std::getline(log_file, first_line);
  }
  std::vector<std::string> made;
  for (const std::string& image : images)
    if (std::filesystem::exists(directory / image) && std::filesystem::file_size(directory / image) > 0)
      made.push_back(image);
  if (status != 0 || made.size() != images.size()) {
    log::warn("gnuplot failed on {} (see {}): {}", (directory / script_name).string(), log_path.string(), first_line);
  } else {
    std::error_code ignored;
    std::filesystem::remove(log_path, ignored);
  }
  return made;
}

}  // namespace nqmd::analysis
