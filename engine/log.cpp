#include "engine/log.hpp"

namespace nqmd::log {
namespace {
Level current_level = Level::normal;
}
Level level() { return current_level; }
void set_level(Level new_level) { current_level = new_level; }
}  // namespace nqmd::log
