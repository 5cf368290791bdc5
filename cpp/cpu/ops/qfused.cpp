// Fused quantized ops on the CPU (core/ops/qfused.h). QuantizedConv and QuantizedMatMul run the int8
// GEMM of cpu/qgemm.h on weights packed once here: the convolution unfolds its input straight into
// the GEMM's u8 panels from stride-phase planes (cpu/phase_planes.h, any group count), depthwise convolutions sum their taps
// directly; requantisation runs on each tile as it leaves the GEMM.
#include <algorithm>
#include <cstring>
#include <memory>
#include <type_traits>
#include <vector>

#include "core/ops/qfused.h"
#include "core/ops/window.h"
#include "core/ops/window2d.h"
#include "cpu/dtype_dispatch.h"
#include "cpu/kernel.h"
#include "cpu/phase_planes.h"
#include "cpu/cpu_features.h"
#include "cpu/qgemm.h"
#include "cpu/simd_avx2.h"

namespace metalnn::cpu {

namespace {

// The requantisation of output channels [row0, row0 + row_sums.size()); the sums are of u8-shifted
// activations, so each channel subtracts (x_zero + shift) * sum_k w (and adds its whole-number bias).
std::vector<Requant> row_requants(const Requantization& r, const std::vector<int32_t>& row_sums, int64_t row0,
                                  int32_t shifted_zero) {
  std::vector<Requant> out;
  for (size_t i = 0; i < row_sums.size(); ++i)
    out.push_back({shifted_zero * row_sums[i] - r.bias_sum[size_t(row0) + i], r.multiplier[size_t(row0) + i],
                   r.bias[size_t(row0) + i], r.lo, r.hi,
                   r.y_zero});
  return out;
}

// acc[i] += w * row[i * stride] over one output row of a depthwise tap.
template <int S>
inline void accumulate_taps(int32_t* acc, const int16_t* row, int32_t w, int64_t n, int64_t stride) {
  const int64_t step = S > 0 ? S : stride;
  for (int64_t i = 0; i < n; ++i) acc[i] += w * row[i * step];
}

#if defined(METALNN_HAS_AVX2_KERNELS)
METALNN_AVX2 void accumulate_avx2(int32_t* acc, const int16_t* row, int32_t w, int64_t n, int64_t stride) {
  if (stride == 1) accumulate_taps<1>(acc, row, w, n, 1);
  else if (stride == 2) accumulate_taps<2>(acc, row, w, n, 2);
  else accumulate_taps<0>(acc, row, w, n, stride);
}
#endif

void accumulate(int32_t* acc, const int16_t* row, int32_t w, int64_t n, int64_t stride) {
#if defined(METALNN_HAS_AVX2_KERNELS)
  if (has_avx2_fma()) return accumulate_avx2(acc, row, w, n, stride);
#endif
  if (stride == 1) accumulate_taps<1>(acc, row, w, n, 1);
  else accumulate_taps<0>(acc, row, w, n, stride);
}

#if defined(METALNN_HAS_AVX2_KERNELS)
// Depthwise convolution in float: taps of (x - x_zero) in [-255, 255] times int8 weights sum exactly
// in float32 while every partial sum stays below 2^24, i.e. for up to kFloatTaps taps.
constexpr int64_t kFloatTaps = (int64_t{1} << 24) / (255 * 128);

// The requantised bytes of 8 exact float sums, stored to dst[0, n) for n <= 8.
METALNN_AVX2_INLINE void store_requantized8(__m256 sum, const Requant& q, uint8_t* dst, int64_t n) {
  // The exact sum back to int32 for the correction (the bias as a whole number), then a multiply and an
  // add rounded apart, as requantize_one does (an FMA would differ by a step at times).
  const __m256i whole = _mm256_sub_epi32(_mm256_cvtps_epi32(sum), _mm256_set1_epi32(q.correction));
  __m256 v = _mm256_add_ps(_mm256_mul_ps(_mm256_cvtepi32_ps(whole), _mm256_set1_ps(q.multiplier)), _mm256_set1_ps(q.bias));
  v = _mm256_min_ps(_mm256_max_ps(v, _mm256_set1_ps(q.lo)), _mm256_set1_ps(q.hi));
  const __m256i q32 = _mm256_add_epi32(_mm256_cvtps_epi32(v), _mm256_set1_epi32(q.y_zero));
  const __m128i q16 = _mm_packs_epi32(_mm256_castsi256_si128(q32), _mm256_extracti128_si256(q32, 1));
  const __m128i q8 = q.lo + float(q.y_zero) < 0.f ? _mm_packs_epi16(q16, q16) : _mm_packus_epi16(q16, q16);
  if (n >= 8) {
    _mm_storel_epi64(reinterpret_cast<__m128i*>(dst), q8);
    return;
  }
  alignas(16) uint8_t bytes[16];
  _mm_store_si128(reinterpret_cast<__m128i*>(bytes), q8);
  std::memcpy(dst, bytes, size_t(n));
}

// dst[j] = float(x[j] - zero) for j < n, x int8 when s8 else uint8.
METALNN_AVX2 void widen_row(const uint8_t* x, int64_t n, bool s8, int32_t zero, float* dst) {
  const __m256i z = _mm256_set1_epi32(zero);
  int64_t j = 0;
  for (; j + 8 <= n; j += 8) {
    const __m128i bytes = _mm_loadl_epi64(reinterpret_cast<const __m128i*>(x + j));
    const __m256i v = s8 ? _mm256_cvtepi8_epi32(bytes) : _mm256_cvtepu8_epi32(bytes);
    _mm256_storeu_ps(dst + j, _mm256_cvtepi32_ps(_mm256_sub_epi32(v, z)));
  }
  for (; j < n; ++j) dst[j] = float((s8 ? int32_t(int8_t(x[j])) : int32_t(x[j])) - zero);
}

// dst[i] = src[i * step] for i < n (src holds n * step + 16 floats).
METALNN_AVX2 void split_phase(const float* src, int64_t step, int64_t n, float* dst) {
  if (step == 1) {
    std::memcpy(dst, src, size_t(n) * sizeof(float));
    return;
  }
  int64_t i = 0;
  if (step == 2)
    for (; i + 8 <= n; i += 8) _mm256_storeu_ps(dst + i, load_strided<2>(src + 2 * i));
  for (; i < n; ++i) dst[i] = src[i * step];
}

// One channel plane from `phases`: for each of the stride_w column phases of the zero-padded plane,
// rows of `phase_w` floats (phase p, row r, index i is padded column i * stride_w + p). Tap k of output
// (oh, ow) reads phases[oh * row_step + offsets[k] + ow]. KS is the tap count when fixed (0: `ks`).
template <int KS>
METALNN_AVX2 void depthwise_plane_avx2(const Window2d& w, const float* phases, int64_t row_step, const int64_t* offsets,
                                       int64_t ks, const float* taps, const Requant& q, uint8_t* dst) {
  const int64_t n = KS > 0 ? KS : ks;
  for (int64_t oh = 0; oh < w.out_h; ++oh) {
    const float* base = phases + oh * row_step;
    uint8_t* out = dst + oh * w.out_w;
    int64_t ow = 0;
    for (; ow + 8 < w.out_w; ow += 16) {  // two vectors at a time share the tap broadcasts
      __m256 a0 = _mm256_setzero_ps(), a1 = _mm256_setzero_ps();
      for (int64_t k = 0; k < n; ++k) {
        const __m256 tap = _mm256_broadcast_ss(taps + k);
        const float* src = base + offsets[k] + ow;
        a0 = _mm256_fmadd_ps(tap, _mm256_loadu_ps(src), a0);
        a1 = _mm256_fmadd_ps(tap, _mm256_loadu_ps(src + 8), a1);
      }
      store_requantized8(a0, q, out + ow, 8);
      store_requantized8(a1, q, out + ow + 8, w.out_w - ow - 8);
    }
    if (ow < w.out_w) {
      __m256 a0 = _mm256_setzero_ps();
      for (int64_t k = 0; k < n; ++k)
        a0 = _mm256_fmadd_ps(_mm256_broadcast_ss(taps + k), _mm256_loadu_ps(base + offsets[k] + ow), a0);
      store_requantized8(a0, q, out + ow, w.out_w - ow);
    }
  }
}

#define METALNN_AVX512 __attribute__((target("avx512f,avx512bw,avx512vl,avx2,fma")))
#define METALNN_AVX512_INLINE __attribute__((target("avx512f,avx512bw,avx512vl,avx2,fma"), always_inline)) inline

// store_requantized8 on 16 lanes; the values are in the output range, so truncating to bytes is exact.
METALNN_AVX512_INLINE void store_requantized16(__m512 sum, const Requant& q, uint8_t* dst, int64_t n) {
  const __m512i whole = _mm512_sub_epi32(_mm512_cvtps_epi32(sum), _mm512_set1_epi32(q.correction));
  __m512 v = _mm512_add_ps(_mm512_mul_ps(_mm512_cvtepi32_ps(whole), _mm512_set1_ps(q.multiplier)),
                           _mm512_set1_ps(q.bias));  // no FMA
  v = _mm512_min_ps(_mm512_max_ps(v, _mm512_set1_ps(q.lo)), _mm512_set1_ps(q.hi));
  const __m512i q32 = _mm512_add_epi32(_mm512_cvtps_epi32(v), _mm512_set1_epi32(q.y_zero));
  _mm_mask_storeu_epi8(dst, n >= 16 ? __mmask16(0xFFFF) : __mmask16((1u << n) - 1), _mm512_cvtepi32_epi8(q32));
}

// widen_row on 16 lanes.
METALNN_AVX512 void widen_row_avx512(const uint8_t* x, int64_t n, bool s8, int32_t zero, float* dst) {
  const __m512i z = _mm512_set1_epi32(zero);
  for (int64_t j = 0; j < n; j += 16) {  // the last step masked
    const __mmask16 lanes = n - j >= 16 ? __mmask16(0xFFFF) : __mmask16((1u << (n - j)) - 1);
    const __m128i bytes = _mm_maskz_loadu_epi8(lanes, x + j);
    const __m512i v = s8 ? _mm512_cvtepi8_epi32(bytes) : _mm512_cvtepu8_epi32(bytes);
    _mm512_mask_storeu_ps(dst + j, lanes, _mm512_cvtepi32_ps(_mm512_sub_epi32(v, z)));
  }
}

// One input row widened straight into the two column phases of a stride-2 plane: padded column
// pad_left + j goes to phase (pad_left + j) % 2 at index (pad_left + j) / 2.
METALNN_AVX512 void widen_split2_avx512(const uint8_t* x, int64_t n, bool s8, int32_t zero, int64_t pad_left,
                                        float* phase0, float* phase1) {
  float* even = (pad_left % 2 == 0 ? phase0 : phase1) + pad_left / 2;  // input column 2m at even[m]
  float* odd = pad_left % 2 == 0 ? phase1 + pad_left / 2 : phase0 + (pad_left + 1) / 2;  // 2m + 1 at odd[m]
  const __m512i z = _mm512_set1_epi32(zero);
  for (int64_t m = 0; 2 * m < n; m += 16) {  // the last step masked
    const int64_t left = n - 2 * m;
    const __mmask32 bytes = left >= 32 ? __mmask32(0xFFFFFFFFu) : __mmask32((1u << left) - 1);
    const __mmask16 evens = left >= 32 ? __mmask16(0xFFFF) : __mmask16((1u << ((left + 1) / 2)) - 1);
    const __mmask16 odds = left >= 32 ? __mmask16(0xFFFF) : __mmask16((1u << (left / 2)) - 1);
    // Each 32-bit lane holds one column pair: the even column's byte low, the odd one's above it.
    const __m512i pair = _mm512_cvtepu16_epi32(_mm256_maskz_loadu_epi8(bytes, x + 2 * m));
    const __m512i lo = s8 ? _mm512_srai_epi32(_mm512_slli_epi32(pair, 24), 24) : _mm512_and_si512(pair, _mm512_set1_epi32(0xFF));
    const __m512i hi = s8 ? _mm512_srai_epi32(_mm512_slli_epi32(pair, 16), 24) : _mm512_srli_epi32(pair, 8);
    _mm512_mask_storeu_ps(even + m, evens, _mm512_cvtepi32_ps(_mm512_sub_epi32(lo, z)));
    _mm512_mask_storeu_ps(odd + m, odds, _mm512_cvtepi32_ps(_mm512_sub_epi32(hi, z)));
  }
}

// depthwise_plane_avx2 on 16 lanes, two vectors per step, the taps held in registers when KS is fixed.
template <int KS>
METALNN_AVX512 void depthwise_plane_avx512(const Window2d& w, const float* phases, int64_t row_step,
                                           const int64_t* offsets, int64_t ks, const float* taps, const Requant& q,
                                           uint8_t* dst) {
  const int64_t n = KS > 0 ? KS : ks;
  __m512 held[KS > 0 ? KS : 1];
  int64_t at[KS > 0 ? KS : 1];
  if constexpr (KS > 0)
    for (int k = 0; k < KS; ++k) {
      held[k] = _mm512_set1_ps(taps[k]);
      at[k] = offsets[k];
    }
  for (int64_t oh = 0; oh < w.out_h; ++oh) {
    const float* base = phases + oh * row_step;
    uint8_t* out = dst + oh * w.out_w;
    for (int64_t ow = 0; ow < w.out_w; ow += 32) {
      __m512 a0 = _mm512_setzero_ps(), a1 = _mm512_setzero_ps();
      const bool two = ow + 16 < w.out_w;
      for (int64_t k = 0; k < n; ++k) {
        const __m512 tap = KS > 0 ? held[k] : _mm512_set1_ps(taps[k]);
        const float* src = base + (KS > 0 ? at[k] : offsets[k]) + ow;
        a0 = _mm512_fmadd_ps(tap, _mm512_loadu_ps(src), a0);
        if (two) a1 = _mm512_fmadd_ps(tap, _mm512_loadu_ps(src + 16), a1);
      }
      store_requantized16(a0, q, out + ow, w.out_w - ow);
      if (two) store_requantized16(a1, q, out + ow + 16, w.out_w - ow - 16);
    }
  }
}
#endif

// The u8 shift of an int8/uint8 activation: x ^ mask = x + shift as an unsigned byte.
uint8_t shift_mask(DType t) { return t == DType::Int8 ? 0x80 : 0; }
int32_t shift_of(DType t) { return t == DType::Int8 ? 128 : 0; }

class QuantizedConvKernel : public Kernel {
 public:
  QuantizedConvKernel(const Graph& g, const Node& n) {
    const Shape& x = g.value(n.inputs[kQX]).shape;
    const Tensor& w = g.value(n.inputs[kQW]).constant;
    win_ = to_window2d(resolve_window(n, {x[2], x[3]}, {w.dim(2), w.dim(3)}, false));
    group_ = n.attrs.get_int("group", 1);
    in_c_ = x[1];
    out_c_ = w.dim(0);
    const Requantization r = requantization(g, n, out_c_);
    const DType xt = g.value(n.inputs[kQX]).dtype;
    mask_ = shift_mask(xt);
    x_zero_ = r.x_zero;
    const int32_t shifted_zero = r.x_zero + shift_of(xt);
    pad_ = uint8_t(shifted_zero);
    const int64_t k = w.numel() / out_c_, rows = out_c_ / group_;
    depthwise_ = group_ == in_c_ && group_ == out_c_;
    pointwise_ = win_.kernel_size() == 1 && win_.stride_h == 1 && win_.stride_w == 1 && win_.pad_top == 0 &&
                 win_.pad_left == 0 && win_.out_h == win_.in_h && win_.out_w == win_.in_w;
    if (depthwise_) {
      weights_.assign(w.data<int8_t>(), w.data<int8_t>() + w.numel());
#if defined(METALNN_HAS_AVX2_KERNELS)
      taps_.assign(weights_.begin(), weights_.end());
#endif
      requant_.push_back(row_requants(r, std::vector<int32_t>(size_t(out_c_), 0), 0, 0));
      return;
    }
    for (int64_t gi = 0; gi < group_; ++gi) {
      gemm_.emplace_back(std::make_unique<QGemmWeights>(w.data<int8_t>() + gi * rows * k, rows, k, k, 1));
      requant_.push_back(row_requants(r, gemm_.back()->row_sums(), gi * rows, shifted_zero));
    }
    if (pointwise_) return;
    phases_ = std::make_unique<PhasePlanes>(win_, in_c_);
    for (int64_t c = 0; c < in_c_; ++c)  // reduction index (c, i, j) of each group, groups in turn
      for (int64_t i = 0; i < win_.kernel_h; ++i)
        for (int64_t j = 0; j < win_.kernel_w; ++j) tap_offsets_.push_back(phases_->tap_offset(c, i, j));
  }

