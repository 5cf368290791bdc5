#include "cpu/layer_norm_planes.h"

#include <algorithm>

#include "cpu/transpose16_avx512.h"

namespace metalnn::cpu {

LayerNormPlanes::LayerNormPlanes(int64_t batch, int64_t channels, int64_t positions, float epsilon,
                                 const float* scale, const float* bias)
    : batch_(batch), channels_(channels), positions_(positions), epsilon_(epsilon),
      scale_(scale, scale + channels), bias_(channels, 0.f) {
  if (bias) std::copy(bias, bias + channels, bias_.begin());
}

#ifdef METALNN_HAS_AVX2_KERNELS
namespace {

// Positions [p0, p0 + np) of one image: the statistics over the channels, then the normalised
// channels 16 at a time, transposed to one row of channels per position.
__attribute__((target("avx512f,avx512vl,avx2,fma"))) void normalize_positions(
    float* out, const float* in, int64_t channels, int64_t positions, int64_t p0, int np, float epsilon,
    const float* scale, const float* bias) {
  const __mmask16 pos_mask = static_cast<__mmask16>((1u << np) - 1);
  const float* x = in + p0;
  __m512 sum = _mm512_setzero_ps();
  for (int64_t c = 0; c < channels; ++c) sum = _mm512_add_ps(sum, _mm512_maskz_loadu_ps(pos_mask, x + c * positions));
  // A first mean in float, corrected by the mean of the deviations from it (which keeps rows far
  // from zero accurate), then the variance around the corrected mean.
  const __m512 inv_c = _mm512_set1_ps(1.f / static_cast<float>(channels));
  const __m512 mean0 = _mm512_mul_ps(sum, inv_c);
  __m512 dev = _mm512_setzero_ps(), sq = _mm512_setzero_ps();
  for (int64_t c = 0; c < channels; ++c) {
    const __m512 d = _mm512_sub_ps(_mm512_maskz_loadu_ps(pos_mask, x + c * positions), mean0);
    dev = _mm512_add_ps(dev, d);
    sq = _mm512_fmadd_ps(d, d, sq);
  }
  const __m512 shift = _mm512_mul_ps(dev, inv_c), mean = _mm512_add_ps(mean0, shift);
  const __m512 var = _mm512_max_ps(_mm512_setzero_ps(), _mm512_fnmadd_ps(shift, shift, _mm512_mul_ps(sq, inv_c)));
  const __m512 inv = _mm512_div_ps(_mm512_set1_ps(1.f), _mm512_sqrt_ps(_mm512_add_ps(var, _mm512_set1_ps(epsilon))));
  for (int64_t c0 = 0; c0 < channels; c0 += 16) {
    const int nc = static_cast<int>(std::min<int64_t>(16, channels - c0));
    __m512 v[16];
    for (int k = 0; k < 16; ++k) {
      if (k >= nc) {
        v[k] = _mm512_setzero_ps();
        continue;
      }
      const __m512 d = _mm512_mul_ps(_mm512_sub_ps(_mm512_maskz_loadu_ps(pos_mask, x + (c0 + k) * positions), mean), inv);
      v[k] = _mm512_fmadd_ps(d, _mm512_set1_ps(scale[c0 + k]), _mm512_set1_ps(bias[c0 + k]));
    }
    transpose16x16_avx512(v);
    const __mmask16 chan_mask = static_cast<__mmask16>((1u << nc) - 1);
    for (int j = 0; j < np; ++j) _mm512_mask_storeu_ps(out + (p0 + j) * channels + c0, chan_mask, v[j]);
  }
}

}  // namespace
#endif

void LayerNormPlanes::run(float* out, const float* in, ThreadPool& pool) const {
#ifdef METALNN_HAS_AVX2_KERNELS
  const int64_t blocks = (positions_ + 15) / 16, image = channels_ * positions_;
  // About 32 KiB of input per task, enough to amortise waking a thread.
  const int64_t grain = std::max<int64_t>(1, (1 << 13) / (16 * channels_));
  pool.parallel_for(batch_ * blocks, grain, [&](int64_t begin, int64_t end) {
    for (int64_t t = begin; t < end; ++t) {
      const int64_t b = t / blocks, p0 = (t % blocks) * 16;
      normalize_positions(out + b * image, in + b * image, channels_, positions_, p0,
                          static_cast<int>(std::min<int64_t>(16, positions_ - p0)), epsilon_, scale_.data(),
                          bias_.data());
    }
  });
#else
  (void)out, (void)in, (void)pool;
#endif
}

}  // namespace metalnn::cpu
