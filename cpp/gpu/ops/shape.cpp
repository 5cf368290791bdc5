// Nodes whose outputs are known at load: Shape and Size, and nodes with only constant inputs.
// Constant folding removes them, except where they produce a graph output; those are evaluated
// once here by the load-time evaluator (the reference cpu kernels, core/evaluator.h), uploaded, and
// copied to the output at run time.
#include "gpu/ops/common.h"

namespace metalnn::gpu {

void lower_folded(Lowering& L, const Node& n) {
  const Graph& g = L.graph();
  const bool shape_only = n.op_type == "Shape" || n.op_type == "Size";
  std::vector<Tensor> shape_views;
  std::vector<const Tensor*> inputs;
  shape_views.reserve(n.inputs.size());
  for (int v : n.inputs) {
    if (v >= 0 && !g.value(v).is_constant() && !shape_only) unsupported(n, n.op_type + " of inputs known only at run time");
    if (v >= 0 && !g.value(v).is_constant()) shape_views.emplace_back(g.value(v).dtype, g.value(v).shape, nullptr);
    inputs.push_back(v < 0 ? nullptr : g.value(v).is_constant() ? &g.value(v).constant : &shape_views.back());
  }
  if (!L.evaluator().can_evaluate(n.op_type)) unsupported(n, n.op_type);
  for (size_t i = 0; i < n.outputs.size(); ++i) {
    const int out = n.outputs[i];
    if (out < 0) continue;
    Tensor result = Tensor::empty(g.value(out).dtype, g.value(out).shape);
    std::vector<Tensor*> outputs(n.outputs.size(), nullptr);
    outputs[i] = &result;
    L.evaluator().evaluate(g, n, inputs, outputs);
    // Float results are stored in the model's precision.
    std::vector<float> floats;
    std::shared_ptr<Buffer> buffer;
    if (L.storage(out) != result.dtype()) {
      for (int64_t i = 0; i < result.numel(); ++i) floats.push_back(float(result.float_at(i)));
      buffer = L.upload_floats(floats);
    } else {
      buffer = L.upload_bytes(result.raw(), result.nbytes());
    }
    const int64_t count = result.numel();
    CopyParams p{};
    p.rank = 1, p.count = u32(n, count), p.shape[0] = p.count, p.in_strides[0] = 1, p.out_strides[0] = 1;
    L.dispatch(kernel_name("copy", "strided", width_suffix(L.storage(out))))
        .buffer(0, buffer).output(1, out).params(2, p).threads_1d(count);
  }
}

}  // namespace metalnn::gpu
