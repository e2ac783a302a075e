#include "engine/config.hpp"

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <sstream>

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <toml++/toml.h>

#include "engine/error.hpp"
#include "engine/file_checks.hpp"

namespace nqmd {
namespace {

const toml::table* as_table(const void* table) { return static_cast<const toml::table*>(table); }

std::size_t edit_distance(const std::string& a, const std::string& b) {
  std::vector<std::size_t> previous(b.size() + 1), current(b.size() + 1);
  for (std::size_t j = 0; j <= b.size(); ++j) previous[j] = j;
  for (std::size_t i = 1; i <= a.size(); ++i) {
    current[0] = i;
    for (std::size_t j = 1; j <= b.size(); ++j) {
      const std::size_t substitution = previous[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1);
      current[j] = std::min({previous[j] + 1, current[j - 1] + 1, substitution});
    }
    std::swap(previous, current);
  }
  return previous[b.size()];
}

std::string did_you_mean(const std::string& word, const std::vector<std::string>& candidates) {
  const std::string match = closest_match(word, candidates);
  if (!match.empty()) return fmt::format("; did you mean '{}'?", match);
  return fmt::format(" (expected one of: {})", fmt::join(candidates, ", "));
}

bool type_matches(const toml::node& node, KeyType type) {
  auto all_elements = [&](auto predicate) {
    const toml::array* array = node.as_array();
    if (array == nullptr) return false;
    for (const toml::node& element : *array)
      if (!predicate(element)) return false;
    return true;
  };
  switch (type) {
    case KeyType::real: return node.is_floating_point() || node.is_integer();
    case KeyType::integer: return node.is_integer();
    case KeyType::boolean: return node.is_boolean();
    case KeyType::string: return node.is_string();
    case KeyType::real_array:
      return all_elements([](const toml::node& e) { return e.is_floating_point() || e.is_integer(); });
    case KeyType::integer_array: return all_elements([](const toml::node& e) { return e.is_integer(); });
    case KeyType::string_array: return all_elements([](const toml::node& e) { return e.is_string(); });
    case KeyType::boolean_array: return all_elements([](const toml::node& e) { return e.is_boolean(); });
    case KeyType::real_table: {
      const toml::table* table = node.as_table();
      if (table == nullptr) return false;
      for (auto&& [key, value] : *table)
        if (!(value.is_floating_point() || value.is_integer())) return false;
      return true;
    }
    case KeyType::string_table: {
      const toml::table* table = node.as_table();
      if (table == nullptr) return false;
      for (auto&& [key, value] : *table)
        if (!value.is_string()) return false;
      return true;
    }
  }
  return false;
}

double number_of(const toml::node& node) {
  // Ask toml++ for an integer only of an integer node: its conversion of a float outside int64's range is undefined.
  if (node.is_integer()) return static_cast<double>(*node.value<std::int64_t>());
  return *node.value<double>();
}

std::string describe(const toml::node& node) {
  std::ostringstream text;
  if (node.is_string())
    text << '"' << *node.value<std::string>() << '"';
  else if (node.is_table())
    text << "a table";
  else if (node.is_array())
    text << "an array";
  else if (node.is_boolean())
    text << (*node.value<bool>() ? "true" : "false");
  else if (node.is_integer())
    text << *node.value<std::int64_t>();
  else if (node.is_floating_point())
    text << fmt::format("{}", *node.value<double>());
  else
    text << "a date/time";
  return text.str();
}

std::string range_text(const KeySpec& spec) {
  std::string text;
  if (spec.min) text += fmt::format("{} {}", spec.min_exclusive ? ">" : ">=", *spec.min);
  if (spec.max) text += fmt::format("{}<= {}", text.empty() ? "" : " and ", *spec.max);
  return text;
}

}  // namespace

const char* key_type_name(KeyType type) {
  switch (type) {
    case KeyType::real: return "number";
    case KeyType::integer: return "integer";
    case KeyType::boolean: return "boolean";
    case KeyType::string: return "string";
    case KeyType::real_array: return "array of numbers";
    case KeyType::integer_array: return "array of integers";
    case KeyType::string_array: return "array of strings";
    case KeyType::boolean_array: return "array of booleans";
    case KeyType::real_table: return "table of numbers";
    case KeyType::string_table: return "table of strings";
  }
  return "value";
}

std::string closest_match(const std::string& word, const std::vector<std::string>& candidates) {
  std::string best;
  std::size_t best_distance = std::max<std::size_t>(2, word.size() / 2) + 1;
  for (const std::string& candidate : candidates) {
    const std::size_t distance = edit_distance(word, candidate);
    if (distance < best_distance) {
      best_distance = distance;
      best = candidate;
    }
  }
  return best;
}

const KeySpec* SectionSchema::find(const std::string& key) const {
  for (const KeySpec& spec : keys)
    if (spec.name == key) return &spec;
  return nullptr;
}

SectionSchema SectionSchema::merged_with(const SectionSchema& other) const {
  SectionSchema merged = *this;
  for (const KeySpec& spec : other.keys)
    if (merged.find(spec.name) == nullptr) merged.keys.push_back(spec);
  return merged;
}

std::string default_text(const KeySpec& spec) {
  return std::visit(
      [](const auto& value) -> std::string {
        using T = std::decay_t<decltype(value)>;
        if constexpr (std::is_same_v<T, std::monostate>)
          return "";
        else if constexpr (std::is_same_v<T, bool>)
          return value ? "true" : "false";
        else if constexpr (std::is_same_v<T, std::string>)
          return fmt::format("\"{}\"", value);
        else if constexpr (std::is_same_v<T, double>) {
          std::string text = fmt::format("{}", value);
          if (text.find_first_of(".eEn") == std::string::npos) text += ".0";
          return text;
        } else
          return fmt::format("{}", value);
      },
      spec.default_value);
}

ConfigSection::ConfigSection(const void* toml_table, std::string file, const SectionSchema& schema,
                             std::string base_directory)
    : table_(toml_table),
      file_(std::move(file)),
      schema_(schema),
      base_directory_(std::move(base_directory)),
      output_directory_(base_directory_) {
  validate();
}

const KeySpec& ConfigSection::spec(const std::string& key) const {
  const KeySpec* found = schema_.find(key);
  if (found == nullptr)  // a programming error: the code asked for a key its schema does not declare
    throw std::logic_error(fmt::format("key '{}' is not declared in the schema of [{}]", key, schema_.name));
  return *found;
}

std::string ConfigSection::where(const std::string& key) const {
  std::size_t line = 0;
  if (table_ != nullptr) {
    const toml::node* value = as_table(table_)->get(key);
    line = value != nullptr ? value->source().begin.line : as_table(table_)->source().begin.line;
  }
  return line > 0 ? fmt::format("{}:{}: [{}] {}", file_, line, schema_.name, key)
                  : fmt::format("{}: [{}] {}", file_, schema_.name, key);
}

void ConfigSection::fail(const std::string& key, const std::string& message) const {
  throw InputError(fmt::format("{}: {}", where(key), message));
}

void ConfigSection::validate() const {
  if (table_ == nullptr) {
    for (const KeySpec& key : schema_.keys)
      if (key.required)
        throw InputError(fmt::format("{}: missing section [{}] (it needs key '{}': {})", file_, schema_.name, key.name,
                                     key.doc));
    return;
  }
  std::vector<std::string> known;
  for (const KeySpec& key : schema_.keys) known.push_back(key.name);
  for (auto&& [key, value] : *as_table(table_)) {
    const std::string name(key.str());
    const KeySpec* key_spec = schema_.find(name);
    if (key_spec == nullptr)
      throw InputError(fmt::format("{}:{}: unknown key '{}' in [{}]{}", file_, key.source().begin.line, name,
                                   schema_.name, did_you_mean(name, known)));
    if (!type_matches(value, key_spec->type))
      fail(name, fmt::format("expected {}, got {}", key_type_name(key_spec->type), describe(value)));
    auto check_number = [&](double number) {
      if (!std::isfinite(number)) fail(name, fmt::format("must be finite (got {})", number));
      const bool below = key_spec->min && (key_spec->min_exclusive ? number <= *key_spec->min : number < *key_spec->min);
      const bool above = key_spec->max && number > *key_spec->max;
      if (below || above) fail(name, fmt::format("must be {} (got {})", range_text(*key_spec), number));
    };
    if (value.is_number()) check_number(number_of(value));
    if (const toml::array* array = value.as_array()) {
      if (key_spec->array_length && array->size() != *key_spec->array_length)
        fail(name, fmt::format("expected {} values, got {}", *key_spec->array_length, array->size()));
      for (const toml::node& element : *array)
        if (element.is_number()) check_number(number_of(element));
    }
    if (const toml::table* table = value.as_table())
      for (auto&& [entry, element] : *table)
        if (element.is_number()) check_number(number_of(element));
    if (!key_spec->choices.empty()) {
      auto check_choice = [&](const toml::node& element) {
        const std::string text = *element.value<std::string>();
        if (std::find(key_spec->choices.begin(), key_spec->choices.end(), text) == key_spec->choices.end())
          fail(name, fmt::format("unknown value \"{}\"{}", text, did_you_mean(text, key_spec->choices)));
      };
      if (const toml::array* array = value.as_array())
        for (const toml::node& element : *array) check_choice(element);
      else
        check_choice(value);
    }
  }
  for (const KeySpec& key : schema_.keys)
    if (key.required && !has(key.name))
      throw InputError(fmt::format("{}:{}: [{}] is missing required key '{}' ({})", file_,
                                   as_table(table_)->source().begin.line, schema_.name, key.name, key.doc));
}

bool ConfigSection::has(const std::string& key) const {
  return table_ != nullptr && as_table(table_)->get(key) != nullptr;
}

namespace {
template <typename T>
T default_or_fail(const ConfigSection& section, const KeySpec& spec) {
  if (const T* value = std::get_if<T>(&spec.default_value)) return *value;
  section.fail(spec.name, fmt::format("is required ({})", spec.doc));
}
}  // namespace

double ConfigSection::real(const std::string& key) const {
  const KeySpec& key_spec = spec(key);
  if (!has(key)) return default_or_fail<double>(*this, key_spec);
  return number_of(*as_table(table_)->get(key));
}

std::int64_t ConfigSection::integer(const std::string& key) const {
  const KeySpec& key_spec = spec(key);
  if (!has(key)) return default_or_fail<std::int64_t>(*this, key_spec);
  return *as_table(table_)->get(key)->value<std::int64_t>();
}

bool ConfigSection::boolean(const std::string& key) const {
  const KeySpec& key_spec = spec(key);
  if (!has(key)) return default_or_fail<bool>(*this, key_spec);
  return *as_table(table_)->get(key)->value<bool>();
}

std::string ConfigSection::string(const std::string& key) const {
  const KeySpec& key_spec = spec(key);
  if (!has(key)) return default_or_fail<std::string>(*this, key_spec);
  return *as_table(table_)->get(key)->value<std::string>();
}

namespace {
template <typename T, typename Convert>
std::vector<T> array_values(const ConfigSection& section, const void* table, const std::string& key, Convert convert) {
  if (!section.has(key)) section.fail(key, "is required");
  std::vector<T> values;
  for (const toml::node& element : *as_table(table)->get(key)->as_array()) values.push_back(convert(element));
  return values;
}
}  // namespace

std::vector<double> ConfigSection::real_array(const std::string& key) const {
  spec(key);
  return array_values<double>(*this, table_, key, number_of);
}

std::vector<std::int64_t> ConfigSection::integer_array(const std::string& key) const {
  spec(key);
  return array_values<std::int64_t>(*this, table_, key, [](const toml::node& e) { return *e.value<std::int64_t>(); });
}

std::vector<std::string> ConfigSection::string_array(const std::string& key) const {
  spec(key);
  return array_values<std::string>(*this, table_, key, [](const toml::node& e) { return *e.value<std::string>(); });
}

std::vector<bool> ConfigSection::boolean_array(const std::string& key) const {
  spec(key);
  return array_values<bool>(*this, table_, key, [](const toml::node& e) { return *e.value<bool>(); });
}

std::map<std::string, double> ConfigSection::real_table(const std::string& key) const {
  spec(key);
  std::map<std::string, double> values;
  if (!has(key)) return values;
  for (auto&& [entry, value] : *as_table(table_)->get(key)->as_table()) values[std::string(entry.str())] = number_of(value);
  return values;
}

std::vector<std::pair<std::string, std::string>> ConfigSection::string_table(const std::string& key) const {
  spec(key);
  std::vector<std::pair<std::string, std::string>> entries;
  if (!has(key)) return entries;
  for (auto&& [entry, value] : *as_table(table_)->get(key)->as_table())
    entries.emplace_back(std::string(entry.str()), *value.value<std::string>());
  return entries;
}

namespace {
std::string resolved_path(const std::string& text, const std::string& base_directory) {
  const std::filesystem::path value(text);
  if (value.is_absolute() || base_directory.empty()) return value.string();
  return (std::filesystem::path(base_directory) / value).lexically_normal().string();
}
}  // namespace

std::string ConfigSection::path(const std::string& key) const { return resolved_path(string(key), base_directory_); }

std::string ConfigSection::output_path(const std::string& key) const {
  return resolved_path(string(key), output_directory_);
}

std::vector<std::string> ConfigSection::paths(const std::string& key) const {
  std::vector<std::string> out;
  for (const std::string& text : string_array(key)) out.push_back(resolved_path(text, base_directory_));
  return out;
}

InputFile::InputFile(const std::string& path) : path_(path) {
  // An input (TOML) file is small; a bigger one is not meant (a trajectory given by mistake).
  constexpr std::uintmax_t kLargestInput = 16'000'000;
  require_regular_file(path, "an input file (TOML)", kLargestInput);
  std::ifstream stream(path);
  if (!stream) throw InputError(fmt::format("cannot open input file '{}'", path));
  directory_ = std::filesystem::path(path).parent_path().string();
  output_directory_ = directory_;
  try {
    auto table = std::make_shared<toml::table>(toml::parse(stream, path));
    root_ = table;
  } catch (const toml::parse_error& error) {
    throw InputError(fmt::format("{}:{}:{}: TOML syntax error: {}", path, error.source().begin.line,
                                 error.source().begin.column, error.description()));
  }
}

void InputFile::check_sections(const std::vector<std::string>& known_sections) const {
  for (auto&& [key, value] : *as_table(root_.get())) {
    const std::string name(key.str());
    if (std::find(known_sections.begin(), known_sections.end(), name) == known_sections.end())
      throw InputError(fmt::format("{}:{}: unknown section [{}]{}", path_, key.source().begin.line, name,
                                   did_you_mean(name, known_sections)));
    if (!value.is_table())
      throw InputError(fmt::format("{}:{}: '{}' must be a section [{}], not a single value", path_,
                                   key.source().begin.line, name, name));
  }
}

bool InputFile::has_section(const std::string& name) const { return as_table(root_.get())->get_as<toml::table>(name); }

ConfigSection InputFile::section(const SectionSchema& schema) const {
  const toml::table* table = as_table(root_.get())->get_as<toml::table>(schema.name);
  ConfigSection section(table, path_, schema, directory_);
  section.document_ = root_;
  section.output_directory_ = output_directory_;
  return section;
}

std::string InputFile::kind_of(const std::string& section, const std::vector<std::string>& choices) const {
  const toml::table* table = as_table(root_.get())->get_as<toml::table>(section);
  if (table == nullptr)
    throw InputError(fmt::format("{}: missing section [{}] (kind = one of: {})", path_, section, fmt::join(choices, ", ")));
  const toml::node* kind = table->get("kind");
  if (kind == nullptr)
    throw InputError(fmt::format("{}:{}: [{}] is missing required key 'kind' (one of: {})", path_,
                                 table->source().begin.line, section, fmt::join(choices, ", ")));
  if (!kind->is_string())
    throw InputError(fmt::format("{}:{}: [{}] kind: expected string, got {}", path_, kind->source().begin.line, section,
                                 describe(*kind)));
  const std::string name = *kind->value<std::string>();
  if (std::find(choices.begin(), choices.end(), name) == choices.end())
    throw InputError(fmt::format("{}:{}: [{}] kind: unknown {} \"{}\"{}", path_, kind->source().begin.line, section,
                                 section, name, did_you_mean(name, choices)));
  return name;
}

std::vector<InputStage> InputFile::stages(const std::string& array_name,
                                          const std::vector<std::string>& stage_sections) const {
  const toml::table& root = *as_table(root_.get());
  const toml::node* node = root.get(array_name);
  if (node == nullptr) return {};
  const toml::array* array = node->as_array();
  if (array == nullptr || !array->is_array_of_tables() || array->empty())
    throw InputError(fmt::format("{}:{}: '{}' must be tables [[{}]], one per stage", path_,
                                 node->source().begin.line, array_name, array_name));
  toml::table base = root;
  base.erase(array_name);
  std::vector<InputStage> stages;
  for (std::size_t k = 0; k < array->size(); ++k) {
    const toml::table& table = *array->get(k)->as_table();
    const std::size_t line = table.source().begin.line;
    toml::table merged = base;
    InputStage stage{fmt::format("{}{}", array_name, k + 1), line, {}, {},
                     InputFile(path_, directory_, output_directory_, nullptr)};
    for (auto&& [key, value] : table) {
      const std::string name(key.str());
      const std::size_t key_line = key.source().begin.line;
      if (name == "name") {
        const std::optional<std::string> text = value.value<std::string>();
        const bool usable = text && !text->empty() && text->size() <= 64 &&
                            std::all_of(text->begin(), text->end(), [](char c) {
                              return std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '-';
                            });
        if (!usable)
          throw InputError(fmt::format("{}:{}: [[{}]] name: expected up to 64 letters, digits, '_' or '-' (it names "
                                       "the stage's files)",
                                       path_, key_line, array_name));
        stage.name = *text;
        continue;
      }
      if (std::find(stage_sections.begin(), stage_sections.end(), name) == stage_sections.end()) {
        std::vector<std::string> allowed = stage_sections;
        allowed.push_back("name");
        throw InputError(fmt::format("{}:{}: [[{}]] {}: not a key or section of a stage (allowed: {}){}", path_,
                                     key_line, array_name, name, fmt::join(allowed, ", "),
                                     did_you_mean(name, allowed)));
      }
      const toml::table* section = value.as_table();
      if (section == nullptr)
        throw InputError(fmt::format("{}:{}: [[{}]] {}: must be a section [{}.{}]", path_, key_line, array_name,
                                     name, array_name, name));
      stage.sections.push_back(name);
      for (auto&& [section_key, section_value] : *section) stage.keys.push_back(name + "." + std::string(section_key.str()));
      merged.insert_or_assign(name, *section);
    }
    for (const InputStage& earlier : stages)
      if (earlier.name == stage.name)
        throw InputError(fmt::format("{}:{}: [[{}]] name \"{}\" is also the name of the stage at line {}", path_, line,
                                     array_name, stage.name, earlier.line));
    stage.input = InputFile(path_, directory_, output_directory_, std::make_shared<toml::table>(std::move(merged)));
    stages.push_back(std::move(stage));
  }
  return stages;
}

InputFile InputFile::without(const std::vector<std::string>& sections) const {
  auto copy = std::make_shared<toml::table>(*as_table(root_.get()));
  for (const std::string& name : sections) copy->erase(name);
  return InputFile(path_, directory_, output_directory_, copy);
}

namespace {

// The top-level table `section` and that of each table of the array `array_name`, with a label for messages.
std::vector<std::pair<std::string, toml::table*>> tables_named(toml::table& root, const std::string& array_name,
                                                               const std::string& section) {
  std::vector<std::pair<std::string, toml::table*>> tables;
  if (toml::table* top = root.get_as<toml::table>(section)) tables.emplace_back("[" + section + "]", top);
  if (toml::array* array = root.get_as<toml::array>(array_name))
    for (std::size_t k = 0; k < array->size(); ++k)
      if (toml::table* entry = array->get_as<toml::table>(k))
        if (toml::table* table = entry->get_as<toml::table>(section))
          tables.emplace_back(fmt::format("[[{}]] {} [{}]", array_name, k + 1, section), table);
  return tables;
}

}  // namespace

InputFile InputFile::with_number_where_set(const std::string& array_name, const std::string& section,
                                           const std::string& key, double value,
                                           std::vector<std::string>& places) const {
  auto copy = std::make_shared<toml::table>(*as_table(root_.get()));
  for (auto& [label, table] : tables_named(*copy, array_name, section))
    if (table->contains(key)) {
      table->insert_or_assign(key, value);
      places.push_back(label);
    }
  return InputFile(path_, directory_, output_directory_, copy);
}

InputFile InputFile::with_integer_in_last(const std::string& array_name, const std::string& section,
                                          const std::string& key, std::int64_t value) const {
  auto copy = std::make_shared<toml::table>(*as_table(root_.get()));
  toml::table* target = nullptr;
  toml::array* array = copy->get_as<toml::array>(array_name);
  toml::table* last = array && !array->empty() ? array->back().as_table() : nullptr;
  for (toml::table* table : {last, static_cast<toml::table*>(copy.get())})
    if (table) {
      if (!table->get_as<toml::table>(section)) table->insert(section, toml::table{});
      target = table->get_as<toml::table>(section);
      break;
    }
  target->insert_or_assign(key, value);
  return InputFile(path_, directory_, output_directory_, copy);
}

InputFile InputFile::with_output_directory(const std::string& directory) const {
  return InputFile(path_, directory_, directory, root_);
}

InputFile InputFile::with_string(const std::string& section, const std::string& key, const std::string& value) const {
  auto copy = std::make_shared<toml::table>(*as_table(root_.get()));
  if (!copy->get_as<toml::table>(section)) copy->insert(section, toml::table{});
  copy->get_as<toml::table>(section)->insert_or_assign(key, value);
  return InputFile(path_, directory_, output_directory_, copy);
}

std::string toml_quoted(const std::string& text) {
  std::ostringstream quoted;
  quoted << toml::value<std::string>(text);
  return quoted.str();
}

std::string InputFile::toml_text() const {
  std::ostringstream text;
  text << *as_table(root_.get()) << "\n";
  return text.str();
}

}  // namespace nqmd
