// The training domain of a model (closest pair per pair of types in the training frames): the record against a
// brute-force search over all pairs and periodic images, the check of a configuration against it, its place in
// native model files (round trip, damaged records), `nequip-md train` writing it (also when fine-tuning), and the
// potential reporting atoms outside it, from the model file's record or from [potential] training_data.
#include "torch_catch.hpp"

#include <cmath>
#include <cstring>
#include <tuple>
#include <filesystem>
#include <limits>
#include <map>
#include <set>

#include "engine/error.hpp"
#include "engine/neighbor_list.hpp"
#include "io/extxyz.hpp"
#include "io/npz.hpp"
#include "potential/nequip/nequip_model.hpp"
#include "potential/nequip/nequip_potential.hpp"
#include "potential/nequip/training/dataset.hpp"
#include "potential/nequip/training/trainer.hpp"
#include "potential/nequip/training_domain.hpp"
#include "reference_data.hpp"
#include "temporary_directory.hpp"

using namespace nqmd;
using namespace nqmd::nequip;

namespace {

constexpr double kRMax = 4.0;
const std::vector<std::string> kTypes = {"Cu", "Au"};

std::int64_t type_index(const std::string& symbol) {
  return std::find(kTypes.begin(), kTypes.end(), symbol) - kTypes.begin();
}

// Every pair (i, j, image) of `system` closer than r_max, by brute force over the images within reach.
template <typename Visit>
void brute_force_pairs(const System& system, double r_max, Visit&& visit) {
  const Vec3 widths = system.cell.perpendicular_widths();
  int reach[3];
  for (int a = 0; a < 3; ++a) reach[a] = system.cell.periodic(a) ? static_cast<int>(std::ceil(r_max / widths[a])) : 0;
  const Mat3 rows = system.cell.lattice();
  for (std::size_t i = 0; i < system.size(); ++i)
    for (std::size_t j = 0; j < system.size(); ++j)
      for (int x = -reach[0]; x <= reach[0]; ++x)
        for (int y = -reach[1]; y <= reach[1]; ++y)
          for (int z = -reach[2]; z <= reach[2]; ++z) {
            if (i == j && x == 0 && y == 0 && z == 0) continue;
            const Vec3 r = system.positions[j] - system.positions[i] + rows.transpose() * Vec3(x, y, z);
            if (r.norm() < r_max) visit(i, j, r.norm());
          }
}

// Closest pair per (type, type) of the frames, by brute force; +inf for pairs never within r_max.
std::vector<double> brute_force_closest(const std::vector<Frame>& frames) {
  std::vector<double> closest(4, std::numeric_limits<double>::infinity());
  for (const Frame& frame : frames) {
    const System& s = frame.system;
    brute_force_pairs(s, kRMax, [&](std::size_t i, std::size_t j, double d) {
      const std::int64_t a = type_index(s.symbol(i)), b = type_index(s.symbol(j));
      closest[static_cast<std::size_t>(a * 2 + b)] = std::min(closest[static_cast<std::size_t>(a * 2 + b)], d);
    });
  }
  return closest;
}

AtomicGraph graph_of(const System& system, double r_max = kRMax) {
  NeighborList neighbors(r_max, 0.0, NeighborListKind::full);
  neighbors.build(system);
  std::vector<std::int64_t> type_of_species;
  for (const std::string& symbol : system.species_symbols) type_of_species.push_back(type_index(symbol));
  AtomicGraph graph;
  build_graph(system, neighbors, r_max, type_of_species, graph);
  return graph;
}

std::vector<Frame> mixed_frames(std::size_t count) {
  std::vector<Frame> frames = read_extxyz(test::nequip_path("data/train_mixed.extxyz"));
  frames.resize(std::min(count, frames.size()));
  return frames;
}

}  // namespace

TEST_CASE("training domain: the record is the closest pair of each two types over all images", "[nequip][domain]") {
  // Periodic (triclinic) bulk frames and clusters.
  const std::vector<Frame> frames = read_extxyz(test::nequip_path("data/train_mixed.extxyz"));
  std::vector<Frame> some;
  for (std::size_t k = 0; k < frames.size(); k += 11) some.push_back(frames[k]);
  TrainingDomain domain(2);
  for (const Frame& f : some) domain.include(graph_of(f.system));
  const std::vector<double> expected = brute_force_closest(some);
  INFO(domain.describe(kTypes));
  for (std::size_t k = 0; k < 4; ++k) CHECK(domain.values()[k] == Approx(expected[k]).epsilon(1e-14));
  CHECK(domain.values()[1] == domain.values()[2]);
  CHECK(std::isfinite(domain.values()[0]));

  // Merging keeps the closer of both records.
  TrainingDomain other = TrainingDomain::from_values({2.0, TrainingDomain::kNoPair, TrainingDomain::kNoPair, 9.0}, 2,
                                                     "test");
  other.merge(domain);
  CHECK(other.closest(0, 0) == std::min(2.0, domain.closest(0, 0)));
  CHECK(other.closest(0, 1) == domain.closest(0, 1));
  CHECK(other.closest(1, 1) == domain.closest(1, 1));
}

