#include "core/passes/passes.h"
#include "core/passes/pattern.h"

namespace metalnn {

void fuse_residual(Graph& g) {
  std::vector<int> uses = g.use_counts();
  std::vector<int> producer = g.producers();
  std::vector<char> dead(g.nodes().size(), 0);
  for (size_t ai = 0; ai < g.nodes().size(); ++ai) {
    const Node& add = g.nodes()[ai];
    if (add.op_type != "Add" || add.inputs.size() != 2 || add.outputs.size() != 1) continue;
    for (int side = 0; side < 2; ++side) {
      const int x = add.inputs[side], r = add.inputs[1 - side];
      if (!mergeable_edge(g, uses, x) || producer[x] < 0 || dead[producer[x]] || r < 0 || r == x) continue;
      const Node& conv = g.nodes()[producer[x]];
      // The activation would come before the sum; a lowered ConvInteger keeps its exact integer sums.
      if (conv.op_type != "Conv" || conv.attrs.has("_activation") || conv.attrs.has("_residual") ||
          conv.attrs.get_int("_exact_sum", 0) != 0)
        continue;
      const Value &xv = g.value(x), &rv = g.value(r), &yv = g.value(add.outputs[0]);
      if (rv.dtype != DType::Float32 || rv.shape != xv.shape || yv.shape != xv.shape) continue;
      // The fused node takes the Add's place in the order, where r is computed already.
      Node fused = conv;
      fused.inputs.resize(4, -1);
      fused.inputs[3] = r;
      fused.attrs.set("_residual", Attribute::make_int(1));
      fused.outputs[0] = add.outputs[0];
      dead[producer[x]] = 1;
      g.nodes()[ai] = std::move(fused);
      break;
    }
  }
  erase_nodes(g, dead);
}

}  // namespace metalnn
