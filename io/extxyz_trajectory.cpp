#include "io/extxyz_trajectory.hpp"

#include <fmt/format.h>

#include <cctype>
#include <charconv>
#include <filesystem>
#include <fstream>
#include <string_view>

#include "engine/error.hpp"
#include "io/trajectory_writer.hpp"

namespace nqmd {
namespace {

// The value of `step=` in a comment line written by this writer, if present.
std::optional<std::uint64_t> comment_step(std::string_view comment) {
  constexpr std::string_view kKey = "step=";
  for (std::size_t at = comment.find(kKey); at != std::string_view::npos; at = comment.find(kKey, at + 1)) {
    if (at > 0 && !std::isspace(static_cast<unsigned char>(comment[at - 1]))) continue;  // e.g. "substep="
    std::uint64_t step = 0;
    const char* begin = comment.data() + at + kKey.size();
    const auto [end, error] = std::from_chars(begin, comment.data() + comment.size(), step);
    if (error == std::errc() && end != begin) return step;
  }
  return std::nullopt;
}

// Cuts the file before its first frame whose step is after `step`, or before an incomplete last frame (a killed
// run), so that a restarted run continues it without duplicate frames.
void truncate_after_step(const std::string& path, std::uint64_t step) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw InputError(fmt::format("{}: cannot open to resume the trajectory", path));
  std::streamoff keep = 0;
  std::string line;
  for (std::size_t frame = 0;; ++frame) {
    if (!std::getline(in, line)) break;
    std::size_t atoms = 0;
    const char* end = line.data() + line.size();
    if (line.empty() || std::from_chars(line.data(), end, atoms).ptr != end) break;
    if (!std::getline(in, line)) break;
    const std::optional<std::uint64_t> frame_step = comment_step(line);
    if (!frame_step)
      throw InputError(
          fmt::format("{}: frame {} (counting from 0) has no step info key; cannot resume this "
                      "trajectory (was it written by nequip-md?)",
                      path, frame));
    if (*frame_step > step) break;
    bool complete = true;
    for (std::size_t i = 0; i < atoms && complete; ++i) complete = static_cast<bool>(std::getline(in, line));
    // The writer ends every line with a newline: a last line without one is cut off.
    if (!complete || in.eof()) break;
    keep = in.tellg();
  }
  in.close();
  std::error_code error;
  std::filesystem::resize_file(path, static_cast<std::uintmax_t>(keep), error);
  if (error) throw InputError(fmt::format("{}: cannot truncate to resume the trajectory ({})", path, error.message()));
}

// A time as Python's repr writes floats (always with a point or an exponent), so ASE reads it as a float.
std::string python_float(double value) {
  std::string text = fmt::format("{}", value);
  if (text.find_first_of(".en") == std::string::npos) text += ".0";
  return text;
}

}  // namespace

ExtxyzTrajectoryWriter::ExtxyzTrajectoryWriter(ExtxyzTrajectoryOptions options) : options_(std::move(options)) {
  const std::string& path = options_.path;
  if (options_.flush_every == 0) throw InputError(fmt::format("{}: flush_every must be at least 1", path));
  std::error_code error;
  const bool exists = std::filesystem::exists(path, error);
  if (exists && options_.resume_after_step) {
    truncate_after_step(path, *options_.resume_after_step);
  } else if (exists && !options_.overwrite) {
    throw existing_trajectory_error(path);
  }
  writer_ = std::make_unique<ExtxyzWriter>(path, /*append=*/exists && options_.resume_after_step.has_value());
}

void ExtxyzTrajectoryWriter::observe(const StepData& data) {
  const System& system = data.system;
  Frame frame;
  frame.system = system;
  frame.has_velocities = options_.velocities;
  if (options_.forces) frame.forces = data.forces;
  if (options_.energies) {
    if (data.atom_energies == nullptr || data.atom_energies->size() != system.size())
      throw std::logic_error("extxyz trajectory: per-atom energies do not match the system");
    frame.energies = *data.atom_energies;
  }
  frame.energy = data.thermo.potential_energy;
  // Stress is defined for a periodic volume only: sigma = -W / V (virial W in eV).
  const double volume = system.cell.volume();
  if (system.cell.fully_periodic() && volume > 0.0) frame.stress = Mat3(-data.virial / volume);
  frame.info = {{"step", std::to_string(data.thermo.step)}, {"time_fs", python_float(data.thermo.time_fs)}};
  writer_->write(frame);
  if (++unflushed_ >= options_.flush_every) flush();
}

void ExtxyzTrajectoryWriter::flush() {
  unflushed_ = 0;
  writer_->flush();
}

namespace {

std::unique_ptr<Observer> create_extxyz_trajectory(const TrajectoryWriterOptions& request) {
  ExtxyzTrajectoryOptions options;
  options.path = request.path;
  options.velocities = request.velocities;
  options.forces = request.forces;
  options.energies = request.energies;
  options.flush_every = request.flush_every;
  options.overwrite = request.overwrite;
  options.resume_after_step = request.resume_after_step;
  return std::make_unique<ExtxyzTrajectoryWriter>(options);
}

const bool registered = TrajectoryFormatRegistry::instance().add(
    {"extended XYZ", {".extxyz", ".xyz"}, false, create_extxyz_trajectory});

}  // namespace

}  // namespace nqmd
