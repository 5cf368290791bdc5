// The one list of ops the engine knows: X(OpType, family, infer function). The family names the
// files of the op in every layer: cpp/core/ops/<family>.cpp (schema), cpp/cpu/ops/<family>.cpp
// (kernel), cpp/gpu/ops/<family>.cpp (lowering), metal/<family>.metal, tests/python/test_<family>.py.
// The schema registry (core/ops/registry.cpp) expands it; the CPU and GPU registries are checked
// against it (tests/cpp/op_list_test.cpp). Adding an op starts with one line here.
#pragma once

#define METALNN_OPS(X) \
  X(Conv, conv, infer_conv)                                       \
  X(Gemm, gemm, infer_gemm)                                       \
  X(MatMul, gemm, infer_matmul)                                   \
  X(MaxPool, pool, infer_pool)                                    \
  X(AveragePool, pool, infer_pool)                                \
  X(GlobalAveragePool, pool, infer_global_pool)                   \
  X(GlobalMaxPool, pool, infer_global_pool)                       \
  X(BatchNormalization, normalization, infer_batch_norm)          \
  X(LRN, normalization, infer_lrn)                                \
  X(Softmax, softmax, infer_softmax)                              \
  X(LogSoftmax, softmax, infer_softmax)                           \
  X(ConvTranspose, conv_transpose, infer_conv_transpose)          \
  X(LayerNormalization, layer_norm, infer_layer_norm)             \
  X(Resize, resize, infer_resize)                                 \
  X(Relu, elementwise, infer_unary)                               \
  X(LeakyRelu, elementwise, infer_unary)                          \
  X(Clip, elementwise, infer_unary)                               \
  X(Sigmoid, elementwise, infer_unary)                            \
  X(HardSigmoid, elementwise, infer_unary)                        \
  X(HardSwish, elementwise, infer_unary)                          \
  X(Tanh, elementwise, infer_unary)                               \
  X(Erf, elementwise, infer_unary)                                \
  X(Sqrt, elementwise, infer_unary)                               \
  X(Exp, elementwise, infer_unary)                                \
  X(Log, elementwise, infer_unary)                                \
  X(Neg, elementwise, infer_unary)                                \
  X(Abs, elementwise, infer_unary)                                \
  X(Reciprocal, elementwise, infer_unary)                         \
  X(Floor, elementwise, infer_unary)                              \
  X(Ceil, elementwise, infer_unary)                               \
  X(Add, elementwise, infer_broadcast_binary)                     \
  X(Sub, elementwise, infer_broadcast_binary)                     \
  X(Mul, elementwise, infer_broadcast_binary)                     \
  X(Div, elementwise, infer_broadcast_binary)                     \
  X(Pow, elementwise, infer_broadcast_binary)                     \
  X(PRelu, elementwise, infer_broadcast_binary)                   \
  X(Min, elementwise, infer_broadcast_binary)                     \
  X(Max, elementwise, infer_broadcast_binary)                     \
  X(Equal, elementwise, infer_comparison)                         \
  X(Less, elementwise, infer_comparison)                          \
  X(Greater, elementwise, infer_comparison)                       \
  X(LessOrEqual, elementwise, infer_comparison)                   \
  X(GreaterOrEqual, elementwise, infer_comparison)                \
  X(Mod, elementwise, infer_broadcast_binary)                     \
  X(And, elementwise, infer_logical)                              \
  X(Or, elementwise, infer_logical)                               \
  X(Xor, elementwise, infer_logical)                              \
  X(Not, elementwise, infer_unary)                                \
  X(Where, where, infer_where)                                    \
  X(Cast, cast, infer_cast)                                       \
  X(Concat, concat, infer_concat)                                 \
  X(Split, split, infer_split)                                    \
  X(Flatten, reshape, infer_flatten)                              \
  X(Reshape, reshape, infer_reshape)                              \
  X(Transpose, transpose, infer_transpose)                        \
  X(Squeeze, reshape, infer_squeeze)                              \
  X(Unsqueeze, reshape, infer_unsqueeze)                          \
  X(Slice, slice, infer_slice)                                    \
  X(Gather, gather, infer_gather)                                 \
  X(Pad, pad, infer_pad)                                          \
  X(ReduceMean, reduce, infer_reduce)                             \
  X(ReduceSum, reduce, infer_reduce)                              \
  X(ReduceMax, reduce, infer_reduce)                              \
  X(ReduceMin, reduce, infer_reduce)                              \
  X(Shape, shape, infer_shape)                                    \
  X(Size, shape, infer_size)                                      \
  X(Identity, reshape, infer_identity)                            \
  X(Dropout, reshape, infer_identity)                             \
  X(ConstantOfShape, constant_of_shape, infer_constant_of_shape)  \
  X(Expand, expand, infer_expand)                                 \
  X(Range, range, infer_range)                                    \
  X(Tile, tile, infer_tile)                                       \
  X(ArgMax, arg_reduce, infer_arg_reduce)                         \
  X(ArgMin, arg_reduce, infer_arg_reduce)                         \
  X(TopK, topk, infer_topk)                                       \
  X(GatherElements, gather_elements, infer_gather_elements)       \
  X(Einsum, einsum, infer_einsum)                                
