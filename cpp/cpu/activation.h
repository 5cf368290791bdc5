// Applies an Activation to a float buffer in place: the epilogue of fused Conv/Gemm/MatMul and the
// body of the standalone activation ops.
#pragma once
#include <cstdint>

#include "core/activation.h"

namespace metalnn::cpu {

void apply_activation(float* x, int64_t n, const Activation& act);
// out = act(in), out may alias in.
void apply_activation(const float* in, float* out, int64_t n, const Activation& act);

}  // namespace metalnn::cpu
