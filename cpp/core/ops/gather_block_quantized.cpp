// GatherBlockQuantized schema (com.microsoft): Gather over block-quantized constant data (embedding
// tables), dequantised into float32. Out-of-range indices give zeros, as in ONNX Runtime.
#include "core/ops/gather_block_quantized.h"

#include <algorithm>

#include "core/ops/tensor_checks.h"

namespace metalnn {

namespace {
int normalize(int64_t axis, size_t rank) { return int(axis < 0 ? axis + int64_t(rank) : axis); }
}  // namespace

BlockGatherGeometry block_gather_geometry(const Graph& g, const Node& n) {
  BlockGatherGeometry geo;
  const int64_t codes = n.attrs.get_int("_codes", 0);
  geo.bits = codes ? 4 : n.attrs.get_int("bits", 4);
  geo.is_signed = codes == 2;
  geo.block_size = n.attrs.get_int("block_size", 128);
  geo.data_shape = codes ? n.attrs.get_ints("_shape") : g.value(n.inputs[0]).shape;
  const size_t rank = geo.data_shape.size();
  if (!codes && rank > 0) geo.data_shape.back() *= 8 / geo.bits;
  geo.gather_axis = normalize(n.attrs.get_int("gather_axis", 0), rank);
  geo.quantize_axis = normalize(n.attrs.get_int("quantize_axis", 1), rank);
  if (geo.gather_axis < 0 || geo.gather_axis >= int(rank) || geo.quantize_axis < 0 || geo.quantize_axis >= int(rank))
    return geo;
  const Shape& d = geo.data_shape;
  geo.outer = shape_numel(Shape(d.begin(), d.begin() + geo.gather_axis));
  geo.axis_len = d[size_t(geo.gather_axis)];
  geo.gather_block = shape_numel(Shape(d.begin() + geo.gather_axis + 1, d.end()));
  geo.quantize_len = d[size_t(geo.quantize_axis)];
  geo.quantize_inner = shape_numel(Shape(d.begin() + geo.quantize_axis + 1, d.end()));
  const int64_t scale_len = (geo.quantize_len + geo.block_size - 1) / geo.block_size;
  geo.scale_outer_stride = scale_len * geo.quantize_inner;
  geo.has_zero_points = n.inputs.size() > 3 && n.inputs[3] >= 0;
  geo.default_zero_point = codes ? 0 : int64_t(1) << (geo.bits - 1);
  if (codes || geo.bits == 8) {
    geo.zp_row = std::max<int64_t>(1, shape_numel(g.value(n.inputs[2]).shape));  // one flat stream
    geo.zp_row_bytes = 0;
  } else {
    geo.zp_row = std::max<int64_t>(1, scale_len);  // quantize_axis is the last: one packed row per scale row
    geo.zp_row_bytes = (scale_len + 1) / 2;
  }
  return geo;
}

void infer_gather_block_quantized(InferContext& ctx) {
  ctx.check_inputs(3, 4);
  const Attributes& attrs = ctx.attrs();
  const int64_t codes = attrs.get_int("_codes", 0);
  require_dtype(ctx, 0, {DType::UInt8});
  require_dtype(ctx, 1, {DType::Int64, DType::Int32});
  require_dtype(ctx, 2, {DType::Float32});
  const int64_t bits = attrs.get_int("bits", 4);
  if (codes ? bits != 4 : bits != 4 && bits != 8)
    ctx.fail_unsupported("bits = " + std::to_string(bits) + " with " + (codes ? "4-bit" : "uint8") +
                         " data; supported: 4" + (codes ? "" : " and 8"));
  const int64_t block = attrs.get_int("block_size", 128);
  if (block < 16 || (block & (block - 1)) != 0)
    ctx.fail_model("block_size " + std::to_string(block) + " is not a power of two >= 16");
  const BlockGatherGeometry geo = block_gather_geometry(ctx.graph(), ctx.node());
  const Shape& d = geo.data_shape;
  const int rank = int(d.size());
  if (rank == 0) ctx.fail_shape("data '" + ctx.input(0).name + "' is a scalar; GatherBlockQuantized needs rank >= 1");
  const int g = ctx.normalize_axis(attrs.get_int("gather_axis", 0), rank, "gather_axis");
  const int q = ctx.normalize_axis(attrs.get_int("quantize_axis", 1), rank, "quantize_axis");
  if (codes && shape_numel(ctx.input_shape(0)) != (shape_numel(d) + 1) / 2)
    ctx.fail_shape("data '" + ctx.input(0).name + "' holds " + std::to_string(shape_numel(ctx.input_shape(0))) +
                   " bytes, expected " + std::to_string((shape_numel(d) + 1) / 2) + " for 4-bit " + shape_str(d));
  if (!codes && (g != 0 || q != rank - 1))
    ctx.fail_unsupported("uint8 data needs gather_axis 0 and quantize_axis the last (got " + std::to_string(g) +
                         " and " + std::to_string(q) + " of rank " + std::to_string(rank) + ")");
  Shape scales = d;
  scales[size_t(q)] = (d[size_t(q)] + block - 1) / block;
  if (ctx.input_shape(2) != scales)
    ctx.fail_shape("scales '" + ctx.input(2).name + "' " + shape_str(ctx.input_shape(2)) + ", expected " +
                   shape_str(scales) + " for data " + shape_str(d) + " in blocks of " + std::to_string(block) +
                   " along axis " + std::to_string(q));
  if (ctx.has_input(3)) {
    require_dtype(ctx, 3, {DType::UInt8});
    Shape zp = scales;
    if (codes) zp = {(shape_numel(scales) + 1) / 2};
    else if (bits == 4) zp.back() = (zp.back() + 1) / 2;
    if (ctx.input_shape(3) != zp && !(codes && shape_numel(ctx.input_shape(3)) == zp[0]))
      ctx.fail_shape("zero_points '" + ctx.input(3).name + "' " + shape_str(ctx.input_shape(3)) + ", expected " +
                     shape_str(zp));
  }
  Shape out(d.begin(), d.begin() + g);
  const Shape& indices = ctx.input_shape(1);
  out.insert(out.end(), indices.begin(), indices.end());
  out.insert(out.end(), d.begin() + g + 1, d.end());
  ctx.set_output(0, DType::Float32, out);
}

}  // namespace metalnn
