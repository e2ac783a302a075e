#include "engine/threads.hpp"

#include <omp.h>

namespace nqmd {

void set_openmp_threads(int threads) {
  if (threads > 0) omp_set_num_threads(threads);
}

}  // namespace nqmd
