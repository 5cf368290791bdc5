#include "cpu/epilogue.h"

#include <algorithm>

#include "cpu/activation.h"

namespace metalnn::cpu {

void bias_activation_serial(float* y, int64_t rows, int64_t cols, int64_t ld, const float* row_bias,
                            const float* col_bias, const Activation& act) {
  for (int64_t r = 0; r < rows; ++r) {
    float* row = y + r * ld;
    const float rb = row_bias ? row_bias[r] : 0.f;
    if (col_bias) {
      for (int64_t c = 0; c < cols; ++c) row[c] += col_bias[c] + rb;
      apply_activation(row, cols, act);
    } else {
      add_activation(row, cols, rb, act);
    }
  }
}

void transpose_bias_activation(const float* t, int64_t ldt, int64_t rows, int64_t cols, float* y, int64_t ldy,
                               const float* bias, const Activation& act) {
  // Square blocks, so both the rows read and the rows written stay in L1.
  constexpr int64_t kBlock = 16;
  for (int64_t c0 = 0; c0 < cols; c0 += kBlock) {
    const int64_t c1 = std::min(cols, c0 + kBlock);
    for (int64_t r0 = 0; r0 < rows; r0 += kBlock) {
      const int64_t r1 = std::min(rows, r0 + kBlock);
      for (int64_t c = c0; c < c1; ++c)
        for (int64_t r = r0; r < r1; ++r) y[c * ldy + r] = t[r * ldt + c];
    }
    for (int64_t c = c0; c < c1; ++c) add_activation(y + c * ldy, rows, bias ? bias[c] : 0.f, act);
  }
}

void bias_activation(float* y, int64_t rows, int64_t cols, int64_t ld, const float* row_bias, const float* col_bias,
                     const Activation& act, ThreadPool& pool) {
  if (!row_bias && !col_bias && act.none()) return;
  // Small blocks are not worth waking the pool for.
  const int64_t grain = std::max<int64_t>(1, (int64_t{1} << 15) / std::max<int64_t>(1, cols));
  pool.parallel_for(rows, grain, [&](int64_t r0, int64_t r1) {
    bias_activation_serial(y + r0 * ld, r1 - r0, cols, ld, row_bias ? row_bias + r0 : nullptr, col_bias, act);
  });
}

void residual_activation_serial(float* y, const float* res, int64_t rows, int64_t cols, int64_t ld,
                                const Activation& act) {
  for (int64_t r = 0; r < rows; ++r) {
    float* row = y + r * ld;
    const float* add = res + r * ld;
    for (int64_t c = 0; c < cols; ++c) row[c] += add[c];
    apply_activation(row, cols, act);
  }
}

void residual_activation(float* y, const float* res, int64_t n, const Activation& act, ThreadPool& pool) {
  pool.parallel_for(n, int64_t{1} << 14, [&](int64_t i0, int64_t i1) {
    residual_activation_serial(y + i0, res + i0, 1, i1 - i0, 0, act);
  });
}

}  // namespace metalnn::cpu
