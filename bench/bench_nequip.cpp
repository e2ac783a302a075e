// NequIP energy + forces, native C++ port against the deployed TorchScript module, for models A (r_max 4,
// 2 layers, l_max 1) and B (r_max 5, 3 layers, l_max 2, StressForceOutput) on fcc Cu/Au cells (a = 3.75 A,
// random species, rattled) of 108, 256, 864 and 2048 atoms, with 1 and 2 torch threads. Each backend computes
// what the deployed module computes (energy and forces; and the virial for B). The graph (neighbour list
// filtered to r_max) is built once per cell and is not timed. After the Google Benchmark table, a summary
// prints us/atom/step of both backends and their ratio.
//
//   bench_nequip [--benchmark_filter=...]      (reads the models from ../shared/reference/nequip-0.6.2 or
//                                               NQMD_NEQUIP_REFERENCE)
#include <benchmark/benchmark.h>

#include <cstdlib>
#include <filesystem>
#include <map>
#include <memory>
#include <random>
#include <string>
#include <tuple>
#include <vector>

#include <fmt/format.h>

#include "engine/neighbor_list.hpp"
#include "engine/system.hpp"
#include "potential/nequip/build_info.hpp"
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

const char* kModels[] = {"modelA", "modelB"};
const char* kBackends[] = {"native", "torchscript"};

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

AtomicGraph graph_of(const nqmd::System& system, double r_max) {
  nqmd::NeighborList list(r_max, 0.0, nqmd::NeighborListKind::full);
  list.build(system);
  AtomicGraph graph;
  graph.positions = system.positions;
  for (std::size_t i = 0; i < system.size(); ++i) graph.atom_types.push_back(system.symbol(i) == "Cu" ? 0 : 1);
  graph.cell = system.cell.lattice();
  for (std::size_t e = 0; e < list.num_edges(); ++e) {
    const int i = list.centers()[e], j = list.neighbors()[e];
    const nqmd::Vec3 r = system.positions[j] - system.positions[i] + system.cell.shift_vector(list.shifts()[e]);
    if (r.norm() >= r_max) continue;
    graph.edge_centers.push_back(i);
    graph.edge_neighbors.push_back(j);
    graph.edge_cell_shifts.push_back(list.shifts()[e].cast<double>());
  }
  return graph;
}

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
    const std::string path = reference_dir() + "/" + kModels[model] + "/deployed.pth";
    if (backend == 0) {
      e.native = std::make_unique<nqmd::nequip::NequipModel>(path);
    } else {
      e.script = std::make_unique<nqmd::nequip::TorchScriptModel>(path);
    }
  }
  return e;
}

const AtomicGraph& graph(int model, int repeat) {
  static std::map<std::pair<int, int>, AtomicGraph> cache;
  auto found = cache.find({model, repeat});
  if (found == cache.end())
    found = cache.emplace(std::make_pair(model, repeat), graph_of(fcc_cell(repeat), model == 0 ? 4.0 : 5.0)).first;
  return found->second;
}

// Arguments: model (0 A, 1 B), repeat (3, 4, 6, 8), backend (0 native, 1 torchscript), torch threads.
void BM_nequip_energy_forces(benchmark::State& state) {
  const int model = static_cast<int>(state.range(0));
  const int repeat = static_cast<int>(state.range(1));
  const int backend = static_cast<int>(state.range(2));
  const int threads = static_cast<int>(state.range(3));
  nqmd::set_libtorch_threads(threads);
  Evaluator& evaluate = evaluator(model, backend);
  const AtomicGraph& g = graph(model, repeat);
  ModelOutput out;
  // TorchScript's profiling executor specialises the graph over its first calls (bailout depth 2).
  for (int warm_up = 0; warm_up < (backend == 1 ? 3 : 1); ++warm_up) evaluate(g, out);
  for (auto _ : state) {
    evaluate(g, out);
    benchmark::DoNotOptimize(out.total_energy);
  }
  state.counters["model"] = model;
  state.counters["atoms"] = static_cast<double>(g.num_atoms());
  state.counters["edges"] = static_cast<double>(g.num_edges());
  state.counters["backend"] = backend;
  state.counters["threads"] = threads;
  state.SetLabel(fmt::format("{} {} {} atoms {} thread(s)", kModels[model], kBackends[backend], g.num_atoms(), threads));
}

void arguments(benchmark::internal::Benchmark* b) {
  for (int model : {0, 1})
    for (int repeat : {3, 4, 6, 8})
      for (int threads : {1, 2})
        for (int backend : {0, 1}) b->Args({model, repeat, backend, threads});
}
BENCHMARK(BM_nequip_energy_forces)->Apply(arguments)->Unit(benchmark::kMillisecond)->UseRealTime()->MinTime(0.5);

// Console output plus a summary table: us/atom/step per backend and the ratio torchscript / native.
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
    fmt::print("\nNequIP energy+forces, us/atom/step (libtorch {})\n", nqmd::libtorch_version());
    fmt::print("{:<7} {:>6} {:>8} {:>12} {:>12} {:>18}\n", "model", "atoms", "threads", "native", "torchscript",
               "torchscript/native");
    for (const auto& [key, by_backend] : times_) {
      const auto& [model, atoms, threads] = key;
      const auto native = by_backend.find(0), script = by_backend.find(1);
      if (native == by_backend.end() || script == by_backend.end()) continue;
      fmt::print("{:<7} {:>6} {:>8} {:>12.2f} {:>12.2f} {:>18.3f}\n", kModels[model], atoms, threads, native->second,
                 script->second, script->second / native->second);
    }
  }

 private:
  std::map<std::tuple<int, int, int>, std::map<int, double>> times_;
};

}  // namespace

int main(int argc, char** argv) {
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  SummaryReporter reporter;
  benchmark::RunSpecifiedBenchmarks(&reporter);
  benchmark::Shutdown();
  return 0;
}
