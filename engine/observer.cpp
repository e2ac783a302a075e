#include "engine/observer.hpp"

namespace nqmd {

void ObserverSchedule::add(std::unique_ptr<Observer> observer, std::uint64_t every) {
  observers_.push_back({std::move(observer), every == 0 ? 1 : every});
}

bool ObserverSchedule::due(std::uint64_t step, bool last_step) const {
  for (const Scheduled& scheduled : observers_)
    if (step % scheduled.every == 0 || (last_step && scheduled.observer->observes_last_step())) return true;
  return false;
}

void ObserverSchedule::observe(const StepData& data, bool every_observer, bool last_step) {
  for (Scheduled& scheduled : observers_)
    if (every_observer || data.thermo.step % scheduled.every == 0 ||
        (last_step && scheduled.observer->observes_last_step()))
      scheduled.observer->observe(data);
}

void ObserverSchedule::after_step(std::uint64_t step) {
  for (Scheduled& scheduled : observers_) scheduled.observer->after_step(step);
}

void ObserverSchedule::flush() {
  for (Scheduled& scheduled : observers_) scheduled.observer->flush();
}

}  // namespace nqmd
