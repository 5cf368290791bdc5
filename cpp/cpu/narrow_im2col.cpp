#include "cpu/narrow_im2col.h"

#include <algorithm>
#include <cstdint>
#include <vector>

#include "cpu/cpu_features.h"

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#include <immintrin.h>
#define METALNN_NARROW_IM2COL 1
#define METALNN_TARGET_AVX512 __attribute__((target("avx512f,avx512vl,avx512bw,avx2,fma")))
#endif

namespace metalnn::cpu {

namespace {

constexpr int64_t kLanes = 16, kMaxVectors = 4;  // output rows up to 64 wide

#ifdef METALNN_NARROW_IM2COL
__mmask16 lanes(int64_t lo, int64_t hi) {  // bits [lo, hi)
  return hi <= lo ? __mmask16(0) : __mmask16(((1u << (hi - lo)) - 1) << lo);
}

// `p` moved by `n` floats, as an address only: the masked loads and stores below start before a row
// (or the output) where its first lanes are masked off, which never touches those floats.
template <class T>
T* offset(T* p, int64_t n) {
  return reinterpret_cast<T*>(reinterpret_cast<uintptr_t>(p) + n * int64_t{sizeof(float)});
}

// What one tap reads: per vector of output columns [16 s, 16 s + 16), the lanes that read the input,
// at stride 2 the floats of the two loads whose even ones they are, and at stride 4 those of the four
// loads whose every fourth ones they are.
struct TapMasks {
  int64_t kh, col_offset;
  __mmask16 valid[kMaxVectors], first[kMaxVectors], second[kMaxVectors], quarter[kMaxVectors][4];
};

TapMasks tap_masks(const Window2d& w, int64_t kh, int64_t kw) {
  TapMasks m{kh, kw * w.dilation_w - w.pad_left, {}, {}, {}, {}};
  const IndexRange cols = valid_range(m.col_offset, w.stride_w, w.out_w, w.in_w);
  for (int s = 0; s < kMaxVectors; ++s) {
    const int64_t a = std::clamp<int64_t>(cols.lo - kLanes * s, 0, kLanes);
    const int64_t b = std::clamp<int64_t>(cols.hi - kLanes * s, a, kLanes);
    m.valid[s] = lanes(a, b);
    const uint32_t raw = b > a ? uint32_t((uint64_t{1} << (2 * b - 1)) - (uint64_t{1} << (2 * a))) : 0u;
    m.first[s] = __mmask16(raw & 0xffff);
    m.second[s] = __mmask16(raw >> 16);
    for (int j = 0; j < 4; ++j) {  // load j holds lanes 4j .. 4j + 3 at floats 0, 4, 8, 12
      unsigned bits = 0;
      for (int q = 0; q < 4; ++q)
        if ((m.valid[s] >> (4 * j + q)) & 1u) bits |= 1u << (4 * q);
      m.quarter[s][j] = __mmask16(bits);
    }
  }
  return m;
}

// One im2col row: the tap of `m` over channel plane `plane` for output positions [p0, p1), to dst,
// each output row as up to kMaxVectors vectors of 16 columns: masked loads at stride 1, two of them
// and a permute at stride 2, four and three permutes at stride 4 (AlexNet's stem; a gather of 16
// took as long as the GEMM on its columns), a gather at other strides.
METALNN_TARGET_AVX512 void narrow_row(const float* plane, const Window2d& w, const TapMasks& m, int64_t p0,
                                      int64_t p1, float* dst) {
  const __m512i even = _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30);
  const __m512i fourth = _mm512_setr_epi32(0, 4, 8, 12, 16, 20, 24, 28, 0, 0, 0, 0, 0, 0, 0, 0);
  const __m512i strided = _mm512_mullo_epi32(_mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15),
                                              _mm512_set1_epi32(static_cast<int>(w.stride_w)));
  const int vectors = static_cast<int>((w.out_w + kLanes - 1) / kLanes);
  for (int64_t oh = p0 / w.out_w; oh * w.out_w < p1; ++oh) {
    const int64_t row0 = oh * w.out_w;
    const int64_t a = std::max(p0, row0) - row0, b = std::min(p1, row0 + w.out_w) - row0;
    const int64_t ih = oh * w.stride_h - w.pad_top + m.kh * w.dilation_h;
    const bool inside = ih >= 0 && ih < w.in_h;
    for (int s = 0; s < vectors; ++s) {
      const int64_t s0 = kLanes * s;
      const __mmask16 store = lanes(std::max<int64_t>(a - s0, 0), std::min<int64_t>(b - s0, kLanes));
      if (!store) continue;
      __m512 v = _mm512_setzero_ps();
      if (inside) {
        const float* src = offset(plane + ih * w.in_w, s0 * w.stride_w + m.col_offset);
        if (w.stride_w == 1)
          v = _mm512_maskz_loadu_ps(m.valid[s], src);
        else if (w.stride_w == 2)
          v = _mm512_permutex2var_ps(_mm512_maskz_loadu_ps(m.first[s], src), even,
                                     _mm512_maskz_loadu_ps(m.second[s], src + 16));
        else if (w.stride_w == 4)
          v = _mm512_shuffle_f32x4(  // lanes 0-7 of each permute: outputs 0-7 and 8-15
              _mm512_permutex2var_ps(_mm512_maskz_loadu_ps(m.quarter[s][0], src), fourth,
                                     _mm512_maskz_loadu_ps(m.quarter[s][1], src + 16)),
              _mm512_permutex2var_ps(_mm512_maskz_loadu_ps(m.quarter[s][2], src + 32), fourth,
                                     _mm512_maskz_loadu_ps(m.quarter[s][3], src + 48)),
              _MM_SHUFFLE(1, 0, 1, 0));
        else
          v = _mm512_mask_i32gather_ps(v, m.valid[s], strided, src, 4);
      }
      _mm512_mask_storeu_ps(offset(dst, row0 + s0 - p0), store, v);
    }
  }
}
#endif

}  // namespace

