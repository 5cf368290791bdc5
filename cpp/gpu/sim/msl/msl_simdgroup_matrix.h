// simdgroup_matrix<T, 8, 8>: each simulated lane holds the whole 8x8 matrix and performs the whole
// operation, which gives the SIMD-group's result without modelling the hardware's element layout.
// Loads, stores and multiplies are SIMD-group collectives, so they go through the runtime's exchange
// like simd_sum: a call reached by part of a SIMD-group, or at different lines, is a fault. A store is
// performed by one lane (the GPU spreads it over the lanes; no lane may read it back before a barrier).
// Element types and sizes are the specification's: float, half (bfloat on newer GPUs is not modelled),
// 8x8 only; loads and stores address device or threadgroup memory of the matrix's element type.
#pragma once
#include "msl_math.h"
#include "msl_sync.h"

namespace metal {

template <class T, int Rows, int Cols>
struct simdgroup_matrix {
  static_assert(std::is_same_v<T, float> || std::is_same_v<T, half>,
                "simdgroup-matrix: element type must be float or half");
  static_assert(Rows == 8 && Cols == 8, "simdgroup-matrix: only 8x8 matrices exist");
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

namespace detail {
// The SIMD-group meets at this call; true in the one lane that performs a store.
inline bool simdgroup_matrix_collective(MSL_STRING what, MSL_STRING file, unsigned line) {
  const auto lanes = exchange(true, what, file, line);
  return lanes.lane == unsigned(__builtin_ctz(lanes.active_mask));
}
}  // namespace detail

// matrix_origin is (column, row) of the block's first element in memory. One overload per address
// space the specification allows (the simulator's build erases them, leaving one).
#define MSL_SIMDGROUP_LOAD_STORE(space)                                                                 \
  template <class T, int Rows, int Cols>                                                                \
  void simdgroup_load(simdgroup_matrix<T, Rows, Cols>& d, const space T* src,                           \
                      unsigned long elements_per_row = Cols,                                            \
                      vec<unsigned long, 2> matrix_origin = vec<unsigned long, 2>(0UL),                 \
                      bool transpose = false, MSL_SITE) {                                               \
    detail::simdgroup_matrix_collective("simdgroup_load", site_file, site_line);                        \
    const space T* base = src + matrix_origin[1] * elements_per_row + matrix_origin[0];                 \
    for (int r = 0; r < Rows; ++r)                                                                      \
      for (int c = 0; c < Cols; ++c)                                                                    \
        d.m_[r][c] = transpose ? base[c * elements_per_row + r] : base[r * elements_per_row + c];       \
  }                                                                                                     \
  template <class T, int Rows, int Cols>                                                                \
  void simdgroup_store(const simdgroup_matrix<T, Rows, Cols>& a, space T* dst,                          \
                       unsigned long elements_per_row = Cols,                                           \
                       vec<unsigned long, 2> matrix_origin = vec<unsigned long, 2>(0UL),                \
                       bool transpose = false, MSL_SITE) {                                              \
    if (!detail::simdgroup_matrix_collective("simdgroup_store", site_file, site_line)) return;          \
    space T* base = dst + matrix_origin[1] * elements_per_row + matrix_origin[0];                       \
    for (int r = 0; r < Rows; ++r)                                                                      \
      for (int c = 0; c < Cols; ++c)                                                                    \
        (transpose ? base[c * elements_per_row + r] : base[r * elements_per_row + c]) = a.m_[r][c];     \
  }
MSL_SIMDGROUP_LOAD_STORE(device)
#if METAL_SIM_ADDRESS_SPACE_CHECK == 1  // pass 2 maps device and threadgroup to one OpenCL space
MSL_SIMDGROUP_LOAD_STORE(threadgroup)
#endif
#undef MSL_SIMDGROUP_LOAD_STORE

// d = a * b + c, accumulated in float and rounded once to d's type.
template <class T, class A, class B, class C, int M, int K, int N>
void simdgroup_multiply_accumulate(simdgroup_matrix<T, M, N>& d, const simdgroup_matrix<A, M, K>& a,
                                   const simdgroup_matrix<B, K, N>& b, const simdgroup_matrix<C, M, N>& c,
                                   MSL_SITE) {
  detail::simdgroup_matrix_collective("simdgroup_multiply_accumulate", site_file, site_line);
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
                        const simdgroup_matrix<B, K, N>& b, MSL_SITE) {
  simdgroup_multiply_accumulate(d, a, b, make_filled_simdgroup_matrix<T, M, N>(T(0)), site_file, site_line);
}

}  // namespace metal
