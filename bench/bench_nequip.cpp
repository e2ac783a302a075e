// NequIP energy + forces (+ virial for the StressForceOutput model B, as its deployed module returns it) of the
// reference models of ../shared/reference/nequip-0.6.2 on fcc Cu/Au cells (a = 3.75 A, random species,
// displacements N(0, 0.05 A)) of 108, 256, 864 and 2048 atoms, with 1 and 2 threads, by three backends of the
// same weights:
//   fused        nequip-md's native kernel (fused_network.cpp: hand-written forward and backward), what MD runs;
//   autograd     the native libtorch network differentiated by autograd (the fused kernel's test reference);
//   torchscript  the nequip-deployed module through libtorch as LAMMPS pair_nequip calls it (3 warm-up calls for
//                the profiling executor, then timed calls).
// The graph (neighbour list filtered to r_max) is built once per cell and not timed. After the Google Benchmark
// table a summary prints us/atom/step per backend, the ratio torchscript/fused against issue #7's targets (10x for
// models P and P64, 5x for the others), and the 2-thread speed-up of the fused kernel.
//
//   bench_nequip [--benchmark_filter=REGEX]   e.g. 'fused|torchscript' or 'modelA '; the label of each run is
//                                             "<model> <backend> <atoms> atoms <threads> thread(s)"
//   bench_nequip --profile [R] [MODEL]        per-stage times of the fused kernel (1 thread; 4 R^3 atoms, default
//                                             R = 3: 108 atoms; every model, or MODEL, e.g. modelA), its
//                                             floating-point work per atom-step and the floor that work sets at
//                                             this CPU's measured matrix-product peak
// Models are read from ../shared/reference/nequip-0.6.2 (or $NQMD_NEQUIP_REFERENCE).
#include <benchmark/benchmark.h>

#include <Eigen/Core>
#include <algorithm>
#include <chrono>
#include <cctype>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <map>
#include <memory>
#include <random>
#include <string>
#include <thread>
#include <tuple>
#include <vector>

#include <fmt/format.h>

#include "engine/neighbor_list.hpp"
#include "engine/system.hpp"
#include "potential/nequip/build_info.hpp"
#include "potential/nequip/graph.hpp"
#include "potential/nequip/nequip_model.hpp"
#include "potential/nequip/torchscript_model.hpp"

