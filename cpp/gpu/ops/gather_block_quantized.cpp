// GatherBlockQuantized (metal/gather_block_quantized.metal): the table stays as stored (4- or 8-bit
// codes); constant indices are uploaded as int32, run-time indices are read in their own type.
#include "core/ops/gather_block_quantized.h"
#include "gpu/ops/common.h"

namespace metalnn::gpu {

void lower_gather_block_quantized(Lowering& L, const Node& n) {
  const BlockGatherGeometry geo = block_gather_geometry(L.graph(), n);
  const int data = n.inputs[0], indices = n.inputs[1], y = n.outputs[0];
  GatherBlockQuantizedParams p{};
  p.count = u32(n, shape_numel(L.shape(y)));
  if (p.count == 0) return;
  p.index_count = u32(n, shape_numel(L.shape(indices)));
  p.axis_len = u32(n, geo.axis_len);
  p.gather_block = u32(n, geo.gather_block);
  p.quantize_len = u32(n, geo.quantize_len);
  p.quantize_inner = u32(n, geo.quantize_inner);
  p.scale_outer_stride = u32(n, geo.scale_outer_stride);
  p.block_size = u32(n, geo.block_size);
  p.bits = uint32_t(geo.bits);
  p.is_signed = geo.is_signed ? 1 : 0;
  p.has_zero_points = geo.has_zero_points ? 1 : 0;
  p.default_zero_point = int32_t(geo.default_zero_point);
  p.zp_row = u32(n, geo.zp_row);
  p.zp_row_bytes = u32(n, geo.zp_row_bytes);
  const int zero_points = geo.has_zero_points ? n.inputs[3] : data;
  const std::string dtype = L.suffix(y);
  if (const Tensor* constant = L.constant_input(n, 1)) {
    std::vector<int32_t> values;
    for (int64_t v : constant->to_int_vector())
      values.push_back(int32_t(std::clamp<int64_t>(v, INT32_MIN, INT32_MAX)));  // still out of range if it was
    L.dispatch(kernel_name("gather_block_quantized", "i32", dtype))
        .input(0, data).buffer(1, L.upload_bytes(values.data(), values.size() * sizeof(int32_t)))
        .input(2, n.inputs[2]).input(3, zero_points).output(4, y).params(5, p).threads_1d(p.count);
    return;
  }
  L.dispatch(kernel_name("gather_block_quantized", L.suffix(indices), dtype))
      .input(0, data).input(1, indices).input(2, n.inputs[2]).input(3, zero_points).output(4, y).params(5, p)
      .threads_1d(p.count);
}

}  // namespace metalnn::gpu
