#include "potential/lennard_jones.hpp"

#include <cmath>

namespace nqmd {

std::string LennardJonesForm::doc() {
  return "Lennard-Jones 12-6, E = 4 eps [(sigma/r)^12 - (sigma/r)^6], Lorentz-Berthelot mixing for cross pairs.";
}

const std::vector<PairParameterSpec>& LennardJonesForm::parameter_specs() {
  static const std::vector<PairParameterSpec> specs{{"epsilon", "well depth", "eV", MixingRule::geometric},
                                                    {"sigma", "distance where E = 0", "A", MixingRule::arithmetic}};
  return specs;
}

LennardJonesForm::Coefficients LennardJonesForm::coefficients(const std::vector<double>& epsilon_sigma) {
  const double epsilon = epsilon_sigma[0];
  const double sigma6 = std::pow(epsilon_sigma[1], 6);
  Coefficients c;
  c.c12 = 4.0 * epsilon * sigma6 * sigma6;
  c.c6 = 4.0 * epsilon * sigma6;
  return c;
}

template class PairPotential<LennardJonesForm>;

namespace {
const bool registered =
    PotentialRegistry::instance().add({"lj", LennardJones::schema(), create_pair_potential<LennardJonesForm>});
}  // namespace

}  // namespace nqmd
