// [minimize] algorithm = "fire": the fast inertial relaxation engine of Bitzek, Koskinen, Gaehler, Moseler &
// Gumbsch, Phys. Rev. Lett. 97, 170201 (2006), as ASE's FIRE (ase/optimize/fire.py): unit masses in the
// generalised coordinates, a semi-implicit Euler step, ASE's default parameters. The step is scaled down so that
// no atom moves more than max_step (LAMMPS' dmax), which keeps the cell coordinates' steps bounded too.
#include <algorithm>
#include <cmath>

#include "integrators/minimizer.hpp"

namespace nqmd {
namespace {

struct FireParameters {
  double dt_start = 0.1;     // ASE dt
  double dt_max = 1.0;       // ASE dtmax
  int n_min = 5;             // downhill steps before dt grows
  double f_inc = 1.1;
  double f_dec = 0.5;
  double alpha_start = 0.1;  // mixing of the velocity towards the force
  double f_alpha = 0.99;
};

class Fire final : public Minimizer {
 public:
  MinimizeOutcome minimize(RelaxationProblem& problem, const MinimizeSettings& settings,
                           const MinimizeMonitor& monitor) override {
    const FireParameters p;
    MinimizeOutcome outcome;
    Eigen::VectorXd velocity = Eigen::VectorXd::Zero(problem.dimension());
    double dt = p.dt_start;
    double alpha = p.alpha_start;
    int downhill_steps = 0;
    for (;;) {
      const RelaxationProblem::Evaluation& now = problem.evaluation();
      require_finite(problem, outcome.steps);
      if (now.max_force() <= settings.fmax) {
        outcome.converged = true;
        outcome.stop_reason = "fmax reached";
        break;
      }
      if (outcome.steps >= settings.max_steps) {
        outcome.stop_reason = "max_steps reached";
        break;
      }
      const Eigen::VectorXd& force = problem.force();
      if (outcome.steps > 0) {
        if (force.dot(velocity) > 0.0) {
          velocity = (1.0 - alpha) * velocity + alpha * velocity.norm() * force / force.norm();
          if (downhill_steps > p.n_min) {
            dt = std::min(dt * p.f_inc, p.dt_max);
            alpha *= p.f_alpha;
          }
          ++downhill_steps;
        } else {
          velocity.setZero();
          alpha = p.alpha_start;
          dt *= p.f_dec;
          downhill_steps = 0;
        }
      }
      velocity += dt * force;
      Eigen::VectorXd step = dt * velocity;
      const double move = problem.largest_move(step);
      if (move > settings.max_step) step *= settings.max_step / move;
      problem.evaluate(problem.coordinates() + step);
      ++outcome.steps;
      if (monitor) monitor({outcome.steps, problem.evaluation().enthalpy, problem.evaluation().max_force()});
    }
    outcome.evaluations = problem.evaluations();
    return outcome;
  }
};

SectionSchema fire_schema() {
  return {"fire", "FIRE (Bitzek et al., PRL 97, 170201 (2006)) with ASE's parameters.", {}};
}

std::unique_ptr<Minimizer> create_fire(const ConfigSection& /*section*/) { return std::make_unique<Fire>(); }

const bool registered = MinimizerRegistry::instance().add({"fire", fire_schema(), create_fire});

}  // namespace
}  // namespace nqmd
