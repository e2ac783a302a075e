#pragma once
// Styles registered by name, as LAMMPS styles are: a potential, integrator or analysis is one class plus one
// registration in its own .cpp file, e.g.
//   const bool registered = PotentialRegistry::instance().add({"lj", schema, factory});
// The libraries are linked whole (see CMakeLists.txt), so every registration runs before main().
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include <fmt/format.h>

#include "engine/config.hpp"
#include "engine/error.hpp"

namespace nqmd {

template <typename Interface, typename... Args>
class StyleRegistry {
 public:
  using Factory = std::function<std::unique_ptr<Interface>(const ConfigSection&, Args...)>;
  struct Style {
    std::string name;
    SectionSchema schema;  // the style's own keys in its section (besides the section's common keys)
    Factory create;
  };

  static StyleRegistry& instance() {
    static StyleRegistry registry;
    return registry;
  }

  bool add(Style style) {
    if (find(style.name) != nullptr) throw std::logic_error(fmt::format("style '{}' registered twice", style.name));
    styles_.push_back(std::move(style));
    return true;
  }
  const Style* find(const std::string& name) const {
    for (const Style& style : styles_)
      if (style.name == name) return &style;
    return nullptr;
  }
  std::vector<std::string> names() const {
    std::vector<std::string> result;
    for (const Style& style : styles_) result.push_back(style.name);
    return result;
  }
  const std::vector<Style>& styles() const { return styles_; }

  // Builds the style named by `kind` in `common.name`'s section of the input, validating the section against
  // the common keys plus the style's keys.
  std::unique_ptr<Interface> create(const InputFile& input, const SectionSchema& common, Args... args) const {
    const Style* style = find(input.kind_of(common.name, names()));
    const ConfigSection section = input.section(common.merged_with(style->schema));
    return style->create(section, args...);
  }

 private:
  std::vector<Style> styles_;
};

}  // namespace nqmd
