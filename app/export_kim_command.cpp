#include "app/export_kim_command.hpp"

#include <spawn.h>
#include <sys/wait.h>

#include <cctype>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <vector>

#include <fmt/format.h>

#include "app/model_arguments.hpp"
#include "engine/error.hpp"
#include "engine/log.hpp"
#include "engine/periodic_table.hpp"
#ifdef NQMD_HAVE_NEQUIP
#include "potential/nequip/nequip_model.hpp"
#include "potential/nequip/nequip_potential.hpp"
#endif

extern char** environ;

namespace nqmd {
namespace {

namespace fs = std::filesystem;

// The driver item's name and the create routine that kim/nequip_kim_driver.cpp exports.
constexpr const char* kDriverName = "nequip_md_driver";
constexpr const char* kCreateRoutine = "nqmd_kim_driver_create";
constexpr const char* kDriverLibrary = "libnequip-md-kim-driver.so";

bool is_c_identifier(const std::string& name) {
  if (name.empty() || std::isdigit(static_cast<unsigned char>(name[0]))) return false;
  for (char c : name)
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '_') return false;
  return true;
}

// The driver library of this build (NQMD_KIM_DRIVER_LIBRARY in the environment overrides it).
fs::path driver_library() {
  if (const char* path = std::getenv("NQMD_KIM_DRIVER_LIBRARY"); path != nullptr && *path != '\0') return path;
#ifdef NQMD_KIM_DRIVER_LIBRARY
  return NQMD_KIM_DRIVER_LIBRARY;
#else
  throw InputError("export-kim: this nequip-md was built without the KIM model driver (kim-api was not found when "
                   "it was configured: install libkim-api-dev and configure again, or set NQMD_KIM_DRIVER_LIBRARY)");
#endif
}

void write_file(const fs::path& path, const std::string& text) {
  std::ofstream out(path);
  out << text;
  out.close();
  if (!out) throw InputError(fmt::format("--output: cannot write {}", path.string()));
}

// The common head of an item's CMakeLists.txt (kim-api's documented item layout, kim-api-items-macros.cmake).
std::string cmake_head(const std::string& item_type, const std::string& name) {
  return fmt::format(
      "cmake_minimum_required(VERSION 3.10)\n"
      "list(APPEND CMAKE_PREFIX_PATH $ENV{{KIM_API_CMAKE_PREFIX_DIR}})\n"
      "find_package(KIM-API-ITEMS 2.2 REQUIRED CONFIG)\n"
      "kim_api_items_setup_before_project(ITEM_TYPE \"{0}\")\n"
      "project({1})\n"
      "kim_api_items_setup_after_project(ITEM_TYPE \"{0}\")\n",
      item_type, name);
}

// The driver item: kim-api's wrapper (item-wrapper.cpp, compiled by the macro) linked to the driver library,
// which is installed beside it and found through RUNPATH $ORIGIN.
std::string driver_cmake() {
  return "# Written by `nequip-md export-kim`: the nequip-md KIM model driver (docs/lammps.md), a wrapper around\n"
         "# " + std::string(kDriverLibrary) + " built by nequip-md. Install with\n"
         "#   kim-api-collections-management install --force user THIS_DIRECTORY\n" +
         cmake_head("modelDriver", kDriverName) +
         fmt::format("add_kim_api_model_driver_library(NAME ${{PROJECT_NAME}} CREATE_ROUTINE_NAME \"{}\"\n"
                     "                                 CREATE_ROUTINE_LANGUAGE \"cpp\")\n",
                     kCreateRoutine) +
         fmt::format("target_link_libraries(${{PROJECT_NAME}} PRIVATE \"${{CMAKE_CURRENT_SOURCE_DIR}}/{0}\")\n"
                     "set_target_properties(${{PROJECT_NAME}} PROPERTIES\n"
                     "                      BUILD_RPATH \"${{CMAKE_CURRENT_SOURCE_DIR}}\" INSTALL_RPATH \"$ORIGIN\")\n"
                     "# The collection's directory of this driver, as kim-api's macros compute it for the wrapper.\n"
                     "_determine_collection_install_prefix_and_output_name(\"modelDriver\")\n"
                     "install(FILES \"{0}\" DESTINATION \"${{ITEM_INSTALL_PREFIX}}/${{PROJECT_NAME}}\")\n",
                     kDriverLibrary);
}

std::string model_cmake(const std::string& name, const std::string& parameter_file,
                        const std::vector<std::string>& species) {
  return fmt::format("# Written by `nequip-md export-kim`: the NequIP model {} as a KIM portable model of the\n"
                     "# nequip-md driver (species {}, metal units). Install with\n"
                     "#   kim-api-collections-management install user THIS_DIRECTORY\n",
                     parameter_file, fmt::join(species, " ")) +
         cmake_head("portableModel", name) +
         fmt::format("add_kim_api_model_library(NAME ${{PROJECT_NAME}} DRIVER_NAME \"{}\" PARAMETER_FILES \"{}\")\n",
                     kDriverName, parameter_file);
}

// Runs `arguments` (found on PATH) with this process's output; its exit code, or -1 if it could not start.
int run_program(std::vector<std::string> arguments) {
  std::vector<char*> argv;
  for (std::string& argument : arguments) argv.push_back(argument.data());
  argv.push_back(nullptr);
  std::fflush(stdout);
  std::fflush(stderr);
  pid_t pid = 0;
  if (posix_spawnp(&pid, argv[0], nullptr, nullptr, argv.data(), environ) != 0) return -1;
  int status = 0;
  if (waitpid(pid, &status, 0) < 0) return -1;
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + (WIFSIGNALED(status) ? WTERMSIG(status) : 0);
}

}  // namespace

