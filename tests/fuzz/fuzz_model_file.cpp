// libFuzzer target: the container reader of native model files (io/npz.hpp: the zip archive of
// .npy arrays that `nequip-md train` writes and [potential] kind = "nequip" loads, and training checkpoints), on
// fuzzed bytes: NpzFile and what the model loader asks of it (first_zip_member, every array's conversions),
// then the same bytes as one .npy array. InputError is the expected refusal; anything else is a finding.
// (The loader's use of the arrays, NequipModel, needs libtorch and is not part of this torch-free build.)
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <vector>

#include "engine/error.hpp"
#include "fuzz_support.hpp"
#include "io/npz.hpp"

namespace {

// Everything a reader of the arrays may call; a parsed array must be self-consistent.
void use(const nqmd::NpyArray& array) {
  if (array.bytes.size() != array.size() * array.item_size()) std::abort();
  (void)array.is_floating();
  (void)array.is_integer();
  try {
    if (array.to_double().size() != array.size()) std::abort();
  } catch (const nqmd::InputError&) {
  }
  try {
    if (array.to_int64().size() != array.size()) std::abort();
  } catch (const nqmd::InputError&) {
  }
  (void)array.text();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string path = nqmd::fuzz::write_input("model.npz", data, size);
  (void)nqmd::first_zip_member(path);
  try {
    const nqmd::NpzFile file(path);
    for (const std::string& key : file.keys()) use(file.get(key));
  } catch (const nqmd::InputError&) {
  }
  try {
    use(nqmd::parse_npy(std::vector<unsigned char>(data, data + size), "model.npy"));
  } catch (const nqmd::InputError&) {
  }
  return 0;
}
