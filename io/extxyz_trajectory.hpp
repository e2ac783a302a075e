#pragma once
// Trajectory output as multi-frame extended XYZ (ASE's format, see extxyz.hpp), appended a frame per observe():
// species, positions, velocities (as ASE momenta), forces, energy (the potential energy, eV), stress
// (-virial / V, eV/A^3, for fully periodic cells) and the info keys step and time_fs, which read_trajectory
// uses for the frame times.
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>

#include "engine/observer.hpp"
#include "io/extxyz.hpp"

namespace nqmd {

struct ExtxyzTrajectoryOptions {
  std::string path;
  bool velocities = true;  // positions are always written
  bool forces = true;
  bool energies = false;  // per-atom energies, column `energies` (as ASE writes get_potential_energies())
  std::size_t flush_every = 1;  // frames between flushes to disk (>= 1)
  bool overwrite = false;       // replace an existing file (without it, an existing file is an InputError)
  // Restart: keep the existing file's frames up to this step (by their `step` info key; a truncated last frame
  // is dropped too) and append; creates the file if absent.
  std::optional<std::uint64_t> resume_after_step;
};

class ExtxyzTrajectoryWriter final : public Observer {
 public:
  explicit ExtxyzTrajectoryWriter(ExtxyzTrajectoryOptions options);
  // Appends a frame; InputError naming the path on a write error.
  void observe(const StepData& data) override;
  void flush() override;

 private:
  ExtxyzTrajectoryOptions options_;
  std::unique_ptr<ExtxyzWriter> writer_;
  std::size_t unflushed_ = 0;
};

}  // namespace nqmd
