#include <catch2/catch.hpp>

#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>

#include "engine/error.hpp"
#include "io/npz.hpp"
#include "test_paths.hpp"

using nqmd::NpzFile;

namespace {
const std::string kReference = "reference/nequip-0.6.2/";
std::string fixture(const std::string& name) { return nqmd::test::source_path("tests/io/data/" + name); }
}  // namespace

TEST_CASE("npz: stored archive with zip64 local headers (reference.npz of model A)", "[nequip][npz]") {
  const NpzFile npz(nqmd::test::shared_path(kReference + "modelA/reference.npz"));
  // 7 frames x (pos, atom_types, edge_index, edge_cell_shift, cell, pbc, total_energy, atomic_energy, forces).
  REQUIRE(npz.keys().size() == 63);
  const auto& pos = npz.get("0_pos");
  CHECK(pos.descr == "<f8");
  REQUIRE(pos.shape == std::vector<std::size_t>{32, 3});
  const auto& edges = npz.get("0_edge_index");
  REQUIRE(edges.shape == std::vector<std::size_t>{2, 568});  // README table: frame 0 has 568 edges at r_max 4
  const auto index = edges.to_int64();
  for (std::int64_t v : index) {
    CHECK(v >= 0);
    CHECK(v < 32);
  }
  CHECK(npz.get("4_pos").shape == std::vector<std::size_t>{2, 3});
  CHECK(npz.get("3_edge_index").shape == std::vector<std::size_t>{2, 92});
  // Atom types are Cu=0/Au=1 only; frame 6 has 17 atoms.
  const auto types = npz.get("6_atom_types").to_int64();
  REQUIRE(types.size() == 17);
  for (std::int64_t t : types) CHECK((t == 0 || t == 1));
  // Energies are sums of the atomic energies.
  for (int frame = 0; frame < 7; ++frame) {
    const std::string f = std::to_string(frame);
    const auto atomic = npz.get(f + "_atomic_energy").to_double();
    double sum = 0;
    for (double e : atomic) sum += e;
    CHECK(std::abs(sum - npz.get(f + "_total_energy").to_double().at(0)) < 1e-10);
  }
  CHECK(npz.contains("5_pbc"));
  CHECK_FALSE(npz.contains("7_pos"));
  CHECK_THROWS_AS(npz.get("7_pos"), nqmd::InputError);
}

TEST_CASE("npz: deflated archive equals the stored original, Fortran order, float32, 0-d", "[nequip][npz]") {
  const NpzFile deflated(fixture("deflated.npz"));
  const NpzFile stored(nqmd::test::shared_path(kReference + "e3nn_wigner_3j_l3.npz"));
  for (const char* key : {"w3j_1_1_2", "w3j_2_2_2", "w3j_3_2_1"}) {
    CHECK(deflated.get(key).shape == stored.get(key).shape);
    CHECK(deflated.get(key).to_double() == stored.get(key).to_double());
  }
  CHECK(deflated.get("w3j_3_2_1").shape == std::vector<std::size_t>{7, 5, 3});
  const auto& fortran = deflated.get("fortran_i4");
  CHECK(fortran.fortran_order);
  CHECK(fortran.to_int64() == std::vector<std::int64_t>{1, 2, 3, 4, 5, -6});
  CHECK(fortran.to_double() == std::vector<double>{1, 2, 3, 4, 5, -6});
  CHECK(deflated.get("c_f4").to_double() == std::vector<double>{0.5, -1.25, 3.0});
  const auto& scalar = deflated.get("scalar_i2");
  CHECK(scalar.shape.empty());
  CHECK(scalar.to_int64() == std::vector<std::int64_t>{-7});
  CHECK_THROWS_AS(deflated.get("c_f4").to_int64(), nqmd::InputError);  // 0.5 is not integral
}

