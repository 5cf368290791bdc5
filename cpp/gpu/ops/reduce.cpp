// ReduceSum/Mean/Max/Min/Prod/L2/LogSumExp and GlobalAverage/MaxPool (metal/reduce.metal): the
// input's axes split into kept ones (one output each) and reduced ones (walked by a SIMD-group's lanes).
#include <limits>

#include "core/ops/reduce.h"
#include "gpu/ops/common.h"

namespace metalnn::gpu {

namespace {

void reduce(Lowering& L, const Node& n, const std::string& variant, const std::vector<char>& mask, bool mean) {
  const int x = n.inputs[0], y = n.outputs[0];
  const Shape& in = L.shape(x);
  const std::vector<int64_t> strides = shape_strides(in);
  std::vector<int64_t> kept_shape, kept_strides, red_shape, red_strides;
  for (size_t d = 0; d < in.size(); ++d) {
    (mask[d] ? red_shape : kept_shape).push_back(in[d]);
    (mask[d] ? red_strides : kept_strides).push_back(strides[d]);
  }
  ReduceParams p{};
  p.out_count = u32(n, shape_numel(kept_shape));
  p.red_count = u32(n, shape_numel(red_shape));
  p.kept_rank = uint32_t(kept_shape.size());
  p.red_rank = uint32_t(red_shape.size());
  // A float Mean of nothing is 0 * NaN = NaN (0 / 0), as on cpu.
  p.scale = !mean ? 1.0f : p.red_count ? 1.0f / float(p.red_count) : std::numeric_limits<float>::quiet_NaN();
  fill_array(n, p.kept_shape, kept_shape);
  fill_array(n, p.kept_strides, kept_strides);
  fill_array(n, p.red_shape, red_shape);
  fill_array(n, p.red_strides, red_strides);
  // An empty reduction gives the kernel's initial value (0, 1, -inf, false...), as on cpu. Integer
  // Mean divides in its own kernel (the float scale would round).
  const bool integer = L.storage(x) == DType::Int32 || L.storage(x) == DType::Int64;
  if (p.out_count == 0) return;
  L.dispatch(kernel_name("reduce", mean && integer ? "mean" : variant, L.suffix(x)))
      .input(0, x).output(1, y).params(2, p).simdgroups_1d(p.out_count);
}

}  // namespace

void lower_reduce(Lowering& L, const Node& n) {
  const int rank = int(L.shape(n.inputs[0]).size());
  const std::vector<char> mask = reduced_axes(rank, L.constant_input(n, 1), n.attrs);
  const std::string& op = n.op_type;
  const std::string variant = op == "ReduceMax"         ? "max"
                              : op == "ReduceMin"         ? "min"
                              : op == "ReduceProd"        ? "prod"
                              : op == "ReduceL2"          ? "l2"
                              : op == "ReduceLogSumExp"   ? "logsumexp"
                                                          : "sum";
  reduce(L, n, variant, mask, op == "ReduceMean");
}

void lower_global_pool(Lowering& L, const Node& n) {
  std::vector<char> mask(L.shape(n.inputs[0]).size(), 1);
  mask[0] = mask[1] = 0;
  const bool max = n.op_type == "GlobalMaxPool";
  reduce(L, n, max ? "max" : "sum", mask, !max);
}

}  // namespace metalnn::gpu
