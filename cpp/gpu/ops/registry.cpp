// Every op the GPU devices lower, one line per op type of core/ops/op_list.h (tests/cpp/op_list_test.cpp
// checks both lists agree). Adding an op: see CONTRIBUTING.md.
#include "gpu/lowering.h"

namespace metalnn::gpu {

// Each lowering lives in cpp/gpu/ops/<family>.cpp.
void lower_unary(Lowering&, const Node&);
void lower_binary(Lowering&, const Node&);
void lower_comparison(Lowering&, const Node&);
void lower_where(Lowering&, const Node&);
void lower_reshape(Lowering&, const Node&);
void lower_dropout(Lowering&, const Node&);
void lower_transpose(Lowering&, const Node&);
void lower_slice(Lowering&, const Node&);
void lower_expand(Lowering&, const Node&);
void lower_tile(Lowering&, const Node&);
void lower_concat(Lowering&, const Node&);
void lower_split(Lowering&, const Node&);
void lower_cast(Lowering&, const Node&);
void lower_gather(Lowering&, const Node&);
void lower_gather_elements(Lowering&, const Node&);
void lower_pad(Lowering&, const Node&);
void lower_resize(Lowering&, const Node&);
void lower_topk(Lowering&, const Node&);
void lower_nonzero(Lowering&, const Node&);
void lower_non_max_suppression(Lowering&, const Node&);
void lower_einsum(Lowering&, const Node&);
void lower_reduce(Lowering&, const Node&);
void lower_global_pool(Lowering&, const Node&);
void lower_arg_reduce(Lowering&, const Node&);
void lower_softmax(Lowering&, const Node&);
void lower_pool(Lowering&, const Node&);
void lower_conv(Lowering&, const Node&);
void lower_conv_transpose(Lowering&, const Node&);
void lower_gemm(Lowering&, const Node&);
void lower_matmul(Lowering&, const Node&);
void lower_batch_norm(Lowering&, const Node&);
void lower_lrn(Lowering&, const Node&);
void lower_layer_norm(Lowering&, const Node&);
void lower_folded(Lowering&, const Node&);
void lower_gather_nd(Lowering&, const Node&);
void lower_scatter_nd(Lowering&, const Node&);
void lower_scatter_elements(Lowering&, const Node&);
void lower_depth_to_space(Lowering&, const Node&);  // DepthToSpace, SpaceToDepth
void lower_group_norm(Lowering&, const Node&);  // InstanceNormalization, GroupNormalization
void lower_cumsum(Lowering&, const Node&);
void lower_trilu(Lowering&, const Node&);
void lower_quantize_linear(Lowering&, const Node&);
void lower_dequantize_linear(Lowering&, const Node&);
void lower_dynamic_quantize_linear(Lowering&, const Node&);
void lower_matmul_integer(Lowering&, const Node&);
void lower_matmul_nbits(Lowering&, const Node&);
void lower_gather_block_quantized(Lowering&, const Node&);
void lower_quantized_conv(Lowering&, const Node&);
void lower_quantized_matmul(Lowering&, const Node&);
void lower_quantized_add(Lowering&, const Node&);
void lower_attention(Lowering&, const Node&);
void lower_roi_align(Lowering&, const Node&);
void lower_control_flow(Lowering&, const Node&);  // If, Loop

namespace {
struct GpuOp {
  const char* op_type;
  LowerFn lower;
};

constexpr GpuOp kOps[] = {
    {"Conv", lower_conv},
    {"ConvTranspose", lower_conv_transpose},
    {"Gemm", lower_gemm},
    {"MatMul", lower_matmul},
    {"MaxPool", lower_pool},
    {"AveragePool", lower_pool},
    {"GlobalAveragePool", lower_global_pool},
    {"GlobalMaxPool", lower_global_pool},
    {"BatchNormalization", lower_batch_norm},
    {"LRN", lower_lrn},
    {"LayerNormalization", lower_layer_norm},
    {"Softmax", lower_softmax},
    {"LogSoftmax", lower_softmax},

    {"Relu", lower_unary},
    {"LeakyRelu", lower_unary},
    {"Clip", lower_unary},
    {"Sigmoid", lower_unary},
    {"HardSigmoid", lower_unary},
    {"HardSwish", lower_unary},
    {"Swish", lower_unary},
    {"Tanh", lower_unary},
    {"Erf", lower_unary},
    {"Sqrt", lower_unary},
    {"Exp", lower_unary},
    {"Log", lower_unary},
    {"Neg", lower_unary},
    {"Abs", lower_unary},
    {"Reciprocal", lower_unary},
    {"Floor", lower_unary},
    {"Ceil", lower_unary},
    {"Add", lower_binary},
    {"Sub", lower_binary},
    {"Mul", lower_binary},
    {"Div", lower_binary},
    {"Pow", lower_binary},
    {"PRelu", lower_binary},
    {"Min", lower_binary},
    {"Max", lower_binary},
    {"Mod", lower_binary},
    {"And", lower_binary},
    {"Or", lower_binary},
    {"Xor", lower_binary},
    {"Not", lower_unary},
    {"Equal", lower_comparison},
    {"LessOrEqual", lower_comparison},
    {"GreaterOrEqual", lower_comparison},
    {"Less", lower_comparison},
    {"Greater", lower_comparison},
    {"Where", lower_where},
    {"Cast", lower_cast},
    {"Concat", lower_concat},
    {"Split", lower_split},
    {"Flatten", lower_reshape},
    {"Reshape", lower_reshape},
    {"Transpose", lower_transpose},
    {"Squeeze", lower_reshape},
    {"Unsqueeze", lower_reshape},
    {"Slice", lower_slice},
    {"Gather", lower_gather},
    {"GatherElements", lower_gather_elements},
    {"Pad", lower_pad},
    {"Resize", lower_resize},
    {"TopK", lower_topk},
    {"Einsum", lower_einsum},
    {"ReduceMean", lower_reduce},
    {"ReduceSum", lower_reduce},
    {"ReduceMax", lower_reduce},
    {"ReduceMin", lower_reduce},
    {"ArgMax", lower_arg_reduce},
    {"ArgMin", lower_arg_reduce},
    {"Shape", lower_folded},
    {"Size", lower_folded},
    {"Identity", lower_reshape},
    {"Dropout", lower_dropout},
    {"ConstantOfShape", lower_folded},
    {"Expand", lower_expand},
    {"Tile", lower_tile},
    {"Range", lower_folded},

    // Activations, math, variadic sums, reductions and CastLike of the transformer exports.
    {"IsNaN", lower_unary},
    {"IsInf", lower_unary},
    {"Sin", lower_unary},
    {"Cos", lower_unary},
    {"Gelu", lower_unary},
    {"Elu", lower_unary},
    {"Selu", lower_unary},
    {"Softplus", lower_unary},
    {"Mish", lower_unary},
    {"Sum", lower_binary},
    {"Mean", lower_binary},
    {"ReduceProd", lower_reduce},
    {"ReduceL2", lower_reduce},
    {"ReduceLogSumExp", lower_reduce},
    {"CastLike", lower_cast},
    {"GatherND", lower_gather_nd},
    {"ScatterND", lower_scatter_nd},
    {"ScatterElements", lower_scatter_elements},
    {"DepthToSpace", lower_depth_to_space},
    {"SpaceToDepth", lower_depth_to_space},
    {"InstanceNormalization", lower_group_norm},
    {"GroupNormalization", lower_group_norm},
    {"CumSum", lower_cumsum},
    {"Trilu", lower_trilu},
    {"QuantizeLinear", lower_quantize_linear},
    {"DequantizeLinear", lower_dequantize_linear},
    {"DynamicQuantizeLinear", lower_dynamic_quantize_linear},
    {"MatMulInteger", lower_matmul_integer},
    {"MatMulNBits", lower_matmul_nbits},
    {"GatherBlockQuantized", lower_gather_block_quantized},
    {"QuantizedConv", lower_quantized_conv},
    {"QuantizedMatMul", lower_quantized_matmul},
    {"QuantizedAdd", lower_quantized_add},
    {"FusedAttention", lower_attention},
    {"RoiAlign", lower_roi_align},
    {"NonZero", lower_nonzero},
    {"NonMaxSuppression", lower_non_max_suppression},
    {"If", lower_control_flow},
    {"Loop", lower_control_flow},
};
}  // namespace

LowerFn find_lowering(const std::string& op_type) {
  for (const GpuOp& op : kOps)
    if (op_type == op.op_type) return op.lower;
  return nullptr;
}

std::vector<std::string> lowered_op_types() {
  std::vector<std::string> out;
  for (const GpuOp& op : kOps) out.emplace_back(op.op_type);
  return out;
}

}  // namespace metalnn::gpu
