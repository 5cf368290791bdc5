// Graph rewrites applied once at load time. Each pass takes a sorted, shape-inferred graph and leaves
// it sorted and shape-inferred; each is tested alone in tests/cpp/passes_test.cpp.
#pragma once
#include "core/evaluator.h"
#include "core/graph.h"

namespace metalnn {

// Infers shapes node by node and evaluates every node whose inputs are all constant (with
// `evaluator`, the CPU device's in practice), so exported shape arithmetic (Shape -> Gather ->
// Concat -> Reshape) disappears. With `keep_weight_dequantize`, DequantizeLinear of int8/uint8
// constants stays for fuse_quantized.
void fold_constants(Graph& g, const NodeEvaluator& evaluator, bool keep_weight_dequantize = false);

// Before any input shape is known: evaluates the nodes that read only constants (weights an exporter
// transposes, reshapes or casts) and lets go of each constant once nothing reads it any more, so
// every shape specialisation starts from the folded weights. DequantizeLinear of int8/uint8 weights
// and graph outputs stay; a graph with If or Loop is left as it is.
void fold_weights(Graph& g, const NodeEvaluator& evaluator);

// Conv -> BatchNormalization with constant parameters becomes one Conv with rescaled weights and bias.
void fold_batch_norm(Graph& g);

// MatMul -> Add(constant [N]) becomes MatMul with a bias input; Conv -> Add(constant [C,1,1]) joins the Conv bias.
void fuse_bias(Graph& g);

// Mul(x, Sigmoid(x)) (SiLU) and Mul(x, Sigmoid(alpha * x)) become Swish (ONNX opset 24), one pass over x
// that fuse_activations can then merge into the op producing x.
void fuse_swish(Graph& g);

// MatMul(x, constant W [, constant bias]) -> [Transpose] -> Mul(constant per output channel), as a
// layer scale after a Linear, becomes the MatMul with W's columns and the bias scaled (then the Transpose).
void fold_channel_scale(Graph& g);

// Conv -> Add(conv, r), r of the output's shape (a residual connection), becomes one Conv with r as a
// fourth input (attribute _residual) that adds r before its activation, so the Relu after the sum
// then fuses too. Not across a Conv activation, which would come before the sum.
void fuse_residual(Graph& g);

// Conv/Gemm/MatMul -> activation becomes one node carrying the activation (see core/activation.h).
void fuse_activations(Graph& g);

// DequantizeLinear -> MaxPool -> QuantizeLinear with the same per-tensor parameters: MaxPool on the bytes.
void pool_quantized(Graph& g);

// DequantizeLinear -> Conv/MatMul/Gemm/Add -> [Relu|Clip] -> QuantizeLinear becomes QuantizedConv,
// QuantizedMatMul or QuantizedAdd (core/ops/qfused.h), the weights staying int8.
void fuse_quantized(Graph& g);

// GELU written in elementwise ops (the erf form, or the tanh form through Pow(x, 3)) becomes Gelu.
void fuse_gelu(Graph& g);

// Softmax(scale * Q . Kt [+ mask]) . V as exporters write it becomes FusedAttention (core/ops/attention.cpp).
void fuse_attention(Graph& g);

// Identity and inference-mode Dropout forward their input.
void remove_identities(Graph& g);

// Sorts, infers shapes and runs every pass above in order.
void optimize(Graph& g, const NodeEvaluator& evaluator);

}  // namespace metalnn
