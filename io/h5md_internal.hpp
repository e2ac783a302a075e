#pragma once
// What the parts of the H5MD code share (io/h5md_writer.cpp, h5md_resume.cpp, h5md_reader.cpp, h5md_units.cpp).
// Private to io/: the public interface is io/h5md.hpp.
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "engine/cell.hpp"
#include "io/h5md.hpp"
#include "io/hdf5.hpp"

namespace nqmd::h5md {

// Per-atom vectors go to and from HDF5 as packed [N][3] arrays, and 3x3 matrices (box edges) as rows.
static_assert(sizeof(Vec3) == 3 * sizeof(double), "Vec3 must be three packed doubles");
static_assert(sizeof(Vec3i) == 3 * sizeof(int), "Vec3i must be three packed ints");
using RowMajorMat3 = Eigen::Matrix<double, 3, 3, Eigen::RowMajor>;

// -----------------------------------------------------------------------------------------------------------------
// Reading (h5md_reader.cpp)

// An H5MD element: a time-dependent group (step, time, value) or a time-independent dataset.
struct H5mdElement {
  std::string name;  // path in the file, for messages
  hdf5::Handle value;
  bool time_dependent = false;
  std::vector<hsize_t> item_dims;  // shape of one frame's data
  hsize_t frames = 1;              // stored frames (1 for time-independent data)
};

// The element `name`, or nothing if the file has no such link; InputError if it is not an element.
std::optional<H5mdElement> open_element(const hdf5::File& file, const std::string& name);

// Chemical symbol of every atom in one frame of the species element.
std::vector<std::string> read_species(const hdf5::File& file, const H5mdElement& species, hsize_t frame,
                                      std::size_t atoms);

// -----------------------------------------------------------------------------------------------------------------
// Units of files read (h5md_units.cpp)

// Factor converting values in `unit` (an H5MD units module string, e.g. "nm ps-1") to A^length fs^time;
// InputError "PATH: WHERE: unit 'UNIT' ..." if the unit is unknown or of another dimension.
double unit_factor(const hdf5::File& file, const std::string& where, const std::string& unit, int length, int time);

// -----------------------------------------------------------------------------------------------------------------
// Restart (h5md_resume.cpp)

// Replaces the H5MD file at `path` by a copy of it with its complete frames up to `last_step` (and every other
// group, dataset and attribute), written as PATH.tmp and renamed over it; returns the frames kept. The file at
// `path` is only read: on any error it is left as it was, and no PATH.tmp is left behind.
hsize_t rewrite_up_to_step(const std::string& path, std::int64_t last_step, const H5mdWriterOptions& options);

}  // namespace nqmd::h5md
