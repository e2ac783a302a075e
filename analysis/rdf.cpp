#include "analysis/rdf.hpp"

#include <algorithm>
#include <cmath>
#include <limits>

#include <fmt/format.h>

#include "engine/error.hpp"

namespace nqmd::analysis {
namespace {

constexpr double kPi = 3.14159265358979323846;
// r_max may equal half a width up to rounding (the default r_max is exactly half the smallest width).
constexpr double kHalfWidthTolerance = 1e-12;

// Smallest perpendicular width over the periodic axes; infinity if none is periodic.
double smallest_periodic_width(const Cell& cell) {
  const Vec3 widths = cell.perpendicular_widths();
  double smallest = std::numeric_limits<double>::infinity();
  for (int axis = 0; axis < 3; ++axis)
    if (cell.periodic(axis)) smallest = std::min(smallest, widths[axis]);
  return smallest;
}

}  // namespace

const RdfCurve& RdfResult::partial(const std::string& species_a, const std::string& species_b) const {
  for (const RdfCurve& curve : partials)
    if (curve.species_a == species_a && curve.species_b == species_b) return curve;
  std::vector<std::string> species;
  for (const RdfCurve& curve : partials)
    if (std::find(species.begin(), species.end(), curve.species_a) == species.end()) species.push_back(curve.species_a);
  throw InputError(
      fmt::format("no partial RDF {}-{}: species '{}' is not in the trajectory (it has {})", species_a, species_b,
                  std::find(species.begin(), species.end(), species_a) == species.end() ? species_a : species_b,
                  fmt::join(species, ", ")));
}

RadialDistribution::RadialDistribution(std::vector<std::string> symbols, RdfOptions options)
    : symbols_(std::move(symbols)), species_(symbols_), options_(options) {
  if (symbols_.empty()) throw InputError("RDF: the trajectory has no atoms");
  if (options_.bins == 0) throw InputError("RDF: the number of bins must be at least 1");
  if (options_.blocks < 2) throw InputError("RDF: at least 2 blocks are needed for error bars");
  if (options_.r_max < 0.0 || !std::isfinite(options_.r_max))
    throw InputError(fmt::format("RDF: r_max must be positive (or 0 for the default), got {}", options_.r_max));
  if (options_.volume < 0.0 || !std::isfinite(options_.volume))
    throw InputError(fmt::format("RDF: the volume must be positive, got {} A^3", options_.volume));
  const std::size_t n_species = species_.count();
  curves_ = 1 + n_species * n_species;
  pair_counts_.assign(curves_, 0.0);
  centre_counts_.assign(curves_, 0.0);
  const double n_atoms = static_cast<double>(symbols_.size());
  pair_counts_[0] = n_atoms * (n_atoms - 1.0);
  centre_counts_[0] = n_atoms;
  for (std::size_t a = 0; a < n_species; ++a) {
    for (std::size_t b = 0; b < n_species; ++b) {
      const double n_a = static_cast<double>(species_.atoms(a).size());
      const double n_b = static_cast<double>(species_.atoms(b).size());
      pair_counts_[curve_index(a, b)] = a == b ? n_a * (n_a - 1.0) : n_a * n_b;
      centre_counts_[curve_index(a, b)] = n_a;
    }
  }
  scratch_system_.positions.resize(symbols_.size());
}

double RadialDistribution::frame_volume(const TrajectoryFrame& frame, std::size_t frame_index) const {
  if (frame.cell.fully_periodic()) {
    if (options_.volume > 0.0)
      throw InputError(
          fmt::format("RDF: a volume ({} A^3) is given but frame {} is periodic along every axis: its "
                      "cell volume is used; remove the volume",
                      options_.volume, frame_index));
    return frame.cell.volume();
  }
  if (options_.volume > 0.0) return options_.volume;
  throw InputError(
      fmt::format("RDF: frame {} is not periodic along every axis, and g(r) needs a volume for its "
                  "ideal-gas normalisation: give the volume the atoms occupy",
                  frame_index));
}

void RadialDistribution::start(const TrajectoryFrame& frame, std::size_t frame_index) {
  const double width = smallest_periodic_width(frame.cell);
  r_max_ = options_.r_max;
  if (r_max_ == 0.0) {
    if (!std::isfinite(width))
      throw InputError(
          fmt::format("RDF: frame {} has no periodic axis, so r_max has no default: give r_max", frame_index));
    r_max_ = 0.5 * width;
  }
  bin_width_ = r_max_ / static_cast<double>(options_.bins);
  shell_volumes_.resize(options_.bins);
  for (std::size_t k = 0; k < options_.bins; ++k) {
    const double inner = bin_width_ * static_cast<double>(k);
    const double outer = bin_width_ * static_cast<double>(k + 1);
    shell_volumes_[k] = 4.0 / 3.0 * kPi * (outer * outer * outer - inner * inner * inner);
  }
  neighbors_ = NeighborList(r_max_, 0.0, NeighborListKind::full);
  histogram_.assign(curves_ * options_.bins, 0.0);
  current_block_.g_sum.assign(curves_ * options_.bins, 0.0);
  current_block_.neighbor_sum.assign(curves_ * options_.bins, 0.0);
}

void RadialDistribution::accumulate(const TrajectoryFrame& frame) {
  const std::size_t frame_index = frames_;
  if (frame.positions.size() != symbols_.size())
    throw InputError(
        fmt::format("RDF: frame {} has {} atoms but the trajectory has {}: the atom count must not "
                    "change between frames",
                    frame_index, frame.positions.size(), symbols_.size()));
  const double volume = frame_volume(frame, frame_index);
  if (frames_ == 0) start(frame, frame_index);
  const double width = smallest_periodic_width(frame.cell);
  if (!options_.periodic_images && r_max_ > 0.5 * width * (1.0 + kHalfWidthTolerance))
    throw InputError(
        fmt::format("RDF: r_max = {} A exceeds half the smallest perpendicular cell width ({} A in "
                    "frame {}), where a pair has more than one image: lower r_max or allow periodic "
                    "images",
                    r_max_, width, frame_index));

  scratch_system_.cell = frame.cell;
  std::copy(frame.positions.begin(), frame.positions.end(), scratch_system_.positions.begin());
  neighbors_.build(scratch_system_);

  std::fill(histogram_.begin(), histogram_.end(), 0.0);
  const std::size_t bins = options_.bins;
  const std::vector<int>& centres = neighbors_.centers();
  const std::vector<int>& others = neighbors_.neighbors();
  const std::vector<Vec3i>& shifts = neighbors_.shifts();
  for (std::size_t edge = 0; edge < neighbors_.num_edges(); ++edge) {
    const std::size_t i = static_cast<std::size_t>(centres[edge]);
    const std::size_t j = static_cast<std::size_t>(others[edge]);
    const double distance = (frame.positions[j] - frame.positions[i] + frame.cell.shift_vector(shifts[edge])).norm();
    if (!(distance < r_max_)) continue;
    const std::size_t bin = std::min(static_cast<std::size_t>(distance / bin_width_), bins - 1);
    histogram_[bin] += 1.0;
    histogram_[curve_index(species_.species_of_atom(i), species_.species_of_atom(j)) * bins + bin] += 1.0;
  }

  std::vector<double> g_frame(curves_ * bins, 0.0);
  std::vector<double> neighbors_frame(curves_ * bins, 0.0);
  for (std::size_t curve = 0; curve < curves_; ++curve) {
    for (std::size_t k = 0; k < bins; ++k) {
      const double count = histogram_[curve * bins + k];
      if (pair_counts_[curve] > 0.0)
        g_frame[curve * bins + k] = count * volume / (pair_counts_[curve] * shell_volumes_[k]);
      neighbors_frame[curve * bins + k] = count / centre_counts_[curve];
    }
  }
  ++frames_;
  volume_sum_ += volume;
  add_to_blocks(g_frame, neighbors_frame);
}

void RadialDistribution::add_to_blocks(const std::vector<double>& g_frame, const std::vector<double>& neighbors_frame) {
  for (std::size_t k = 0; k < g_frame.size(); ++k) {
    current_block_.g_sum[k] += g_frame[k];
    current_block_.neighbor_sum[k] += neighbors_frame[k];
  }
  ++current_block_.frames;
  if (current_block_.frames < frames_per_block_) return;
  full_blocks_.push_back(current_block_);
  std::fill(current_block_.g_sum.begin(), current_block_.g_sum.end(), 0.0);
  std::fill(current_block_.neighbor_sum.begin(), current_block_.neighbor_sum.end(), 0.0);
  current_block_.frames = 0;
  if (full_blocks_.size() < 2 * options_.blocks) return;
  // Merge neighbouring blocks pairwise: `blocks` blocks of twice the length.
  for (std::size_t b = 0; b < options_.blocks; ++b) {
    Block& merged = full_blocks_[b];
    merged = full_blocks_[2 * b];
    const Block& second = full_blocks_[2 * b + 1];
    for (std::size_t k = 0; k < merged.g_sum.size(); ++k) {
      merged.g_sum[k] += second.g_sum[k];
      merged.neighbor_sum[k] += second.neighbor_sum[k];
    }
    merged.frames += second.frames;
  }
  full_blocks_.resize(options_.blocks);
  frames_per_block_ *= 2;
}

RdfResult RadialDistribution::finalize() const {
  if (frames_ == 0) throw InputError("RDF: no frames were accumulated");
  const std::size_t bins = options_.bins;
  const std::size_t n_blocks = full_blocks_.size();
  RdfResult result;
  result.bin_width = bin_width_;
  result.r_max = r_max_;
  result.frames = frames_;
  result.blocks = n_blocks;
  result.frames_per_block = frames_per_block_;
  result.mean_volume = volume_sum_ / static_cast<double>(frames_);
  result.r.resize(bins);
  for (std::size_t k = 0; k < bins; ++k) result.r[k] = bin_width_ * (static_cast<double>(k) + 0.5);
  if (n_blocks < 2)
    result.warnings.push_back(
        fmt::format("only {} frame(s): no error bars (they need at least 2 blocks of frames)", frames_));
  else if (n_blocks < options_.blocks)
    result.warnings.push_back(
        fmt::format("only {} frames: the error bars come from {} blocks of one frame, fewer "
                    "than the {} asked for, and consecutive frames may be correlated",
                    frames_, n_blocks, options_.blocks));

  // Frame sums over everything, and the per-block means for the errors.
  std::vector<double> g_total = current_block_.g_sum;
  std::vector<double> neighbors_total = current_block_.neighbor_sum;
  for (const Block& block : full_blocks_) {
    for (std::size_t k = 0; k < g_total.size(); ++k) {
      g_total[k] += block.g_sum[k];
      neighbors_total[k] += block.neighbor_sum[k];
    }
  }
  const double inverse_frames = 1.0 / static_cast<double>(frames_);
  std::vector<double> block_g(n_blocks);
  std::vector<double> block_coordination(n_blocks);
  std::vector<double> running_coordination(n_blocks);

  auto make_curve = [&](std::size_t curve) {
    RdfCurve out;
    out.pair_count = pair_counts_[curve];
    out.g.resize(bins);
    out.g_error.resize(bins);
    out.coordination.resize(bins);
    out.coordination_error.resize(bins);
    std::fill(running_coordination.begin(), running_coordination.end(), 0.0);
    double coordination = 0.0;
    for (std::size_t k = 0; k < bins; ++k) {
      const std::size_t index = curve * bins + k;
      out.g[k] = g_total[index] * inverse_frames;
      coordination += neighbors_total[index] * inverse_frames;
      out.coordination[k] = coordination;
      for (std::size_t b = 0; b < n_blocks; ++b) {
        const double block_frames = static_cast<double>(full_blocks_[b].frames);
        block_g[b] = full_blocks_[b].g_sum[index] / block_frames;
        running_coordination[b] += full_blocks_[b].neighbor_sum[index] / block_frames;
        block_coordination[b] = running_coordination[b];
      }
      out.g_error[k] = mean_with_standard_error(block_g).error;
      out.coordination_error[k] = mean_with_standard_error(block_coordination).error;
    }
    return out;
  };

  result.total = make_curve(0);
  for (std::size_t a = 0; a < species_.count(); ++a) {
    for (std::size_t b = 0; b < species_.count(); ++b) {
      RdfCurve curve = make_curve(curve_index(a, b));
      curve.species_a = species_.names()[a];
      curve.species_b = species_.names()[b];
      if (curve.pair_count == 0.0)
        result.warnings.push_back(
            fmt::format("g_{0}{0}(r) is undefined with a single {0} atom (N (N - 1) = 0 pairs); "
                        "it is reported as zero",
                        curve.species_a));
      result.partials.push_back(std::move(curve));
    }
  }
  if (pair_counts_[0] == 0.0)
    result.warnings.push_back("the total g(r) is undefined with a single atom; it is reported as zero");
  return result;
}

RdfResult compute_rdf(const Trajectory& trajectory, const RdfOptions& options) {
  RadialDistribution rdf(trajectory.symbols, options);
  for (const TrajectoryFrame& frame : trajectory.frames) rdf.accumulate(frame);
  return rdf.finalize();
}

}  // namespace nqmd::analysis
