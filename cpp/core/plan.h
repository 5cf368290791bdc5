// The static memory plan: every intermediate tensor gets an offset in one activation arena, reusing
// space whose last reader has run. Device-neutral; the devices only add their alignment.
#pragma once
#include <cstddef>
#include <cstdint>
#include <vector>

#include "core/graph.h"

namespace metalnn {

struct Plan {
  static constexpr int64_t kNotInArena = -1;

  // Per value id: byte offset in the arena, or kNotInArena (graph inputs/outputs, constants, unused).
  std::vector<int64_t> offsets;
  // Per value id: [first, last] step indices during which the value must stay intact (arena values only).
  std::vector<int> first_step, last_step;
  size_t arena_bytes = 0;
  // What the arena would need without reuse, for reporting.
  size_t unshared_bytes = 0;

  // The graph must be topologically sorted and shape-inferred; steps are g.nodes() in order.
  static Plan build(const Graph& g, size_t alignment = 64);

  bool in_arena(int value) const { return offsets[value] != kNotInArena; }
};

}  // namespace metalnn