  void run(const std::vector<const Tensor*>& in, const std::vector<Tensor*>& out, ThreadPool& pool) override {
    const uint8_t* x = static_cast<const uint8_t*>(in[kQX]->raw());
    uint8_t* y = static_cast<uint8_t*>(out[0]->raw());
    const int64_t batch = in[kQX]->dim(0);
    if (depthwise_) return run_depthwise(x, y, batch, pool);
    const int64_t P = win_.out_size();
    if (P == 0 || batch == 0) return;
    if (pointwise_) return run_pointwise(x, y, batch, pool);
    const int64_t cg = in_c_ / group_, rows = out_c_ / group_;
    // Each image's planes in stride phases: every reduction row of the GEMM is a run of them.
    // Kept between runs (a fresh buffer would fault its pages in each time); the pool's threads read it
    // through `planes`, not by the thread_local's name (which is theirs).
    thread_local std::vector<uint8_t> scratch;
    scratch.resize(size_t(phases_->bytes()));
    uint8_t* const planes = scratch.data();
    const uint8_t raw_pad = uint8_t(pad_ ^ mask_);
    for (int64_t b = 0; b < batch; ++b) {
      phases_->fill(x + b * in_c_ * win_.in_size(), raw_pad, planes, pool);
      for (int64_t gi = 0; gi < group_; ++gi) {
        const QGemmWeights& w = *gemm_[size_t(gi)];
        const std::vector<Requant>& rq = requant_[size_t(gi)];
        const int64_t* offsets = tap_offsets_.data() + gi * cg * win_.kernel_size();
        auto pack = [&](int64_t c0, int64_t nc, uint8_t* panels) {
          std::vector<const uint8_t*> rows_of(size_t(w.k_groups() * 4), nullptr);
          for (int64_t k = 0; k < w.k(); ++k) rows_of[size_t(k)] = planes + offsets[k] + c0;
          pack_rows(rows_of.data(), w.k_groups(), 0, nc, panel_mask(mask_), panels);
        };
        uint8_t* out = y + (b * out_c_ + gi * rows) * P;
        auto epilogue = [&](int64_t r0, int64_t nr, int64_t c0, int64_t nc, const int32_t* sums) {
          for (int64_t j = 0; j < nc;) {  // runs of wide columns that are outputs of one row
            const int64_t q = c0 + j, run = std::min(nc - j, phases_->outputs_from(q));
            if (run == 0) {
              j += phases_->to_row_end(q);
              continue;
            }
            const int64_t oh = q / phases_->width(), ow = q % phases_->width();
            requantize_tile(rq.data() + r0, nr, sums + j, run, out + r0 * P + oh * win_.out_w + ow, P);
            j += run;
          }
        };
        qgemm(pool, w, phases_->columns(), pack, epilogue);
      }
    }
  }

