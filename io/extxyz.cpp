#include "io/extxyz.hpp"

#include <algorithm>
#include <array>
#include <cctype>
#include <cerrno>
#include <charconv>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <limits>
#include <set>
#include <string_view>

#include <fmt/format.h>

#include "engine/file_checks.hpp"
#include "engine/error.hpp"
#include "engine/periodic_table.hpp"
#include "engine/text.hpp"
#include "engine/units.hpp"

namespace nqmd {
namespace {

// ASE's default when a frame has no Properties key (a plain XYZ file).
constexpr std::string_view kDefaultProperties = "species:S:1:pos:R:3";

// ---------------------------------------------------------------------------------------------------------------
// Text helpers

// Fields separated by whitespace (and, if asked, commas: ASE accepts "1,2,3" in info values).
std::vector<std::string_view> split_fields(std::string_view text, bool commas_separate = false) {
  std::vector<std::string_view> fields;
  const auto is_separator = [&](char c) { return is_space(c) || (commas_separate && c == ','); };
  std::size_t pos = 0;
  while (pos < text.size()) {
    while (pos < text.size() && is_separator(text[pos])) ++pos;
    const std::size_t start = pos;
    while (pos < text.size() && !is_separator(text[pos])) ++pos;
    if (pos > start) fields.push_back(text.substr(start, pos - start));
  }
  return fields;
}

// A whole field as a real number, as Python's float() reads it (also "inf", "nan", "1e-05").
bool parse_real(std::string_view field, double& value) {
  if (field.empty() || field.size() > 100) return false;
  char buffer[128];
  std::memcpy(buffer, field.data(), field.size());
  buffer[field.size()] = '\0';
  char* end = nullptr;
  value = std::strtod(buffer, &end);
  return end == buffer + field.size() && !is_space(buffer[0]);
}

// A whole field as an integer, as Python's int() reads it (an optional sign, then digits).
bool parse_integer(std::string_view field, long& value) {
  if (!field.empty() && field.front() == '+') {
    field.remove_prefix(1);
    if (!field.empty() && field.front() == '-') return false;
  }
  const auto [end, error] = std::from_chars(field.data(), field.data() + field.size(), value);
  return error == std::errc() && end == field.data() + field.size();
}

// ASE's logical values: T and F in info values, also True and False in L columns.
std::optional<bool> parse_logical(std::string_view field) {
  if (field == "T" || field == "True") return true;
  if (field == "F" || field == "False") return false;
  return std::nullopt;
}

// Long values are cut in messages so that an error stays one readable line.
std::string shorten(std::string_view text) {
  constexpr std::size_t kMaxShown = 60;
  if (text.size() <= kMaxShown) return std::string(text);
  return std::string(text.substr(0, kMaxShown)) + "...";
}

// Python's repr of a float: shortest representation that reads back exactly, always with a decimal point or an
// exponent ("3.0", not "3": ASE would read a bare "3" as an integer).
std::string format_real(double value) {
  std::string text = fmt::format("{}", value);
  if (text.find_first_of(".en") == std::string::npos) text += ".0";  // 'n' covers "nan" and "inf"
  return text;
}

// ---------------------------------------------------------------------------------------------------------------
// Error locations

struct Location {
  const std::string& path;
  std::size_t line;
};

[[noreturn]] void fail(const Location& where, std::string_view what) {
  throw InputError(fmt::format("{}:{}: {}", where.path, where.line, what));
}

// ---------------------------------------------------------------------------------------------------------------
// Comment line: key=value entries, as ASE's key_val_str_to_dict reads them. Entries are separated by whitespace;
// spaces around '=' are allowed; a key without '=' is a flag meaning True; a value may be quoted with "", '', {}
// or [] (several quoted and bare pieces concatenate); a backslash makes the next character literal anywhere.

struct InfoEntry {
  std::string key;
  std::string value;
  bool has_value = false;
};

class CommentLineLexer {
 public:
  CommentLineLexer(std::string_view text, const Location& where) : text_(text), where_(where) {}

  std::vector<InfoEntry> entries() {
    std::vector<InfoEntry> result;
    while (skip_spaces()) {
      InfoEntry entry;
      if (text_[pos_] == '=') fail(where_, "'=' without a key in the comment line; expected key=value entries");
      entry.key = read_word(/*stop_at_equals=*/true);
      skip_spaces();
      if (pos_ < text_.size() && text_[pos_] == '=') {
        ++pos_;
        entry.has_value = true;
        if (skip_spaces()) entry.value = read_word(/*stop_at_equals=*/false);
      }
      result.push_back(std::move(entry));
    }
    return result;
  }

 private:
  std::string_view text_;
  const Location& where_;
  std::size_t pos_ = 0;