namespace {

using nqmd::nequip::AtomicGraph;
using nqmd::nequip::ModelOutput;

std::string reference_dir() {
  if (const char* dir = std::getenv("NQMD_NEQUIP_REFERENCE")) return dir;
  // bench/ -> the repository -> ../shared beside it (CMake compiles with absolute source paths).
  return (std::filesystem::path(__FILE__).parent_path().parent_path().parent_path() / "shared/reference/nequip-0.6.2")
      .string();
}

struct ModelInfo {
  const char* name;
  double target;  // issue #7: torchscript/fused at least this
};
const ModelInfo kModels[] = {{"modelA", 5}, {"modelA_f32", 5}, {"modelB", 5}, {"modelC", 5}, {"modelP", 10}, {"modelP64", 10}};
const char* kBackends[] = {"fused", "autograd", "torchscript"};
constexpr int kNumModels = 6;

// fcc Cu/Au, repeat^3 conventional cells.
nqmd::System fcc_cell(int repeat) {
  std::mt19937 rng(42);
  std::bernoulli_distribution coin(0.5);
  std::normal_distribution<double> normal(0.0, 0.05);
  const double a = 3.75;
  nqmd::System system;
  system.cell = nqmd::Cell(repeat * a * nqmd::Mat3::Identity(), {true, true, true});
  const double basis[4][3] = {{0, 0, 0}, {0.5, 0.5, 0}, {0.5, 0, 0.5}, {0, 0.5, 0.5}};
  for (int i = 0; i < repeat; ++i)
    for (int j = 0; j < repeat; ++j)
      for (int k = 0; k < repeat; ++k)
        for (const auto& s : basis)
          system.add_atom(coin(rng) ? "Cu" : "Au", nqmd::Vec3(a * (i + s[0]) + normal(rng), a * (j + s[1]) + normal(rng),
                                                              a * (k + s[2]) + normal(rng)));
  return system;
}

// The graph nequip-md's potential builds (types: Cu 0, Au 1, as in the reference models).
AtomicGraph graph_of(const nqmd::System& system, double r_max) {
  nqmd::NeighborList list(r_max, 0.0, nqmd::NeighborListKind::full);
  list.build(system);
  std::vector<std::int64_t> type_of_species;
  for (const std::string& symbol : system.species_symbols) type_of_species.push_back(symbol == "Cu" ? 0 : 1);
  AtomicGraph graph;
  nqmd::nequip::build_graph(system, list, r_max, type_of_species, graph);
  return graph;
}

std::string model_path(int model) { return reference_dir() + "/" + kModels[model].name + "/deployed.pth"; }

// One evaluator per model and backend, loaded once.
struct Evaluator {
  std::unique_ptr<nqmd::nequip::NequipModel> native;
  std::unique_ptr<nqmd::nequip::TorchScriptModel> script;
  void operator()(const AtomicGraph& graph, ModelOutput& out) {
    if (native) {
      native->evaluate(graph, native->has_virial(), out);
    } else {
      script->evaluate(graph, out);
    }
  }
};

Evaluator& evaluator(int model, int backend) {
  static std::map<std::pair<int, int>, Evaluator> cache;
  Evaluator& e = cache[{model, backend}];
  if (!e.native && !e.script) {
    if (backend == 2) {
      e.script = std::make_unique<nqmd::nequip::TorchScriptModel>(model_path(model));
    } else {
      nqmd::nequip::ModelOptions options;
      using nqmd::nequip::Kernel;
      options.kernel = backend == 0 ? Kernel::fused : Kernel::autograd;
      e.native = std::make_unique<nqmd::nequip::NequipModel>(model_path(model), options);
    }
  }
  return e;
}

const AtomicGraph& graph(int model, int repeat) {
  static std::map<std::pair<double, int>, AtomicGraph> cache;
  const double r_max = evaluator(model, 0).native->metadata().r_max;
  auto found = cache.find({r_max, repeat});
  if (found == cache.end()) found = cache.emplace(std::make_pair(r_max, repeat), graph_of(fcc_cell(repeat), r_max)).first;
  return found->second;
}

// Arguments: model (index into kModels), repeat (3, 4, 6, 8), backend (0 fused, 1 autograd, 2 torchscript), threads.
void BM_nequip_energy_forces(benchmark::State& state) {
  const int model = static_cast<int>(state.range(0));
  const int repeat = static_cast<int>(state.range(1));
  const int backend = static_cast<int>(state.range(2));
  const int threads = static_cast<int>(state.range(3));
  nqmd::set_libtorch_threads(threads);  // torch's intra-op threads and OpenMP's, which the fused kernel uses
  Evaluator& evaluate = evaluator(model, backend);
  const AtomicGraph& g = graph(model, repeat);
  ModelOutput out;
  // TorchScript's profiling executor specialises the graph over its first calls (bailout depth 2).
  for (int warm_up = 0; warm_up < (backend == 2 ? 3 : 1); ++warm_up) evaluate(g, out);
  for (auto _ : state) {
    evaluate(g, out);
    benchmark::DoNotOptimize(out.total_energy);
  }
  state.counters["model"] = model;
  state.counters["atoms"] = static_cast<double>(g.num_atoms());
  state.counters["edges"] = static_cast<double>(g.num_edges());
  state.counters["backend"] = backend;
  state.counters["threads"] = threads;
  state.SetLabel(fmt::format("{} {} {} atoms {} thread(s)", kModels[model].name, kBackends[backend], g.num_atoms(),
                             threads));
}

void arguments(benchmark::internal::Benchmark* b) {
  for (int model = 0; model < kNumModels; ++model)
    for (int repeat : {3, 4, 6, 8})
      for (int threads : {1, 2})
        for (int backend : {0, 1, 2})
          // autograd is shown on the smallest cell only (it is the test reference, not a contender).
          if (backend != 1 || repeat == 3) b->Args({model, repeat, backend, threads});
}
BENCHMARK(BM_nequip_energy_forces)->Apply(arguments)->Unit(benchmark::kMillisecond)->UseRealTime()->MinTime(0.5);

// Console output plus a summary table: us/atom/step per backend, the ratios and the thread speed-up.
class SummaryReporter : public benchmark::ConsoleReporter {
 public:
  void ReportRuns(const std::vector<Run>& runs) override {
    ConsoleReporter::ReportRuns(runs);
    for (const Run& run : runs) {
      if (run.run_type != Run::RT_Iteration || run.error_occurred) continue;
      const auto counter = [&](const char* name) { return static_cast<int>(run.counters.at(name).value); };
      const double seconds = run.real_accumulated_time / static_cast<double>(run.iterations);
      times_[{counter("model"), counter("atoms"), counter("threads")}][counter("backend")] =
          seconds * 1e6 / counter("atoms");
    }
  }
  void Finalize() override {
    ConsoleReporter::Finalize();
    // Markdown tables (docs/performance.md and the README quote them).
    fmt::print("\nNequIP energy + forces, us/atom/step (libtorch {}; {} hardware threads)\n\n", nqmd::libtorch_version(),
               std::thread::hardware_concurrency());
    fmt::print("| model | atoms | threads | fused | autograd | torchscript | torchscript/fused | target |\n");
    fmt::print("|---|---|---|---|---|---|---|---|\n");
    for (const auto& [key, by_backend] : times_) {
      const auto& [model, atoms, threads] = key;
      auto time = [&](int backend) {
        const auto it = by_backend.find(backend);
        return it == by_backend.end() ? -1.0 : it->second;
      };
      auto text = [](double v) { return v < 0 ? std::string("-") : fmt::format("{:.1f}", v); };
      const double fused = time(0), autograd = time(1), script = time(2);
      const bool both = fused > 0 && script > 0;
      fmt::print("| {} | {} | {} | {} | {} | {} | {} | {:.0f}x {} |\n", kModels[model].name, atoms, threads, text(fused),
                 text(autograd), text(script), both ? fmt::format("**{:.1f}x**", script / fused) : "-",
                 kModels[model].target, both ? (script / fused >= kModels[model].target ? "met" : "NOT met") : "");
    }
    fmt::print("\nFused kernel, speed-up of 2 threads over 1 (target 1.7x at 2048 atoms)\n\n");
    fmt::print("| model | 108 | 256 | 864 | 2048 atoms |\n|---|---|---|---|---|\n");
    for (int model = 0; model < kNumModels; ++model) {
      std::string row = fmt::format("| {} |", kModels[model].name);
      for (int atoms : {108, 256, 864, 2048}) {
        const auto one = times_.find({model, atoms, 1}), two = times_.find({model, atoms, 2});
        const bool have = one != times_.end() && two != times_.end() && one->second.count(0) && two->second.count(0);
        row += have ? fmt::format(" {:.2f}x |", one->second.at(0) / two->second.at(0)) : " - |";
      }
      fmt::print("{}\n", row);
    }
  }

