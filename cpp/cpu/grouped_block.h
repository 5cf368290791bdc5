// The CPU's schedule for the grouped bottlenecks of RegNets and ResNeXts: a 1x1 expansion and the
// grouped Conv reading it (when that is its only reader), over bands of output rows and chunks of
// whole groups of one image at a time. Run as separate layers, the expanded tensor (at the block's
// highest resolution) goes out to memory and comes back; run together, each task expands only the
// input rows its band of outputs reads, for its chunk's channels, into a per-thread scratch that stays
// in L2. The fused node belongs to the CPU executable's own copy of the graph, never to the model.
#pragma once
#include <memory>

#include "core/graph.h"
#include "cpu/kernel.h"

namespace metalnn::cpu {

// Rewrites each such pair whose expanded tensor is large enough to pay into one grouped Conv node with
// inputs [x, weight, bias, -1, expand weight, expand bias] (absent parts -1), attribute
// _grouped_expand and the expansion's activation as _expand_activation (alpha, beta alike). Value ids
// are kept. METALNN_GROUPED_BLOCKS=0 leaves the layers apart.
Graph fuse_grouped_blocks(Graph g);

// Whether `n` is a node fuse_grouped_blocks made, and its kernel.
bool is_grouped_block(const Node& n);
std::unique_ptr<Kernel> make_grouped_block_kernel(const Graph& g, const Node& n);

}  // namespace metalnn::cpu