void export_kim(const ExportKimRequest& request) {
#ifndef NQMD_HAVE_NEQUIP
  (void)request;
  throw InputError("export-kim: this nequip-md was built without NequIP (libtorch)");
#else
  if (!is_c_identifier(request.name))
    throw InputError(fmt::format("--name '{}': expected a KIM item name, a C identifier (letters, digits, _; not "
                                 "starting with a digit)",
                                 request.name));
  if (request.name == kDriverName)
    throw InputError(fmt::format("--name '{}': that is the driver's name; choose another", request.name));
  const fs::path output(request.output);
  std::error_code ec;
  if (fs::exists(output, ec) && !(fs::is_directory(output, ec) && fs::is_empty(output, ec)))
    throw InputError(fmt::format("--output {}: exists and is not an empty directory; expected a new directory",
                                 request.output));
  ModelArguments arguments;
  arguments.model = request.model;
  const std::unique_ptr<nequip::NequipPotential> model = load_nequip_model(arguments, "export-kim");
  const std::vector<std::string>& species = model->type_names();
  for (const std::string& type : species)
    if (!is_element_symbol(type))
      throw InputError(fmt::format("--model {}: type name '{}' is not a chemical symbol; KIM models name their "
                                   "species by element",
                                   request.model, type));
  const fs::path library = driver_library();
  if (!fs::is_regular_file(library, ec))
    throw InputError(fmt::format("export-kim: the KIM driver library {} does not exist (build the target "
                                 "nqmd_kim_driver, or set NQMD_KIM_DRIVER_LIBRARY)",
                                 library.string()));

  // The driver tells the two kinds apart by content; the ending is for people.
  const std::string parameter_file =
      std::string("nequip_model") + (nequip::NequipModel::is_native_file(request.model) ? ".npz" : ".pth");
  fs::create_directories(output / "driver", ec);
  if (ec) throw InputError(fmt::format("--output {}: cannot create the directory ({})", request.output, ec.message()));
  fs::copy_file(request.model, output / parameter_file, fs::copy_options::overwrite_existing, ec);
  if (ec) throw InputError(fmt::format("--output {}: cannot copy the model ({})", request.output, ec.message()));
  write_file(output / "CMakeLists.txt", model_cmake(request.name, parameter_file, species));
  fs::copy_file(library, output / "driver" / kDriverLibrary, fs::copy_options::overwrite_existing, ec);
  if (ec)
    throw InputError(
        fmt::format("--output {}: cannot copy {} ({})", request.output, library.string(), ec.message()));
  write_file(output / "driver" / "CMakeLists.txt", driver_cmake());
  log::info("export-kim: KIM portable model {} (species {}, r_max {} A) written to {}\n", request.name,
            fmt::join(species, " "), model->cutoff(), request.output);

  if (request.install_driver) {
    const std::string driver_dir = fs::absolute(output / "driver").string();
    log::info("export-kim: installing the driver {}: kim-api-collections-management install --force user {}\n",
              kDriverName, driver_dir);
    const int status = run_program({"kim-api-collections-management", "install", "--force", "user", driver_dir});
    if (status != 0)
      throw InputError(fmt::format(
          "export-kim: `kim-api-collections-management install --force user {}` {} (Debian: libkim-api-dev)",
          driver_dir,
          status < 0 ? "could not be started" : fmt::format("failed (exit {}; its output is above)", status)));
  }
  log::result("next: kim-api-collections-management install user {}\n"
              "then in LAMMPS: kim init {} metal ... kim interactions {}\n",
              fs::absolute(output).string(), request.name, fmt::join(species, " "));
#endif
}

}  // namespace nqmd
