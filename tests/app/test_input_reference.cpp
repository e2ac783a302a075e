#include <fstream>
#include <sstream>

#include <catch2/catch.hpp>

#include "app/input_reference.hpp"
#include "app/run_command.hpp"
#include "test_paths.hpp"

namespace {
std::string read_text(const std::string& path) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}
}  // namespace

TEST_CASE("docs/input-reference.md documents every key the parser accepts", "[app][docs]") {
  const std::string committed = read_text(nqmd::test::source_path("docs/input-reference.md"));
  REQUIRE_FALSE(committed.empty());
  // Every section, style and key appears in the committed reference, under its own heading.
  std::size_t keys = 0;
  for (const nqmd::InputSection& section : nqmd::run_input_sections()) {
    const std::size_t heading = committed.find("\n## [" + section.common->name + "]\n");
    INFO("section [" << section.common->name << "]");
    REQUIRE(heading != std::string::npos);
    for (const nqmd::KeySpec& key : section.common->keys) {
      INFO("key " << key.name);
      CHECK(committed.find("| `" + key.name + "` |", heading) != std::string::npos);
      ++keys;
    }
    for (const auto& [kind, schema] : section.styles) {
      const std::size_t style_heading =
          committed.find("\n### [" + section.common->name + "] kind = \"" + kind + "\"\n", heading);
      INFO("style " << kind);
      REQUIRE(style_heading != std::string::npos);
      for (const nqmd::KeySpec& key : schema->keys) {
        INFO("key " << key.name);
        CHECK(committed.find("| `" + key.name + "` |", style_heading) != std::string::npos);
        ++keys;
      }
    }
  }
  CHECK(keys > 20);
  // And the file is exactly what the generator prints, so no key is stale either.
  // Regenerate with: build/app/nequip-md input-reference > docs/input-reference.md
  CHECK(committed == nqmd::input_reference_markdown());
}