 private:
  // A 1x1 convolution's input rows are the GEMM's rows: panels pack runs of columns within one image.
  void run_pointwise(const uint8_t* x, uint8_t* y, int64_t batch, ThreadPool& pool) {
    const int64_t P = win_.out_size(), cg = in_c_ / group_, rows = out_c_ / group_, in_hw = win_.in_size();
    for (int64_t gi = 0; gi < group_; ++gi) {
      const QGemmWeights& w = *gemm_[size_t(gi)];
      const std::vector<Requant>& rq = requant_[size_t(gi)];
      auto pack = [&](int64_t c0, int64_t nc, uint8_t* panels) {
        std::vector<const uint8_t*> rows_of(size_t(w.k_groups() * 4), nullptr);
        for (int64_t j = 0; j < nc;) {
          const int64_t b = (c0 + j) / P, p = (c0 + j) % P, run = std::min(nc - j, P - p);
          for (int64_t c = 0; c < cg; ++c) rows_of[size_t(c)] = x + (b * in_c_ + gi * cg + c) * in_hw + p;
          pack_rows(rows_of.data(), w.k_groups(), j, run, panel_mask(mask_), panels);
          j += run;
        }
      };
      auto epilogue = [&](int64_t r0, int64_t nr, int64_t c0, int64_t nc, const int32_t* sums) {
        for (int64_t j = 0; j < nc;) {  // runs of columns within one image are contiguous in y
          const int64_t b = (c0 + j) / P, p = (c0 + j) % P, run = std::min(nc - j, P - p);
          requantize_tile(rq.data() + r0, nr, sums + j, run, y + (b * out_c_ + gi * rows + r0) * P + p, P);
          j += run;
        }
      };
      qgemm(pool, w, batch * P, pack, epilogue);
    }
  }