TEST_CASE("training domain: atoms closer than their types' closest trained pair, against brute force",
          "[nequip][domain]") {
  const std::vector<Frame> frames = mixed_frames(40);
  const std::vector<double> trained = brute_force_closest(frames);
  // A record 4% further apart than the data: some atoms of these frames are now outside it.
  std::vector<double> scaled = trained;
  for (double& d : scaled) d *= 1.04;
  const TrainingDomain domain = TrainingDomain::from_values(scaled, 2, "test");
  std::size_t outside_atoms = 0, frames_with_outside = 0;
  for (const Frame& frame : frames) {
    const System& s = frame.system;
    // Brute force: per atom, its neighbour deepest inside the record (record - distance).
    std::map<std::size_t, double> deepest;
    brute_force_pairs(s, kRMax, [&](std::size_t i, std::size_t j, double d) {
      const double record = scaled[static_cast<std::size_t>(type_index(s.symbol(i)) * 2 + type_index(s.symbol(j)))];
      if (d >= record) return;
      auto [it, inserted] = deepest.emplace(i, record - d);
      if (!inserted) it->second = std::max(it->second, record - d);
    });
    std::vector<ExtrapolationEvent> events;
    domain.find_outside(graph_of(s), events);
    REQUIRE(events.size() == deepest.size());
    std::size_t k = 0;
    for (const auto& [atom, depth] : deepest) {
      CHECK(events[k].atom == atom);
      CHECK(events[k].depth() == Approx(depth).margin(1e-13));
      ++k;
    }
    outside_atoms += events.size();
    frames_with_outside += events.empty() ? 0 : 1;
  }
  INFO(outside_atoms << " atoms outside in " << frames_with_outside << " frames");
  CHECK(frames_with_outside > 0);
  // The record of these very frames: nothing is outside it.
  const TrainingDomain own = TrainingDomain::from_values(trained, 2, "test");
  for (const Frame& frame : frames) {
    std::vector<ExtrapolationEvent> events;
    own.find_outside(graph_of(frame.system), events);
    CHECK(events.empty());
  }
  // A pair of types never seen within r_max: any such pair in the cutoff is outside.
  const TrainingDomain no_gold = TrainingDomain::from_values(
      {trained[0], TrainingDomain::kNoPair, TrainingDomain::kNoPair, TrainingDomain::kNoPair}, 2, "test");
  System pair;
  pair.add_atom("Cu", Vec3(0, 0, 0));
  pair.add_atom("Au", Vec3(0, 0, 3.9));
  std::vector<ExtrapolationEvent> events;
  no_gold.find_outside(graph_of(pair), events);
  REQUIRE(events.size() == 2);
  CHECK(events[0].distance == Approx(3.9).epsilon(1e-15));
  CHECK(std::isinf(events[0].closest_trained));
}

TEST_CASE("training domain: bad records are one-line errors", "[nequip][domain]") {
  auto error_of = [](std::vector<double> values) {
    try {
      TrainingDomain::from_values(std::move(values), 2, "model.npz: 'domain/closest_pair_distance'");
    } catch (const InputError& e) {
      return std::string(e.what());
    }
    return std::string("no error");
  };
  CHECK(error_of({1.0, 2.0, 2.0}) == "model.npz: 'domain/closest_pair_distance': expected 2x2 closest pair distances, "
                                     "found 3 values");
  CHECK(error_of({1.0, 2.0, 2.5, 3.0}) ==
        "model.npz: 'domain/closest_pair_distance': closest pair distances are not symmetric ([0][1] != [1][0])");
  CHECK(error_of({1.0, 2.0, 2.0, -3.0}) ==
        "model.npz: 'domain/closest_pair_distance': closest pair distance [1][1] = -3 is not a positive distance");
  CHECK(error_of({std::nan(""), 2.0, 2.0, 3.0}).find("is not a positive distance") != std::string::npos);
  CHECK(TrainingDomain::from_values({1.0, 2.0, 2.0, TrainingDomain::kNoPair}, 2, "x").describe(kTypes) ==
        "Cu-Cu 1 A, Cu-Au 2 A, Au-Au none");
}

