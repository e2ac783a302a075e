#include "potential/morse.hpp"

namespace nqmd {

std::string MorseForm::doc() {
  return "Morse, E = D0 [exp(-2 alpha (r - r0)) - 2 exp(-alpha (r - r0))]; cross pairs: geometric D0, "
         "arithmetic alpha and r0.";
}

const std::vector<PairParameterSpec>& MorseForm::parameter_specs() {
  static const std::vector<PairParameterSpec> specs{{"d0", "well depth D0", "eV", MixingRule::geometric},
                                                    {"alpha", "width parameter alpha", "1/A", MixingRule::arithmetic},
                                                    {"r0", "equilibrium distance r0", "A", MixingRule::arithmetic}};
  return specs;
}

MorseForm::Coefficients MorseForm::coefficients(const std::vector<double>& d0_alpha_r0) {
  Coefficients c;
  c.d0 = d0_alpha_r0[0];
  c.alpha = d0_alpha_r0[1];
  c.r0 = d0_alpha_r0[2];
  return c;
}

template class PairPotential<MorseForm>;

namespace {
const bool registered = PotentialRegistry::instance().add({"morse", Morse::schema(), create_pair_potential<MorseForm>});
}  // namespace

}  // namespace nqmd
