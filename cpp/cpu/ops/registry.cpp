// The CPU device's kernels, one line per op type of core/ops/op_list.h (tests/cpp/op_list_test.cpp
// checks both lists agree); factories live in cpp/cpu/ops/<family>.cpp.
#include "cpu/kernel.h"
#include "cpu/ops/registry.h"

namespace metalnn::cpu {

std::unique_ptr<Kernel> make_conv_kernel(const Graph&, const Node&);
std::unique_ptr<Kernel> make_gemm_kernel(const Graph&, const Node&);
std::unique_ptr<Kernel> make_matmul_kernel(const Graph&, const Node&);
std::unique_ptr<Kernel> make_pool_kernel(const Graph&, const Node&);
std::unique_ptr<Kernel> make_global_pool_kernel(const Graph&, const Node&);
std::unique_ptr<Kernel> make_batch_norm_kernel(const Graph&, const Node&);
std::unique_ptr<Kernel> make_lrn_kernel(const Graph&, const Node&);
std::unique_ptr<Kernel> make_softmax_kernel(const Graph&, const Node&);
std::unique_ptr<Kernel> make_conv_transpose_kernel(const Graph&, const Node&);
std::unique_ptr<Kernel> make_layer_norm_kernel(const Graph&, const Node&);
std::unique_ptr<Kernel> make_resize_kernel(const Graph&, const Node&);


std::unique_ptr<Kernel> make_unary_kernel(const Graph&, const Node&);
std::unique_ptr<Kernel> make_binary_kernel(const Graph&, const Node&);
std::unique_ptr<Kernel> make_where_kernel(const Graph&, const Node&);
std::unique_ptr<Kernel> make_cast_kernel(const Graph&, const Node&);
std::unique_ptr<Kernel> make_concat_kernel(const Graph&, const Node&);
std::unique_ptr<Kernel> make_split_kernel(const Graph&, const Node&);
std::unique_ptr<Kernel> make_copy_kernel(const Graph&, const Node&);  // Reshape, Flatten, Squeeze, Unsqueeze, Identity, Dropout
std::unique_ptr<Kernel> make_transpose_kernel(const Graph&, const Node&);
std::unique_ptr<Kernel> make_slice_kernel(const Graph&, const Node&);
std::unique_ptr<Kernel> make_gather_kernel(const Graph&, const Node&);
std::unique_ptr<Kernel> make_pad_kernel(const Graph&, const Node&);
std::unique_ptr<Kernel> make_reduce_kernel(const Graph&, const Node&);
std::unique_ptr<Kernel> make_shape_kernel(const Graph&, const Node&);  // Shape, Size
std::unique_ptr<Kernel> make_constant_of_shape_kernel(const Graph&, const Node&);
std::unique_ptr<Kernel> make_expand_kernel(const Graph&, const Node&);
std::unique_ptr<Kernel> make_range_kernel(const Graph&, const Node&);
std::unique_ptr<Kernel> make_tile_kernel(const Graph&, const Node&);
std::unique_ptr<Kernel> make_arg_reduce_kernel(const Graph&, const Node&);  // ArgMax, ArgMin
std::unique_ptr<Kernel> make_topk_kernel(const Graph&, const Node&);
std::unique_ptr<Kernel> make_nonzero_kernel(const Graph&, const Node&);
std::unique_ptr<Kernel> make_non_max_suppression_kernel(const Graph&, const Node&);
std::unique_ptr<Kernel> make_gather_elements_kernel(const Graph&, const Node&);
std::unique_ptr<Kernel> make_einsum_kernel(const Graph&, const Node&);
std::unique_ptr<Kernel> make_gather_nd_kernel(const Graph&, const Node&);
std::unique_ptr<Kernel> make_scatter_nd_kernel(const Graph&, const Node&);
std::unique_ptr<Kernel> make_scatter_elements_kernel(const Graph&, const Node&);
std::unique_ptr<Kernel> make_depth_to_space_kernel(const Graph&, const Node&);  // DepthToSpace, SpaceToDepth
std::unique_ptr<Kernel> make_group_norm_kernel(const Graph&, const Node&);  // InstanceNormalization, GroupNormalization
std::unique_ptr<Kernel> make_cumsum_kernel(const Graph&, const Node&);
std::unique_ptr<Kernel> make_trilu_kernel(const Graph&, const Node&);
std::unique_ptr<Kernel> make_quantize_linear_kernel(const Graph&, const Node&);
std::unique_ptr<Kernel> make_dequantize_linear_kernel(const Graph&, const Node&);
std::unique_ptr<Kernel> make_dynamic_quantize_linear_kernel(const Graph&, const Node&);
std::unique_ptr<Kernel> make_matmul_integer_kernel(const Graph&, const Node&);
std::unique_ptr<Kernel> make_roi_align_kernel(const Graph&, const Node&);
std::unique_ptr<Kernel> make_matmul_nbits_kernel(const Graph&, const Node&);
std::unique_ptr<Kernel> make_gather_block_quantized_kernel(const Graph&, const Node&);
std::unique_ptr<Kernel> make_quantized_conv_kernel(const Graph&, const Node&);
std::unique_ptr<Kernel> make_quantized_matmul_kernel(const Graph&, const Node&);
std::unique_ptr<Kernel> make_quantized_add_kernel(const Graph&, const Node&);
std::unique_ptr<Kernel> make_attention_kernel(const Graph&, const Node&);
std::unique_ptr<Kernel> make_control_flow_kernel(const Graph&, const Node&);  // If, Loop

namespace {
struct KernelEntry {
  const char* op_type;
  KernelFactory make;
};
constexpr KernelEntry kKernels[] = {
    {"Conv", make_conv_kernel},
    {"Gemm", make_gemm_kernel},
    {"MatMul", make_matmul_kernel},
    {"MaxPool", make_pool_kernel},
    {"AveragePool", make_pool_kernel},
    {"GlobalAveragePool", make_global_pool_kernel},
    {"GlobalMaxPool", make_global_pool_kernel},
    {"BatchNormalization", make_batch_norm_kernel},
    {"LRN", make_lrn_kernel},
    {"Softmax", make_softmax_kernel},
    {"LogSoftmax", make_softmax_kernel},
    {"ConvTranspose", make_conv_transpose_kernel},
    {"LayerNormalization", make_layer_norm_kernel},
    {"Resize", make_resize_kernel},

    {"Relu", make_unary_kernel},
    {"LeakyRelu", make_unary_kernel},
    {"Clip", make_unary_kernel},
    {"Sigmoid", make_unary_kernel},
    {"HardSigmoid", make_unary_kernel},
    {"HardSwish", make_unary_kernel},
    {"Swish", make_unary_kernel},
    {"Tanh", make_unary_kernel},
    {"Erf", make_unary_kernel},
    {"Sqrt", make_unary_kernel},
    {"Exp", make_unary_kernel},
    {"Log", make_unary_kernel},
    {"Neg", make_unary_kernel},
    {"Abs", make_unary_kernel},
    {"Reciprocal", make_unary_kernel},
    {"Floor", make_unary_kernel},
    {"Ceil", make_unary_kernel},
    {"Add", make_binary_kernel},
    {"Sub", make_binary_kernel},
    {"Mul", make_binary_kernel},
    {"Div", make_binary_kernel},
    {"Pow", make_binary_kernel},
    {"PRelu", make_binary_kernel},
    {"Min", make_binary_kernel},
    {"Max", make_binary_kernel},
    {"Equal", make_binary_kernel},
    {"Less", make_binary_kernel},
    {"Greater", make_binary_kernel},
    {"LessOrEqual", make_binary_kernel},
    {"GreaterOrEqual", make_binary_kernel},
    {"Mod", make_binary_kernel},
    {"And", make_binary_kernel},
    {"Or", make_binary_kernel},
    {"Xor", make_binary_kernel},
    {"Not", make_unary_kernel},
    {"Where", make_where_kernel},
    {"Cast", make_cast_kernel},
    {"Concat", make_concat_kernel},
    {"Split", make_split_kernel},
    {"Flatten", make_copy_kernel},
    {"Reshape", make_copy_kernel},
    {"Transpose", make_transpose_kernel},
    {"Squeeze", make_copy_kernel},
    {"Unsqueeze", make_copy_kernel},
    {"Slice", make_slice_kernel},
    {"Gather", make_gather_kernel},
    {"Pad", make_pad_kernel},
    {"ReduceMean", make_reduce_kernel},
    {"ReduceSum", make_reduce_kernel},
    {"ReduceMax", make_reduce_kernel},
    {"ReduceMin", make_reduce_kernel},
    {"Shape", make_shape_kernel},
    {"Size", make_shape_kernel},
    {"Identity", make_copy_kernel},
    {"Dropout", make_copy_kernel},
    {"ConstantOfShape", make_constant_of_shape_kernel},
    {"Expand", make_expand_kernel},
    {"Range", make_range_kernel},
    {"Tile", make_tile_kernel},
    {"ArgMax", make_arg_reduce_kernel},
    {"ArgMin", make_arg_reduce_kernel},
    {"TopK", make_topk_kernel},
    {"GatherElements", make_gather_elements_kernel},
    {"Einsum", make_einsum_kernel},

    // Activations, math, variadic sums, reductions and CastLike of the transformer exports.
    {"IsNaN", make_unary_kernel},
    {"IsInf", make_unary_kernel},
    {"Sin", make_unary_kernel},
    {"Cos", make_unary_kernel},
    {"Gelu", make_unary_kernel},
    {"Elu", make_unary_kernel},
    {"Selu", make_unary_kernel},
    {"Softplus", make_unary_kernel},
    {"Mish", make_unary_kernel},
    {"Sum", make_binary_kernel},
    {"Mean", make_binary_kernel},
    {"ReduceProd", make_reduce_kernel},
    {"ReduceL2", make_reduce_kernel},
    {"ReduceLogSumExp", make_reduce_kernel},
    {"CastLike", make_cast_kernel},
    {"GatherND", make_gather_nd_kernel},
    {"ScatterND", make_scatter_nd_kernel},
    {"ScatterElements", make_scatter_elements_kernel},
    {"DepthToSpace", make_depth_to_space_kernel},
    {"SpaceToDepth", make_depth_to_space_kernel},
    {"InstanceNormalization", make_group_norm_kernel},
    {"GroupNormalization", make_group_norm_kernel},
    {"CumSum", make_cumsum_kernel},
    {"Trilu", make_trilu_kernel},
    {"QuantizeLinear", make_quantize_linear_kernel},
    {"DequantizeLinear", make_dequantize_linear_kernel},
    {"DynamicQuantizeLinear", make_dynamic_quantize_linear_kernel},
    {"MatMulInteger", make_matmul_integer_kernel},
    {"RoiAlign", make_roi_align_kernel},
    {"MatMulNBits", make_matmul_nbits_kernel},
    {"GatherBlockQuantized", make_gather_block_quantized_kernel},
    {"QuantizedConv", make_quantized_conv_kernel},
    {"QuantizedMatMul", make_quantized_matmul_kernel},
    {"QuantizedAdd", make_quantized_add_kernel},
    {"FusedAttention", make_attention_kernel},
    {"NonZero", make_nonzero_kernel},
    {"NonMaxSuppression", make_non_max_suppression_kernel},
    {"If", make_control_flow_kernel},
    {"Loop", make_control_flow_kernel},
};
}  // namespace

KernelFactory find_kernel(const std::string& op_type) {
  for (const KernelEntry& e : kKernels)
    if (op_type == e.op_type) return e.make;
  return nullptr;
}

std::vector<std::string> kernel_op_types() {
  std::vector<std::string> out;
  for (const KernelEntry& e : kKernels) out.emplace_back(e.op_type);
  return out;
}

}  // namespace metalnn::cpu
