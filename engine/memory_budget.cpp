#include "engine/memory_budget.hpp"

#include <unistd.h>

namespace nqmd {
namespace {

double physical_memory() {
  const long pages = ::sysconf(_SC_PHYS_PAGES), page_size = ::sysconf(_SC_PAGE_SIZE);
  // Unknown (a sandbox without /proc?): 16 GB, a common node.
  return pages > 0 && page_size > 0 ? static_cast<double>(pages) * static_cast<double>(page_size) : 16e9;
}

double budget = 0.0;  // 0: not set, physical memory

}  // namespace

double memory_budget_bytes() { return budget > 0.0 ? budget : physical_memory(); }

void set_memory_budget_bytes(double bytes) { budget = bytes; }

}  // namespace nqmd
