#include "io/yaml_config.hpp"

#include <sstream>

#include "engine/error.hpp"
#include "engine/text.hpp"

namespace nqmd::nequip {
namespace {

std::string unquote(const std::string& s) {
  if (s.size() >= 2 && ((s.front() == '\'' && s.back() == '\'') || (s.front() == '"' && s.back() == '"'))) {
    return s.substr(1, s.size() - 2);
  }
  return s;
}

std::size_t indentation(const std::string& line) {
  std::size_t n = 0;
  while (n < line.size() && line[n] == ' ') ++n;
  return n;
}

}  // namespace

ModelConfig ModelConfig::parse(const std::string& yaml, const std::string& where) {
  ModelConfig config;
  config.where_ = where;
  std::istringstream in(yaml);
  std::string line;
  std::string parent;        // last top-level key whose value was empty (a nested map or list follows)
  std::size_t child_indent = std::string::npos;
  while (std::getline(in, line)) {
    const std::string content = std::string(trim(line));
    if (content.empty() || content[0] == '#') continue;
    const std::size_t indent = indentation(line);
    if (indent == 0 && content[0] != '-') {
      const std::size_t colon = content.find(':');
      if (colon == std::string::npos) continue;
      const std::string key = std::string(trim(content.substr(0, colon)));
      const std::string value = std::string(trim(content.substr(colon + 1)));
      parent.clear();
      child_indent = std::string::npos;
      if (value.empty()) {
        parent = key;
      } else if (value.rfind("!!", 0) != 0) {
        config.values_[key] = unquote(value);
      }
      continue;
    }
    if (parent.empty()) continue;
    if (child_indent == std::string::npos) child_indent = indent;
    if (indent != child_indent) continue;  // deeper structure: not used by the model
    if (content[0] == '-') {
      const std::string item = std::string(trim(content.substr(1)));
      if (item.empty() || item.rfind("!!", 0) == 0) continue;
      std::string& list = config.values_[parent];
      list += (list.empty() ? "" : ",") + unquote(item);
    } else {
      const std::size_t colon = content.find(':');
      if (colon == std::string::npos) continue;
      const std::string value = std::string(trim(content.substr(colon + 1)));
      if (value.empty() || value.rfind("!!", 0) == 0) continue;
      config.values_[parent + "." + unquote(std::string(trim(content.substr(0, colon))))] = unquote(value);
    }
  }
  return config;
}

std::optional<std::string> ModelConfig::find(const std::string& key) const {
  auto it = values_.find(key);
  if (it == values_.end()) return std::nullopt;
  return it->second;
}

std::string ModelConfig::get_string(const std::string& key) const {
  auto value = find(key);
  if (!value) throw InputError(where_ + ": missing '" + key + "'");
  return *value;
}

std::string ModelConfig::get_string(const std::string& key, const std::string& fallback) const {
  return find(key).value_or(fallback);
}

int ModelConfig::get_int(const std::string& key) const {
  const std::string text = get_string(key);
  try {
    std::size_t used = 0;
    const int value = std::stoi(text, &used);
    if (used == text.size()) return value;
  } catch (const std::exception&) {
  }
  throw InputError(where_ + ": '" + key + "' is not an integer: '" + text + "'");
}

int ModelConfig::get_int(const std::string& key, int fallback) const { return contains(key) ? get_int(key) : fallback; }

double ModelConfig::get_double(const std::string& key) const {
  const std::string text = get_string(key);
  try {
    std::size_t used = 0;
    const double value = std::stod(text, &used);
    if (used == text.size()) return value;
  } catch (const std::exception&) {
  }
  throw InputError(where_ + ": '" + key + "' is not a number: '" + text + "'");
}

bool ModelConfig::get_bool(const std::string& key, bool fallback) const {
  auto value = find(key);
  if (!value) return fallback;
  if (*value == "true" || *value == "True") return true;
  if (*value == "false" || *value == "False") return false;
  throw InputError(where_ + ": '" + key + "' is not a boolean: '" + *value + "'");
}

std::vector<std::string> ModelConfig::get_list(const std::string& key) const {
  std::vector<std::string> out;
  std::stringstream items(get_string(key));
  for (std::string item; std::getline(items, item, ',');) out.push_back(item);
  return out;
}

}  // namespace nqmd::nequip
