// Pad (metal/pad.metal): constant, reflect and edge modes; negative pads crop. The kernels move
// elements by width, so every dtype pads; the constant is a buffer of the data's dtype (fed or not).
#include "core/ops/pad.h"
#include "gpu/ops/common.h"

namespace metalnn::gpu {

void lower_pad(Lowering& L, const Node& n) {
  const int x = n.inputs[0], y = n.outputs[0];
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
  fill_array(n, p.out_shape, out);
  fill_array(n, p.in_shape, in);
  fill_array(n, p.in_strides, shape_strides(in));
  fill_array(n, p.pad_begin, amounts.before);
  Dispatch& d = L.dispatch(kernel_name("pad", "nd", width_suffix(L.storage(x))));
  d.input(0, x);
  if (Lowering::has_input(n, 2) && shape_numel(L.shape(n.inputs[2])) > 0) {
    d.input(1, n.inputs[2]);
  } else {
    const uint64_t zero = 0;  // an absent or empty value pads with 0 (false) in every dtype
    d.buffer(1, L.upload_bytes(&zero, dtype_size(L.storage(x))));
  }
  d.output(2, y).params(3, p).threads_1d(p.count);
}

}  // namespace metalnn::gpu
