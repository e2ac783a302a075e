// libFuzzer target: the checkpoint reader behind `run --restart` and [structure] checkpoint. InputError is the
// expected refusal; anything else is a finding. A checkpoint that reads must be self-consistent.
#include <cstddef>
#include <cstdint>
#include <cstdlib>

#include "engine/error.hpp"
#include "fuzz_support.hpp"
#include "io/checkpoint.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string path = nqmd::fuzz::write_input("checkpoint.h5", data, size);
  try {
    const nqmd::Checkpoint checkpoint = nqmd::read_checkpoint(path);
    const std::size_t atoms = checkpoint.system.size();
    if (checkpoint.system.positions.size() != atoms || checkpoint.system.velocities.size() != atoms ||
        checkpoint.system.masses.size() != atoms || checkpoint.forces.size() != atoms)
      std::abort();
  } catch (const nqmd::InputError&) {
  }
  return 0;
}
