// `nequip-md evaluate`: results written as ASE reads calculator results, and the printed error metrics checked
// against an independent computation from the labelled input and the written output.
#include <cmath>
#include <cstdlib>
#include <map>
#include <sstream>
#include <vector>

#include <catch2/catch.hpp>

#include "cli_runner.hpp"
#include "io/extxyz.hpp"
#include "potential/nequip/reference_data.hpp"

namespace {

using nqmd::test::CliSandbox;
using nqmd::test::nequip_path;

struct Row {
  double mae = 0, rmse = 0;
  std::size_t count = 0;
};

// The rows of the printed table, by quantity.
std::map<std::string, Row> table(const std::string& out) {
  std::map<std::string, Row> rows;
  std::istringstream lines(out);
  bool in_table = false;
  for (std::string line; std::getline(lines, line);) {
    if (line.rfind("quantity", 0) == 0) {
      in_table = true;
      continue;
    }
    if (!in_table) continue;
    std::istringstream fields(line);
    std::string name, unit;
    Row row;
    fields >> name >> row.mae >> row.rmse >> unit >> row.count;
    rows[name] = row;
  }
  return rows;
}

struct Sums {
  double absolute = 0, squared = 0;
  std::size_t count = 0;
  void add(double d) {
    absolute += std::abs(d);
    squared += d * d;
    ++count;
  }
};

void check_row(const std::map<std::string, Row>& rows, const std::string& name, const Sums& sums) {
  INFO(name);
  REQUIRE(rows.count(name) == 1);
  const Row& row = rows.at(name);
  const double mae = 1e3 * sums.absolute / sums.count;
  const double rmse = 1e3 * std::sqrt(sums.squared / sums.count);
  CHECK(row.count == sums.count);
  CHECK(row.mae == Approx(mae).epsilon(1e-8));
  CHECK(row.rmse == Approx(rmse).epsilon(1e-8));
}

}  // namespace

