// Neighbour-list build time per atom, 10^3 to 10^6 atoms at the atomic number density of liquid water
// (0.0334 atoms/A^3: 3 atoms per molecule at 1 g/cm^3), random positions in a periodic cube, cutoff 5 A,
// skin 1 A, full list. Random positions are in random order in memory, the worst case for cache locality.
//
// Counters: time_per_atom (seconds; e.g. 250n = 250 ns), edges_per_atom. Arguments: atoms, OpenMP threads.
#include <cmath>
#include <random>

#include <benchmark/benchmark.h>
#include <omp.h>

#include "engine/neighbor_list.hpp"

namespace {

constexpr double kNumberDensity = 0.0334;  // atoms/A^3
constexpr double kCutoff = 5.0;
constexpr double kSkin = 1.0;

nqmd::System random_liquid(int n_atoms) {
  const double box = std::cbrt(n_atoms / kNumberDensity);
  nqmd::System system;
  system.cell = nqmd::Cell(box * nqmd::Mat3::Identity(), {true, true, true});
  std::mt19937 rng(2024);
  std::uniform_real_distribution<double> uniform(0.0, box);
  for (int k = 0; k < n_atoms; ++k) system.add_atom("O", nqmd::Vec3(uniform(rng), uniform(rng), uniform(rng)));
  return system;
}

void BM_NeighborListBuild(benchmark::State& state) {
  const int n_atoms = static_cast<int>(state.range(0));
  const int threads_before = omp_get_max_threads();
  omp_set_num_threads(static_cast<int>(state.range(1)));
  const nqmd::System system = random_liquid(n_atoms);
  nqmd::NeighborList list(kCutoff, kSkin, nqmd::NeighborListKind::full);
  list.build(system);  // first build allocates; the timed builds reuse the buffers, as in MD
  for (auto _ : state) {
    list.build(system);
    benchmark::DoNotOptimize(list.neighbors().data());
    benchmark::ClobberMemory();
  }
  omp_set_num_threads(threads_before);
  state.counters["time_per_atom"] =
      benchmark::Counter(n_atoms, benchmark::Counter::kIsIterationInvariantRate | benchmark::Counter::kInvert);
  state.counters["edges_per_atom"] = static_cast<double>(list.num_edges()) / n_atoms;
}

BENCHMARK(BM_NeighborListBuild)
    ->ArgNames({"atoms", "threads"})
    ->ArgsProduct({{1000, 10000, 100000, 1000000}, {1, 2}})
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime()
    ->MinTime(1.0);

}  // namespace

BENCHMARK_MAIN();
