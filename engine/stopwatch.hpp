#pragma once
// Wall-clock laps for the timing breakdown of a run (steady clock, seconds).
#include <chrono>

namespace nqmd {

class Stopwatch {
 public:
  // Seconds since the last lap (or since construction); the next lap starts now.
  double lap() {
    const Clock::time_point now = Clock::now();
    const double seconds = std::chrono::duration<double>(now - start_).count();
    start_ = now;
    return seconds;
  }

 private:
  using Clock = std::chrono::steady_clock;
  Clock::time_point start_ = Clock::now();
};

}  // namespace nqmd
