#pragma once
// Random numbers for stochastic integrators and initial velocities, with no hidden state outside the engine:
// std::mt19937_64 plus our own transformations (std::normal_distribution caches its second variate, which a
// checkpoint of the engine alone would lose). save()/load() round-trip the complete state, so a restarted run
// draws exactly the numbers the uninterrupted run would have drawn.
#include <cstdint>
#include <random>
#include <vector>

namespace nqmd {

class RandomStream {
 public:
  explicit RandomStream(std::uint64_t seed) : engine_(seed) {}

  // Uniform in [0, 1), from the top 53 bits of one 64-bit draw.
  double uniform();
  // Standard normal by the Box-Muller transform; the second variate of each pair is discarded.
  double gaussian();
  // Gamma(shape, 1) variate for shape >= 1 (Marsaglia & Tsang, ACM Trans. Math. Softw. 26, 363 (2000)).
  double gamma(double shape);
  // Sum of the squares of `count` independent standard normals (chi-squared with `count` degrees of freedom),
  // drawn with a fixed small number of variates: 2 Gamma(count/2) plus one squared normal if count is odd.
  double sum_of_squared_gaussians(std::uint64_t count);

  // The engine state as integers (the 312 words of the Mersenne twister and its position) and back.
  std::vector<std::uint64_t> save() const;
  // Throws InputError if `state` is not a state written by save().
  void load(const std::vector<std::uint64_t>& state);

 private:
  std::mt19937_64 engine_;
};

}  // namespace nqmd
