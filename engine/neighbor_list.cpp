#include "engine/neighbor_list.hpp"

#include <atomic>

#include <algorithm>
#include <cmath>
#include <limits>
#include <utility>

#include <fmt/format.h>
#include <omp.h>

#include "engine/error.hpp"
#include "engine/memory_budget.hpp"

namespace nqmd {
namespace {

// Bins are sized for a radius padded by this relative amount, so that the stencil keeps a margin over the list
// radius even when a width is an exact multiple of it (fractional coordinates carry rounding errors).
constexpr double kBinPadding = 1e-10;
// Distances are computed from wrapped positions; a pair whose squared distance lies within this relative band
// around rc^2 is decided by the defining formula |x_j - x_i + s . lattice|^2 < rc^2 on the given positions, so
// that exact ties (atoms on a lattice) come out as the definition says.
constexpr double kTieBand = 1e-10;
// A huge vacuum or a sparse cluster must not allocate bins without bound: beyond this, bins grow instead.
constexpr std::size_t kMaxBinsPerAtom = 2;
constexpr std::size_t kMinBinLimit = 64;
constexpr std::size_t kMaxBins = std::size_t{1} << 22;
// Bins per list radius along each axis: half-radius bins make the stencil (5 bins of rc/2 per axis, 2.5 rc)
// hug the search sphere more closely than radius-sized bins (3 bins, 3 rc): 42% fewer candidate pairs.
constexpr double kBinsPerRadius = 2.0;
// Fractional coordinates beyond this would overflow the integer wrap shifts.
constexpr double kFarthestFractional = 1e9;
// Chunks of bins handed to threads; more chunks than threads balance uneven densities. Small systems are not
// worth waking threads for.
constexpr int kChunksPerThread = 8;
constexpr int kMinAtomsForThreads = 2000;

// Floor division and modulo for a positive divisor.
int floor_div(int a, int b) { return a >= 0 ? a / b : -((-a + b - 1) / b); }
int positive_mod(int a, int b) { return a - floor_div(a, b) * b; }

bool lexicographically_positive(const Vec3i& s) {
  for (int axis = 0; axis < 3; ++axis)
    if (s[axis] != 0) return s[axis] > 0;
  return false;
}

// Bins along one axis of the completed lattice, in fractional coordinates. Periodic axes bin [0,1) and see
// periodic images; non-periodic axes bin the atoms' extent [origin, origin + extent] and see no images.
struct AxisBins {
  bool periodic = true;
  int count = 1;
  int reach = 0;             // the stencil covers bin offsets [-reach, reach]
  double origin = 0.0;       // fractional coordinate of the lower edge of bin 0
  double extent = 1.0;       // fractional length covered by all bins
  double per_fraction = 1;   // bins per unit of fractional coordinate

