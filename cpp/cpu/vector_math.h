// Row loops over float buffers for Softmax, Gelu and LayerNormalization: AVX2 where the CPU has it (a
// polynomial exp accurate to about 2 ulp), libm otherwise.
#pragma once
#include <cstdint>

namespace metalnn::cpu {

// The largest of x[0, n), n >= 1 (NaN handling as std::max).
float max_of(const float* x, int64_t n);

// y = exp(x - shift), returning the sum of y; y may alias x.
float exp_shifted_sum(const float* x, float* y, int64_t n, float shift);

// y = x * s; y may alias x.
void scale(const float* x, float* y, int64_t n, float s);

// y = Gelu(x + add), the erf form or (tanh_form) the tanh approximation; y may alias x.
void gelu(const float* x, float* y, int64_t n, bool tanh_form, float add = 0.f);

// Sum of x[0, n) and of (x[i] - mean)^2, accumulated in double.
double sum_of(const float* x, int64_t n);
double centered_square_sum(const float* x, int64_t n, float mean);

// y = (x - mean) * inv * scale + bias; y may alias x.
void normalize(const float* x, float* y, int64_t n, float mean, float inv, const float* scale, const float* bias);

}  // namespace metalnn::cpu
