// simdgroup_matrix<T, 8, 8>: each simulated lane holds the whole 8x8 matrix and performs the whole
// operation, which gives the SIMD-group's result without modelling the hardware's element layout.
#pragma once
#include "msl_math.h"

namespace metal {

template <class T, int Rows, int Cols>
struct simdgroup_matrix {
  T m_[Rows][Cols];

  simdgroup_matrix() = default;
  // MSL: a matrix constructed from a scalar holds it on the diagonal.
  explicit simdgroup_matrix(T diagonal) {
    for (int r = 0; r < Rows; ++r)
      for (int c = 0; c < Cols; ++c) m_[r][c] = r == c ? diagonal : T(0);
  }
};
using simdgroup_float8x8 = simdgroup_matrix<float, 8, 8>;
using simdgroup_half8x8 = simdgroup_matrix<half, 8, 8>;

template <class T, int Rows, int Cols>
simdgroup_matrix<T, Rows, Cols> make_filled_simdgroup_matrix(T value) {
  simdgroup_matrix<T, Rows, Cols> out;
  for (int r = 0; r < Rows; ++r)
    for (int c = 0; c < Cols; ++c) out.m_[r][c] = value;
  return out;
}

// matrix_origin is (column, row) of the block's first element in the source.
template <class T, int Rows, int Cols, class U>
void simdgroup_load(simdgroup_matrix<T, Rows, Cols>& d, const U* src, unsigned long elements_per_row = Cols,
                    vec<unsigned long, 2> matrix_origin = vec<unsigned long, 2>(0UL), bool transpose = false) {
  const U* base = src + matrix_origin[1] * elements_per_row + matrix_origin[0];
  for (int r = 0; r < Rows; ++r)
    for (int c = 0; c < Cols; ++c)
      d.m_[r][c] = T(transpose ? base[c * elements_per_row + r] : base[r * elements_per_row + c]);
}

template <class T, int Rows, int Cols, class U>
void simdgroup_store(const simdgroup_matrix<T, Rows, Cols>& a, U* dst, unsigned long elements_per_row = Cols,
                     vec<unsigned long, 2> matrix_origin = vec<unsigned long, 2>(0UL), bool transpose = false) {
  U* base = dst + matrix_origin[1] * elements_per_row + matrix_origin[0];
  for (int r = 0; r < Rows; ++r)
    for (int c = 0; c < Cols; ++c) {
      U& out = transpose ? base[c * elements_per_row + r] : base[r * elements_per_row + c];
      out = U(a.m_[r][c]);
    }
}

// d = a * b + c, accumulated in float and rounded once to d's type.
template <class T, class A, class B, class C, int M, int K, int N>
void simdgroup_multiply_accumulate(simdgroup_matrix<T, M, N>& d, const simdgroup_matrix<A, M, K>& a,
                                   const simdgroup_matrix<B, K, N>& b, const simdgroup_matrix<C, M, N>& c) {
  simdgroup_matrix<T, M, N> out;
  for (int i = 0; i < M; ++i)
    for (int j = 0; j < N; ++j) {
      float sum = float(c.m_[i][j]);
      for (int k = 0; k < K; ++k) sum = fused_multiply_add(float(a.m_[i][k]), float(b.m_[k][j]), sum);
      out.m_[i][j] = T(sum);
    }
  d = out;
}

template <class T, class A, class B, int M, int K, int N>
void simdgroup_multiply(simdgroup_matrix<T, M, N>& d, const simdgroup_matrix<A, M, K>& a,
                        const simdgroup_matrix<B, K, N>& b) {
  simdgroup_multiply_accumulate(d, a, b, make_filled_simdgroup_matrix<T, M, N>(T(0)));
}

}  // namespace metal
