// libFuzzer target: input.toml of `nequip-md run`, from the TOML parser through the validation of every
// section against its schema (and the schema of the style its `kind` names), every typed accessor of every key,
// and the construction of the potential, integrator, watchdog limits, initial velocities, a built-in lattice of
// any size the input asks for, and its neighbour list, exactly as run_simulation does before its first step.
// What a parsed input asks to allocate is checked against a memory budget of 64 MB (engine/memory_budget.hpp)
// before it is allocated, so an input that would exhaust memory is refused, not run: scripts/fuzz.sh runs this
// target with -rss_limit_mb=2048, and going past it is a finding. InputError is the expected refusal; anything
// else is a finding.
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "app/run_command.hpp"
#include "engine/config.hpp"
#include "engine/error.hpp"
#include "engine/memory_budget.hpp"
#include "engine/neighbor_list.hpp"
#include "engine/structure.hpp"
#include "engine/watchdog.hpp"
#include "fuzz_support.hpp"
#include "integrators/initial_velocities.hpp"
#include "integrators/integrator.hpp"
#include "integrators/minimizer.hpp"
#include "potential/potential.hpp"

namespace {

// Calls the typed accessor of every key of the schema (absent keys give their defaults or an InputError).
void read_every_key(const nqmd::ConfigSection& section, const nqmd::SectionSchema& schema) {
  for (const nqmd::KeySpec& key : schema.keys) {
    try {
      (void)section.has(key.name);
      (void)section.where(key.name);
      switch (key.type) {
        case nqmd::KeyType::real: (void)section.real(key.name); break;
        case nqmd::KeyType::integer: (void)section.integer(key.name); break;
        case nqmd::KeyType::boolean: (void)section.boolean(key.name); break;
        case nqmd::KeyType::string:
          (void)section.string(key.name);
          (void)section.path(key.name);
          break;
        case nqmd::KeyType::real_array: (void)section.real_array(key.name); break;
        case nqmd::KeyType::integer_array: (void)section.integer_array(key.name); break;
        case nqmd::KeyType::string_array: (void)section.string_array(key.name); break;
        case nqmd::KeyType::boolean_array: (void)section.boolean_array(key.name); break;
        case nqmd::KeyType::real_table: (void)section.real_table(key.name); break;
        case nqmd::KeyType::string_table: (void)section.string_table(key.name); break;
      }
    } catch (const nqmd::InputError&) {
    }
  }
}

// A small periodic argon system for the potential's constructor and the initial velocities.
nqmd::Frame small_frame() {
  nqmd::Frame frame;
  nqmd::System& system = frame.system;
  system.species_symbols = {"Ar"};
  system.species = {0, 0};
  system.masses = {39.948, 39.948};
  system.positions = {nqmd::Vec3(1.0, 1.0, 1.0), nqmd::Vec3(3.0, 1.0, 1.0)};
  system.velocities = {nqmd::Vec3::Zero(), nqmd::Vec3::Zero()};
  system.images = {nqmd::Vec3i::Zero(), nqmd::Vec3i::Zero()};
  system.cell = nqmd::Cell(nqmd::Mat3::Identity() * 10.0, {true, true, true});
  return frame;
}

// Built-in lattices only: a file or checkpoint path in fuzzed input could name any file.
bool lattice_only(const nqmd::ConfigSection& structure) {
  return structure.has("lattice") && !structure.has("file") && !structure.has("checkpoint");
}

void check_input(const std::string& path) {
  const nqmd::InputFile input(path);
  std::vector<std::string> known;
  const std::vector<nqmd::InputSection> sections = nqmd::run_input_sections();
  for (const nqmd::InputSection& section : sections) known.push_back(section.common->name);
  input.check_sections(known);
  for (const nqmd::InputSection& section : sections) {
    try {
      if (section.styles.empty()) {
        read_every_key(input.section(*section.common), *section.common);
        continue;
      }
      std::vector<std::string> kinds;
      for (const auto& style : section.styles) kinds.push_back(style.first);
      const std::string kind = input.kind_of(section.common->name, kinds);
      for (const auto& style : section.styles) {
        if (style.first != kind) continue;
        const nqmd::SectionSchema merged = section.common->merged_with(*style.second);
        read_every_key(input.section(merged), merged);
      }
    } catch (const nqmd::InputError&) {
    }
  }
  nqmd::Frame frame = small_frame();
  double cutoff = 0.0;
  try {
    cutoff = nqmd::PotentialRegistry::instance().create(input, nqmd::potential_section_schema(), frame.system)->cutoff();
  } catch (const nqmd::InputError&) {
  }
  bool conserves_momentum = true;
  try {
    conserves_momentum =
        nqmd::IntegratorRegistry::instance().create(input, nqmd::integrator_section_schema())->conserves_momentum();
  } catch (const nqmd::InputError&) {
  }
  try {
    (void)nqmd::watchdog_limits(input.section(nqmd::watchdog_section_schema()));
  } catch (const nqmd::InputError&) {
  }
  try {
    const nqmd::ConfigSection minimize = input.section(nqmd::minimize_section_schema());
    (void)nqmd::minimize_settings(minimize);
    (void)nqmd::create_minimizer(minimize);
  } catch (const nqmd::InputError&) {
  }
  try {
    nqmd::initialize_velocities(input.section(nqmd::velocities_section_schema()), frame.system, frame.has_velocities,
                                conserves_momentum);
  } catch (const nqmd::InputError&) {
  }
  try {
    const nqmd::ConfigSection structure = input.section(nqmd::structure_section_schema());
    if (lattice_only(structure)) {
      const nqmd::Frame built = nqmd::load_structure(structure);
      nqmd::NeighborList neighbors(cutoff, input.section(nqmd::neighbor_section_schema()).real("skin"));
      neighbors.build(built.system);
    }
  } catch (const nqmd::InputError&) {
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  nqmd::set_memory_budget_bytes(64e6);
  const std::string path = nqmd::fuzz::write_input("input.toml", data, size);
  try {
    check_input(path);
  } catch (const nqmd::InputError&) {
  }
  return 0;
}