TEST_CASE("training domain: native model files keep the record, damaged records are refused",
          "[nequip][domain][model_file]") {
  test::TemporaryDirectory dir;
  NequipModel model(test::nequip_path("modelA/deployed.pth"));
  CHECK(model.training_domain().empty());  // nequip-deploy files carry none
  model.save(dir.path("plain.npz"));
  CHECK(NequipModel(dir.path("plain.npz")).training_domain().empty());

  const std::vector<double> values = {2.25, 2.5, 2.5, TrainingDomain::kNoPair};
  model.set_training_domain(TrainingDomain::from_values(values, 2, "test"));
  model.save(dir.path("recorded.npz"));
  const NequipModel loaded(dir.path("recorded.npz"));
  CHECK(loaded.training_domain().values() == values);
  CHECK_THROWS_AS(model.set_training_domain(TrainingDomain(3)), InputError);

  // A record that is not symmetric: the loader names the file and the entry.
  const NpzFile file(dir.path("recorded.npz"));
  std::vector<std::pair<std::string, NpyArray>> arrays;
  for (const std::string& key : file.keys()) {
    NpyArray array = file.get(key);
    if (key == "domain/closest_pair_distance") {
      std::vector<double> bad = {2.25, 2.5, 2.75, 3.0};
      std::memcpy(array.bytes.data(), bad.data(), 32);
    }
    arrays.emplace_back(key, array);
  }
  // The format entry comes first in a native file.
  std::stable_partition(arrays.begin(), arrays.end(), [](const auto& a) { return a.first == "nequip_md_native_model"; });
  write_npz(dir.path("damaged.npz"), arrays);
  CHECK_THROWS_WITH(NequipModel(dir.path("damaged.npz")),
                    "native NequIP model '" + dir.path("damaged.npz") +
                        "': 'domain/closest_pair_distance': closest pair distances are not symmetric ([0][1] != [1][0])");
}

TEST_CASE("training domain: nequip-md train records the training frames' closest pairs, fine-tuning merges",
          "[nequip][domain][training]") {
  test::TemporaryDirectory dir;
  TrainingSettings s;
  s.files = {test::nequip_path("data/train_mixed.extxyz")};
  s.species = kTypes;
  s.n_train = 12;
  s.n_val = 4;
  s.r_max = kRMax;
  s.model_config = "num_layers: 1\nl_max: 1\nparity: true\nnum_features: 4\nnum_basis: 4\ninvariant_layers: 1\n"
                   "invariant_neurons: 8\nPolynomialCutoff_p: 6\n";
  s.max_epochs = 1;
  s.threads = 1;
  s.progress = false;
  s.directory = dir.path("fresh");
  std::vector<std::string> lines;
  const TrainingReport report = train_nequip(s, [&](const std::string& line) { lines.push_back(line); });

  const std::vector<Frame> all = read_extxyz(s.files[0]);
  const std::vector<std::int64_t> perm = nequip_split_permutation(static_cast<std::int64_t>(all.size()), s.split_seed);
  std::vector<Frame> training;
  for (int k = 0; k < 12; ++k) training.push_back(all[static_cast<std::size_t>(perm[static_cast<std::size_t>(k)])]);
  const std::vector<double> expected = brute_force_closest(training);
  for (const std::string& path : {report.best_model, report.last_model, dir.path("fresh/checkpoint.npz")}) {
    INFO(path);
    const TrainingDomain recorded = NequipModel(path).training_domain();
    REQUIRE(recorded.num_types() == 2);
    for (std::size_t k = 0; k < 4; ++k) CHECK(recorded.values()[k] == Approx(expected[k]).epsilon(1e-14));
  }
  CHECK(std::find_if(lines.begin(), lines.end(), [](const std::string& l) {
          return l.rfind("closest pairs in the training data: Cu-Cu ", 0) == 0;
        }) != lines.end());

  // Fine-tuning from a model whose record holds a closer Cu-Cu pair keeps that pair, and the new data's others.
  NequipModel initial(report.best_model);
  std::vector<double> closer = initial.training_domain().values();
  closer[0] = 1.5;
  initial.set_training_domain(TrainingDomain::from_values(closer, 2, "test"));
  initial.save(dir.path("initial.npz"));
  TrainingSettings tuned = s;
  tuned.initial_model = dir.path("initial.npz");
  tuned.directory = dir.path("tuned");
  const TrainingReport tuned_report = train_nequip(tuned, [](const std::string&) {});
  const TrainingDomain merged = NequipModel(tuned_report.best_model).training_domain();
  CHECK(merged.closest(0, 0) == 1.5);
  CHECK(merged.closest(0, 1) == Approx(expected[1]).epsilon(1e-14));
  CHECK(merged.closest(1, 1) == Approx(expected[3]).epsilon(1e-14));
}

