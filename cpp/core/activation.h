// An activation fused into the producing Conv/Gemm/MatMul by the fusion pass, stored as node attributes
// (_activation, _activation_alpha, _activation_beta) so every device reads the same description.
#pragma once
#include <string>

#include "core/graph.h"

namespace metalnn {

struct Activation {
  // Gelu is the erf form, GeluTanh the tanh approximation (Gelu with approximate="tanh").
  enum class Kind { None, Relu, LeakyRelu, Clip, Sigmoid, HardSigmoid, HardSwish, Tanh, Swish, Gelu, GeluTanh };
  Kind kind = Kind::None;
  float alpha = 0.f;  // LeakyRelu slope, Clip min, HardSigmoid alpha, Swish x * sigmoid(alpha * x)
  float beta = 0.f;   // Clip max, HardSigmoid beta

  // The fused activation recorded on `n` (Kind::None when there is none).
  static Activation of_node(const Node& n);
  // Describes a standalone activation node (Relu, Clip with constant bounds, ...); Kind::None if `n` is not one.
  static Activation from_activation_node(const Graph& g, const Node& n);
  void store(Node& n) const;
  bool none() const { return kind == Kind::None; }
};

}  // namespace metalnn