 private:
  std::map<std::tuple<int, int, int>, std::map<int, double>> times_;
};

// Floating-point operations per second of a large matrix product (Eigen, one thread): the peak the fused kernel's
// matrix products can reach here.
template <typename T>
double matrix_product_peak() {
  using Matrix = Eigen::Matrix<T, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
  const Eigen::Index n = 512;
  const Matrix a = Matrix::Random(n, n), b = Matrix::Random(n, n);
  Matrix c(n, n);
  double best = 0;
  for (int trial = 0; trial < 5; ++trial) {
    const auto start = std::chrono::steady_clock::now();
    c.noalias() = a * b;
    const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    benchmark::DoNotOptimize(c.data());
    best = std::max(best, 2.0 * static_cast<double>(n * n * n) / seconds);
  }
  return best;
}

void profile(int repeat, const std::string& only_model) {
  nqmd::set_libtorch_threads(1);
  const double peak64 = matrix_product_peak<double>(), peak32 = matrix_product_peak<float>();
  fmt::print("matrix-product peak (Eigen, 512x512, 1 thread): float64 {:.1f} GFLOP/s, float32 {:.1f} GFLOP/s\n\n",
             peak64 * 1e-9, peak32 * 1e-9);
  for (int model = 0; model < kNumModels; ++model) {
    if (!only_model.empty() && only_model != kModels[model].name) continue;
    Evaluator& e = evaluator(model, 0);
    nqmd::nequip::FusedNetwork* fused = e.native->fused_network();
    if (!fused) continue;
    const AtomicGraph& g = graph(model, repeat);
    ModelOutput out;
    e(g, out);
    fused->set_profiling(true);
    for (int call = 0; call < 5; ++call) e(g, out);
    const nqmd::nequip::FusedProfile& p = fused->profile();
    double total = 0;
    for (const auto& [stage, seconds] : p.seconds) total += seconds;
    const double per_atom = 1e6 / (p.calls * static_cast<double>(g.num_atoms()));
    const double flops_per_atom = p.flops / (p.calls * static_cast<double>(g.num_atoms()));
    const bool single = e.native->metadata().model_dtype == "float32";
    const double peak = single ? peak32 : peak64;
    fmt::print("{} ({}, {} atoms, {} edges): {:.1f} us/atom/step; {:.2f} MFLOP/atom/step -> {:.1f} GFLOP/s; floor at "
               "the matrix-product peak {:.1f} us/atom/step\n",
               kModels[model].name, e.native->metadata().model_dtype, g.num_atoms(), g.num_edges(), total * per_atom,
               flops_per_atom * 1e-6, flops_per_atom / (total * per_atom) * 1e-3, flops_per_atom / peak * 1e6);
    for (const auto& [stage, seconds] : p.seconds)
      fmt::print("  {:<52} {:>9.1f} us/atom  {:>5.1f}%\n", stage, seconds * per_atom, 100 * seconds / total);
    fused->set_profiling(false);
  }
}

}  // namespace

int main(int argc, char** argv) {
  for (int k = 1; k < argc; ++k)
    if (std::strcmp(argv[k], "--profile") == 0) {
      // --profile [R] [MODEL], either or both, in that order.
      int next = k + 1, repeat = 3;
      if (next < argc && std::isdigit(static_cast<unsigned char>(argv[next][0]))) repeat = std::atoi(argv[next++]);
      if (repeat < 1) {
        fmt::print(stderr, "bench_nequip --profile [R] [MODEL]: R (cells per side) must be a positive integer\n");
        return 1;
      }
      profile(repeat, next < argc ? argv[next] : "");
      return 0;
    }
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  SummaryReporter reporter;
  benchmark::RunSpecifiedBenchmarks(&reporter);
  benchmark::Shutdown();
  return 0;
}
