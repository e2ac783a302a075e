// The split of the training data by an info key (split_key): the same training, validation and test frames as
// the pool and the groups written to separate files, n_train from the pool's permutation, and the one-line errors.
#include <catch2/catch.hpp>

#include <fmt/format.h>

#include "input_error_message.hpp"
#include "io/npz.hpp"
#include "potential/nequip/training/data_split.hpp"
#include "temporary_directory.hpp"

using namespace nqmd;
using namespace nqmd::nequip;

namespace {

// Frame `index` of the synthetic data: two atoms whose positions and energy tell the frames apart.
std::string frame_text(int index, const std::string& group) {
  return fmt::format("2\nLattice=\"4 0 0 0 4 0 0 0 4\" Properties=species:S:1:pos:R:3:forces:R:3 energy={} "
                     "group={} pbc=\"T T T\"\nCu {} 0 0 0.1 0 0\nAu 2 2 {} -0.1 0 {}\n",
                     -1.0 - 0.01 * index, group, 0.05 * index, 2.0 + 0.02 * index, 0.001 * index);
}

// 16 frames in four groups, interleaved: runs/a, runs/b, runs/c, runs/d, runs/a, ...
const std::vector<std::string> kGroups{"runs/a", "runs/b", "runs/c", "runs/d"};
std::string group_of(int index) { return kGroups[static_cast<std::size_t>(index) % kGroups.size()]; }

struct SplitFiles {
  std::string all, train, validation, test;
  std::vector<int> pool;  // frame indices of the training pool (groups a and c), in file order
};

// all.extxyz with every frame; train/val/test.extxyz with the pool (a, c), validation (b) and test (d) frames.
SplitFiles write_split_files(const test::TemporaryDirectory& dir) {
  SplitFiles files{dir.path("all.extxyz"), dir.path("train.extxyz"), dir.path("val.extxyz"), dir.path("test.extxyz"),
                   {}};
  std::string all, train, validation, test;
  for (int k = 0; k < 16; ++k) {
    const std::string text = frame_text(k, group_of(k));
    all += text;
    if (group_of(k) == "runs/b") {
      validation += text;
    } else if (group_of(k) == "runs/d") {
      test += text;
    } else {
      train += text;
      files.pool.push_back(k);
    }
  }
  dir.write("all.extxyz", all);
  dir.write("train.extxyz", train);
  dir.write("val.extxyz", validation);
  dir.write("test.extxyz", test);
  return files;
}

TrainingSettings grouped_settings(const SplitFiles& files) {
  TrainingSettings s;
  s.files = {files.all};
  s.split_key = "group";
  s.validation_groups = {"runs/b"};
  s.test_groups = {"runs/d"};
  return s;
}

TrainingSettings presplit_settings(const SplitFiles& files) {
  TrainingSettings s;
  s.files = {files.train};
  s.validation_files = {files.validation};
  s.test_files = {files.test};
  return s;
}

training::DataSplit split_of(const TrainingSettings& s) {
  std::vector<std::string> type_names;
  return training::load_and_split(s, 4.0, type_names);
}

void check_same_frames(const std::vector<TrainingFrame>& grouped, const std::vector<TrainingFrame>& presplit) {
  REQUIRE(grouped.size() == presplit.size());
  for (std::size_t k = 0; k < grouped.size(); ++k) {
    INFO(grouped[k].where << " against " << presplit[k].where);
    CHECK(grouped[k].graph.positions == presplit[k].graph.positions);
    CHECK(grouped[k].graph.atom_types == presplit[k].graph.atom_types);
    CHECK(*grouped[k].energy == *presplit[k].energy);
    CHECK(*grouped[k].forces == *presplit[k].forces);
  }
}

}  // namespace

TEST_CASE("split_key gives the frames of the pool and the groups written to separate files", "[training][split]") {
  test::TemporaryDirectory dir("nqmd-split");
  const SplitFiles files = write_split_files(dir);
  for (std::uint64_t seed : {std::uint64_t{456}, std::uint64_t{7}}) {
    INFO("seed " << seed);
    TrainingSettings grouped = grouped_settings(files), presplit = presplit_settings(files);
    grouped.split_seed = presplit.split_seed = seed;
    const training::DataSplit a = split_of(grouped), b = split_of(presplit);
    REQUIRE(a.train.size() == 8);
    REQUIRE(a.validation.size() == 4);
    REQUIRE(a.test.size() == 4);
    check_same_frames(a.train, b.train);
    check_same_frames(a.validation, b.validation);
    check_same_frames(a.test, b.test);
    // Validation and test frames in file order: frames 1, 5, 9, 13 and 3, 7, 11, 15.
    for (std::size_t k = 0; k < 4; ++k) {
      CHECK(*a.validation[k].energy == Approx(-1.0 - 0.01 * static_cast<double>(4 * k + 1)));
      CHECK(*a.test[k].energy == Approx(-1.0 - 0.01 * static_cast<double>(4 * k + 3)));
    }
    REQUIRE(a.notes.size() == 3);
    CHECK(a.notes[0] == "split by group: validation runs/b (4)");
    CHECK(a.notes[1] == "split by group: test runs/d (4)");
    CHECK(a.notes[2] == "split by group: training 8 of the 8 frames of the 2 other groups");
  }
}