  int bin_of(double fractional) const {
    const double position = std::floor((fractional - origin) * per_fraction);
    return static_cast<int>(std::clamp(position, 0.0, static_cast<double>(count - 1)));
  }
  // Combined bin indices b + d of the stencil around bin b: pairs (bin, image) with b + d = bin + image * count.
  int first_combined(int bin) const { return periodic ? bin - reach : std::max(0, bin - reach); }
  int last_combined(int bin) const { return periodic ? bin + reach : std::min(count - 1, bin + reach); }
};

// Lowest and highest fractional coordinate of the atoms along `axis` (+inf, -inf without atoms).
std::pair<double, double> fractional_range(const std::vector<Vec3>& fractional, int axis) {
  double lowest = std::numeric_limits<double>::infinity(), highest = -lowest;
  for (const Vec3& f : fractional) {
    lowest = std::min(lowest, f[axis]);
    highest = std::max(highest, f[axis]);
  }
  return {lowest, highest};
}

std::array<AxisBins, 3> plan_bins(const Cell& cell, const std::vector<Vec3>& fractional, double radius) {
  const Vec3 widths = cell.perpendicular_widths();
  const double padded_radius = radius * (1.0 + kBinPadding);
  std::array<AxisBins, 3> axes;
  std::array<double, 3> cartesian_extent;  // distance between the outer bin faces, perpendicular to them
  for (int axis = 0; axis < 3; ++axis) {
    AxisBins& bins = axes[axis];
    bins.periodic = cell.periodic(axis);
    if (!bins.periodic) {
      const auto [lowest, highest] = fractional_range(fractional, axis);
      bins.origin = fractional.empty() ? 0.0 : lowest;
      bins.extent = fractional.empty() ? 0.0 : highest - lowest;
    }
    cartesian_extent[axis] = bins.extent * widths[axis];
    const double fitting = std::floor(cartesian_extent[axis] * kBinsPerRadius / padded_radius);
    bins.count = static_cast<int>(std::clamp(fitting, 1.0, static_cast<double>(kMaxBins)));
  }

  const std::size_t bin_limit = std::clamp(kMaxBinsPerAtom * fractional.size(), kMinBinLimit, kMaxBins);
  auto total = [&] { return std::size_t(axes[0].count) * std::size_t(axes[1].count) * std::size_t(axes[2].count); };
  while (total() > bin_limit) {
    AxisBins& finest = *std::max_element(axes.begin(), axes.end(),
                                         [](const AxisBins& a, const AxisBins& b) { return a.count < b.count; });
    finest.count = (finest.count + 1) / 2;
  }

  for (int axis = 0; axis < 3; ++axis) {
    AxisBins& bins = axes[axis];
    bins.per_fraction = bins.extent > 0 ? bins.count / bins.extent : 0.0;
    // Two atoms closer than rc differ by less than rc / width in the fractional coordinate of this axis, that
    // is by less than rc * count / cartesian_extent bins.
    const double reach =
        cartesian_extent[axis] > 0 ? std::ceil(padded_radius * bins.count / cartesian_extent[axis]) : 0.0;
    if (bins.periodic) {
      if (reach > 1e6) throw InputError(fmt::format("cell width {:.6g} A is too small for a list radius of {:.6g} A",
                                                    widths[axis], radius));
      bins.reach = static_cast<int>(reach);
    } else {
      bins.reach = static_cast<int>(std::min(reach, static_cast<double>(bins.count - 1)));
    }
  }
  return axes;
}

// Edges a list of this radius will hold, estimated before it is built: every atom sees the mean density of the
// atoms' extent (the cell along periodic axes) within its sphere, and never more than every atom through every
// periodic image the radius reaches. InputError if that would not fit in memory (a cutoff of 1e6 A, a cell far
// thinner than the cutoff): nothing is allocated first.
void check_list_size(const System& system, const std::vector<Vec3>& fractional, double cutoff, double skin) {
  const double radius = cutoff + skin;
  const double atoms = static_cast<double>(system.size());
  const Vec3 widths = system.cell.perpendicular_widths();
  double images = 1.0, volume = 1.0;
  for (int axis = 0; axis < 3; ++axis) {
    if (system.cell.periodic(axis)) {
      images *= 2.0 * std::ceil(radius / widths[axis]) + 1.0;
      volume *= widths[axis];
    } else {
      const auto [lowest, highest] = fractional_range(fractional, axis);
      volume *= std::max((highest - lowest) * widths[axis], 1.0);
    }
  }
  const double sphere = 4.0 / 3.0 * 3.141592653589793 * radius * radius * radius;
  const double per_atom = std::min(atoms * images, atoms / volume * sphere);
  const double edges = atoms * per_atom;
  // At most 2^31 edges (int indices downstream), and what the memory budget holds.
  const double most = std::min(2147483647.0, memory_budget_bytes() / kBytesPerPair);
  if (edges > most)
    throw InputError(fmt::format(
        "neighbour list: a radius of {:.6g} A (cutoff {:.6g} A + skin {:.6g} A; in a run, the potential's cutoff and "
        "[neighbor] skin) would hold about {:.3g} pairs ({:.3g} per atom, {:.3g} GB), more than the {:.3g} this "
        "machine can hold; is the cutoff, the skin or the cell what was meant?",
        radius, cutoff, skin, edges, per_atom, edges * kBytesPerPair / 1e9, most));
}

// Atoms [first, last) in bin order, seen through the periodic image `image` of their bins.
struct NeighborRun {
  int first;
  int last;
  Vec3i image;
  Vec3 offset;  // image . lattice
};

// The runs of atoms in the stencil of a bin. Along the last axis, consecutive bins of the same image are
// consecutive in bin order, so they form a single run.
void collect_runs(const std::array<AxisBins, 3>& axes, const Vec3i& centre_bin, const std::vector<int>& bin_start,
                  const Cell& cell, std::vector<NeighborRun>& runs) {
  runs.clear();
  const int count2 = axes[2].count;
  for (int c0 = axes[0].first_combined(centre_bin[0]); c0 <= axes[0].last_combined(centre_bin[0]); ++c0) {
    const int image0 = floor_div(c0, axes[0].count);
    const int bin0 = c0 - image0 * axes[0].count;
    for (int c1 = axes[1].first_combined(centre_bin[1]); c1 <= axes[1].last_combined(centre_bin[1]); ++c1) {
      const int image1 = floor_div(c1, axes[1].count);
      const int bin1 = c1 - image1 * axes[1].count;
      const int row = (bin0 * axes[1].count + bin1) * count2;
      const int last2 = axes[2].last_combined(centre_bin[2]);
      for (int c2 = axes[2].first_combined(centre_bin[2]); c2 <= last2;) {
        const int image2 = floor_div(c2, count2);
        const int segment_last = std::min(last2, (image2 + 1) * count2 - 1);
        const int first = bin_start[row + positive_mod(c2, count2)];
        const int last = bin_start[row + positive_mod(segment_last, count2) + 1];
        if (first < last) {
          const Vec3i image(image0, image1, image2);
          runs.push_back({first, last, image, cell.shift_vector(image)});
        }
        c2 = segment_last + 1;
      }
    }
  }
}

}  // namespace

NeighborList::NeighborList(double cutoff, double skin, NeighborListKind kind)
    : cutoff_(cutoff), skin_(skin), kind_(kind) {
  if (!(cutoff >= 0) || !std::isfinite(cutoff))
    throw InputError(fmt::format("neighbour list cutoff must be zero or positive, got {}", cutoff));
  if (!(skin >= 0) || !std::isfinite(skin))
    throw InputError(fmt::format("neighbour list skin must be zero or positive, got {}", skin));
}

void NeighborList::build(const System& system) {
  const Cell& cell = system.cell;
  const std::vector<Vec3>& positions = system.positions;
  const int n_atoms = static_cast<int>(system.size());
  const double radius = cutoff_ + skin_;
  const double radius_squared = radius * radius;
  const double tie_band_low = radius_squared * (1.0 - kTieBand);
  const double tie_band_high = radius_squared * (1.0 + kTieBand);
  const bool half = kind_ == NeighborListKind::half;
  const bool threaded = n_atoms >= kMinAtomsForThreads;
  if (radius == 0.0) {  // no interactions (e.g. an ideal gas): no edges
    offsets_.assign(n_atoms + 1, 0);
    centers_.clear();
    neighbors_.clear();
    shifts_.clear();
    built_positions_ = positions;
    built_lattice_ = cell.lattice();
    built_pbc_ = cell.pbc();
    count_build();
    return;
  }

  // Fractional coordinates, wrapped into [0,1) along periodic axes; wrap_shifts_ holds the integers taken off.
  wrapped_fractional_.resize(n_atoms);
  wrap_shifts_.resize(n_atoms);
  bool all_representable = true;
#pragma omp parallel for schedule(static) reduction(&& : all_representable) if (threaded)
  for (int i = 0; i < n_atoms; ++i) {
    Vec3 f = cell.to_fractional(positions[i]);
    Vec3i shift = Vec3i::Zero();
    if (!f.allFinite() || f.cwiseAbs().maxCoeff() > kFarthestFractional) {
      all_representable = false;
      continue;
    }
    for (int axis = 0; axis < 3; ++axis) {
      if (!cell.periodic(axis)) continue;
      const double whole = std::floor(f[axis]);
      shift[axis] = static_cast<int>(whole);
      f[axis] -= whole;
      if (f[axis] >= 1.0) {  // a tiny negative coordinate rounds up to 1
        f[axis] -= 1.0;
        shift[axis] += 1;
      }
    }
    wrapped_fractional_[i] = f;
    wrap_shifts_[i] = shift;
  }
  if (!all_representable) {
    int far = 0;
    for (int i = 0; i < n_atoms; ++i) {
      const Vec3 f = cell.to_fractional(positions[i]);
      if (!f.allFinite() || f.cwiseAbs().maxCoeff() > kFarthestFractional) {
        far = i;
        break;
      }
    }
    throw InputError(fmt::format("atom {} ({}) is at ({:.6g}, {:.6g}, {:.6g}) A, not finite or more than 1e9 cells "
                                 "away",
                                 far, system.symbol(far), positions[far][0], positions[far][1], positions[far][2]));
  }

  check_list_size(system, wrapped_fractional_, cutoff_, skin_);

  // Counting sort of the atoms into bins, stable in atom index.
  const std::array<AxisBins, 3> axes = plan_bins(cell, wrapped_fractional_, radius);
  const int n_bins = axes[0].count * axes[1].count * axes[2].count;
  bin_of_atom_.resize(n_atoms);
  bin_start_.assign(n_bins + 1, 0);
  for (int i = 0; i < n_atoms; ++i) {
    const Vec3& f = wrapped_fractional_[i];
    const int bin =
        (axes[0].bin_of(f[0]) * axes[1].count + axes[1].bin_of(f[1])) * axes[2].count + axes[2].bin_of(f[2]);
    bin_of_atom_[i] = bin;
    ++bin_start_[bin + 1];
  }
  for (int bin = 0; bin < n_bins; ++bin) bin_start_[bin + 1] += bin_start_[bin];
  atoms_by_bin_.resize(n_atoms);
  sorted_positions_.resize(n_atoms);
  sorted_wrap_shifts_.resize(n_atoms);
  // Scatter with bin_start_[bin] as the insertion cursor; afterwards each entry holds the next bin's start.
  for (int i = 0; i < n_atoms; ++i) {
    const int slot = bin_start_[bin_of_atom_[i]]++;
    atoms_by_bin_[slot] = i;
    sorted_positions_[slot] = positions[i] - cell.shift_vector(wrap_shifts_[i]);
    sorted_wrap_shifts_[slot] = wrap_shifts_[i];
  }
  for (int bin = n_bins; bin > 0; --bin) bin_start_[bin] = bin_start_[bin - 1];
  bin_start_[0] = 0;

  // Chunks of consecutive bins holding about equal numbers of atoms.
  const int n_chunks = std::max(1, std::min(n_bins, kChunksPerThread * omp_get_max_threads()));
  chunk_first_bin_.resize(n_chunks + 1);
  for (int chunk = 0; chunk <= n_chunks; ++chunk) {
    const long long first_atom = static_cast<long long>(n_atoms) * chunk / n_chunks;
    const auto found = std::lower_bound(bin_start_.begin(), bin_start_.end(), first_atom);
    chunk_first_bin_[chunk] = std::min(n_bins, static_cast<int>(found - bin_start_.begin()));
  }
  chunk_first_bin_[n_chunks] = n_bins;
  if (static_cast<int>(chunk_edges_.size()) < n_chunks) chunk_edges_.resize(n_chunks);

  // The first build reserves for a uniform density; later builds reuse the buffers' capacity.
  const double volume = cell.volume();
  const double sphere_volume = 4.0 / 3.0 * std::acos(-1.0) * radius_squared * radius;
  const double expected_edges_per_atom =
      (num_builds_ == 0 && cell.fully_periodic() && volume > 0) ? n_atoms / volume * sphere_volume : 0.0;

  edge_counts_.resize(n_atoms);
  edge_begin_in_chunk_.resize(n_atoms);
#pragma omp parallel if (threaded)
  {
    std::vector<NeighborRun> runs;
    std::vector<int> close_candidates;
    // Bin-ordered arrays only in the inner loops: sequential reads, and no aliasing with the edge buffers.
    const Vec3* sorted_positions = sorted_positions_.data();
    const Vec3i* sorted_wrap_shifts = sorted_wrap_shifts_.data();
    const int* atom_at = atoms_by_bin_.data();
#pragma omp for schedule(dynamic, 1)
    for (int chunk = 0; chunk < n_chunks; ++chunk) {
      ChunkEdges& edges = chunk_edges_[chunk];
      edges.neighbors.clear();
      edges.shifts.clear();
      const int first_bin = chunk_first_bin_[chunk];
      const int end_bin = chunk_first_bin_[chunk + 1];
      const auto reserve = static_cast<std::size_t>(
          expected_edges_per_atom * 1.1 * (bin_start_[end_bin] - bin_start_[first_bin]));
      edges.neighbors.reserve(reserve);
      edges.shifts.reserve(reserve);
      for (int bin = first_bin; bin < end_bin; ++bin) {
        if (bin_start_[bin] == bin_start_[bin + 1]) continue;
        const Vec3i centre_bin(bin / (axes[1].count * axes[2].count), (bin / axes[2].count) % axes[1].count,
                               bin % axes[2].count);
        collect_runs(axes, centre_bin, bin_start_, cell, runs);
        for (int k = bin_start_[bin]; k < bin_start_[bin + 1]; ++k) {
          const int i = atom_at[k];
          edge_begin_in_chunk_[k] = edges.neighbors.size();
          for (const NeighborRun& run : runs) {
            const Vec3 from_centre = run.offset - sorted_positions[k];
            const bool own_image = run.image == Vec3i::Zero();
            // Branch-free first pass (most candidates are out of range): collect those within the radius.
            if (static_cast<int>(close_candidates.size()) < run.last - run.first)
              close_candidates.resize(run.last - run.first);
            int n_close = 0;
            for (int m = run.first; m < run.last; ++m) {
              close_candidates[n_close] = m;
              n_close += (sorted_positions[m] + from_centre).squaredNorm() < tie_band_high;
            }
            for (int c = 0; c < n_close; ++c) {
              const int m = close_candidates[c];
              if (m == k && own_image) continue;
              const int j = atom_at[m];
              const Vec3i shift = run.image - sorted_wrap_shifts[m] + sorted_wrap_shifts[k];
              if (half && !(i < j || (i == j && lexicographically_positive(shift)))) continue;
              if ((sorted_positions[m] + from_centre).squaredNorm() >= tie_band_low &&
                  (positions[j] - positions[i] + cell.shift_vector(shift)).squaredNorm() >= radius_squared)
                continue;
              edges.neighbors.push_back(j);
              edges.shifts.push_back(shift);
            }
          }
          edge_counts_[i] = static_cast<int>(edges.neighbors.size() - edge_begin_in_chunk_[k]);
        }
      }
    }
  }

  // CSR in atom order: the edges of each atom keep the order in which they were found.
  offsets_.resize(n_atoms + 1);
  offsets_[0] = 0;
  for (int i = 0; i < n_atoms; ++i) offsets_[i + 1] = offsets_[i] + edge_counts_[i];
  const std::size_t n_edges = offsets_[n_atoms];
  centers_.resize(n_edges);
  neighbors_.resize(n_edges);
  shifts_.resize(n_edges);
#pragma omp parallel for schedule(dynamic, 1) if (threaded)
  for (int chunk = 0; chunk < n_chunks; ++chunk) {
    const ChunkEdges& edges = chunk_edges_[chunk];
    for (int k = bin_start_[chunk_first_bin_[chunk]]; k < bin_start_[chunk_first_bin_[chunk + 1]]; ++k) {
      const int i = atoms_by_bin_[k];
      const std::size_t source = edge_begin_in_chunk_[k];
      const std::size_t target = offsets_[i];
      std::fill_n(centers_.begin() + target, edge_counts_[i], i);
      std::copy_n(edges.neighbors.begin() + source, edge_counts_[i], neighbors_.begin() + target);
      std::copy_n(edges.shifts.begin() + source, edge_counts_[i], shifts_.begin() + target);
    }
  }

  built_positions_ = positions;
  built_lattice_ = cell.lattice();
  built_pbc_ = cell.pbc();
  count_build();
}

void NeighborList::count_build() {
  static std::atomic<std::uint64_t> builds_in_process{0};
  ++num_builds_;
  build_id_ = ++builds_in_process;
}

bool NeighborList::needs_rebuild(const System& system) const {
  if (num_builds_ == 0 || system.size() != built_positions_.size()) return true;
  if (system.cell.lattice() != built_lattice_ || system.cell.pbc() != built_pbc_) return true;
  const double allowed_squared = 0.25 * skin_ * skin_;
  for (std::size_t i = 0; i < system.size(); ++i)
    if ((system.positions[i] - built_positions_[i]).squaredNorm() > allowed_squared) return true;
  return false;
}

bool NeighborList::update(const System& system) {
  if (!needs_rebuild(system)) return false;
  build(system);
  return true;
}

}  // namespace nqmd
