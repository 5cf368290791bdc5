// The list of every op the engine knows, with its schema. Adding an op: add its line here, implement
// infer_<op> in cpp/core/ops/<family>.cpp, its kernel per device, and its test (see CONTRIBUTING.md).
#include <algorithm>
#include <iterator>

#include "core/op_schema.h"

namespace metalnn {

// conv.cpp, gemm.cpp, pool.cpp, normalization.cpp, softmax.cpp, conv_transpose.cpp, layer_norm.cpp, resize.cpp
void infer_conv(InferContext&);
void infer_gemm(InferContext&);
void infer_matmul(InferContext&);
void infer_pool(InferContext&);
void infer_global_pool(InferContext&);
void infer_batch_norm(InferContext&);
void infer_lrn(InferContext&);
void infer_softmax(InferContext&);
void infer_conv_transpose(InferContext&);
void infer_layer_norm(InferContext&);
void infer_resize(InferContext&);

// elementwise.cpp, shape_ops.cpp, reduce.cpp and the other data-movement families
void infer_unary(InferContext&);
void infer_broadcast_binary(InferContext&);
void infer_comparison(InferContext&);
void infer_logical(InferContext&);
void infer_where(InferContext&);
void infer_cast(InferContext&);
void infer_concat(InferContext&);
void infer_split(InferContext&);
void infer_flatten(InferContext&);
void infer_reshape(InferContext&);
void infer_transpose(InferContext&);
void infer_squeeze(InferContext&);
void infer_unsqueeze(InferContext&);
void infer_slice(InferContext&);
void infer_gather(InferContext&);
void infer_pad(InferContext&);
void infer_reduce(InferContext&);
void infer_shape(InferContext&);
void infer_size(InferContext&);
void infer_identity(InferContext&);
void infer_constant_of_shape(InferContext&);
void infer_expand(InferContext&);
void infer_range(InferContext&);
void infer_tile(InferContext&);
void infer_arg_reduce(InferContext&);
void infer_topk(InferContext&);
void infer_gather_elements(InferContext&);
void infer_einsum(InferContext&);
void infer_cast_like(InferContext&);
// scatter_gather_nd.cpp, depth_to_space.cpp
void infer_gather_nd(InferContext&);
void infer_scatter_nd(InferContext&);
void infer_scatter_elements(InferContext&);
void infer_depth_to_space(InferContext&);  // DepthToSpace, SpaceToDepth

namespace {
// Sorted by nothing in particular; looked up linearly (a few dozen entries, at load time only).
constexpr OpSchema kSchemas[] = {
    {"Conv", infer_conv},
    {"Gemm", infer_gemm},
    {"MatMul", infer_matmul},
    {"MaxPool", infer_pool},
    {"AveragePool", infer_pool},
    {"GlobalAveragePool", infer_global_pool},
    {"GlobalMaxPool", infer_global_pool},
    {"BatchNormalization", infer_batch_norm},
    {"LRN", infer_lrn},
    {"Softmax", infer_softmax},
    {"LogSoftmax", infer_softmax},
    {"ConvTranspose", infer_conv_transpose},
    {"LayerNormalization", infer_layer_norm},
    {"Resize", infer_resize},

    {"Relu", infer_unary},
    {"LeakyRelu", infer_unary},
    {"Clip", infer_unary},
    {"Sigmoid", infer_unary},
    {"HardSigmoid", infer_unary},
    {"HardSwish", infer_unary},
    {"Tanh", infer_unary},
    {"Erf", infer_unary},
    {"Sqrt", infer_unary},
    {"Exp", infer_unary},
    {"Log", infer_unary},
    {"Neg", infer_unary},
    {"Abs", infer_unary},
    {"Reciprocal", infer_unary},
    {"Floor", infer_unary},
    {"Ceil", infer_unary},
    {"Add", infer_broadcast_binary},
    {"Sub", infer_broadcast_binary},
    {"Mul", infer_broadcast_binary},
    {"Div", infer_broadcast_binary},
    {"Pow", infer_broadcast_binary},
    {"PRelu", infer_broadcast_binary},
    {"Min", infer_broadcast_binary},
    {"Max", infer_broadcast_binary},
    {"Equal", infer_comparison},
    {"Less", infer_comparison},
    {"Greater", infer_comparison},
    {"LessOrEqual", infer_comparison},
    {"GreaterOrEqual", infer_comparison},
    {"Mod", infer_broadcast_binary},
    {"And", infer_logical},
    {"Or", infer_logical},
    {"Xor", infer_logical},
    {"Not", infer_unary},
    {"Where", infer_where},
    {"Cast", infer_cast},
    {"Concat", infer_concat},
    {"Split", infer_split},
    {"Flatten", infer_flatten},
    {"Reshape", infer_reshape},
    {"Transpose", infer_transpose},
    {"Squeeze", infer_squeeze},
    {"Unsqueeze", infer_unsqueeze},
    {"Slice", infer_slice},
    {"Gather", infer_gather},
    {"Pad", infer_pad},
    {"ReduceMean", infer_reduce},
    {"ReduceSum", infer_reduce},
    {"ReduceMax", infer_reduce},
    {"ReduceMin", infer_reduce},
    {"Shape", infer_shape},
    {"Size", infer_size},
    {"Identity", infer_identity},
    {"Dropout", infer_identity},
    {"ConstantOfShape", infer_constant_of_shape},
    {"Expand", infer_expand},
    {"Range", infer_range},
    {"Tile", infer_tile},
    {"ArgMax", infer_arg_reduce},
    {"ArgMin", infer_arg_reduce},
    {"TopK", infer_topk},
    {"GatherElements", infer_gather_elements},
    {"Einsum", infer_einsum},

    // Activations, math, variadic sums, reductions and CastLike of the transformer exports.
    {"IsNaN", infer_unary},
    {"IsInf", infer_unary},
    {"Sin", infer_unary},
    {"Cos", infer_unary},
    {"Gelu", infer_unary},
    {"Elu", infer_unary},
    {"Selu", infer_unary},
    {"Softplus", infer_unary},
    {"Mish", infer_unary},
    {"Sum", infer_broadcast_binary},
    {"Mean", infer_broadcast_binary},
    {"ReduceProd", infer_reduce},
    {"ReduceL2", infer_reduce},
    {"ReduceLogSumExp", infer_reduce},
    {"CastLike", infer_cast_like},
    {"GatherND", infer_gather_nd},
    {"ScatterND", infer_scatter_nd},
    {"ScatterElements", infer_scatter_elements},
    {"DepthToSpace", infer_depth_to_space},
    {"SpaceToDepth", infer_depth_to_space},
};
}  // namespace

const OpSchema* find_schema(const std::string& op_type) {
  for (const OpSchema& s : kSchemas)
    if (op_type == s.op_type) return &s;
  return nullptr;
}

std::vector<std::string> supported_op_types() {
  std::vector<std::string> out;
  for (const OpSchema& s : kSchemas) out.emplace_back(s.op_type);
  return out;
}

}  // namespace metalnn