TEST_CASE("evaluate: results as ASE calculator results, metrics against the labels", "[app][nequip][evaluate]") {
  const std::string data = nequip_path("test_frames.extxyz");
  const nqmd::NpzFile npz(nequip_path("modelB/reference.npz"));
  std::map<std::string, Row> native_rows;
  for (const char* backend : {"native", "torchscript"}) {
    INFO(backend);
    CliSandbox sandbox;
    const auto result = sandbox.run("evaluate --model '" + nequip_path("modelB/deployed.pth") + "' --data '" + data +
                                    "' --output out.extxyz --backend " + backend + " --species-map Cu=Cu,Au=Au");
    INFO(result.out << result.err);
    REQUIRE(result.exit_code == 0);
    const std::vector<nqmd::Frame> labelled = nqmd::read_extxyz(data);
    const std::vector<nqmd::Frame> predicted = nqmd::read_extxyz(sandbox.path("out.extxyz"));
    REQUIRE(labelled.size() == 7);
    REQUIRE(predicted.size() == 7);

    // The written results are the reference model outputs, at full precision.
    double worst = 0;
    for (int f = 0; f < 7; ++f) {
      const auto ref = nqmd::test::reference_frame(npz, f).expected;
      const nqmd::Frame& frame = predicted[static_cast<std::size_t>(f)];
      REQUIRE(frame.energy);
      REQUIRE(frame.forces);
      REQUIRE(frame.energies);
      REQUIRE(frame.virial);
      worst = std::max(worst, std::abs(*frame.energy - ref.total_energy));
      for (std::size_t i = 0; i < frame.system.size(); ++i) {
        worst = std::max(worst, ((*frame.forces)[i] - ref.forces[i]).cwiseAbs().maxCoeff());
        worst = std::max(worst, std::abs((*frame.energies)[i] - ref.atomic_energies[i]));
      }
      worst = std::max(worst, (*frame.virial - *ref.virial).cwiseAbs().maxCoeff());
      const bool periodic = frame.system.cell.any_periodic();
      CHECK(frame.stress.has_value() == periodic);
      if (periodic)
        worst = std::max(worst, (*frame.stress + *ref.virial / frame.system.cell.volume()).cwiseAbs().maxCoeff());
    }
    CHECK(worst < 1e-10);

    // Metrics computed here from the labels and the written predictions.
    Sums energy, forces, stress;
    std::map<std::string, Sums> species;
    for (std::size_t f = 0; f < 7; ++f) {
      const nqmd::Frame& label = labelled[f];
      const nqmd::Frame& prediction = predicted[f];
      REQUIRE(label.energy);
      REQUIRE(label.forces);
      const double n = static_cast<double>(label.system.size());
      energy.add((*prediction.energy - *label.energy) / n);
      for (std::size_t i = 0; i < label.system.size(); ++i)
        for (int d = 0; d < 3; ++d) {
          const double difference = (*prediction.forces)[i][d] - (*label.forces)[i][d];
          forces.add(difference);
          species[label.system.symbol(i)].add(difference);
        }
      if (label.stress && prediction.stress)
        for (int a = 0; a < 3; ++a)
          for (int b = 0; b < 3; ++b) stress.add((*prediction.stress)(a, b) - (*label.stress)(a, b));
    }
    const auto rows = table(result.out);
    check_row(rows, "energy", energy);
    check_row(rows, "forces", forces);
    check_row(rows, "forces[Cu]", species["Cu"]);
    check_row(rows, "forces[Au]", species["Au"]);
    REQUIRE(stress.count > 0);
    check_row(rows, "stress", stress);
    if (native_rows.empty()) {
      native_rows = rows;
    } else {
      for (const auto& [name, row] : rows) CHECK(row.mae == Approx(native_rows[name].mae).epsilon(1e-9));
    }

    // ASE reads the results as the frames' calculator results (when python3 with ASE is installed).
    if (std::system("/usr/bin/python3 -c 'import ase, numpy' > /dev/null 2>&1") == 0) {
      sandbox.write("check.py", R"(import sys
import numpy as np
from ase.io import read
frames = read("out.extxyz", ":")
ref = np.load(sys.argv[1])
worst = 0.0
for f, atoms in enumerate(frames):
    assert atoms.calc is not None
    worst = max(worst, abs(atoms.get_potential_energy() - ref[f"{f}_total_energy"].item()))
    worst = max(worst, np.abs(atoms.get_forces() - ref[f"{f}_forces"]).max())
    worst = max(worst, np.abs(atoms.calc.results["energies"] - ref[f"{f}_atomic_energy"][:, 0]).max())
    if atoms.pbc.any():
        stress = atoms.get_stress(voigt=False)
        worst = max(worst, np.abs(stress + ref[f"{f}_virial"][0] / atoms.get_volume()).max())
print(len(frames), worst)
)");
      const std::string command = "cd '" + sandbox.directory().string() + "' && /usr/bin/python3 check.py '" +
                                  nequip_path("modelB/reference.npz") + "' > ase.txt 2>&1";
      const int status = std::system(command.c_str());
      INFO(sandbox.read("ase.txt"));
      REQUIRE(status == 0);
      std::istringstream fields(sandbox.read("ase.txt"));
      int frames = 0;
      double ase_worst = 1;
      fields >> frames >> ase_worst;
      CHECK(frames == 7);
      CHECK(ase_worst < 1e-10);
    } else {
      WARN("python3 with ASE not found: the ASE round trip was not checked");
    }
  }
}

