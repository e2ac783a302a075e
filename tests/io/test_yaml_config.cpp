#include <catch2/catch.hpp>

#include <fstream>
#include <sstream>

#include "engine/error.hpp"
#include "io/yaml_config.hpp"
#include "potential/nequip/reference_data.hpp"

using nqmd::nequip::ModelConfig;

TEST_CASE("config: nequip's resolved YAML, flattened", "[nequip][config]") {
  // The training config of model B as written by nequip (the same text is deployed as the "config" extra file).
  std::ifstream in(nqmd::test::nequip_path("modelB/train_config_resolved.yaml"));
  std::stringstream text;
  text << in.rdbuf();
  const ModelConfig config = ModelConfig::parse(text.str(), "modelB config");
  CHECK(config.get_int("num_layers") == 3);
  CHECK(config.get_int("l_max") == 2);
  CHECK(config.get_double("r_max") == 5.0);
  CHECK(config.get_double("avg_num_neighbors") == 42.2775);
  CHECK(config.get_bool("parity", false));
  CHECK(config.get_bool("resnet", false));
  CHECK(config.get_string("feature_irreps_hidden") == "16x0e+16x1e+16x2e+16x0o+16x1o+16x2o");
  CHECK(config.get_string("nonlinearity_scalars.e") == "ssp");
  CHECK(config.get_string("nonlinearity_gates.o") == "tanh");
  CHECK(config.get_list("model_builders") ==
        std::vector<std::string>{"SimpleIrrepsConfig", "EnergyModel", "PerSpeciesRescale", "StressForceOutput",
                                 "RescaleEnergyEtc"});
  CHECK(config.get_list("type_names") == std::vector<std::string>{"Cu", "Au"});
  // Python-tagged values and deeper structures are skipped, not misread.
  CHECK_FALSE(config.contains("torch_version"));
  CHECK_FALSE(config.contains("train_idcs"));
  CHECK(config.get_int("missing_key", 7) == 7);
  CHECK_THROWS_WITH(config.get_int("missing_key"), Catch::Contains("modelB config") && Catch::Contains("missing_key"));
  CHECK_THROWS_AS(config.get_int("feature_irreps_hidden"), nqmd::InputError);
  CHECK_THROWS_AS(config.get_bool("l_max", false), nqmd::InputError);
}

TEST_CASE("config: quoting, comments, nested maps", "[nequip][config]") {
  const ModelConfig c = ModelConfig::parse(
      "# comment\nname: 'quoted value'\nother: \"x\"\nmap:\n  a: 1\n  b: two\n    deeper: 3\nlist:\n- p\n- q\nafter: 2.5\n",
      "inline");
  CHECK(c.get_string("name") == "quoted value");
  CHECK(c.get_string("other") == "x");
  CHECK(c.get_int("map.a") == 1);
  CHECK(c.get_string("map.b") == "two");
  CHECK_FALSE(c.contains("map.deeper"));
  CHECK(c.get_list("list") == std::vector<std::string>{"p", "q"});
  CHECK(c.get_double("after") == 2.5);
}