TEST_CASE("training domain: the potential reports atoms outside it, from the model file or [potential] training_data",
          "[nequip][domain][potential]") {
  test::TemporaryDirectory dir;
  // Model A (a nequip-deploy file, no record) with its training data given; and a native copy with the record.
  const std::string data = test::nequip_path("data/train_mixed.extxyz");
  PotentialOptions with_data;
  with_data.model = test::nequip_path("modelA/deployed.pth");
  with_data.training_data = {data};
  NequipPotential from_data(with_data);
  const std::vector<double> trained = brute_force_closest(read_extxyz(data));
  INFO(from_data.training_domain());
  CHECK(from_data.training_domain().rfind("closest pairs in the training data (from " + data + "): ", 0) ==
        0);

  NequipModel native(with_data.model);
  native.set_training_domain(TrainingDomain::from_values(trained, 2, "test"));
  native.save(dir.path("a.npz"));
  PotentialOptions recorded_options;
  recorded_options.model = dir.path("a.npz");
  NequipPotential recorded(recorded_options);
  CHECK(recorded.training_domain() ==
        "closest pairs in the training data (from the training record of '" + dir.path("a.npz") + "'): " +
            TrainingDomain::from_values(trained, 2, "test").describe(kTypes));

  PotentialOptions no_record_options;
  no_record_options.model = with_data.model;
  NequipPotential no_record(no_record_options);
  CHECK(no_record.training_domain().empty());

  // A training frame with one Cu atom pushed towards its nearest neighbour to 97% of the closest Cu-X pair trained.
  Frame frame = read_extxyz(data).at(0);
  System& s = frame.system;
  std::size_t moved = 0, partner = 0;
  double nearest = 1e9;
  brute_force_pairs(s, kRMax, [&](std::size_t i, std::size_t j, double d) {
    if (s.symbol(i) == "Cu" && d < nearest) std::tie(moved, partner, nearest) = std::make_tuple(i, j, d);
  });
  const double target = 0.97 * trained[static_cast<std::size_t>(type_index(s.symbol(partner)))];
  // Move the atom along the bond to the image of the partner that is nearest.
  Vec3 bond = Vec3::Zero();
  {
    NeighborList list(kRMax, 0.0, NeighborListKind::full);
    list.build(s);
    for (std::size_t e = list.offsets()[moved]; e < list.offsets()[moved + 1]; ++e) {
      if (static_cast<std::size_t>(list.neighbors()[e]) != partner) continue;
      const Vec3 r = s.positions[partner] - s.positions[moved] +
                     s.cell.lattice().transpose() * list.shifts()[e].cast<double>();
      if (std::abs(r.norm() - nearest) < 1e-12) bond = r;
    }
  }
  REQUIRE(bond.norm() > 0);
  s.positions[moved] += bond * (1.0 - target / nearest);
  NeighborList neighbors(from_data.cutoff(), 0.0, NeighborListKind::full);
  neighbors.build(s);
  for (NequipPotential* potential : {&from_data, &recorded, &no_record}) {
    ForceResult result;
    potential->compute(s, neighbors, result);
    if (potential == &no_record) {
      CHECK(result.extrapolation.empty());
      continue;
    }
    std::set<std::size_t> atoms;
    for (const ExtrapolationEvent& e : result.extrapolation) {
      atoms.insert(e.atom);
      CHECK(e.neighbor == (e.atom == moved ? partner : moved));  // in the system's numbering, not the graph's
    }
    CHECK(atoms == std::set<std::size_t>{std::min(moved, partner), std::max(moved, partner)});
    for (const ExtrapolationEvent& e : result.extrapolation) {
      CHECK(e.distance == Approx(target).epsilon(1e-12));
      CHECK(e.distance / e.closest_trained == Approx(0.97).epsilon(1e-12));
    }
  }

  // Bad training data: a missing file, and species the model lacks, name the key and the frame.
  with_data.training_data_where = "input.toml:9: [potential] training_data";
  with_data.training_data = {dir.path("missing.extxyz")};
  CHECK_THROWS_WITH(NequipPotential(with_data), "input.toml:9: [potential] training_data: training data file '" +
                                                    dir.path("missing.extxyz") + "' does not exist");
  dir.write("zn.extxyz", "1\nProperties=species:S:1:pos:R:3 pbc=\"F F F\"\nZn 0 0 0\n");
  with_data.training_data = {dir.path("zn.extxyz")};
  CHECK_THROWS_WITH(NequipPotential(with_data),
                    Catch::Contains("input.toml:9: [potential] training_data: " + dir.path("zn.extxyz") +
                                    ", frame 0: the system holds species Zn"));
}