 private:
  // One channel per group: each output plane sums its kh x kw taps of one zero-shifted input plane.
  void run_depthwise(const uint8_t* x, uint8_t* y, int64_t batch, ThreadPool& pool) {
    const Window2d& w = win_;
#if defined(METALNN_HAS_AVX2_KERNELS)
    if (int8_simd() && w.kernel_size() <= kFloatTaps) return run_depthwise_float(x, y, batch, pool);
#endif
    const int64_t ph = w.pad_top + w.in_h + w.pad_bottom + w.stride_h + (w.kernel_h - 1) * w.dilation_h;
    const int64_t pw = w.pad_left + w.in_w + w.pad_right + w.stride_w + (w.kernel_w - 1) * w.dilation_w;
    const bool s8 = mask_ != 0;
    pool.parallel_for(batch * out_c_, 1, [&](int64_t begin, int64_t end) {
      std::vector<int16_t> plane(size_t(ph * pw));
      std::vector<int32_t> acc(size_t(w.out_w));
      for (int64_t bc = begin; bc < end; ++bc) {
        const int64_t c = bc % out_c_;
        const uint8_t* src = x + bc * w.in_size();
        std::fill(plane.begin(), plane.end(), int16_t{0});
        for (int64_t i = 0; i < w.in_h; ++i)
          for (int64_t j = 0; j < w.in_w; ++j) {
            const int32_t v = s8 ? int32_t(int8_t(src[i * w.in_w + j])) : int32_t(src[i * w.in_w + j]);
            plane[size_t((i + w.pad_top) * pw + j + w.pad_left)] = int16_t(v - x_zero_);
          }
        const int8_t* wc = weights_.data() + c * w.kernel_size();
        uint8_t* dst = y + bc * w.out_size();
        for (int64_t oh = 0; oh < w.out_h; ++oh) {
          std::fill(acc.begin(), acc.end(), 0);
          for (int64_t i = 0; i < w.kernel_h; ++i)
            for (int64_t t = 0; t < w.kernel_w; ++t) {
              const int32_t wv = wc[i * w.kernel_w + t];
              const int16_t* row = plane.data() + (oh * w.stride_h + i * w.dilation_h) * pw + t * w.dilation_w;
              accumulate(acc.data(), row, wv, w.out_w, w.stride_w);
            }
          requantize_span(requant_[0][size_t(c)], acc.data(), w.out_w, dst + oh * w.out_w);
        }
      }
    });
  }

#if defined(METALNN_HAS_AVX2_KERNELS)
  void run_depthwise_float(const uint8_t* x, uint8_t* y, int64_t batch, ThreadPool& pool) {
    const Window2d& w = win_;
    const int64_t sw = w.stride_w;
    const int64_t rows = std::max((w.out_h - 1) * w.stride_h + (w.kernel_h - 1) * w.dilation_h + 1,
                                  w.pad_top + w.in_h);
    // Each phase row covers the widest tap offset plus a whole 16-lane vector past out_w.
    const int64_t phase_w = (w.out_w + 15) / 16 * 16 + (w.kernel_w - 1) * w.dilation_w / sw + 1;
    const int64_t ks = w.kernel_size();
    std::vector<int64_t> offsets;
    for (int64_t i = 0; i < w.kernel_h; ++i)
      for (int64_t t = 0; t < w.kernel_w; ++t) {
        const int64_t c = t * w.dilation_w;
        offsets.push_back(((c % sw) * rows + i * w.dilation_h) * phase_w + c / sw);
      }
    auto plane = ks == 9 ? depthwise_plane_avx2<9> : depthwise_plane_avx2<0>;
    const bool avx512 = int8_avx512();
    if (avx512)
      plane = ks == 9 ? depthwise_plane_avx512<9> : ks == 25 ? depthwise_plane_avx512<25> : depthwise_plane_avx512<0>;
    const bool s8 = mask_ != 0;
    // Several tasks per thread, claimed as threads come free.
    const int64_t planes = batch * out_c_, per_task = std::max<int64_t>(1, planes / (8 * pool.num_threads()));
    claim_tasks(pool, (planes + per_task - 1) / per_task, false, [&](int64_t task) {
      const int64_t begin = task * per_task, end = std::min(planes, begin + per_task);
      // Padding rows and columns stay zero: each channel rewrites only the input rows' phase rows whole.
      // 16 floats of slack: a last 16-lane vector may read up to 15 past the last row's outputs.
      std::vector<float> phases(size_t(sw * rows * phase_w + 16), 0.f);
      std::vector<float> padded(size_t(sw * phase_w + 16), 0.f);  // one input row, padded left and right
      for (int64_t bc = begin; bc < end; ++bc) {
        const int64_t c = bc % out_c_;
        const uint8_t* src = x + bc * w.in_size();
        for (int64_t i = 0; i < w.in_h; ++i) {
          const int64_t r = i + w.pad_top;
          if (r >= rows) break;
          const int64_t n = std::min(w.in_w, sw * phase_w - w.pad_left);  // columns past every window dropped
          if (sw == 1) {  // one phase: the padded row itself
            (avx512 ? widen_row_avx512 : widen_row)(src + i * w.in_w, n, s8, x_zero_,
                                                    phases.data() + r * phase_w + w.pad_left);
            continue;
          }
          if (sw == 2 && avx512) {
            widen_split2_avx512(src + i * w.in_w, n, s8, x_zero_, w.pad_left, phases.data() + r * phase_w,
                                phases.data() + (rows + r) * phase_w);
            continue;
          }
          widen_row(src + i * w.in_w, n, s8, x_zero_, padded.data() + w.pad_left);
          for (int64_t p = 0; p < sw; ++p)
            split_phase(padded.data() + p, sw, phase_w, phases.data() + (p * rows + r) * phase_w);
        }
        plane(w, phases.data(), w.stride_h * phase_w, offsets.data(), ks, taps_.data() + c * ks,
              requant_[0][size_t(c)], y + bc * w.out_size());
      }
    });
  }
  std::vector<float> taps_;
#endif

