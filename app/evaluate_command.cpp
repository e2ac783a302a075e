#include "app/evaluate_command.hpp"

#include <filesystem>
#include <map>
#include <memory>
#include <optional>
#include <vector>

#include <fmt/format.h>

#include "engine/error.hpp"
#include "engine/log.hpp"
#include "engine/neighbor_list.hpp"
#include "io/atomic_file.hpp"
#include "io/extxyz.hpp"
#include "io/output_files.hpp"
#include "potential/nequip/training/error_sums.hpp"
#ifdef NQMD_HAVE_NEQUIP
#include "potential/nequip/nequip_potential.hpp"
#endif

namespace nqmd {
#ifdef NQMD_HAVE_NEQUIP
namespace {

// Sets info key `key` of `frame` to `value` (replacing it if present, else appended).
void set_info(Frame& frame, const std::string& key, const std::string& value) {
  for (auto& [name, text] : frame.info)
    if (name == key) {
      text = value;
      return;
    }
  frame.info.emplace_back(key, value);
}

using nequip::ErrorSums;

void print_row(const std::string& name, const ErrorSums& sums, double to_unit, const std::string& unit,
               const std::string& counted) {
  log::result("{:<16} {:>16.9e} {:>16.9e}  {:<9} {} {}\n", name, sums.mae() * to_unit, sums.rmse() * to_unit, unit,
             sums.count, counted);
}

}  // namespace
#endif

void evaluate_frames(const EvaluateRequest& request) {
#ifndef NQMD_HAVE_NEQUIP
  (void)request;
  throw InputError("evaluate: this nequip-md was built without NequIP (libtorch)");
#else
  const ModelArguments& model = request.model_arguments;
  if (!request.output.empty()) {
    std::vector<NamedFile> inputs{{"--model", model.model}, {"--data", request.data}};
    for (const std::string& path : model.training_data) inputs.push_back({"--training-data", path});
    check_output_files({{"--output", request.output}}, inputs);
    if (!request.force && std::filesystem::exists(request.output))
      throw InputError(fmt::format("--output {} already exists; choose another name or pass --force to replace it",
                                   request.output));
  }
  const std::unique_ptr<nequip::NequipPotential> loaded = load_nequip_model(model, "evaluate");
  nequip::NequipPotential& potential = *loaded;
  const bool has_domain = !potential.training_domain().empty();

  ExtxyzReader reader(request.data);
  std::unique_ptr<ExtxyzWriter> writer;
  NeighborList neighbors(potential.cutoff(), 0.0, NeighborListKind::full);
  ForceResult result;
  ErrorSums energy_errors, force_errors, stress_errors;
  std::map<std::string, ErrorSums> species_force_errors;
  std::size_t frames = 0, atoms = 0, frames_outside = 0, atoms_outside = 0;
  std::optional<ExtrapolationEvent> deepest_outside;
  std::string deepest_outside_text;
  auto evaluate_all = [&] {
    while (std::optional<Frame> frame = reader.next()) {
      const System& system = frame->system;
      potential.check_system(system);
      neighbors.build(system);
      potential.compute(system, neighbors, result);
      atoms += system.size();
      if (!result.extrapolation.empty()) {
        ++frames_outside;
        atoms_outside += result.extrapolation.size();
        for (const ExtrapolationEvent& event : result.extrapolation)
          if (!deepest_outside || event.depth() > deepest_outside->depth()) {
            deepest_outside = event;
            deepest_outside_text = fmt::format("frame {}: {}", frames, describe_extrapolation(event, system));
          }
      }
      const bool has_stress = system.cell.any_periodic() && system.cell.volume() > 0;
      const Mat3 stress = has_stress ? Mat3(-result.virial / system.cell.volume()) : Mat3::Zero();

      if (frame->energy && system.size() > 0) energy_errors.add((result.energy - *frame->energy) / system.size());
      if (frame->forces && frame->forces->size() == system.size()) {
        for (std::size_t i = 0; i < system.size(); ++i)
          for (int d = 0; d < 3; ++d) {
            const double difference = result.forces[i][d] - (*frame->forces)[i][d];
            force_errors.add(difference);
            species_force_errors[system.symbol(i)].add(difference);
          }
      }
      if (frame->stress && has_stress)
        for (int a = 0; a < 3; ++a)
          for (int b = 0; b < 3; ++b) stress_errors.add(stress(a, b) - (*frame->stress)(a, b));

      if (writer) {
        if (has_domain) set_info(*frame, "outside_training_domain", std::to_string(result.extrapolation.size()));
        frame->energy = result.energy;
        frame->forces = result.forces;
        frame->energies = result.atom_energies;
        frame->virial = result.virial;
        if (has_stress) {
          frame->stress = stress;
        } else {
          frame->stress.reset();
        }
        writer->write(*frame);
      }
      ++frames;
    }
    if (frames == 0) throw InputError(fmt::format("{}: no frames (expected extxyz frames to evaluate)", request.data));
    if (writer) writer->flush();
  };
  if (request.output.empty()) {
    evaluate_all();
  } else {
    replace_file_atomically(request.output, [&](const std::string& temporary) {
      writer = std::make_unique<ExtxyzWriter>(temporary);
      evaluate_all();
      writer.reset();  // closed before it is renamed into place
    });
  }

  log::result("evaluated {} frames ({} atoms) with NequIP model '{}' (backend {}, {})\n", frames, atoms, model.model,
             nequip::name(potential.backend()), nequip::name(potential.dtype()));
  if (!request.output.empty()) log::result("results written to {}\n", request.output);
  if (has_domain) {
    log::result("{}\n", potential.training_domain());
    if (frames_outside == 0) {
      log::result("training domain: every atom of the {} frames is within it\n", frames);
    } else {
      log::result("training domain: {} of {} frames have atoms closer than the closest such pair in the training data "
                 "({} atoms in all); the deepest: {}\n",
                 frames_outside, frames, atoms_outside, deepest_outside_text);
    }
  }
  if (energy_errors.count == 0 && force_errors.count == 0 && stress_errors.count == 0) {
    log::result("no labels (energy, forces, stress) in {}: nothing to score\n", request.data);
    return;
  }
  log::result("{:<16} {:>16} {:>16}  {:<9} {}\n", "quantity", "MAE", "RMSE", "unit", "count");
  if (energy_errors.count) print_row("energy", energy_errors, 1e3, "meV/atom", "frames");
  if (force_errors.count) {
    print_row("forces", force_errors, 1e3, "meV/A", "components");
    for (const auto& [symbol, sums] : species_force_errors)
      print_row("forces[" + symbol + "]", sums, 1e3, "meV/A", "components");
  }
  if (stress_errors.count) print_row("stress", stress_errors, 1e3, "meV/A^3", "components");
#endif
}

}  // namespace nqmd
