// The CPU's schedule for the inverted bottlenecks of mobile networks: a depthwise Conv together with
// the 1x1 expansion before it (when that is its only reader) and the 1x1 projection after it (when it
// is the depthwise conv's only reader), over chunks of 16 or so channels of one image at a time.
// Run as separate layers, the expanded and depthwise tensors (the widest of the block, at the highest
// resolution) go out to memory and come back; run together, they live only in a per-thread scratch
// that stays in L2, the narrow input is read from L2 once per chunk and each chunk's projection sums
// into the image's output there. Where a chunk of whole planes would overflow L2 (112 x 112 maps),
// the block runs in bands of output rows instead, each expanding the input rows it reads; a network's
// stem convolution in front of a depthwise conv and projection joins them the same way, making each
// band of its map as it is consumed. The fused node belongs to the CPU executable's own copy of the
// graph, never to the model: the other devices and the .metalnn format never see it.
#pragma once
#include <memory>
#include <vector>

#include "core/activation.h"
#include "core/graph.h"
#include "cpu/kernel.h"

namespace metalnn::cpu {

// Rewrites each such block whose depthwise input is large enough to pay into one depthwise Conv node
// with inputs [x, dw weight, dw bias, residual, expand weight, expand bias, project weight, project
// bias] (absent parts -1), attributes _expand and _project saying which parts it has, and their
// activations as _expand_activation and _project_activation (alpha, beta alike); a stem in the
// expansion's place is marked _stem, its window attributes prefixed _stem_. Value ids are kept.
Graph fuse_depthwise_blocks(Graph g);

// Whether `n` is a node fuse_depthwise_blocks made, and its kernel.
bool is_depthwise_block(const Node& n);
std::unique_ptr<Kernel> make_depthwise_block_kernel(const Graph& g, const Node& n);

// For the other fusions of the CPU's graph: folds into each node `accept` takes the 1x1 expansion
// producing its input 0 (a stride-1 unpadded group-1 float32 Conv with constant weights, nothing fused
// in, whose output only that node reads and whose shape `worth` takes): the node reads the expansion's
// input, its weight and bias become inputs 4 and 5, attribute `attr` is set and the expansion's
// activation is kept for expansion_activation. Marks the expansions in `dead` (one entry per node).
void fold_expansions(Graph& g, std::vector<char>& dead, bool (*accept)(const Graph&, const Node&),
                     bool (*worth)(const Shape&), const char* attr);
// Removes the nodes marked in `dead`.
void drop_nodes(Graph& g, const std::vector<char>& dead);
// The activation of the expansion fold_expansions folded into `n`.
Activation expansion_activation(const Node& n);

}  // namespace metalnn::cpu
