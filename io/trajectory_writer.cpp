#include "io/trajectory_writer.hpp"

#include <algorithm>
#include <stdexcept>

#include <fmt/format.h>

namespace nqmd {
namespace {

bool ends_with(const std::string& text, const std::string& suffix) {
  return text.size() >= suffix.size() && text.compare(text.size() - suffix.size(), suffix.size(), suffix) == 0;
}

}  // namespace

InputError existing_trajectory_error(const std::string& path) {
  return InputError(fmt::format("{}: already exists; refusing to overwrite it (remove it, allow overwriting, or "
                                "restart from a checkpoint to append)",
                                path));
}

TrajectoryFormatRegistry& TrajectoryFormatRegistry::instance() {
  static TrajectoryFormatRegistry registry;
  return registry;
}

bool TrajectoryFormatRegistry::add(TrajectoryFormat format) {
  for (const TrajectoryFormat& known : formats_)
    if (known.name == format.name) throw std::logic_error(fmt::format("trajectory format '{}' registered twice", format.name));
  // Kept in name order, so that listings do not depend on the order of static initialisation.
  const auto at = std::find_if(formats_.begin(), formats_.end(),
                               [&](const TrajectoryFormat& known) { return format.name < known.name; });
  formats_.insert(at, std::move(format));
  return true;
}

const TrajectoryFormat* TrajectoryFormatRegistry::for_path(const std::string& path) const {
  for (const TrajectoryFormat& format : formats_)
    for (const std::string& ending : format.endings)
      if (ends_with(path, ending)) return &format;
  return nullptr;
}

std::string TrajectoryFormatRegistry::endings_text() const {
  std::vector<std::string> endings;
  for (const TrajectoryFormat& format : formats_) endings.insert(endings.end(), format.endings.begin(), format.endings.end());
  std::string text;
  for (std::size_t k = 0; k < endings.size(); ++k)
    text += (k == 0 ? "" : k + 1 == endings.size() ? " or " : ", ") + endings[k];
  return text;
}

}  // namespace nqmd