TEST_CASE("evaluate: frames without labels, and bad input", "[app][nequip][evaluate]") {
  CliSandbox sandbox;
  sandbox.write("plain.extxyz", "2\nProperties=species:S:1:pos:R:3 pbc=\"F F F\"\nCu 0 0 0\nAu 2.6 0 0\n");
  const std::string model = "--model '" + nequip_path("modelA/deployed.pth") + "'";
  const auto plain = sandbox.run("evaluate " + model + " --data plain.extxyz");
  INFO(plain.err);
  CHECK(plain.exit_code == 0);
  CHECK(plain.out.find("nothing to score") != std::string::npos);

  sandbox.write("silver.extxyz", "2\nProperties=species:S:1:pos:R:3 pbc=\"F F F\"\nCu 0 0 0\nAg 2.6 0 0\n");
  const auto silver = sandbox.run("evaluate " + model + " --data silver.extxyz");
  CHECK(silver.exit_code == 1);
  CHECK(silver.err.find("Ag") != std::string::npos);
  const auto mapped = sandbox.run("evaluate " + model + " --data silver.extxyz --species-map Ag=Au");
  CHECK(mapped.exit_code == 0);
  const auto unknown = sandbox.run("evaluate " + model + " --data plain.extxyz --species-map Cu=Ag");
  CHECK(unknown.exit_code == 1);
  CHECK(unknown.err.find("--species-map") != std::string::npos);
  const auto missing = sandbox.run("evaluate --model missing.pth --data plain.extxyz");
  CHECK(missing.exit_code == 1);
  CHECK(missing.err.find("missing.pth") != std::string::npos);
  const auto f32 = sandbox.run("evaluate --model '" + nequip_path("modelA_f32/deployed.pth") +
                               "' --data plain.extxyz --dtype float64");
  CHECK(f32.exit_code == 1);
  CHECK(f32.err.find("float32") != std::string::npos);
  CHECK(sandbox.run("evaluate --data plain.extxyz").exit_code != 0);  // --model is required
}

TEST_CASE("evaluate: atoms outside the training data's closest pairs are counted per frame",
          "[app][nequip][evaluate][extrapolation]") {
  CliSandbox sandbox;
  const std::string data = nequip_path("data/train_mixed.extxyz");
  const std::string model = "--model '" + nequip_path("modelA/deployed.pth") + "' --training-data '" + data + "'";
  // Model A's own training data: every atom is within its closest pairs.
  const auto own = sandbox.run("evaluate " + model + " --data '" + data + "' --output own.extxyz");
  INFO(own.err);
  REQUIRE(own.exit_code == 0);
  const std::vector<nqmd::Frame> frames = nqmd::read_extxyz(sandbox.path("own.extxyz"));
  CHECK(own.out.find("training domain: every atom of the " + std::to_string(frames.size()) + " frames is within it") !=
        std::string::npos);
  for (const nqmd::Frame& frame : frames) {
    REQUIRE(frame.find_info("outside_training_domain"));
    CHECK(*frame.find_info("outside_training_domain") == "0");
  }
  // The closest Cu-Cu pair of that data is 0.4641 A (in a random EMT cluster; the domain line says so): a Cu dimer
  // at 0.40 A is outside, one at 2.5 A is not.
  CHECK(own.out.find("Cu-Cu 0.4641 A") != std::string::npos);
  sandbox.write("dimers.extxyz", "2\nProperties=species:S:1:pos:R:3 pbc=\"F F F\"\nCu 0 0 0\nCu 0.4 0 0\n"
                                 "2\nProperties=species:S:1:pos:R:3 pbc=\"F F F\"\nCu 0 0 0\nCu 2.5 0 0\n");
  const auto dimers = sandbox.run("evaluate " + model + " --data dimers.extxyz --output dimers_out.extxyz");
  INFO(dimers.out);
  REQUIRE(dimers.exit_code == 0);
  CHECK(dimers.out.find("training domain: 1 of 2 frames have atoms closer than the closest such pair in the training "
                        "data (2 atoms in all); the deepest: frame 0: atom 0 (Cu) is 0.4000 A from atom 1 (Cu), 13.8% "
                        "closer than any Cu-Cu pair in the training data (0.4641 A)") != std::string::npos);
  const std::vector<nqmd::Frame> out = nqmd::read_extxyz(sandbox.path("dimers_out.extxyz"));
  REQUIRE(out.size() == 2);
  CHECK(*out[0].find_info("outside_training_domain") == "2");
  CHECK(*out[1].find_info("outside_training_domain") == "0");
  // Without a record nothing is claimed either way.
  const auto plain = sandbox.run("evaluate --model '" + nequip_path("modelA/deployed.pth") + "' --data dimers.extxyz");
  CHECK(plain.out.find("training domain") == std::string::npos);
}
