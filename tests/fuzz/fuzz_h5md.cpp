// libFuzzer target: the H5MD reader (read_trajectory on fuzzed bytes, as nequip-md's own files and other
// programs' files reach it), then the unwrapping of what it read. InputError is the expected refusal; anything
// else is a finding. (The HDF5 library itself is not instrumented: its crashes show up as SEGVs.)
#include <cstddef>
#include <cstdint>

#include "engine/error.hpp"
#include "fuzz_support.hpp"
#include "io/h5md.hpp"
#include "io/trajectory.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string path = nqmd::fuzz::write_input("trajectory.h5", data, size);
  try {
    const nqmd::Trajectory trajectory = nqmd::read_trajectory(path);
    (void)trajectory.unwrapped_positions();
  } catch (const nqmd::InputError&) {
  }
  try {
    nqmd::TrajectoryReadOptions options;
    options.frame_interval_fs = 2.0;
    options.first_frame = 1;
    options.stride = 2;
    (void)nqmd::read_h5md(path, options);
  } catch (const nqmd::InputError&) {
  }
  return 0;
}
