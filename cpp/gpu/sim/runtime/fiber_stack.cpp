// Fiber stacks: reserved with mmap so untouched pages cost nothing, with a guard page below so an
// overflow faults instead of corrupting the neighbouring fiber.
#include <sys/mman.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>

#include "fiber.h"

namespace metal_sim {

FiberStack::FiberStack(size_t usable_bytes) {
  const size_t page = size_t(sysconf(_SC_PAGESIZE));
  usable_bytes_ = (usable_bytes + page - 1) / page * page;
  mapping_bytes_ = usable_bytes_ + page;
  mapping_ = mmap(nullptr, mapping_bytes_, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (mapping_ == MAP_FAILED) {
    std::fprintf(stderr, "metal-sim: cannot reserve a %zu-byte fiber stack\n", mapping_bytes_);
    std::abort();
  }
  mprotect(mapping_, page, PROT_NONE);
  usable_ = static_cast<char*>(mapping_) + page;
}

FiberStack::~FiberStack() { munmap(mapping_, mapping_bytes_); }

}  // namespace metal_sim
