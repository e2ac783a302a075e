#pragma once
// Figures of the analyses, drawn by gnuplot (an external program, looked for at run time). Every figure is a
// gnuplot script NAME.gp written next to its CSV data in the output directory, so it can be edited and rerun
// (`cd OUTPUT && gnuplot NAME.gp`); it renders NAME.png (pngcairo) and/or NAME.svg.
//
// The program is `gnuplot` on the PATH, or the one named by the environment variable NQMD_GNUPLOT. If it is
// missing, one warning is printed and no figures are drawn (the CSV files are written all the same).
#include <string>
#include <vector>

namespace nqmd::analysis {

struct PlotOptions {
  bool enabled = true;
  std::vector<std::string> formats{"png", "svg"};  // "png" and/or "svg"
};

struct Plot {
  std::string name;  // file stem: NAME.gp, NAME.png, NAME.svg
  std::string title;    // shown literally
  std::string x_label;  // with units, in gnuplot's enhanced text (e.g. "r (Å)", "MSD (Å^2)": ^ and _ format)
  std::string y_label;
  std::vector<std::string> settings;  // further gnuplot commands before `plot` (ranges, objects, functions)
  std::vector<std::string> curves;    // the clauses of the `plot` command, e.g. "'rdf.csv' skip 1 using 1:2 ..."
};

class Plotter {
 public:
  Plotter(std::string directory, PlotOptions options);

  // Writes NAME.gp and runs gnuplot on it; returns the image files made (names inside the directory). Nothing if
  // figures are off or gnuplot is missing; a warning (not an error) if gnuplot fails.
  std::vector<std::string> render(const Plot& plot);
  // Whether figures will be drawn (checks for gnuplot once, warning once if it is missing).
  bool active();
  // The files render(plot) writes: the script, gnuplot's log and an image per format.
  std::vector<std::string> files_of(const Plot& plot) const;

 private:
  std::string directory_;
  PlotOptions options_;
  std::string program_;
  bool checked_ = false;
  bool available_ = false;
};

// A title shown literally, for `set title` and the title of a curve: 'text' noenhanced ('' for a quote).
std::string gnuplot_text(const std::string& text);
// A gnuplot single-quoted string taken as it is (a file name, or enhanced text meant to be formatted).
std::string gnuplot_file(const std::string& name);

}  // namespace nqmd::analysis
