// QuantizeLinear and DequantizeLinear schemas: float32 <-> int8/uint8 (DequantizeLinear also reads the
// int32 biases quantizers write) with a scale and optional zero point per tensor (scalar), per axis
// (1-D along `axis`) or per block (opset 21 `block_size`: the input's rank, axis extent divided up).
// DynamicQuantizeLinear computes a per-tensor uint8 scale and zero point from the input's range.
#include "core/ops/quantize.h"

#include "core/ops/tensor_checks.h"

namespace metalnn {

namespace {

bool per_tensor(const Shape& scale) { return scale.size() <= 1 && shape_numel(scale) == 1; }

// Checks the scale (input 1) and zero point (input 2) against x (input 0).
void check_scale_and_zero_point(InferContext& ctx) {
  require_dtype(ctx, 1, {DType::Float32});
  const Shape& x = ctx.input_shape(0);
  const Shape& scale = ctx.input_shape(1);
  const int rank = static_cast<int>(x.size());
  const int64_t block = ctx.attrs().get_int("block_size", 0);
  if (block < 0) ctx.fail_model("block_size " + std::to_string(block) + " is negative");
  const std::string scale_desc = "scale '" + ctx.input(1).name + "' " + shape_str(scale);
  if (block > 0) {
    const int axis = ctx.normalize_axis(ctx.attrs().get_int("axis", 1), rank);
    Shape want = x;
    want[axis] = (x[axis] + block - 1) / block;
    if (scale != want)
      ctx.fail_shape(scale_desc + " does not fit input " + shape_str(x) + " in blocks of " + std::to_string(block) +
                     " along axis " + std::to_string(axis) + ": expected " + shape_str(want));
  } else if (!per_tensor(scale)) {
    if (scale.size() != 1) ctx.fail_shape(scale_desc + " is neither a scalar nor 1-D");
    if (rank == 0) ctx.fail_shape(scale_desc + " is 1-D but the input is a scalar");
    const int axis = ctx.normalize_axis(ctx.attrs().get_int("axis", 1), rank);
    if (scale[0] != x[axis])
      ctx.fail_shape(scale_desc + " has " + std::to_string(scale[0]) + " entries but input axis " + std::to_string(axis) +
                     " has " + std::to_string(x[axis]));
  }
  const bool both_per_tensor = block == 0 && per_tensor(scale) && ctx.has_input(2) && per_tensor(ctx.input_shape(2));
  if (ctx.has_input(2) && ctx.input_shape(2) != scale && !both_per_tensor)
    ctx.fail_shape("zero point '" + ctx.input(2).name + "' " + shape_str(ctx.input_shape(2)) + " differs from " +
                   scale_desc);
}

void require_quantized(const InferContext& ctx, DType t, const std::string& what, bool allow_int32) {
  if (t == DType::Int8 || t == DType::UInt8 || (allow_int32 && t == DType::Int32)) return;
  ctx.fail_unsupported(what + " has dtype " + dtype_name(t) + "; only int8 and uint8" +
                       (allow_int32 ? std::string(" (and int32)") : std::string()) + " quantization is supported");
}

}  // namespace

QuantLayout quant_layout(const Node& n, const Shape& x, const Shape& scale) {
  QuantLayout l;
  const int rank = static_cast<int>(x.size());
  if (per_tensor(scale) && n.attrs.get_int("block_size", 0) == 0) {
    l.inner = shape_numel(x);
    return l;
  }
  int64_t axis = n.attrs.get_int("axis", 1);
  if (axis < 0) axis += rank;
  for (int d = 0; d < rank; ++d) (d < axis ? l.outer : d > axis ? l.inner : l.axis_len) *= x[d];
  const int64_t block = n.attrs.get_int("block_size", 0);
  if (block > 0) {
    l.block = block;
    l.scale_inner = 1;
    l.scale_axis = l.inner;
    l.scale_outer = scale[axis] * l.inner;
  } else {
    l.scale_axis = 1;
  }
  return l;
}

void infer_quantize_linear(InferContext& ctx) {
  ctx.check_inputs(2, 3);
  require_dtype(ctx, 0, {DType::Float32});
  check_scale_and_zero_point(ctx);
  DType out = DType::UInt8;
  if (ctx.has_input(2)) {
    out = ctx.input_dtype(2);
    require_quantized(ctx, out, "zero point '" + ctx.input(2).name + "'", false);
  } else if (const int64_t to = ctx.attrs().get_int("output_dtype", 0); to != 0) {
    DType t = DType::Undefined;
    try {
      t = dtype_from_onnx(static_cast<int>(to));
    } catch (const DtypeError&) {
    }
    if (t == DType::Undefined) ctx.fail_unsupported("output_dtype " + std::to_string(to) + " is not int8 or uint8");
    require_quantized(ctx, t, "output_dtype", false);
    out = t;
  }
  ctx.set_output(0, out, ctx.input_shape(0));
}

void infer_dequantize_linear(InferContext& ctx) {
  ctx.check_inputs(2, 3);
  require_quantized(ctx, ctx.input_dtype(0), "input '" + ctx.input(0).name + "'", true);
  check_scale_and_zero_point(ctx);
  if (ctx.has_input(2)) require_same_dtype(ctx, 2, 0);
  if (const int64_t to = ctx.attrs().get_int("output_dtype", 0); to != 0 && to != 1)
    ctx.fail_unsupported("output_dtype " + std::to_string(to) + " is not float32");
  ctx.set_output(0, DType::Float32, ctx.input_shape(0));
}

void infer_dynamic_quantize_linear(InferContext& ctx) {
  ctx.check_inputs(1, 1);
  require_dtype(ctx, 0, {DType::Float32});
  ctx.set_output(0, DType::UInt8, ctx.input_shape(0));
  if (ctx.has_output(1)) ctx.set_output(1, DType::Float32, {});
  if (ctx.has_output(2)) ctx.set_output(2, DType::UInt8, {});
}

}  // namespace metalnn