  Window2d win_{};
  int64_t group_ = 1, in_c_ = 0, out_c_ = 0;
  uint8_t mask_ = 0, pad_ = 0;
  int32_t x_zero_ = 0;
  bool depthwise_ = false, pointwise_ = false;
  std::vector<int8_t> weights_;
  std::vector<std::unique_ptr<QGemmWeights>> gemm_;
  std::vector<std::vector<Requant>> requant_;  // per group
  std::unique_ptr<PhasePlanes> phases_;
  std::vector<int64_t> tap_offsets_;
};

class QuantizedMatMulKernel : public Kernel {
 public:
  QuantizedMatMulKernel(const Graph& g, const Node& n) {
    const Tensor& w = g.value(n.inputs[kQW]).constant;
    k_ = w.dim(0);
    n_ = w.dim(1);
    const Requantization r = requantization(g, n, n_);
    const DType xt = g.value(n.inputs[kQX]).dtype;
    mask_ = shift_mask(xt);
    gemm_ = std::make_unique<QGemmWeights>(w.data<int8_t>(), n_, k_, 1, n_);
    requant_ = row_requants(r, gemm_->row_sums(), 0, r.x_zero + shift_of(xt));
  }

  void run(const std::vector<const Tensor*>& in, const std::vector<Tensor*>& out, ThreadPool& pool) override {
    const uint8_t* a = static_cast<const uint8_t*>(in[kQX]->raw());
    uint8_t* y = static_cast<uint8_t*>(out[0]->raw());
    const int64_t m = k_ > 0 ? in[kQX]->numel() / k_ : out[0]->numel() / std::max<int64_t>(n_, 1);
    auto pack = [&](int64_t c0, int64_t nc, uint8_t* panels) { pack_columns(a, k_, c0, nc, panel_mask(mask_), panels); };
    auto epilogue = [&](int64_t r0, int64_t nr, int64_t c0, int64_t nc, const int32_t* sums) {
      requantize_tile_transposed(requant_.data() + r0, nr, sums, nc, y + c0 * n_ + r0, n_);
    };
    qgemm(pool, *gemm_, m, pack, epilogue);
  }

