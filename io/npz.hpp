#pragma once
// Reader for numpy's .npy arrays and .npz archives (a zip archive of .npy entries, stored or deflated, with or
// without zip64 extra fields, as numpy.savez / savez_compressed write them). Torch-free.
//
// Supported element types: little-endian float64/float32, int64/int32/int16/int8, uint64/uint32/uint16/uint8 and
// bool; C or Fortran order. Values are converted on request to double or int64 in C (row-major) order.
// Every error is an InputError naming the file (and the entry). Damaged files are refused before anything is
// allocated for them: sizes and offsets are checked against the bytes the file holds, a deflated member may not
// claim more than deflate can expand its bytes to, members may not share bytes, and an array's shape must fit
// its data (fuzzed: tests/fuzz/fuzz_model_file.cpp).
#include <cstddef>
#include <cstdint>
#include <map>
#include <string>
#include <utility>
#include <vector>

namespace nqmd {

struct NpyArray {
  std::string descr;                 // numpy dtype string, e.g. "<f8"
  std::vector<std::size_t> shape;    // empty for a 0-d array
  bool fortran_order = false;
  std::vector<unsigned char> bytes;  // raw element data as stored
  std::string source;                // where it was read from (file and entry), for messages; empty if made here

  std::size_t size() const;          // number of elements
  std::size_t item_size() const;
  bool is_floating() const;
  bool is_integer() const;           // integers and bool
  // Elements in C order, converted. Throws InputError if the type cannot be converted (e.g. a string array).
  std::vector<double> to_double() const;
  std::vector<std::int64_t> to_int64() const;  // floating values must be integral
  // The bytes as text (an array written by text_array).
  std::string text() const { return std::string(bytes.begin(), bytes.end()); }
};

// Parses the bytes of a .npy file; `what` names it in error messages.
NpyArray parse_npy(const std::vector<unsigned char>& file_bytes, const std::string& what);

// Every member of a zip archive, by name (stored or deflate-compressed; CRC-32 checked).
std::map<std::string, std::vector<unsigned char>> read_zip(const std::string& path);

// The bytes of a .npy file (format 1.0) holding `array` (its descr, shape and bytes; C order is written).
std::vector<unsigned char> npy_bytes(const NpyArray& array);

// Writes an uncompressed .npz (a zip archive of stored "<name>.npy" entries, in the given order) that
// numpy.load reads, replacing `path` atomically (io/atomic_file.hpp); throws InputError naming the path if it
// cannot be written.
void write_npz(const std::string& path, const std::vector<std::pair<std::string, NpyArray>>& arrays);
// Text as a uint8 array ("|u1"), how native model files and training checkpoints keep strings.
NpyArray text_array(const std::string& text);

// Name of the first member of a zip archive, or "" if the file is not a zip archive (reads only its header).
std::string first_zip_member(const std::string& path);

class NpzFile {
 public:
  // Reads and parses every entry; keys are the entry names without ".npy".
  explicit NpzFile(const std::string& path);

  const std::string& path() const { return path_; }
  std::vector<std::string> keys() const;
  bool contains(const std::string& key) const { return arrays_.count(key) != 0; }
  // Throws InputError naming the file and the key if it is absent.
  const NpyArray& get(const std::string& key) const;
  const NpyArray& operator[](const std::string& key) const { return get(key); }

 private:
  std::string path_;
  std::map<std::string, NpyArray> arrays_;
};

}  // namespace nqmd
