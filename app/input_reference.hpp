#pragma once
#include <string>

namespace nqmd {

// docs/input-reference.md, generated from the schemas of every section and registered style, so that the
// reference always lists exactly the keys the parser accepts (`nequip-md input-reference` prints it).
// With `section` (e.g. "integrator"), only the sections of that name in input.toml, analysis.toml and
// train.toml (InputError listing the names if there is none).
std::string input_reference_markdown(const std::string& section = "");

// A commented input.toml that runs as it is (`nequip-md input-reference --template`): an argon crystal with the
// Lennard-Jones potential, every other key of every section commented out with its default and meaning.
std::string input_template();

}  // namespace nqmd
