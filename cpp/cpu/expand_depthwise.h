// The CPU's schedule for an inverted bottleneck's first half: a 1x1 expansion Conv whose only reader is
// a depthwise Conv. Run one after the other, the expanded tensor (the widest of the block, at the
// highest resolution) goes out to memory and comes back; run together, 16 or so expanded channels of
// one image at a time, it lives only in a per-thread scratch that stays in L2, and the input image
// (the narrow side) is read from L2 once per chunk. The pair becomes one node of the CPU executable's
// own graph copy (a Conv with attribute _expand), never of the model: the other devices and the
// .metalnn format never see it.
#pragma once
#include <memory>

#include "core/graph.h"
#include "cpu/kernel.h"

namespace metalnn::cpu {

// Rewrites each such pair whose expanded tensor is large enough to pay into one depthwise Conv node
// with inputs [x, dw weight, dw bias, -1, expand weight, expand bias] and attribute _expand holding
// the expansion's activation as _expand_activation (alpha, beta). Value ids are kept.
Graph fuse_expand_depthwise(Graph g);

// The kernel of a node fuse_expand_depthwise made.
std::unique_ptr<Kernel> make_expand_depthwise_kernel(const Graph& g, const Node& n);

}  // namespace metalnn::cpu