bool narrow_im2col_suits(const Window2d& w) {
#ifdef METALNN_NARROW_IM2COL
  static const bool on = kernel_isa("METALNN_IM2COL_KERNELS") == KernelIsa::Avx512;
  return on && w.out_w <= kMaxVectors * kLanes && w.stride_w * kLanes < (int64_t{1} << 31);
#else
  (void)w;
  return false;
#endif
}

void narrow_im2col(const float* x, int64_t channels, const Window2d& w, int64_t col_begin, int64_t col_end, float* col,
                   ThreadPool& pool, int64_t image_stride) {
#ifdef METALNN_NARROW_IM2COL
  const int64_t taps = w.kernel_size(), width = col_end - col_begin, per_image = w.out_size();
  std::vector<TapMasks> masks;
  for (int64_t t = 0; t < taps; ++t) masks.push_back(tap_masks(w, t / w.kernel_w, t % w.kernel_w));
  // Channel by channel, all taps of one before the next: its rows stay in L1.
  const int64_t grain = std::max<int64_t>(1, 8192 / std::max<int64_t>(1, width * taps));
  pool.parallel_for(channels, grain, [&](int64_t c0, int64_t c1) {
    for (int64_t c = c0; c < c1; ++c) {
      for (int64_t t = 0; t < taps; ++t)
        for (int64_t p = col_begin; p < col_end;) {  // one run of columns per image
          const int64_t image = image_stride ? p / per_image : 0, q0 = p - image * per_image;
          const int64_t q1 = image_stride ? std::min(per_image, q0 + (col_end - p)) : col_end;
          narrow_row(x + image * image_stride + c * w.in_size(), w, masks[t], q0, q1,
                     col + (c * taps + t) * width + (p - col_begin));
          p += q1 - q0;
        }
    }
  });
#else
  (void)x, (void)channels, (void)w, (void)col_begin, (void)col_end, (void)col, (void)pool, (void)image_stride;
#endif
}

}  // namespace metalnn::cpu
