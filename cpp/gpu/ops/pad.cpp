// Pad (metal/pad.metal): constant, reflect and edge modes; negative pads crop.
#include "core/ops/pad.h"
#include "gpu/ops/common.h"

namespace metalnn::gpu {

void lower_pad(Lowering& L, const Node& n) {
  const int x = n.inputs[0], y = n.outputs[0];
  const DType t = L.storage(x);
  if (t != DType::Float32 && t != DType::Float16) unsupported(n, "Pad of non-float values");
  const Shape in = L.shape(x).empty() ? Shape{1} : L.shape(x);
  const Shape out = L.shape(x).empty() ? Shape{1} : L.shape(y);
  PadMode mode = PadMode::Constant;
  parse_pad_mode(n.attrs.get_string("mode", "constant"), &mode);
  const PadAmounts amounts = L.shape(x).empty() ? PadAmounts{{0}, {0}}
                                                : resolve_pads(int(in.size()), L.constant_ints(n, 1), L.constant_ints(n, 3));
  PadParams p{};
  p.rank = uint32_t(in.size());
  p.count = u32(n, shape_numel(out));
  p.mode = mode == PadMode::Constant ? kPadConstant : mode == PadMode::Reflect ? kPadReflect : kPadEdge;
  if (Lowering::has_input(n, 2)) {
    const Tensor* value = L.constant_input(n, 2);
    if (!value) unsupported(n, "a pad value known only at run time");
    if (value->numel()) p.value = float(value->float_at(0));
  }
  fill_array(n, p.out_shape, out);
  fill_array(n, p.in_shape, in);
  fill_array(n, p.in_strides, shape_strides(in));
  fill_array(n, p.pad_begin, amounts.before);
  L.dispatch(kernel_name("pad", "nd", L.suffix(x))).input(0, x).output(1, y).params(2, p).threads_1d(p.count);
}

}  // namespace metalnn::gpu
