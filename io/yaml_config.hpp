#pragma once
// The subset of YAML that nequip's resolved training configs use for model hyperparameters, flattened to
// strings (torch-free): top-level `key: value` scalars, one level of nested maps (`nonlinearity_scalars:` then
// `  e: silu` gives "nonlinearity_scalars.e" = "silu") and block lists of scalars (`model_builders:` then
// `- EnergyModel` lines, joined with ","). Values keep YAML's spelling ("true", "4.0", "8x0e+8x1o"); quotes are
// removed. Python-specific tags (!!python/...) and deeper structures are skipped: the model does not use them.
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace nqmd::nequip {

class ModelConfig {
 public:
  ModelConfig() = default;
  // `where` names the source in error messages (e.g. "config of 'model.pth'").
  static ModelConfig parse(const std::string& yaml, const std::string& where);

  bool contains(const std::string& key) const { return values_.count(key) != 0; }
  std::optional<std::string> find(const std::string& key) const;
  // Typed accessors: throw InputError naming the key and the source when absent (without a fallback) or malformed.
  std::string get_string(const std::string& key) const;
  std::string get_string(const std::string& key, const std::string& fallback) const;
  int get_int(const std::string& key) const;
  int get_int(const std::string& key, int fallback) const;
  double get_double(const std::string& key) const;
  bool get_bool(const std::string& key, bool fallback) const;
  std::vector<std::string> get_list(const std::string& key) const;

 private:
  std::string where_;
  std::map<std::string, std::string> values_;
};

}  // namespace nqmd::nequip