  // Skips whitespace; false at the end of the line.
  bool skip_spaces() {
    while (pos_ < text_.size() && is_space(text_[pos_])) ++pos_;
    return pos_ < text_.size();
  }

  static char closing_quote(char c) {
    switch (c) {
      case '"': return '"';
      case '\'': return '\'';
      case '{': return '}';
      case '[': return ']';
      default: return '\0';
    }
  }

  // Appends the character after a backslash (a trailing backslash escapes nothing and is dropped, as in ASE).
  void append_escaped(std::string& word) {
    ++pos_;
    if (pos_ < text_.size()) word += text_[pos_++];
  }

  std::string read_word(bool stop_at_equals) {
    std::string word;
    while (pos_ < text_.size()) {
      const char c = text_[pos_];
      if (c == '\\') {
        append_escaped(word);
      } else if (is_space(c) || (stop_at_equals && c == '=')) {
        break;
      } else if (const char closing = closing_quote(c)) {
        const std::size_t opened_at = pos_++;
        while (pos_ < text_.size() && text_[pos_] != closing) {
          if (text_[pos_] == '\\')
            append_escaped(word);
          else
            word += text_[pos_++];
        }
        if (pos_ == text_.size())
          fail(where_, fmt::format("unterminated {} opened at column {} of the comment line; expected a closing {}", c,
                                   opened_at + 1, closing));
        ++pos_;
      } else {
        word += c;
        ++pos_;
      }
    }
    return word;
  }
};

// Writes a key or value so that both ASE and this reader get the text back: backslashes and double quotes are
// escaped, and text with spaces, quotes, brackets or '=' is double-quoted (ASE's escape(), plus backslashes,
// which ASE itself leaves unescaped and so loses).
std::string quote_if_needed(std::string_view text) {
  std::string escaped;
  bool needs_quotes = text.empty();
  for (const char c : text) {
    if (c == '\\' || c == '"') escaped += '\\';
    escaped += c;
    if (is_space(c) || std::strchr("\"'{}[]=", c) != nullptr) needs_quotes = true;
  }
  return needs_quotes ? "\"" + escaped + "\"" : escaped;
}

// ---------------------------------------------------------------------------------------------------------------
// Properties: name:type:width triplets, one per column group of the atom lines.

struct ColumnSpec {
  std::string name;
  char type = 'R';
  int width = 1;
  std::size_t first_field = 0;  // index of the column's first field on an atom line
};

std::string describe(const ColumnSpec& column) { return fmt::format("{}:{}:{}", column.name, column.type, column.width); }

std::string describe(const std::vector<ColumnSpec>& columns) {
  std::string text;
  for (const ColumnSpec& column : columns) text += (text.empty() ? "" : ":") + describe(column);
  return text;
}

// The columns nequip-md interprets, with the only type and width it accepts for each.
struct KnownColumn {
  std::string_view name;
  char type;
  int width;
};
constexpr std::array<KnownColumn, 8> kKnownColumns{{{"species", 'S', 1},
                                                     {"Z", 'I', 1},
                                                     {"pos", 'R', 3},
                                                     {"masses", 'R', 1},
                                                     {"momenta", 'R', 3},
                                                     {"velocities", 'R', 3},
                                                     {"forces", 'R', 3},
                                                     {"energies", 'R', 1}}};

std::vector<ColumnSpec> parse_properties(std::string_view text, const Location& where) {
  std::vector<std::string_view> parts;
  std::size_t start = 0;
  while (true) {
    const std::size_t colon = text.find(':', start);
    parts.push_back(text.substr(start, colon == std::string_view::npos ? std::string_view::npos : colon - start));
    if (colon == std::string_view::npos) break;
    start = colon + 1;
  }
  if (parts.size() % 3 != 0)
    fail(where, fmt::format("Properties=\"{}\" has {} ':'-separated fields; expected name:type:width triplets",
                            shorten(text), parts.size()));

  std::vector<ColumnSpec> columns;
  std::size_t next_field = 0;
  for (std::size_t k = 0; k < parts.size(); k += 3) {
    ColumnSpec column;
    column.name = std::string(parts[k]);
    if (column.name.empty()) fail(where, fmt::format("Properties has an empty column name in triplet {}", k / 3 + 1));
    if (parts[k + 1].size() != 1 || std::strchr("RILS", parts[k + 1][0]) == nullptr)
      fail(where, fmt::format("Properties column {} has type '{}'; expected R, I, L or S", column.name,
                              shorten(parts[k + 1])));
    column.type = parts[k + 1][0];
    long width = 0;
    if (!parse_integer(parts[k + 2], width) || width < 1 || width > 1000000)
      fail(where, fmt::format("Properties column {} has width '{}'; expected a positive integer", column.name,
                              shorten(parts[k + 2])));
    column.width = static_cast<int>(width);
    for (const ColumnSpec& previous : columns)
      if (previous.name == column.name)
        fail(where, fmt::format("Properties declares column {} twice; expected each name once", column.name));
    for (const KnownColumn& known : kKnownColumns)
      if (known.name == column.name && (known.type != column.type || known.width != column.width))
        fail(where, fmt::format("Properties declares {}; expected {}:{}:{}", describe(column), known.name, known.type,
                                known.width));
    column.first_field = next_field;
    next_field += column.width;
    columns.push_back(std::move(column));
  }
  return columns;
}

// ---------------------------------------------------------------------------------------------------------------
// One frame: its comment line, then its atom lines one by one, then the Frame.

class FrameParser {
 public:
  FrameParser(std::string_view comment_line, std::size_t atom_count, const Location& comment_location)
      : path_(comment_location.path), comment_line_number_(comment_location.line), atom_count_(atom_count) {
    read_comment_line(comment_line);
  }