TEST_CASE("npz: errors name the file", "[nequip][npz]") {
  CHECK_THROWS_WITH(NpzFile("/nonexistent/x.npz"), Catch::Contains("/nonexistent/x.npz"));
  // A file that is not a zip archive.
  const std::string not_zip = nqmd::test::shared_path(kReference + "modelA/metadata.json");
  CHECK_THROWS_WITH(NpzFile(not_zip), Catch::Contains("metadata.json") && Catch::Contains("zip"));
  // A truncated copy of a real archive.
  std::ifstream in(fixture("deflated.npz"), std::ios::binary);
  std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  const std::string truncated = "/tmp/nqmd_test_truncated.npz";
  {
    std::ofstream out(truncated, std::ios::binary);
    out << bytes.substr(0, bytes.size() / 2);
  }
  CHECK_THROWS_AS(NpzFile(truncated), nqmd::InputError);
  CHECK_THROWS_WITH(NpzFile(truncated), Catch::Contains(truncated));
  // A corrupted byte inside compressed data fails the inflate or the CRC check.
  std::string corrupt = bytes;
  corrupt[60] = static_cast<char>(corrupt[60] ^ 0x5a);
  const std::string corrupt_path = "/tmp/nqmd_test_corrupt.npz";
  {
    std::ofstream out(corrupt_path, std::ios::binary);
    out << corrupt;
  }
  CHECK_THROWS_AS(NpzFile(corrupt_path), nqmd::InputError);
  std::remove(truncated.c_str());
  std::remove(corrupt_path.c_str());
}

TEST_CASE("npz: damaged archives (the fuzzer's and review's regression inputs) are one-line errors naming the file",
          "[nequip][npz]") {
  // tests/fuzz/regressions/model_file: inputs that crashed the reader, overflowed its bounds checks, made it allocate
  // what the file claimed, or were read silently other than numpy reads them (docs/reliability.md, findings 10 and
  // 11); each must now be refused by NpzFile or by the conversion of an array.
  const std::string directory = nqmd::test::source_path("tests/fuzz/regressions/model_file");
  std::size_t refused = 0, inputs = 0;
  for (const auto& entry : std::filesystem::directory_iterator(directory)) {
    const std::string path = entry.path().string();
    INFO(path);
    ++inputs;
    std::string message;
    try {
      const NpzFile file(path);
      for (const std::string& key : file.keys()) {
        (void)file.get(key).to_double();
        (void)file.get(key).to_int64();
      }
    } catch (const nqmd::InputError& error) {
      message = error.what();
    }
    CHECK(message.find(path) != std::string::npos);
    CHECK(message.find('\n') == std::string::npos);
    if (!message.empty() && message.find(path) != std::string::npos) ++refused;
  }
  CHECK(inputs >= 15);
  CHECK(refused == inputs);
}

TEST_CASE("npz: arrays must fit their data and convert exactly", "[nequip][npz]") {
  nqmd::NpyArray a;
  a.descr = "<f8";
  a.shape = {2};
  const double values[2] = {1e300, 2.0};
  a.bytes.assign(reinterpret_cast<const unsigned char*>(values), reinterpret_cast<const unsigned char*>(values) + 16);
  a.source = "'m.npz' entry 'x.npy'";
  CHECK(a.to_double() == std::vector<double>{1e300, 2.0});
  CHECK_THROWS_WITH(a.to_int64(), Catch::Contains("'m.npz' entry 'x.npy'") && Catch::Contains("int64 range"));
  a.descr = "<f?";
  CHECK(a.item_size() == 0);
  CHECK_THROWS_AS(a.to_double(), nqmd::InputError);
  // A .npy written by npy_bytes parses back to the same array.
  a.descr = "<f8";
  const nqmd::NpyArray b = nqmd::parse_npy(nqmd::npy_bytes(a), "x.npy");
  CHECK(b.shape == a.shape);
  CHECK(b.bytes == a.bytes);
  CHECK(b.source == "x.npy");
}
