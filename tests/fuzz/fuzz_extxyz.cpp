// libFuzzer target: the extended-XYZ reader (sequential read of every frame, indexed read of the last frame,
// the frame count), the writer on every frame read, and read_trajectory's extxyz path. InputError is the
// expected refusal; anything else is a finding.
#include <cstddef>
#include <cstdint>
#include <cstdio>

#include "engine/error.hpp"
#include "fuzz_support.hpp"
#include "io/extxyz.hpp"
#include "io/trajectory.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string path = nqmd::fuzz::write_input("frames.extxyz", data, size);
  static std::FILE* sink = std::fopen("/dev/null", "w");
  try {
    nqmd::ExtxyzReader reader(path);
    while (std::optional<nqmd::Frame> frame = reader.next()) nqmd::write_extxyz_frame(sink, *frame);
  } catch (const nqmd::InputError&) {
  }
  try {
    nqmd::ExtxyzReader reader(path);
    if (reader.count() > 0) {
      const nqmd::Frame last = reader.read(-1);
      (void)reader.read(0);
      nqmd::write_extxyz_frame(sink, last);
    }
  } catch (const nqmd::InputError&) {
  }
  try {
    nqmd::TrajectoryReadOptions options;
    options.frame_interval_fs = 1.0;
    const nqmd::Trajectory trajectory = nqmd::read_trajectory(path, options);
    (void)trajectory.unwrapped_positions();
  } catch (const nqmd::InputError&) {
  }
  return 0;
}
