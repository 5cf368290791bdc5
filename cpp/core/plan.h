// The static memory plan: every intermediate tensor gets an offset in one activation arena, reusing
// space whose last reader has run. Device-neutral; the devices only add their alignment.
#pragma once
#include <cstddef>
#include <cstdint>
#include <vector>

#include "core/graph.h"

namespace metalnn {

// A value stored inside another: bytes [offset, offset + its size) of `base`, which stays intact for
// the view's lifetime as well as its own (a Concat input written straight into its band of the output).
// With an image stride, image i of the value (its first dimension) starts at offset + i x image_stride
// bytes instead, and only a producer that writes so may make it (a batch of channel bands).
struct PlanView {
  int value = -1, base = -1;
  size_t offset = 0;
  size_t image_stride = 0;  // 0: contiguous
};

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
  // A view's value must be an arena value, its base one too and not itself a view.
  // An elided value is never stored: the one node reading it, of no other input, runs within the
  // step of the value's producer, so its outputs are written there.
  static Plan build(const Graph& g, size_t alignment = 64, const std::vector<PlanView>& views = {},
                    const std::vector<int>& elided = {});

  bool in_arena(int value) const { return offsets[value] != kNotInArena; }
};

// The inputs of Concat nodes that can be written in place into their band of the output: the bands
// of a concat whose axis has only unit dimensions before it are contiguous; with `image_strides`, a
// concat along axis 1 of several images has views with an image stride too, of inputs it alone reads.
// Inputs and outputs of the graph, constants, the whole of a concat with views of its own and an input
// given twice are left out, and so is a band whose offset is not a multiple of `alignment`.
std::vector<PlanView> concat_views(const Graph& g, size_t alignment, bool image_strides = false);

// The outputs of Reshape, Flatten, Squeeze, Unsqueeze and Identity nodes as views of their input's
// bytes (or of the contiguous band that input is a view of), so that a device whose kernel skips a
// copy onto itself moves nothing. Graph inputs and outputs, constants and values already a view in
// `views` are left out.
std::vector<PlanView> reshape_views(const Graph& g, const std::vector<PlanView>& views);

}  // namespace metalnn
