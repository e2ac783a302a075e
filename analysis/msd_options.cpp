#include "analysis/msd_options.hpp"

#include <fmt/format.h>

namespace nqmd::analysis {

std::vector<KeySpec> diffusion_fit_keys() {
  return {KeySpec("fit_start_ps", KeyType::real,
                  "start of the MSD fit window (lag time, ps); with fit_end_ps both 0: automatic, 10% to 50% of the "
                  "data fitted")
              .at_least(0.0)
              .defaults_to(0.0),
          KeySpec("fit_end_ps", KeyType::real, "end of the MSD fit window (lag time, ps); 0: automatic")
              .at_least(0.0)
              .defaults_to(0.0),
          KeySpec("error_method", KeyType::string,
                  "error bar of the tracer D: spread of the atoms' own fits, or of fits in consecutive time blocks. "
                  "D +- error is a 68.3% interval: the standard error of the n fits times Student's t factor for "
                  "n - 1 degrees of freedom (1.02 for 32 atoms, 1.14 for 5 blocks)")
              .one_of({"atoms", "time_blocks"})
              .defaults_to("atoms"),
          KeySpec("blocks", KeyType::integer,
                  "time blocks for error_method = \"time_blocks\" and the collective D. Few blocks give an error bar "
                  "that is itself uncertain (5 blocks: 4 degrees of freedom): the t factor and the [arrhenius] fit "
                  "allow for it, but the bars are wider and the chi^2 test weaker than with more blocks; use 10 or "
                  "more when each block is still long enough for the fit window")
              .at_least(2)
              .at_most(1e6)
              .defaults_to(std::int64_t{5}),
          KeySpec("remove_drift", KeyType::boolean,
                  "subtract the centre-of-mass displacement of the whole system from every atom")
              .defaults_to(false)};
}

DiffusionAnalysisOptions read_diffusion_options(const ConfigSection& section) {
  DiffusionAnalysisOptions options;
  options.msd.remove_drift = section.boolean("remove_drift");
  const double start = section.real("fit_start_ps");
  const double end = section.real("fit_end_ps");
  if (end == 0.0 && start > 0.0) section.fail("fit_end_ps", "is needed with fit_start_ps (or leave both out: automatic)");
  if (end > 0.0 && end <= start)
    section.fail("fit_end_ps", fmt::format("must be after fit_start_ps = {} ps (got {} ps)", start, end));
  options.fit.fit_start_fs = start * 1000.0;
  options.fit.fit_end_fs = end * 1000.0;
  options.fit.error_method =
      section.string("error_method") == "time_blocks" ? DiffusionErrorMethod::time_blocks : DiffusionErrorMethod::atoms;
  options.fit.blocks = static_cast<std::size_t>(section.integer("blocks"));
  return options;
}

}  // namespace nqmd::analysis
