// Applies an Activation to a float buffer in place: the epilogue of fused Conv/Gemm/MatMul and the
// body of the standalone activation ops. Every kind runs as AVX2 where the CPU has it.
#pragma once
#include <cstdint>

#include "core/activation.h"

namespace metalnn::cpu {

void apply_activation(float* x, int64_t n, const Activation& act);
// out = act(in), out may alias in.
void apply_activation(const float* in, float* out, int64_t n, const Activation& act);
// x = act(x + add): a bias and the activation in one pass.
void add_activation(float* x, int64_t n, float add, const Activation& act);

// The activation as a clamp to [lo, hi] when it is one (None, Relu, Clip), for kernels that apply it
// in registers; otherwise false, with [lo, hi] = [-inf, inf] so the clamp does nothing.
bool activation_as_clamp(const Activation& act, float& lo, float& hi);

}  // namespace metalnn::cpu
