#pragma once
// Radial distribution functions: the total g(r) and the partial g_ab(r) of every ordered species pair, with
// coordination numbers and block-averaged error bars, accumulated frame by frame.
//
// Definitions (Allen & Tildesley, "Computer Simulation of Liquids", 2nd ed., section 8.2). For one frame of
// volume V, with h_ab(k) the number of ordered pairs (i of species a, j of species b, j != i or j a periodic
// image of i) at a distance in bin k = [r_k, r_k + dr):
//   g_ab(k) = h_ab(k) V / (P_ab * 4/3 pi ((r_k + dr)^3 - r_k^3)),   P_ab = N_a N_b (a != b), N_a (N_a - 1) (a == b)
// so that an ideal gas of N atoms has g = 1 exactly in expectation; the total g(r) uses P = N (N - 1). Each
// frame is normalised with its own volume (NPT), and g is the average over frames. The coordination number
//   n_ab(r) = 4 pi rho'_b int_0^r g_ab(s) s^2 ds,   rho'_b = P_ab / (N_a V)   (= N_b / V, or (N_a - 1) / V)
// is the mean number of b atoms within r of an a atom: the running sum of h_ab / N_a, exact for binned data.
// With these normalisations the partials add up to the total exactly as g = sum_ab (P_ab / (N (N - 1))) g_ab,
// and as g = sum_ab x_a x_b g_ab up to terms of order 1/N.
//
// Pairs are found with nqmd::NeighborList (full list, skin 0), which works in any triclinic cell. By default
// r_max may not exceed half the smallest perpendicular cell width, so that each pair is seen at most once (the
// minimum image); with periodic_images every image within r_max counts (as the engine's neighbour list and an
// infinite periodic crystal have it), which allows any r_max in small cells.
//
// Error bars: the frames are cut into blocks of consecutive frames; the error of a bin is the standard error of
// the block means, sqrt(sum_b (g_b - <g_b>)^2 / (B (B - 1))) (Flyvbjerg & Petersen, J. Chem. Phys. 91, 461
// (1989)). Blocks are built while streaming without knowing the frame count: blocks start with one frame and
// pairs of blocks are merged whenever 2 * blocks full blocks exist, so the result has between `blocks` and
// 2 * blocks - 1 equal blocks (RdfResult::blocks says how many) once there are enough frames. Frames of a last,
// incomplete block count in g but not in the error bars.
#include <cstddef>
#include <string>
#include <vector>

#include "analysis/statistics.hpp"
#include "analysis/trajectory_tools.hpp"
#include "engine/neighbor_list.hpp"
#include "engine/system.hpp"
#include "io/trajectory.hpp"

namespace nqmd::analysis {

struct RdfOptions {
  double r_max = 0.0;            // A; 0: half the smallest perpendicular width (periodic axes) of the first frame
  std::size_t bins = 200;        // bins of equal width r_max / bins
  bool periodic_images = false;  // count every periodic image within r_max: needed for r_max beyond half a width
  std::size_t blocks = 8;        // least number of blocks for the error bars (at least 2)
  double volume = 0.0;           // A^3: the volume of frames that are not periodic along every axis (a cluster,
                                 // a slab); 0 rejects such frames
};

struct RdfCurve {
  std::string species_a;             // centre species; empty for the total
  std::string species_b;             // neighbour species; empty for the total
  double pair_count = 0.0;           // P_ab (0 for a single atom: g_aa is then undefined and zero)
  std::vector<double> g;             // per bin
  std::vector<double> g_error;       // standard error per bin (NaN with fewer than two blocks)
  std::vector<double> coordination;  // n_ab at the upper edge of each bin
  std::vector<double> coordination_error;
};

struct RdfResult {
  std::vector<double> r;   // bin centres (A)
  double bin_width = 0.0;  // A
  double r_max = 0.0;      // A
  RdfCurve total;
  std::vector<RdfCurve> partials;  // every ordered pair (a, b) of species, a-major in order of appearance
  std::size_t frames = 0;
  std::size_t blocks = 0;  // blocks in the error bars
  std::size_t frames_per_block = 0;
  double mean_volume = 0.0;  // A^3
  std::vector<std::string> warnings;

  // The partial with centre species a and neighbour species b; InputError if either is not in the result.
  const RdfCurve& partial(const std::string& species_a, const std::string& species_b) const;
  // Upper edge of bin k (A): where coordination[k] is evaluated.
  double bin_upper_edge(std::size_t bin) const { return bin_width * static_cast<double>(bin + 1); }
};

class RadialDistribution {
 public:
  // `symbols`: the chemical symbol of every atom, constant over frames.
  explicit RadialDistribution(std::vector<std::string> symbols, RdfOptions options = {});

  // Adds one frame (messages number frames from 0 in the order they are added). InputError if its atom count
  // differs, its cell has no volume and none was given, or r_max exceeds half its smallest width without
  // periodic_images.
  void accumulate(const TrajectoryFrame& frame);
  // g(r), coordination numbers and error bars of the frames so far; InputError if there are none.
  RdfResult finalize() const;
  std::size_t frames() const { return frames_; }

 private:
  // Sums over the frames of one block: per curve (total first, then the ordered pairs) and per bin.
  struct Block {
    std::vector<double> g_sum;
    std::vector<double> neighbor_sum;  // h / N_centre
    std::size_t frames = 0;
  };

  std::vector<std::string> symbols_;
  SpeciesTable species_;
  RdfOptions options_;
  std::size_t curves_;                 // 1 + species^2
  std::vector<double> pair_counts_;    // P per curve
  std::vector<double> centre_counts_;  // N_centre per curve
  double r_max_ = 0.0;
  double bin_width_ = 0.0;
  std::vector<double> shell_volumes_;
  std::size_t frames_ = 0;
  double volume_sum_ = 0.0;
  std::vector<Block> full_blocks_;
  Block current_block_;
  std::size_t frames_per_block_ = 1;
  System scratch_system_;  // the frame handed to the neighbour list
  NeighborList neighbors_{1.0, 0.0, NeighborListKind::full};
  std::vector<double> histogram_;  // counts of the current frame, per curve and bin

  void start(const TrajectoryFrame& frame, std::size_t frame_index);
  double frame_volume(const TrajectoryFrame& frame, std::size_t frame_index) const;
  void add_to_blocks(const std::vector<double>& g_frame, const std::vector<double>& neighbors_frame);
  std::size_t curve_index(std::size_t species_a, std::size_t species_b) const {
    return 1 + species_a * species_.count() + species_b;
  }
};

// Every frame of a trajectory through RadialDistribution.
RdfResult compute_rdf(const Trajectory& trajectory, const RdfOptions& options = {});

}  // namespace nqmd::analysis