  void read_atom_line(std::string_view line, std::size_t line_number);
  Frame finish();

 private:
  const std::string& path_;
  std::size_t comment_line_number_;
  std::size_t atom_count_;

  // From the comment line.
  std::optional<Mat3> lattice_;
  std::optional<std::array<bool, 3>> pbc_;
  std::vector<ColumnSpec> columns_;
  std::size_t fields_per_line_ = 0;
  Frame frame_;

  // From the atom lines.
  std::vector<std::string> symbols_;
  std::vector<Vec3> positions_;
  std::vector<double> masses_;
  std::vector<Vec3> momenta_;
  std::vector<Vec3> velocities_;
  std::vector<Vec3> forces_;
  std::vector<double> energies_;

  Location comment_location() const { return {path_, comment_line_number_}; }
  const ColumnSpec* find_column(std::string_view name) const {
    for (const ColumnSpec& column : columns_)
      if (column.name == name) return &column;
    return nullptr;
  }

  void read_comment_line(std::string_view line);
  std::vector<double> numbers_of(const InfoEntry& entry) const;
  Mat3 matrix_of(const InfoEntry& entry) const;
  void check_columns();
};

std::vector<double> FrameParser::numbers_of(const InfoEntry& entry) const {
  std::vector<double> numbers;
  for (const std::string_view field : split_fields(entry.value, /*commas_separate=*/true)) {
    double value = 0.0;
    if (!parse_real(field, value) || !std::isfinite(value))
      fail(comment_location(),
           fmt::format("{} has '{}', which is not a finite number; expected numbers", entry.key, shorten(field)));
    numbers.push_back(value);
  }
  return numbers;
}

// stress and virial: 9 numbers, the 3x3 matrix in column-major (Fortran) order as ASE reads and writes them
// (the same as row-major for the symmetric matrices met in practice); stress also as Voigt 6 (xx yy zz yz xz xy).
Mat3 FrameParser::matrix_of(const InfoEntry& entry) const {
  const std::vector<double> v = numbers_of(entry);
  const bool voigt_allowed = entry.key == "stress";
  const std::optional<Mat3> matrix = info_matrix(v, voigt_allowed);
  if (!matrix)
    fail(comment_location(), fmt::format("{} has {} numbers; expected 9 (a 3x3 matrix){}", entry.key, v.size(),
                                         voigt_allowed ? " or 6 (Voigt order xx yy zz yz xz xy)" : ""));
  return *matrix;
}

void FrameParser::read_comment_line(std::string_view line) {
  const Location where = comment_location();
  std::set<std::string> seen;
  std::string properties(kDefaultProperties);
  for (InfoEntry& entry : CommentLineLexer(line, where).entries()) {
    if (!seen.insert(entry.key).second)
      fail(where, fmt::format("key {} appears twice in the comment line; expected each key once", entry.key));
    const bool special = entry.key == "Lattice" || entry.key == "Properties" || entry.key == "pbc" ||
                         entry.key == "energy" || entry.key == "stress" || entry.key == "virial";
    if (special && !entry.has_value)
      fail(where, fmt::format("key {} has no value; expected {}=value", entry.key, entry.key));

    if (entry.key == "Lattice") {
      const std::vector<double> v = numbers_of(entry);
      if (v.size() != 9)
        fail(where, fmt::format("Lattice has {} numbers; expected 9 (the three lattice vectors, one after the other)",
                                v.size()));
      Mat3 rows;
      for (int i = 0; i < 3; ++i)
        for (int j = 0; j < 3; ++j) rows(i, j) = v[3 * i + j];
      lattice_ = rows;
    } else if (entry.key == "Properties") {
      properties = entry.value;
    } else if (entry.key == "pbc") {
      const std::vector<std::string_view> fields = split_fields(entry.value, /*commas_separate=*/true);
      std::vector<bool> flags;
      for (const std::string_view field : fields) {
        const std::optional<bool> flag = parse_logical(field);
        if (!flag) fail(where, fmt::format("pbc has '{}'; expected T or F", shorten(field)));
        flags.push_back(*flag);
      }
      if (flags.size() == 1)
        pbc_ = std::array<bool, 3>{flags[0], flags[0], flags[0]};
      else if (flags.size() == 3)
        pbc_ = std::array<bool, 3>{flags[0], flags[1], flags[2]};
      else
        fail(where, fmt::format("pbc has {} values; expected 3 (e.g. pbc=\"T T F\") or 1", flags.size()));
    } else if (entry.key == "energy") {
      const std::vector<double> v = numbers_of(entry);
      if (v.size() != 1) fail(where, fmt::format("energy has {} numbers; expected 1", v.size()));
      frame_.energy = v[0];
    } else if (entry.key == "stress") {
      frame_.stress = matrix_of(entry);
    } else if (entry.key == "virial") {
      frame_.virial = matrix_of(entry);
    } else {
      // ASE reads a flag without value as True.
      frame_.info.emplace_back(std::move(entry.key), entry.has_value ? std::move(entry.value) : std::string("T"));
    }
  }
  columns_ = parse_properties(properties, where);
  check_columns();
  if (!columns_.empty()) fields_per_line_ = columns_.back().first_field + columns_.back().width;
}

void FrameParser::check_columns() {
  const Location where = comment_location();
  if (!find_column("species") && !find_column("Z"))
    fail(where, fmt::format("Properties={} has no species column; expected species:S:1 (or Z:I:1)", describe(columns_)));
  if (!find_column("pos"))
    fail(where, fmt::format("Properties={} has no pos column; expected pos:R:3", describe(columns_)));
  if (find_column("momenta") && find_column("velocities"))
    fail(where, "Properties has both momenta and velocities; expected at most one of them");
  for (const ColumnSpec& column : columns_) {
    const bool known = std::any_of(kKnownColumns.begin(), kKnownColumns.end(),
                                   [&](const KnownColumn& k) { return k.name == column.name; });
    // With a species column, a Z column is kept verbatim (ASE's rule of Z taking over is not followed).
    const bool interpreted = known && !(column.name == "Z" && find_column("species"));
    if (!interpreted) frame_.extra_columns.push_back(ExtxyzColumn{column.name, column.type, column.width, {}});
  }
}

void FrameParser::read_atom_line(std::string_view line, std::size_t line_number) {
  const Location where{path_, line_number};
  const std::vector<std::string_view> fields = split_fields(line);
  if (fields.size() != fields_per_line_)
    fail(where, fmt::format("atom line has {} fields; Properties={} declares {}", fields.size(), describe(columns_),
                            fields_per_line_));

  const auto real_field = [&](const ColumnSpec& column, int component) {
    const std::string_view field = fields[column.first_field + component];
    double value = 0.0;
    if (!parse_real(field, value))
      fail(where, fmt::format("column {} (field {}) is '{}'; expected a real number", column.name,
                              column.first_field + component + 1, shorten(field)));
    if (!std::isfinite(value))
      fail(where, fmt::format("column {} (field {}) is '{}'; expected a finite number", column.name,
                              column.first_field + component + 1, shorten(field)));
    return value;
  };
  const auto vector_field = [&](const ColumnSpec& column) {
    return Vec3(real_field(column, 0), real_field(column, 1), real_field(column, 2));
  };

  std::size_t extra = 0;
  for (const ColumnSpec& column : columns_) {
    if (column.name == "species") {
      // ASE capitalises symbols ("cu" and "CU" are Cu).
      std::string symbol(fields[column.first_field]);
      for (std::size_t k = 0; k < symbol.size(); ++k)
        symbol[k] = static_cast<char>(k == 0 ? std::toupper(static_cast<unsigned char>(symbol[k]))
                                             : std::tolower(static_cast<unsigned char>(symbol[k])));
      if (!is_element_symbol(symbol))
        fail(where, fmt::format("unknown element '{}' in column species; expected a chemical symbol such as Cu",
                                shorten(fields[column.first_field])));
      symbols_.push_back(std::move(symbol));
    } else if (column.name == "Z" && !find_column("species")) {
      long number = 0;
      if (!parse_integer(fields[column.first_field], number) || number < 1 || number > 118)
        fail(where, fmt::format("column Z is '{}'; expected an atomic number from 1 to 118",
                                shorten(fields[column.first_field])));
      symbols_.emplace_back(element_by_number(static_cast<int>(number)).symbol);
    } else if (column.name == "pos") {
      positions_.push_back(vector_field(column));
    } else if (column.name == "masses") {
      const double mass = real_field(column, 0);
      if (!(mass > 0)) fail(where, fmt::format("column masses is {}; expected a positive mass (amu)", mass));
      masses_.push_back(mass);
    } else if (column.name == "momenta") {
      momenta_.push_back(vector_field(column));
    } else if (column.name == "velocities") {
      velocities_.push_back(vector_field(column));
    } else if (column.name == "forces") {
      forces_.push_back(vector_field(column));
    } else if (column.name == "energies") {
      energies_.push_back(real_field(column, 0));
    } else {
      ExtxyzColumn& kept = frame_.extra_columns[extra++];
      for (int component = 0; component < column.width; ++component) {
        const std::string_view field = fields[column.first_field + component];
        long integer = 0;
        double real = 0.0;
        const bool valid = (column.type == 'R' && parse_real(field, real)) ||
                           (column.type == 'I' && parse_integer(field, integer)) ||
                           (column.type == 'L' && parse_logical(field)) || column.type == 'S';
        if (!valid)
          fail(where, fmt::format("column {} (field {}) is '{}'; expected {}", column.name,
                                  column.first_field + component + 1, shorten(field),
                                  column.type == 'R'   ? "a real number"
                                  : column.type == 'I' ? "an integer"
                                                       : "T or F"));
        kept.values.emplace_back(field);
      }
    }
  }
}

Frame FrameParser::finish() {
  const Location where = comment_location();
  if (lattice_) {
    try {
      frame_.system.cell = Cell(*lattice_, pbc_.value_or(std::array<bool, 3>{true, true, true}));
    } catch (const InputError& error) {
      fail(where, fmt::format("Lattice: {}; expected three linearly independent, right-handed lattice vectors",
                              error.what()));
    }
  } else {
    if (pbc_ && ((*pbc_)[0] || (*pbc_)[1] || (*pbc_)[2]))
      fail(where, "pbc is periodic but there is no Lattice; expected Lattice=\"ax ay az bx by bz cx cy cz\"");
    frame_.system.cell = Cell();
  }

  System& system = frame_.system;
  for (std::size_t i = 0; i < atom_count_; ++i)
    system.add_atom(symbols_[i], positions_[i], masses_.empty() ? -1.0 : masses_[i]);
  if (!momenta_.empty()) {
    // ASE momenta are amu*A per ASE time unit.
    for (std::size_t i = 0; i < atom_count_; ++i)
      system.velocities[i] = momenta_[i] / system.masses[i] / units::ase_time_unit_fs;
    frame_.has_velocities = true;
  } else if (!velocities_.empty()) {
    system.velocities = std::move(velocities_);
    frame_.has_velocities = true;
  }
  if (find_column("forces")) frame_.forces = std::move(forces_);
  if (find_column("energies")) frame_.energies = std::move(energies_);
  return std::move(frame_);
}

// ---------------------------------------------------------------------------------------------------------------
// Stream helpers for the reader

// Reads one line without its end ("\n" or "\r\n"); false if the file has no more lines.
bool read_line(std::istream& stream, std::string& line, const std::string& path) {
  if (!std::getline(stream, line)) {
    if (stream.bad()) throw InputError(fmt::format("{}: read error ({})", path, std::strerror(errno)));
    return false;
  }
  if (!line.empty() && line.back() == '\r') line.pop_back();
  return true;
}

// Skips one line; false if the file has no more lines.
bool skip_line(std::istream& stream, const std::string& path) {
  if (stream.peek() == std::char_traits<char>::eof()) {
    if (stream.bad()) throw InputError(fmt::format("{}: read error ({})", path, std::strerror(errno)));
    return false;
  }
  stream.ignore(std::numeric_limits<std::streamsize>::max(), '\n');
  return true;
}

std::size_t parse_atom_count(std::string_view line, const Location& where) {
  long count = -1;
  if (!parse_integer(trim(line), count) || count < 0)
    fail(where, fmt::format("expected the number of atoms (a non-negative integer) on a frame's first line, found '{}'",
                            shorten(trim(line))));
  if (static_cast<double>(count) > kMostAtoms)
    fail(where, fmt::format("a frame of {} atoms; at most {:.0f} are allowed", count, kMostAtoms));
  return static_cast<std::size_t>(count);
}

// ---------------------------------------------------------------------------------------------------------------
// Writing

void check_frame_writable(const Frame& frame) {
  const std::size_t n = frame.system.size();
  const auto check = [n](std::size_t size, std::string_view what) {
    if (size != n)
      throw InputError(fmt::format("cannot write extxyz frame: {} has {} entries for {} atoms", what, size, n));
  };
  check(frame.system.species.size(), "species");
  check(frame.system.masses.size(), "masses");
  check(frame.system.velocities.size(), "velocities");
  if (frame.forces) check(frame.forces->size(), "forces");
  if (frame.energies) check(frame.energies->size(), "energies");
  for (const ExtxyzColumn& column : frame.extra_columns) {
    if (column.width < 1 || column.type == '\0' || std::strchr("RILS", column.type) == nullptr)
      throw InputError(fmt::format("cannot write extxyz column {}: type {} width {}", column.name, column.type,
                                   column.width));
    for (const std::string& value : column.values)
      if (value.empty() || std::any_of(value.begin(), value.end(), is_space))
        throw InputError(fmt::format("cannot write extxyz column {}: value '{}' is empty or has spaces", column.name,
                                     shorten(value)));
    if (column.values.size() != n * static_cast<std::size_t>(column.width))
      throw InputError(fmt::format("cannot write extxyz column {}: {} values for {} atoms of width {}", column.name,
                                   column.values.size(), n, column.width));
    for (const std::string_view reserved : {"species", "pos", "masses", "momenta", "velocities", "forces", "energies"})
      if (column.name == reserved)
        throw InputError(fmt::format("cannot write extxyz column {}: the name is reserved", column.name));
  }
}

// 3x3 matrix for stress and virial: column-major, as ASE writes (see FrameParser::matrix_of).
std::string format_matrix_column_major(const Mat3& matrix) {
  std::string text;
  for (int column = 0; column < 3; ++column)
    for (int row = 0; row < 3; ++row) text += (text.empty() ? "" : " ") + format_real(matrix(row, column));
  return text;
}

void format_frame(fmt::memory_buffer& out, const Frame& frame) {
  check_frame_writable(frame);
  const System& system = frame.system;
  const std::size_t n = system.size();
  auto it = std::back_inserter(out);

  bool masses_differ = false;
  for (std::size_t i = 0; i < n; ++i)
    if (system.masses[i] != element_by_symbol(system.symbol(i)).standard_mass_amu) masses_differ = true;

  std::vector<std::string> properties{"species:S:1", "pos:R:3"};
  if (masses_differ) properties.emplace_back("masses:R:1");
  if (frame.has_velocities) properties.emplace_back("momenta:R:3");
  if (frame.forces) properties.emplace_back("forces:R:3");
  if (frame.energies) properties.emplace_back("energies:R:1");
  for (const ExtxyzColumn& column : frame.extra_columns)
    properties.push_back(fmt::format("{}:{}:{}", column.name, column.type, column.width));

  fmt::format_to(it, "{}\n", n);
  // ASE writes Lattice only when the cell is not all zeros.
  const Mat3& lattice = system.cell.lattice();
  if (!lattice.isZero(0.0)) {
    std::string numbers;
    for (int i = 0; i < 3; ++i)
      for (int j = 0; j < 3; ++j) numbers += (numbers.empty() ? "" : " ") + format_real(lattice(i, j));
    fmt::format_to(it, "Lattice=\"{}\" ", numbers);
  }
  fmt::format_to(it, "Properties={}", fmt::join(properties, ":"));
  if (frame.energy) fmt::format_to(it, " energy={}", format_real(*frame.energy));
  if (frame.stress) fmt::format_to(it, " stress=\"{}\"", format_matrix_column_major(*frame.stress));
  if (frame.virial) fmt::format_to(it, " virial=\"{}\"", format_matrix_column_major(*frame.virial));
  for (const auto& [key, value] : frame.info) fmt::format_to(it, " {}={}", quote_if_needed(key), quote_if_needed(value));
  const auto& pbc = system.cell.pbc();
  fmt::format_to(it, " pbc=\"{} {} {}\"\n", pbc[0] ? 'T' : 'F', pbc[1] ? 'T' : 'F', pbc[2] ? 'T' : 'F');

  // Atom lines in ASE's layout (symbol left-aligned in 2, reals right-aligned in 16), at full precision.
  const auto write_real = [&](double value) { fmt::format_to(it, " {:>16}", format_real(value)); };
  const auto write_vector = [&](const Vec3& v) {
    write_real(v.x());
    write_real(v.y());
    write_real(v.z());
  };
  for (std::size_t i = 0; i < n; ++i) {
    fmt::format_to(it, "{:<2}", system.symbol(i));
    write_vector(system.positions[i]);
    if (masses_differ) write_real(system.masses[i]);
    if (frame.has_velocities) write_vector(system.velocities[i] * system.masses[i] * units::ase_time_unit_fs);
    if (frame.forces) write_vector((*frame.forces)[i]);
    if (frame.energies) write_real((*frame.energies)[i]);
    for (const ExtxyzColumn& column : frame.extra_columns) {
      for (int component = 0; component < column.width; ++component) {
        const std::string& value = column.values[i * column.width + component];
        switch (column.type) {
          case 'R': fmt::format_to(it, " {:>16}", value); break;
          case 'I': fmt::format_to(it, " {:>8}", value); break;
          case 'L': fmt::format_to(it, " {:>2}", value); break;
          default: fmt::format_to(it, " {}", value); break;
        }
      }
    }
    out.push_back('\n');
  }
}

}  // namespace

// -------------------------------------------------------------------------------------------------------------------
// Frame

const std::string* Frame::find_info(const std::string& key) const {
  for (const auto& [name, value] : info)
    if (name == key) return &value;
  return nullptr;
}

std::optional<std::vector<double>> Frame::info_numbers(const std::string& key, const std::string& where) const {
  const std::string* text = find_info(key);
  if (text == nullptr) return std::nullopt;
  std::vector<double> numbers;
  for (const std::string_view field : split_fields(*text, /*commas_separate=*/true)) {
    double value = 0.0;
    if (!parse_real(field, value))
      throw InputError(fmt::format("{}: {}: '{}' is not a number", where, key, shorten(field)));
    numbers.push_back(value);
  }
  return numbers;
}

std::optional<std::vector<Vec3>> Frame::vector_column(const std::string& name, const std::string& where) const {
  for (const ExtxyzColumn& column : extra_columns) {
    if (column.name != name) continue;
    if (column.type != 'R' || column.width != 3)
      throw InputError(fmt::format("{}: column {} is not 3 reals per atom", where, name));
    std::vector<Vec3> vectors(column.values.size() / 3);
    for (std::size_t k = 0; k < column.values.size(); ++k) {
      double value = 0.0;
      if (!parse_real(column.values[k], value))
        throw InputError(fmt::format("{}: {} value '{}' is not a number", where, name, shorten(column.values[k])));
      vectors[k / 3][static_cast<int>(k % 3)] = value;
    }
    return vectors;
  }
  return std::nullopt;
}

std::optional<Mat3> info_matrix(const std::vector<double>& v, bool voigt_allowed) {
  Mat3 matrix;
  if (v.size() == 9) {
    for (int column = 0; column < 3; ++column)
      for (int row = 0; row < 3; ++row) matrix(row, column) = v[static_cast<std::size_t>(3 * column + row)];
  } else if (v.size() == 6 && voigt_allowed) {
    matrix << v[0], v[5], v[4],  //
        v[5], v[1], v[3],        //
        v[4], v[3], v[2];
  } else {
    return std::nullopt;
  }
  return matrix;
}

// -------------------------------------------------------------------------------------------------------------------
// Reader

ExtxyzReader::ExtxyzReader(std::string path) : path_(std::move(path)) {
  require_regular_file(path_, "an extended XYZ file");
  stream_.open(path_, std::ios::in | std::ios::binary);
  if (!stream_)
    throw InputError(fmt::format("{}: cannot open for reading ({}); expected an extended XYZ file", path_,
                                 std::strerror(errno)));
}

void ExtxyzReader::index_up_to(std::size_t frame) {
  if (fully_indexed_ || frame < frame_offsets_.size()) return;

  // Resume the scan after the last frame indexed so far.
  stream_.clear();
  std::size_t line_number = 1;
  std::string line;
  if (frame_offsets_.empty()) {
    stream_.seekg(0);
  } else {
    stream_.seekg(frame_offsets_.back());
    read_line(stream_, line, path_);
    const std::size_t atoms = parse_atom_count(line, {path_, frame_lines_.back()});
    for (std::size_t k = 0; k < atoms + 1; ++k) skip_line(stream_, path_);
    line_number = frame_lines_.back() + atoms + 2;
  }

  while (frame_offsets_.size() <= frame) {
    const std::streampos offset = stream_.tellg();
    if (!read_line(stream_, line, path_)) {
      fully_indexed_ = true;
      return;
    }
    if (trim(line).empty()) {
      // Blank lines may end the file, but must not hide frames after them (ASE would stop reading there).
      std::size_t blank_line = line_number;
      while (read_line(stream_, line, path_)) {
        ++line_number;
        if (!trim(line).empty())
          fail({path_, blank_line}, fmt::format("blank line where a frame's atom count was expected, with more text at "
                                                "line {}; expected frames to follow each other without blank lines",
                                                line_number));
      }
      fully_indexed_ = true;
      return;
    }
    const std::size_t atoms = parse_atom_count(line, {path_, line_number});
    const std::size_t frame_line = line_number;
    for (std::size_t k = 0; k < atoms + 1; ++k) {
      if (!skip_line(stream_, path_)) {
        ends_inside_frame_ = true;
        if (k == 0)
          fail({path_, line_number},
               fmt::format("file ends after the atom count line; expected a comment line and {} atom lines "
                           "(truncated frame)",
                           atoms));
        fail({path_, line_number + k},
             fmt::format("file ends after {} of {} atom lines of the frame starting at line {}; expected {} "
                         "(truncated frame)",
                         k - 1, atoms, frame_line, atoms));
      }
    }
    line_number += atoms + 2;
    frame_offsets_.push_back(offset);
    frame_lines_.push_back(frame_line);
  }
}

Frame ExtxyzReader::parse_frame_at(std::size_t frame) {
  stream_.clear();
  stream_.seekg(frame_offsets_[frame]);
  const std::size_t first_line = frame_lines_[frame];
  std::string line;
  // Indexing has checked the count line and that every line of the frame is there.
  read_line(stream_, line, path_);
  const std::size_t atoms = parse_atom_count(line, {path_, first_line});
  read_line(stream_, line, path_);
  FrameParser parser(line, atoms, {path_, first_line + 1});
  for (std::size_t i = 0; i < atoms; ++i) {
    if (!read_line(stream_, line, path_))
      fail({path_, first_line + 1 + i}, "file changed while being read; expected the lines found when indexing it");
    parser.read_atom_line(line, first_line + 2 + i);
  }
  return parser.finish();
}

std::size_t ExtxyzReader::count() {
  index_up_to(std::numeric_limits<std::size_t>::max());
  return frame_offsets_.size();
}

std::size_t ExtxyzReader::count_complete_frames(bool& truncated) {
  truncated = false;
  try {
    return count();
  } catch (const InputError&) {
    if (!ends_inside_frame_) throw;
    truncated = true;
    fully_indexed_ = true;  // the frames indexed before the cut are complete
    return frame_offsets_.size();
  }
}

Frame ExtxyzReader::read(long index) {
  std::size_t frame = 0;
  if (index < 0) {
    const std::size_t frames = count();
    const std::size_t from_end = static_cast<std::size_t>(-(index + 1)) + 1;
    if (from_end > frames)
      throw InputError(fmt::format("{}: frame index {} is out of range; the file has {} frames", path_, index, frames));
    frame = frames - from_end;
  } else {
    frame = static_cast<std::size_t>(index);
    index_up_to(frame);
    if (frame >= frame_offsets_.size())
      throw InputError(fmt::format("{}: frame index {} is out of range; the file has {} frames", path_, index,
                                   frame_offsets_.size()));
  }
  return parse_frame_at(frame);
}

std::optional<Frame> ExtxyzReader::next() {
  // The sequential reader has consumed lines up to line_number_, and every frame it has read was indexed first:
  // its next frame is the first indexed frame starting after that line, or the next one to index.
  const std::size_t frame = static_cast<std::size_t>(
      std::upper_bound(frame_lines_.begin(), frame_lines_.end(), line_number_) - frame_lines_.begin());
  index_up_to(frame);
  if (frame >= frame_offsets_.size()) return std::nullopt;
  Frame result = parse_frame_at(frame);
  line_number_ = frame_lines_[frame] + 1 + result.system.size();
  return result;
}

std::vector<Frame> read_extxyz(const std::string& path) {
  ExtxyzReader reader(path);
  std::vector<Frame> frames;
  while (std::optional<Frame> frame = reader.next()) frames.push_back(std::move(*frame));
  return frames;
}

// -------------------------------------------------------------------------------------------------------------------
// Writer

void write_extxyz_frame(std::FILE* file, const Frame& frame) {
  fmt::memory_buffer buffer;
  format_frame(buffer, frame);
  if (std::fwrite(buffer.data(), 1, buffer.size(), file) != buffer.size())
    throw InputError(fmt::format("cannot write extxyz frame ({})", std::strerror(errno)));
}

ExtxyzWriter::ExtxyzWriter(const std::string& path, bool append) : path_(path) {
  file_ = std::fopen(path_.c_str(), append ? "a" : "w");
  if (file_ == nullptr)
    throw InputError(fmt::format("{}: cannot open for writing ({})", path_, std::strerror(errno)));
}

ExtxyzWriter::~ExtxyzWriter() {
  if (file_ != nullptr) std::fclose(file_);
}

void ExtxyzWriter::write(const Frame& frame) {
  fmt::memory_buffer buffer;
  format_frame(buffer, frame);
  if (std::fwrite(buffer.data(), 1, buffer.size(), file_) != buffer.size())
    throw InputError(fmt::format("{}: write error ({})", path_, std::strerror(errno)));
}

void ExtxyzWriter::flush() {
  if (std::fflush(file_) != 0 || std::ferror(file_) != 0)
    throw InputError(fmt::format("{}: write error ({})", path_, std::strerror(errno)));
}

}  // namespace nqmd
