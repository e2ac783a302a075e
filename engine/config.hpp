#pragma once
// input.toml: typed sections validated against declared schemas before anything runs.
//
// Every section (and every registered style: potential, integrator, analysis) declares its keys in a
// SectionSchema: type, range, default and a line of documentation. ConfigSection checks a TOML table against
// it (unknown keys with a "did you mean" suggestion, types, ranges, choices, required keys) and then hands out
// typed values. Every error is an InputError "FILE:LINE: [section] key ...". The schemas are also what
// docs/input-reference.md documents, and a test checks that every accepted key is documented there.
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <variant>
#include <vector>

namespace nqmd {

enum class KeyType {
  real,
  integer,
  boolean,
  string,
  real_array,
  integer_array,
  string_array,
  boolean_array,
  real_table,    // { name = number, ... }
  string_table,  // { name = "text", ... }
};
const char* key_type_name(KeyType type);

using DefaultValue = std::variant<std::monostate, double, std::int64_t, bool, std::string>;

// One key of a section, declared fluently:
//   KeySpec("timestep", KeyType::real, "time step (fs)").greater_than(0).defaults_to(1.0)
struct KeySpec {
  std::string name;
  KeyType type = KeyType::real;
  std::string doc;                     // one line, with units
  DefaultValue default_value{};        // monostate: no default (optional key, or required)
  bool required = false;
  std::optional<double> min{};         // numeric range (inclusive unless min_exclusive)
  std::optional<double> max{};
  bool min_exclusive = false;
  std::vector<std::string> choices{};  // allowed strings
  std::optional<std::size_t> array_length{};  // exact length of an array value

  KeySpec(std::string key_name, KeyType key_type, std::string key_doc)
      : name(std::move(key_name)), type(key_type), doc(std::move(key_doc)) {}
  // One overload per value type, so that a default is never converted to another type by accident.
  KeySpec& defaults_to(double value) { return set_default(value); }
  KeySpec& defaults_to(std::int64_t value) { return set_default(value); }
  KeySpec& defaults_to(bool value) { return set_default(value); }
  KeySpec& defaults_to(const char* text) { return set_default(std::string(text)); }
  KeySpec& require() {
    required = true;
    return *this;
  }
  KeySpec& at_least(double value) {
    min = value;
    return *this;
  }
  KeySpec& greater_than(double value) {
    min = value;
    min_exclusive = true;
    return *this;
  }
  KeySpec& at_most(double value) {
    max = value;
    return *this;
  }
  KeySpec& one_of(std::vector<std::string> values) {
    choices = std::move(values);
    return *this;
  }
  KeySpec& length(std::size_t count) {
    array_length = count;
    return *this;
  }

 private:
  KeySpec& set_default(DefaultValue value) {
    default_value = std::move(value);
    return *this;
  }
};

struct SectionSchema {
  std::string name;  // e.g. "integrator" or "structure"
  std::string doc;
  std::vector<KeySpec> keys;

  const KeySpec* find(const std::string& key) const;
  // This schema followed by another's keys (a style's keys added to its section's common keys).
  SectionSchema merged_with(const SectionSchema& other) const;
};

// Text of a default value as written in TOML ("1.0", "true", "\"thermo.csv\""), empty if none.
std::string default_text(const KeySpec& spec);

class ConfigSection {
 public:
  // Validates `toml_table` (a toml::table*, kept opaque so this header stays free of toml++; may be null: an
  // absent section) against `schema`; throws InputError on any problem.
  ConfigSection(const void* toml_table, std::string file, const SectionSchema& schema, std::string base_directory);

  const std::string& name() const { return schema_.name; }
  bool present() const { return table_ != nullptr; }
  bool has(const std::string& key) const;

  // Typed values; an absent key gives its schema default, or an InputError naming the missing key.
  double real(const std::string& key) const;
  std::int64_t integer(const std::string& key) const;
  bool boolean(const std::string& key) const;
  std::string string(const std::string& key) const;
  std::vector<double> real_array(const std::string& key) const;
  std::vector<std::int64_t> integer_array(const std::string& key) const;
  std::vector<std::string> string_array(const std::string& key) const;
  std::vector<bool> boolean_array(const std::string& key) const;
  std::map<std::string, double> real_table(const std::string& key) const;
  // Entries sorted by name (as toml++ keeps them).
  std::vector<std::pair<std::string, std::string>> string_table(const std::string& key) const;
  // A file path value, resolved relative to the input file's directory.
  std::string path(const std::string& key) const;
  // An array of file paths, each resolved as path() resolves one.
  std::vector<std::string> paths(const std::string& key) const;
  // An output file path value, resolved relative to the input's output directory (InputFile::output_directory).
  std::string output_path(const std::string& key) const;

