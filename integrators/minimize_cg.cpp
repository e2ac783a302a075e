// [minimize] algorithm = "cg": nonlinear conjugate gradients, Polak-Ribiere with beta = max(0, beta_PR) (PR+,
// Nocedal & Wright, Numerical Optimization, 2nd ed., eq. 5.45), restarting along the force whenever the direction is
// not downhill. The line search starts from the previous step scaled by the ratio of the slopes (eq. 3.60), at most
// max_step; it backtracks by quadratic interpolation until the Armijo condition holds (an energy decrease at every
// accepted step), then tries once the secant minimum of the slopes at both ends (LAMMPS min_style cg with
// linesearch quadratic), kept only if it lowers the energy further.
#include <algorithm>
#include <cmath>

#include "integrators/minimizer.hpp"

namespace nqmd {
namespace {

constexpr double kArmijo = 1e-4;           // sufficient decrease c1
constexpr int kMaxTrials = 30;             // evaluations of one backtracking search
constexpr double kSmallestMove = 1e-10;    // A: a trial step below this is round-off
constexpr double kLargestExtrapolation = 4.0;

// Moves the problem to a point of lower enthalpy along `direction` (a downhill one) and returns true, with `alpha` the
// step taken; false (the problem back at its start) if no trial step lowered the enthalpy enough.
bool line_search(RelaxationProblem& problem, const Eigen::VectorXd& direction, double max_alpha, double& alpha) {
  const Eigen::VectorXd start = problem.coordinates();
  const double start_value = problem.evaluation().enthalpy;
  const double slope = -problem.force().dot(direction);
  const double unit_move = problem.largest_move(direction);
  alpha = std::min(alpha, max_alpha);
  for (int trial = 0; trial < kMaxTrials && alpha * unit_move > kSmallestMove; ++trial) {
    const double value = problem.evaluate(start + alpha * direction).enthalpy;
    if (value <= start_value + kArmijo * alpha * slope) {
      const double end_slope = -problem.force().dot(direction);
      if (end_slope > slope) {
        const double secant = std::min({alpha * slope / (slope - end_slope), max_alpha, kLargestExtrapolation * alpha});
        if (std::abs(secant - alpha) > 0.1 * alpha) {
          if (problem.evaluate(start + secant * direction).enthalpy < value) {
            alpha = secant;
          } else {
            problem.evaluate(start + alpha * direction);
          }
        }
      }
      return true;
    }
    // Minimum of the parabola through the start value, the start slope and this value (Nocedal & Wright eq. 3.57).
    const double curvature = value - start_value - slope * alpha;
    const double parabola_minimum =
        std::isfinite(value) && curvature > 0 ? -slope * alpha * alpha / (2 * curvature) : 0.0;
    alpha = std::clamp(parabola_minimum, 0.1 * alpha, 0.5 * alpha);
  }
  problem.evaluate(start);
  return false;
}

class ConjugateGradients final : public Minimizer {
 public:
  MinimizeOutcome minimize(RelaxationProblem& problem, const MinimizeSettings& settings,
                           const MinimizeMonitor& monitor) override {
    MinimizeOutcome outcome;
    Eigen::VectorXd direction = problem.force();
    double alpha = 0.0;           // the last step along its direction
    double previous_slope = 0.0;  // force . direction before the last step, negated
    bool along_force = true;      // the direction is the force (steepest descent)
    for (;;) {
      require_finite(problem, outcome.steps);
      if (problem.evaluation().max_force() <= settings.fmax) {
        outcome.converged = true;
        outcome.stop_reason = "fmax reached";
        break;
      }
      if (outcome.steps >= settings.max_steps) {
        outcome.stop_reason = "max_steps reached";
        break;
      }
      const Eigen::VectorXd start_force = problem.force();
      double slope = -start_force.dot(direction);
      if (!(slope < 0)) {
        direction = start_force;
        slope = -start_force.squaredNorm();
        along_force = true;
      }
      const double max_alpha = settings.max_step / problem.largest_move(direction);
      double trial = alpha > 0 ? alpha * previous_slope / slope : max_alpha;
      if (!line_search(problem, direction, max_alpha, trial)) {
        if (along_force) {
          outcome.stop_reason = "line search found no lower energy";
          break;
        }
        direction = start_force;
        along_force = true;
        continue;
      }
      alpha = trial;
      previous_slope = slope;
      const Eigen::VectorXd& force = problem.force();
      const double beta = std::max(0.0, force.dot(force - start_force) / start_force.squaredNorm());
      direction = force + beta * direction;
      along_force = beta == 0.0;
      ++outcome.steps;
      if (monitor) monitor({outcome.steps, problem.evaluation().enthalpy, problem.evaluation().max_force()});
    }
    outcome.evaluations = problem.evaluations();
    return outcome;
  }
};

SectionSchema cg_schema() {
  return {"cg", "Polak-Ribiere conjugate gradients with a backtracking quadratic line search.", {}};
}

std::unique_ptr<Minimizer> create_cg(const ConfigSection& /*section*/) {
  return std::make_unique<ConjugateGradients>();
}

const bool registered = MinimizerRegistry::instance().add({"cg", cg_schema(), create_cg});

}  // namespace
}  // namespace nqmd