TEST_CASE("a training split by split_key equals the training on the pre-split files", "[training][split]") {
  test::TemporaryDirectory dir("nqmd-split");
  const SplitFiles files = write_split_files(dir);
  auto tiny = [&](TrainingSettings s, const std::string& directory) {
    s.species = {"Cu", "Au"};
    s.model_config = "num_layers: 1\nl_max: 1\nparity: true\nnum_features: 4\nnum_basis: 4\ninvariant_layers: 1\n"
                     "invariant_neurons: 8\nPolynomialCutoff_p: 6\n";
    s.max_epochs = 2;
    s.batch_size = 3;
    s.threads = 1;
    s.progress = false;
    s.directory = dir.path(directory);
    return train_nequip(s, [](const std::string&) {});
  };
  const TrainingReport grouped = tiny(grouped_settings(files), "grouped");
  const TrainingReport presplit = tiny(presplit_settings(files), "presplit");
  const NpzFile a(grouped.best_model), b(presplit.best_model);
  REQUIRE(a.keys() == b.keys());
  for (const std::string& key : a.keys()) {
    INFO(key);
    CHECK(a.get(key).bytes == b.get(key).bytes);
  }
  CHECK(test::read_text_file(dir.path("grouped/test_errors.txt")) ==
        test::read_text_file(dir.path("presplit/test_errors.txt")));
}

TEST_CASE("split_key with n_train takes the first n_train frames of the pool's permutation", "[training][split]") {
  test::TemporaryDirectory dir("nqmd-split");
  const SplitFiles files = write_split_files(dir);
  TrainingSettings s = grouped_settings(files);
  s.n_train = 3;
  const training::DataSplit split = split_of(s);
  const std::vector<std::int64_t> perm = nequip_split_permutation(8, s.split_seed);
  REQUIRE(split.train.size() == 3);
  for (std::size_t k = 0; k < 3; ++k) {
    const int frame = files.pool[static_cast<std::size_t>(perm[k])];
    CHECK(*split.train[k].energy == Approx(-1.0 - 0.01 * frame));
  }
  CHECK(split.validation.size() == 4);
  CHECK(split.test.size() == 4);
  CHECK(split.notes.back() == "split by group: training 3 of the 8 frames of the 2 other groups");
}

TEST_CASE("split_key errors are one line naming the key or the frame", "[training][split]") {
  test::TemporaryDirectory dir("nqmd-split");
  const SplitFiles files = write_split_files(dir);
  auto error_of = [](const TrainingSettings& s) { return test::input_error_message([&] { split_of(s); }); };
  auto check_line = [](const std::string& message, const std::string& expected) {
    INFO(message);
    CHECK(message.find(expected) != std::string::npos);
    CHECK(message.find('\n') == std::string::npos);
  };

  TrainingSettings s = grouped_settings(files);
  s.n_val = 2;
  check_line(error_of(s), "[data]: split_key takes the validation and test frames from groups");
  s = grouped_settings(files);
  s.validation_files = {files.validation};
  check_line(error_of(s), "no n_val, n_test, val_fraction, test_fraction, validation_files or test_files");

  s = presplit_settings(files);
  s.test_groups = {"runs/d"};
  check_line(error_of(s), "[data]: validation_groups and test_groups need split_key");

  s = grouped_settings(files);
  s.test_groups = {"runs/d", "runs/b"};
  check_line(error_of(s), "[data] test_groups: 'runs/b' is in validation_groups too");

  s = grouped_settings(files);
  s.validation_groups = {"runs/e"};
  check_line(error_of(s), "[data] validation_groups: no frame has group = 'runs/e' (values: 'runs/a', 'runs/b', "
                          "'runs/c', 'runs/d')");

  s = grouped_settings(files);
  s.split_key = "source";
  check_line(error_of(s), "all.extxyz, frame 0: has no info key 'source' (split_key)");

  s = grouped_settings(files);
  s.test_groups = {"runs/a", "runs/c", "runs/d"};
  check_line(error_of(s), "every group of split_key 'group' is in validation_groups or test_groups: no training");

  s = grouped_settings(files);
  s.validation_groups = {};
  check_line(error_of(s), "[data]: split_key 'group' needs validation_groups (the validation set is empty)");

  s = grouped_settings(files);
  s.n_train = 9;
  check_line(error_of(s), "[data]: n_train = 9, but the training groups of split_key 'group' hold 8 frames");

  // Many values: a few of them and their number.
  std::string many;
  for (int k = 0; k < 8; ++k) many += frame_text(k, fmt::format("g{}", k));
  dir.write("many.extxyz", many);
  s = grouped_settings(files);
  s.files = {dir.path("many.extxyz")};
  s.validation_groups = {"g1"};
  s.test_groups = {"x"};
  check_line(error_of(s), "[data] test_groups: no frame has group = 'x' (values: 'g0', 'g1', 'g2', 'g3', ... (8 "
                          "values))");
}