  // "FILE:LINE: [section] key" for messages about a key's value (the section's line if the key is absent).
  std::string where(const std::string& key) const;
  // Throws InputError "FILE:LINE: [section] key: message".
  [[noreturn]] void fail(const std::string& key, const std::string& message) const;

 private:
  const void* table_;                        // toml::table inside the document below
  std::shared_ptr<const void> document_;     // keeps the parsed file alive
  friend class InputFile;
  std::string file_;
  SectionSchema schema_;
  std::string base_directory_;
  std::string output_directory_;
  const KeySpec& spec(const std::string& key) const;
  void validate() const;
};

struct InputStage;

// A parsed input file: its sections by name; unknown sections are rejected against the known names.
class InputFile {
 public:
  // Parses FILE (InputError on a missing file or a TOML syntax error, with line and column).
  explicit InputFile(const std::string& path);

  // Rejects any top-level key that is not one of these section names (with a suggestion).
  void check_sections(const std::vector<std::string>& known_sections) const;
  bool has_section(const std::string& name) const;
  // The section validated against `schema` (an absent section validates as empty: defaults apply).
  ConfigSection section(const SectionSchema& schema) const;
  // The `kind` string of a section (InputError if the section or its kind is missing, naming the choices).
  std::string kind_of(const std::string& section, const std::vector<std::string>& choices) const;
  const std::string& path() const { return path_; }
  const std::string& directory() const { return directory_; }

  // The tables of the array `[[array_name]]` (e.g. [[stage]]) as inputs of their own, in file order: the
  // top-level sections without the array, where a section the stage table holds (e.g. [stage.integrator])
  // replaces the top-level one whole. A stage table may hold `name` (letters, digits, '_' and '-'; default
  // stage1, stage2, ...) and the sections in `stage_sections`; anything else is an error naming its line.
  // Empty if the input has no such array.
  std::vector<InputStage> stages(const std::string& array_name, const std::vector<std::string>& stage_sections) const;
  // The same input without the sections named (e.g. a top-level section that applies to one stage only).
  InputFile without(const std::vector<std::string>& sections) const;

  // Edits for the inputs a study derives from this one. `key` = value in the top-level table `section` and in
  // that of every table of the array `array_name` (e.g. [[stage]]), wherever such a table sets `key` itself;
  // `places` receives where ("[integrator]", "[[stage]] 2 [integrator]").
  InputFile with_number_where_set(const std::string& array_name, const std::string& section, const std::string& key,
                                  double value, std::vector<std::string>& places) const;
  // `key` = value in `section` of the last table of the array `array_name` (e.g. the last [[stage]]'s [run]);
  // without the array, in the top-level `section`. The caller checks that the table sets `section` itself.
  InputFile with_integer_in_last(const std::string& array_name, const std::string& section, const std::string& key,
                                 std::int64_t value) const;
  // The directory relative output names resolve in (ConfigSection::output_path): the input file's own, or
  // another (a study's run directory).
  const std::string& output_directory() const { return output_directory_; }
  InputFile with_output_directory(const std::string& directory) const;
  // `key` of the top-level table `section` (created if absent) set to a string.
  InputFile with_string(const std::string& section, const std::string& key, const std::string& value) const;
  // The input as TOML text (comments are not kept).
  std::string toml_text() const;

 private:
  InputFile(std::string path, std::string directory, std::string output_directory, std::shared_ptr<const void> root)
      : path_(std::move(path)),
        directory_(std::move(directory)),
        output_directory_(std::move(output_directory)),
        root_(std::move(root)) {}
  std::string path_;
  std::string directory_;
  std::string output_directory_;
  std::shared_ptr<const void> root_;  // the parsed toml::table
};

struct InputStage {
  std::string name;
  std::size_t line = 0;                 // of the stage's [[...]] header
  std::vector<std::string> sections;    // the sections the stage table holds itself
  std::vector<std::string> keys;        // "section.key" for every key in those sections
  InputFile input;
};

// `text` as a TOML basic string, quoted and escaped (for files generated from inputs).
std::string toml_quoted(const std::string& text);

// Closest candidate by edit distance, for "did you mean" (empty if nothing is close).
std::string closest_match(const std::string& word, const std::vector<std::string>& candidates);

}  // namespace nqmd
