#include "cpu/im2col.h"

#include <algorithm>
#include <cstring>

#include "cpu/cpu_features.h"
#include "cpu/narrow_im2col.h"
#include "cpu/simd_avx2.h"

namespace metalnn::cpu {

namespace {

#ifdef METALNN_HAS_AVX2_KERNELS
// The whole vectors of copy_stride2; returns how many outputs it wrote.
METALNN_AVX2 int64_t copy_stride2_avx2(const float* src, int64_t n, float* dst) {
  int64_t i = 0;
  for (; i + 8 < n; i += 8) _mm256_storeu_ps(dst + i, load_strided<2>(src + 2 * i));  // reads src[2i .. 2i + 15]
  return i;
}

// All of copy_stride2: 16 outputs from each pair of vectors, the tail under masks (rows of a 7 or 14
// pixel map are all tail).
__attribute__((target("avx512f,avx512vl,avx512bw,avx2,fma"))) void copy_stride2_avx512(const float* src, int64_t n,
                                                                                      float* dst) {
  const __m512i even = _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30);
  int64_t i = 0;
  for (; i + 16 <= n; i += 16) {  // src[2i + 31] is never needed: the second load leaves it out
    const __m512 lo = _mm512_loadu_ps(src + 2 * i), hi = _mm512_maskz_loadu_ps(0x7fff, src + 2 * i + 16);
    _mm512_storeu_ps(dst + i, _mm512_permutex2var_ps(lo, even, hi));
  }
  if (i < n) {
    const int64_t need = 2 * (n - i) - 1;  // src[2i .. 2i + need - 1]
    const __mmask16 m_lo = need >= 16 ? __mmask16(0xffff) : __mmask16((1u << need) - 1);
    const __mmask16 m_hi = need > 16 ? __mmask16((1u << (need - 16)) - 1) : __mmask16(0);
    const __m512 lo = _mm512_maskz_loadu_ps(m_lo, src + 2 * i), hi = _mm512_maskz_loadu_ps(m_hi, src + 2 * i + 16);
    _mm512_mask_storeu_ps(dst + i, __mmask16((1u << (n - i)) - 1), _mm512_permutex2var_ps(lo, even, hi));
  }
}
#endif

// dst[i] = src[2 * i] for i < n, reading no further than src[2 * (n - 1)].
void copy_stride2(const float* src, int64_t n, float* dst) {
  int64_t i = 0;
#ifdef METALNN_HAS_AVX2_KERNELS
  if (has_avx512()) {
    copy_stride2_avx512(src, n, dst);
    return;
  }
  if (has_avx2_fma()) i = copy_stride2_avx2(src, n, dst);
#endif
  for (; i < n; ++i) dst[i] = src[2 * i];
}

// One im2col row: the pixels tap (kh, kw) of channel plane `plane` reads for output positions [begin, end).
void im2col_row(const float* plane, const Window2d& w, int64_t kh, int64_t kw, int64_t begin, int64_t end, float* dst) {
  const int64_t col_offset = kw * w.dilation_w - w.pad_left;
  const IndexRange cols = valid_range(col_offset, w.stride_w, w.out_w, w.in_w);
  for (int64_t p = begin; p < end;) {
    const int64_t oh = p / w.out_w, ow0 = p - oh * w.out_w;
    const int64_t ow1 = std::min(w.out_w, ow0 + (end - p));
    const int64_t ih = oh * w.stride_h - w.pad_top + kh * w.dilation_h;
    if (ih < 0 || ih >= w.in_h) {
      std::fill(dst, dst + (ow1 - ow0), 0.f);
    } else {
      const float* src = plane + ih * w.in_w;
      const int64_t lo = std::clamp(cols.lo, ow0, ow1), hi = std::clamp(cols.hi, lo, ow1);
      std::fill(dst, dst + (lo - ow0), 0.f);
      float* out = dst + (lo - ow0);
      if (w.stride_w == 1) {
        std::memcpy(out, src + lo + col_offset, static_cast<size_t>(hi - lo) * sizeof(float));
      } else if (w.stride_w == 2) {
        copy_stride2(src + lo * 2 + col_offset, hi - lo, out);
      } else {
        for (int64_t ow = lo; ow < hi; ++ow) *out++ = src[ow * w.stride_w + col_offset];
      }
      std::fill(dst + (hi - ow0), dst + (ow1 - ow0), 0.f);
    }
    dst += ow1 - ow0;
    p += ow1 - ow0;
  }
}

}  // namespace

void im2col(const float* x, int64_t channels, const Window2d& w, int64_t col_begin, int64_t col_end, float* col,
            ThreadPool& pool, int64_t image_stride) {
  if (narrow_im2col_suits(w)) return narrow_im2col(x, channels, w, col_begin, col_end, col, pool, image_stride);
  const int64_t taps = w.kernel_size(), width = col_end - col_begin, per_image = w.out_size();
  const int64_t grain = std::max<int64_t>(1, 8192 / std::max<int64_t>(1, width));
  pool.parallel_for(channels * taps, grain, [&](int64_t r0, int64_t r1) {
    for (int64_t r = r0; r < r1; ++r) {
      const int64_t c = r / taps, t = r - c * taps;
      for (int64_t p = col_begin; p < col_end;) {  // one run of columns per image
        const int64_t image = image_stride ? p / per_image : 0, p0 = p - image * per_image;
        const int64_t p1 = image_stride ? std::min(per_image, p0 + (col_end - p)) : col_end;
        im2col_row(x + image * image_stride + c * w.in_size(), w, t / w.kernel_w, t % w.kernel_w, p0, p1,
                   col + r * width + (p - col_begin));
        p += p1 - p0;
      }
    }
  });
}

}  // namespace metalnn::cpu
