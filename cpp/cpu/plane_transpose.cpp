#include "cpu/plane_transpose.h"

#include <algorithm>

#include "cpu/cpu_features.h"
#include "cpu/dtype_dispatch.h"
#include "cpu/simd_avx2.h"
#include "cpu/transpose16_avx512.h"

namespace metalnn::cpu {

namespace {

constexpr int64_t kTile = 16;  // 16 floats: one cache line per row of a tile

// Output rows [c0, c1) of one plane, a tile of kTile input rows at a time: the band's output rows are
// written as sequential streams while the input is read one short run per row.
template <class T>
void transpose_band(T* out, const T* in, int64_t rows, int64_t cols, int64_t c0, int64_t c1) {
  for (int64_t r0 = 0; r0 < rows; r0 += kTile) {
    const int64_t r1 = std::min(rows, r0 + kTile);
    for (int64_t c = c0; c < c1; ++c) {
      T* o = out + c * rows;
      const T* i = in + c;
      for (int64_t r = r0; r < r1; ++r) o[r] = i[r * cols];
    }
  }
}

#ifdef METALNN_HAS_AVX2_KERNELS
#define METALNN_TRANSPOSE_AVX512 __attribute__((target("avx512f,avx512vl,avx2,fma")))

// The same band for 4-byte elements, each 16x16 tile transposed in registers (masked at the edges).
METALNN_TRANSPOSE_AVX512 void transpose_band_avx512(uint32_t* out, const uint32_t* in, int64_t rows, int64_t cols,
                                                    int64_t c0, int64_t c1) {
  const int nc = static_cast<int>(c1 - c0);
  const __mmask16 col_mask = static_cast<__mmask16>((1u << nc) - 1);
  for (int64_t r0 = 0; r0 < rows; r0 += kTile) {
    const int nr = static_cast<int>(std::min<int64_t>(kTile, rows - r0));
    const __mmask16 row_mask = static_cast<__mmask16>((1u << nr) - 1);
    __m512 v[16];
    for (int r = 0; r < 16; ++r)
      v[r] = r < nr ? _mm512_maskz_loadu_ps(col_mask, in + (r0 + r) * cols + c0) : _mm512_setzero_ps();
    transpose16x16_avx512(v);
    for (int c = 0; c < nc; ++c)
      _mm512_mask_storeu_ps(reinterpret_cast<float*>(out) + (c0 + c) * rows + r0, row_mask, v[c]);
  }
}
#endif

}  // namespace

bool plane_transpose_avx512() {
  static const bool yes = kernel_isa("METALNN_TRANSPOSE_KERNELS") == KernelIsa::Avx512;
  return yes;
}

void PlaneTranspose::run(void* dst, const void* src, ThreadPool& pool) const {
  const int64_t bands = (cols_ + kTile - 1) / kTile, plane = rows_ * cols_;
  // About 32 KiB of input per task, enough to amortise waking a thread.
  const int64_t grain = std::max<int64_t>(1, (1 << 13) / std::max<int64_t>(1, kTile * rows_));
  visit_element_size(elem_size_, [&](auto tag) {
    using T = typename decltype(tag)::type;
    T* d = static_cast<T*>(dst);
    const T* s = static_cast<const T*>(src);
    pool.parallel_for(batch_ * bands, grain, [&](int64_t begin, int64_t end) {
      for (int64_t t = begin; t < end; ++t) {
        const int64_t b = t / bands, c0 = (t % bands) * kTile, c1 = std::min(cols_, c0 + kTile);
#ifdef METALNN_HAS_AVX2_KERNELS
        if constexpr (sizeof(T) == 4) {
          if (plane_transpose_avx512()) {
            transpose_band_avx512(d + b * plane, s + b * plane, rows_, cols_, c0, c1);
            continue;
          }
        }
#endif
        transpose_band(d + b * plane, s + b * plane, rows_, cols_, c0, c1);
      }
    });
  });
}

bool PlaneTranspose::match(const std::vector<int64_t>& shape, const std::vector<int64_t>& perm, int64_t& batch,
                           int64_t& rows, int64_t& cols) {
  // Input axes renumbered without the size-1 ones, which move nothing.
  std::vector<int64_t> compact(shape.size(), -1), sizes;
  for (size_t a = 0; a < shape.size(); ++a)
    if (shape[a] != 1) compact[a] = static_cast<int64_t>(sizes.size()), sizes.push_back(shape[a]);
  // Output axes as runs of consecutive input axes: (first input axis, size) per run, outermost first.
  std::vector<std::pair<int64_t, int64_t>> runs;
  int64_t prev = -2;
  for (int64_t p : perm) {
    const int64_t a = compact[p];
    if (a < 0) continue;
    if (!runs.empty() && a == prev + 1)
      runs.back().second *= sizes[a];
    else
      runs.push_back({a, sizes[a]});
    prev = a;
  }
  if (runs.size() == 2 && runs[0].first > runs[1].first) {
    batch = 1, rows = runs[1].second, cols = runs[0].second;
    return true;
  }
  if (runs.size() == 3 && runs[0].first < runs[2].first && runs[2].first < runs[1].first) {
    batch = runs[0].second, rows = runs[2].second, cols = runs[1].second;
    return true;
  }
  return false;
}

}  // namespace metalnn::cpu