 private:
  int64_t k_ = 0, n_ = 0;
  uint8_t mask_ = 0;
  std::unique_ptr<QGemmWeights> gemm_;
  std::vector<Requant> requant_;
};

inline float dequantized(int32_t v, int32_t zero, float multiplier) { return float(v - zero) * multiplier; }

#if defined(METALNN_HAS_AVX2_KERNELS)
// Eight bytes of a as int32.
template <class T>
METALNN_AVX2_INLINE __m256i widen8(const T* p) {
  const __m128i bytes = _mm_loadl_epi64(reinterpret_cast<const __m128i*>(p));
  return std::is_signed_v<T> ? _mm256_cvtepi8_epi32(bytes) : _mm256_cvtepu8_epi32(bytes);
}

template <class A, class B>
METALNN_AVX2 int64_t quantized_add_avx2(const AddRequantization& r, const A* a, const B* b, uint8_t* y, int64_t n) {
  const __m256 ma = _mm256_set1_ps(r.a_multiplier), mb = _mm256_set1_ps(r.b_multiplier);
  const __m256i za = _mm256_set1_epi32(r.a_zero), zb = _mm256_set1_epi32(r.b_zero), zy = _mm256_set1_epi32(r.y_zero);
  const __m256 lo = _mm256_set1_ps(r.lo), hi = _mm256_set1_ps(r.hi);
  const bool unsigned_out = r.lo + float(r.y_zero) >= 0.f;
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) {
    __m256 v = _mm256_mul_ps(_mm256_cvtepi32_ps(_mm256_sub_epi32(widen8(a + i), za)), ma);
    // Added after its own rounding, as the scalar loop does (an FMA would differ by a step at times).
    v = _mm256_add_ps(v, _mm256_mul_ps(_mm256_cvtepi32_ps(_mm256_sub_epi32(widen8(b + i), zb)), mb));
    v = _mm256_min_ps(_mm256_max_ps(v, lo), hi);
    const __m256i q32 = _mm256_add_epi32(_mm256_cvtps_epi32(v), zy);
    const __m128i q16 = _mm_packs_epi32(_mm256_castsi256_si128(q32), _mm256_extracti128_si256(q32, 1));
    const __m128i q8 = unsigned_out ? _mm_packus_epi16(q16, q16) : _mm_packs_epi16(q16, q16);
    _mm_storel_epi64(reinterpret_cast<__m128i*>(y + i), q8);
  }
  return i;
}
#endif

template <class A, class B>
void quantized_add(const AddRequantization& r, const A* a, const B* b, uint8_t* y, int64_t count, ThreadPool& pool) {
  pool.parallel_for(count, 16384, [&](int64_t begin, int64_t end) {
    int64_t i = begin;
#if defined(METALNN_HAS_AVX2_KERNELS)
    if (has_avx2_fma()) i += quantized_add_avx2(r, a + begin, b + begin, y + begin, end - begin);
#endif
    for (; i < end; ++i) {
      float v = dequantized(a[i], r.a_zero, r.a_multiplier) + dequantized(b[i], r.b_zero, r.b_multiplier);
      v = std::min(std::max(v, r.lo), r.hi);
      y[i] = uint8_t(round_half_even(v) + r.y_zero);
    }
  });
}

class QuantizedAddKernel : public Kernel {
 public:
  QuantizedAddKernel(const Graph& g, const Node& n) : r_(add_requantization(g, n)) {}
  void run(const std::vector<const Tensor*>& in, const std::vector<Tensor*>& out, ThreadPool& pool) override {
    uint8_t* y = static_cast<uint8_t*>(out[0]->raw());
    visit_dtype<DType::Int8, DType::UInt8>(in[kQX]->dtype(), [&](auto ta) {
      using A = typename decltype(ta)::type;
      visit_dtype<DType::Int8, DType::UInt8>(in[kQW]->dtype(), [&](auto tb) {
        using B = typename decltype(tb)::type;
        quantized_add(r_, in[kQX]->data<A>(), in[kQW]->data<B>(), y, out[0]->numel(), pool);
      });
    });
  }

 private:
  AddRequantization r_;
};

}  // namespace

std::unique_ptr<Kernel> make_quantized_conv_kernel(const Graph& g, const Node& n) {
  return std::make_unique<QuantizedConvKernel>(g, n);
}
std::unique_ptr<Kernel> make_quantized_matmul_kernel(const Graph& g, const Node& n) {
  return std::make_unique<QuantizedMatMulKernel>(g, n);
}
std::unique_ptr<Kernel> make_quantized_add_kernel(const Graph& g, const Node& n) {
  return std::make_unique<QuantizedAddKernel>(g, n);
}

}  // namespace metalnn::cpu
