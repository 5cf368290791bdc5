// Each task is one band of output rows of one group of one image. It copies the group's input rows
// into a scratch, zero-padded and split by stride phase (phase (py, px) holds padded rows py, py + sh,
// ... and columns px, px + sw, ...; each phase row `width` columns wide), so that tap (i, j) of
// output (oh, ow) lies at a fixed offset from oh * width + ow: the outputs are computed over that
// "wide" grid, whole vectors of consecutive columns (the columns ow >= out_w are discarded), and every
// input vector is one unaligned load. A register block of output channels x vectors of columns sums
// over the group's input channels and taps; each input vector feeds every channel of the block and
// each weight broadcast every vector. The block goes to an output scratch, whose valid columns are
// copied to the output rows.
#include "cpu/grouped_conv.h"

#include <algorithm>
#include <atomic>
#include <cstring>

#include "cpu/activation.h"
#include "cpu/cpu_features.h"
#include "cpu/simd_avx2.h"

namespace metalnn::cpu {

namespace {

constexpr int64_t kMaxGroupChannels = 64;
// Scratch floats per task, staged input and output rows (256 KiB): bands of rows keep them in L2 on
// wide maps and deep or wide groups.
constexpr int64_t kScratchFloats = int64_t{1} << 16;
// Floats past the staged planes that the last, partly used vector of a band may read.
constexpr int64_t kSlack = 64;

// METALNN_GROUPED_KERNELS=avx512|avx2|portable caps the choice.
using GroupedIsa = KernelIsa;
GroupedIsa grouped_isa() {
  static const GroupedIsa isa = kernel_isa("METALNN_GROUPED_KERNELS");
  return isa;
}

// [group][block of up to `block` output channels][input channel][tap][channel of the block]: the
// weights of one (channel, tap) for the whole block are consecutive.
std::vector<float> block_weights(const float* w, int64_t groups, int64_t ic, int64_t oc, int64_t taps, int block) {
  const int64_t k = ic * taps;
  std::vector<float> out(static_cast<size_t>(groups * oc * k));
  for (int64_t g = 0; g < groups; ++g)
    for (int64_t o0 = 0; o0 < oc; o0 += block) {
      const int64_t n = std::min<int64_t>(block, oc - o0);
      float* dst = out.data() + (g * oc + o0) * k;
      for (int64_t o = 0; o < n; ++o)
        for (int64_t i = 0; i < k; ++i) dst[i * n + o] = w[(g * oc + o0 + o) * k + i];
    }
  return out;
}

// What a register block reads: the staged channels of its group, the taps' offsets in them, its
// clamp and where its outputs go (rows of ldo floats, one per output channel).
struct Tile {
  const float* in;
  int64_t channel_stride;
  const int64_t* taps;
  int64_t ntaps, channels;
  float lo, hi;
  float* out;
  int64_t ldo;
};

#ifdef METALNN_HAS_AVX2_KERNELS
#define METALNN_GC_AVX512 __attribute__((target("avx512f,avx2,fma")))

// Output channels [0, OC) x columns [q, q + 16 NV).
template <int OC, int NV>
METALNN_GC_AVX512 void tile_avx512(const Tile& j, int64_t q, const float* w, const float* bias) {
  __m512 acc[OC][NV];
#pragma GCC unroll 8
  for (int o = 0; o < OC; ++o) {
    const __m512 b = bias ? _mm512_set1_ps(bias[o]) : _mm512_setzero_ps();
#pragma GCC unroll 8
    for (int v = 0; v < NV; ++v) acc[o][v] = b;
  }
  const float* in = j.in + q;
  for (int64_t c = 0; c < j.channels; ++c, in += j.channel_stride)
    for (int64_t t = 0; t < j.ntaps; ++t, w += OC) {
      const float* src = in + j.taps[t];
      __m512 x[NV];
#pragma GCC unroll 8
      for (int v = 0; v < NV; ++v) x[v] = _mm512_loadu_ps(src + v * 16);
#pragma GCC unroll 8
      for (int o = 0; o < OC; ++o) {
        const __m512 k = _mm512_set1_ps(w[o]);
#pragma GCC unroll 8
        for (int v = 0; v < NV; ++v) acc[o][v] = _mm512_fmadd_ps(k, x[v], acc[o][v]);
      }
    }
  const __m512 lo = _mm512_set1_ps(j.lo), hi = _mm512_set1_ps(j.hi);
#pragma GCC unroll 8
  for (int o = 0; o < OC; ++o)
#pragma GCC unroll 8
    for (int v = 0; v < NV; ++v)
      _mm512_storeu_ps(j.out + o * j.ldo + q + v * 16, _mm512_min_ps(hi, _mm512_max_ps(lo, acc[o][v])));
}

template <int OC, int NV>
METALNN_AVX2 void tile_avx2(const Tile& j, int64_t q, const float* w, const float* bias) {
  __m256 acc[OC][NV];
#pragma GCC unroll 8
  for (int o = 0; o < OC; ++o) {
    const __m256 b = bias ? _mm256_set1_ps(bias[o]) : _mm256_setzero_ps();
#pragma GCC unroll 8
    for (int v = 0; v < NV; ++v) acc[o][v] = b;
  }
  const float* in = j.in + q;
  for (int64_t c = 0; c < j.channels; ++c, in += j.channel_stride)
    for (int64_t t = 0; t < j.ntaps; ++t, w += OC) {
      const float* src = in + j.taps[t];
      __m256 x[NV];
#pragma GCC unroll 8
      for (int v = 0; v < NV; ++v) x[v] = _mm256_loadu_ps(src + v * 8);
#pragma GCC unroll 8
      for (int o = 0; o < OC; ++o) {
        const __m256 k = _mm256_broadcast_ss(w + o);
#pragma GCC unroll 8
        for (int v = 0; v < NV; ++v) acc[o][v] = _mm256_fmadd_ps(k, x[v], acc[o][v]);
      }
    }
  const __m256 lo = _mm256_set1_ps(j.lo), hi = _mm256_set1_ps(j.hi);
#pragma GCC unroll 8
  for (int o = 0; o < OC; ++o)
#pragma GCC unroll 8
    for (int v = 0; v < NV; ++v)
      _mm256_storeu_ps(j.out + o * j.ldo + q + v * 8, _mm256_min_ps(hi, _mm256_max_ps(lo, acc[o][v])));
}

#endif

// Plain C++ on the compiler's generic 4-float vectors (SSE, NEON): the AVX2 kernel's shape.
typedef float Floats4 __attribute__((vector_size(16)));

template <int OC, int NV>
void tile_portable(const Tile& j, int64_t q, const float* w, const float* bias) {
  Floats4 acc[OC][NV];
  for (int o = 0; o < OC; ++o)
    for (int v = 0; v < NV; ++v) acc[o][v] = Floats4{} + (bias ? bias[o] : 0.f);
  const float* in = j.in + q;
  for (int64_t c = 0; c < j.channels; ++c, in += j.channel_stride)
    for (int64_t t = 0; t < j.ntaps; ++t, w += OC) {
      const float* src = in + j.taps[t];
      Floats4 x[NV];
      for (int v = 0; v < NV; ++v) std::memcpy(&x[v], src + v * 4, sizeof(Floats4));  // unaligned
      for (int o = 0; o < OC; ++o)
        for (int v = 0; v < NV; ++v) acc[o][v] += w[o] * x[v];
    }
  for (int o = 0; o < OC; ++o)
    for (int v = 0; v < NV; ++v) {
      float* out = j.out + o * j.ldo + q + v * 4;
      std::memcpy(out, &acc[o][v], sizeof(Floats4));
      for (int i = 0; i < 4; ++i) out[i] = std::min(j.hi, std::max(j.lo, out[i]));
    }
}

// The register blocks of each ISA: tile<OC, NV>(job, q, w, bias) computes output channels [0, OC)
// x columns [q, q + NV * kLanes), OC <= kChannels, NV <= kMaxVectors (8 x 3 vectors of 16 take 24 of
// AVX-512's 32 registers, 4 x 3 of 8 fill AVX2's 16 and 4 x 3 of 4 SSE's; NEON could hold more).
#ifdef METALNN_HAS_AVX2_KERNELS
struct Avx512 {
  static constexpr int64_t kLanes = 16;
  static constexpr int kChannels = 8, kRegisters = 32;
  template <int OC, int NV>
  static void tile(const Tile& j, int64_t q, const float* w, const float* bias) { tile_avx512<OC, NV>(j, q, w, bias); }
};
struct Avx2 {
  static constexpr int64_t kLanes = 8;
  static constexpr int kChannels = 4, kRegisters = 16;
  template <int OC, int NV>
  static void tile(const Tile& j, int64_t q, const float* w, const float* bias) { tile_avx2<OC, NV>(j, q, w, bias); }
};
#endif
struct Portable {
  static constexpr int64_t kLanes = 4;
  static constexpr int kChannels = 4, kRegisters = 16;
  template <int OC, int NV>
  static void tile(const Tile& j, int64_t q, const float* w, const float* bias) {
    tile_portable<OC, NV>(j, q, w, bias);
  }
};

template <class F>
auto on_isa(GroupedIsa isa, F f) {
#ifdef METALNN_HAS_AVX2_KERNELS
  if (isa == GroupedIsa::Avx512) return f(Avx512{});
  if (isa == GroupedIsa::Avx2) return f(Avx2{});
#else
  (void)isa;
#endif
  return f(Portable{});
}

// Vectors per register block at OC output channels: OC x NV accumulators, NV inputs and a broadcast
// weight in the registers, at most 6.
template <class Isa, int OC>
constexpr int kMaxVectors = std::min(6, (Isa::kRegisters - 1) / (OC + 1));

// One block of nv <= NV vectors from column q.
template <class Isa, int OC, int NV = kMaxVectors<Isa, OC>>
void vectors_block(int nv, const Tile& j, int64_t q, const float* w, const float* bias) {
  if constexpr (NV > 1) {
    if (nv < NV) {
      vectors_block<Isa, OC, NV - 1>(nv, j, q, w, bias);
      return;
    }
  }
  Isa::template tile<OC, NV>(j, q, w, bias);
}

// All `vectors` vectors of columns in as few register blocks as fit, of near-equal sizes: a block of
// a lone vector loads one input per OC broadcasts.
template <class Isa, int OC>
void columns(const Tile& j, int64_t vectors, const float* w, const float* bias) {
  constexpr int64_t most = kMaxVectors<Isa, OC>;
  for (int64_t v = 0, blocks = (vectors + most - 1) / most; v < vectors; --blocks) {
    const int64_t nv = (vectors - v + blocks - 1) / blocks;
    vectors_block<Isa, OC>(static_cast<int>(nv), j, v * Isa::kLanes, w, bias);
    v += nv;
  }
}

// A block of oc <= Isa::kChannels output channels.
template <class Isa, int OC = Isa::kChannels>
void block(int oc, const Tile& j, int64_t vectors, const float* w, const float* bias) {
  if constexpr (OC > 1) {
    if (oc < OC) {
      block<Isa, OC - 1>(oc, j, vectors, w, bias);
      return;
    }
  }
  columns<Isa, OC>(j, vectors, w, bias);
}

// Where one phase row reads in its input channel: column u at col0 + u * stride_w, for u in [lo, hi).
struct PhaseRow {
  int64_t col0, lo, hi;
};

// One phase row of `width` floats: column u is src[u * stride] for u in [lo, hi), zero elsewhere.
// src is where column 0 would read; only the columns in range are read.
void stage_row(const float* src, int64_t stride, int64_t lo, int64_t hi, int64_t width, float* dst) {
  std::fill(dst, dst + lo, 0.f);
  if (stride == 1) {
    std::memcpy(dst + lo, src + lo, static_cast<size_t>(hi - lo) * sizeof(float));
  } else {
    for (int64_t u = lo; u < hi; ++u) dst[u] = src[u * stride];
  }
  std::fill(dst + hi, dst + width, 0.f);
}

#ifdef METALNN_HAS_AVX2_KERNELS
// Bits [a, b) of a mask, a and b clamped to [0, 32].
inline uint64_t bit_range(int64_t a, int64_t b) {
  a = std::clamp<int64_t>(a, 0, 32), b = std::clamp<int64_t>(b, 0, 32);
  return b > a ? ((uint64_t{1} << b) - 1) & ~((uint64_t{1} << a) - 1) : 0;
}

// stage_row in masked vectors of 16 columns: maps of a few pixels have rows too short for a call
// to memcpy and a loop. Masked-off lanes are not read, so no load strays past the input.
__attribute__((target("avx512f,avx2,fma"), always_inline)) inline void stage_row_avx512(
    const float* src, int64_t stride, int64_t lo, int64_t hi, int64_t width, float* dst) {
  const __m512i even = _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30);
  const __m512i steps = _mm512_mullo_epi32(_mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15),
                                           _mm512_set1_epi32(static_cast<int>(stride)));
  for (int64_t u = 0; u < width; u += 16) {
    const __mmask16 store = static_cast<__mmask16>(bit_range(0, width - u));
    __m512 v;
    if (stride == 1) {
      v = _mm512_maskz_loadu_ps(static_cast<__mmask16>(bit_range(lo - u, hi - u)), src + u);
    } else if (stride == 2) {
      // Elements [2 (lo - u), 2 (hi - u) - 1] of the 32 from src + 2 u (the last column's input can be
      // the input's last float); the permute keeps the even ones.
      const uint64_t m = bit_range(2 * (lo - u), 2 * (hi - u) - 1);
      const __m512 a = _mm512_maskz_loadu_ps(static_cast<__mmask16>(m), src + 2 * u);
      const __m512 b = _mm512_maskz_loadu_ps(static_cast<__mmask16>(m >> 16), src + 2 * u + 16);
      v = _mm512_permutex2var_ps(a, even, b);
    } else {
      v = _mm512_mask_i32gather_ps(_mm512_setzero_ps(), static_cast<__mmask16>(bit_range(lo - u, hi - u)), steps,
                                   src + u * stride, 4);
    }
    _mm512_mask_storeu_ps(dst + u, store, v);
  }
}

// The planned rows of `channels` input planes of in_size floats each, one after another into dst.
METALNN_GC_AVX512 void stage_avx512(const float* x, int64_t in_size, int64_t channels, const PhaseRow* rows,
                                    int64_t n, int64_t stride, int64_t width, float* dst) {
  for (int64_t c = 0; c < channels; ++c, x += in_size)
    for (int64_t i = 0; i < n; ++i, dst += width)
      stage_row_avx512(x + rows[i].col0, stride, rows[i].lo, rows[i].hi, width, dst);
}

// dst[i] = src[i] for i < n.
METALNN_GC_AVX512 void copy_row_avx512(const float* src, int64_t n, float* dst) {
  int64_t i = 0;
  for (; i + 16 <= n; i += 16) _mm512_storeu_ps(dst + i, _mm512_loadu_ps(src + i));
  if (i < n) {
    const __mmask16 m = static_cast<__mmask16>(bit_range(0, n - i));
    _mm512_mask_storeu_ps(dst + i, m, _mm512_maskz_loadu_ps(m, src + i));
  }
}
#endif

// Where the phases of a window sit in the staged scratch of one band of output rows.
struct Phases {
  int64_t width;             // columns of a phase row
  int64_t halo;              // phase rows past a band's last output row that its taps reach
  std::vector<int64_t> used;  // py * stride_w + px of the phases some tap reads, in order

  explicit Phases(const Window2d& w) {
    width = w.out_w + (w.kernel_w - 1) * w.dilation_w / w.stride_w;
    halo = (w.kernel_h - 1) * w.dilation_h / w.stride_h;
    std::vector<bool> reads(static_cast<size_t>(w.stride_h * w.stride_w), false);
    for (int64_t i = 0; i < w.kernel_h; ++i)
      for (int64_t j = 0; j < w.kernel_w; ++j)
        reads[static_cast<size_t>(i * w.dilation_h % w.stride_h * w.stride_w + j * w.dilation_w % w.stride_w)] = true;
    for (size_t p = 0; p < reads.size(); ++p)
      if (reads[p]) used.push_back(static_cast<int64_t>(p));
  }
  // Floats of one phase plane of a band of `rows` output rows.
  int64_t plane(int64_t rows) const { return (rows + halo) * width; }
  int64_t channel_stride(int64_t rows) const { return static_cast<int64_t>(used.size()) * plane(rows); }

  // Offsets of the taps (row-major) from the band's wide column 0 of a channel.
  void taps(const Window2d& w, int64_t rows, std::vector<int64_t>& out) const {
    out.clear();
    for (int64_t i = 0; i < w.kernel_h; ++i)
      for (int64_t j = 0; j < w.kernel_w; ++j) {
        const int64_t y = i * w.dilation_h, x = j * w.dilation_w;
        const int64_t phase = y % w.stride_h * w.stride_w + x % w.stride_w;
        const int64_t index = std::find(used.begin(), used.end(), phase) - used.begin();
        out.push_back(index * plane(rows) + y / w.stride_h * width + x / w.stride_w);
      }
  }

  // The phase rows of output rows [r0, r0 + rows) of `channels` planes, into dst: plane c holds
  // input rows [x_row0, x_row1) at x + c * x_channel, the others are read as zeros (a band stages a
  // row past the last its taps read).
  void stage(const Window2d& w, const float* x, int64_t x_channel, int64_t x_row0, int64_t x_row1,
             int64_t channels, int64_t r0, int64_t rows, float* dst, GroupedIsa isa,
             std::vector<PhaseRow>& plan) const {
    // Every channel has the same rows: where each reads, planned once.
    plan.clear();
    for (const int64_t phase : used) {
      const int64_t py = phase / w.stride_w, px = phase % w.stride_w;
      // Column u of a phase row reads input column u * stride_w + px - pad_left.
      const IndexRange cols = valid_range(px - w.pad_left, w.stride_w, width, w.in_w);
      for (int64_t r = 0; r < rows + halo; ++r) {
        const int64_t ih = (r0 + r) * w.stride_h + py - w.pad_top;
        const bool inside = ih >= x_row0 && ih < x_row1;  // a row outside reads none of its columns
        plan.push_back({(inside ? ih - x_row0 : 0) * w.in_w + px - w.pad_left, inside ? cols.lo : 0,
                        inside ? cols.hi : 0});
      }
    }
#ifdef METALNN_HAS_AVX2_KERNELS
    if (isa == GroupedIsa::Avx512) {
      stage_avx512(x, x_channel, channels, plan.data(), static_cast<int64_t>(plan.size()), w.stride_w, width, dst);
      return;
    }
#else
    (void)isa;
#endif
    for (int64_t c = 0; c < channels; ++c)
      for (const PhaseRow& row : plan) {
        stage_row(x + c * x_channel + row.col0, w.stride_w, row.lo, row.hi, width, dst);
        dst += width;
      }
  }
};

// What run_band needs of a GroupedConv.
struct GroupLayout {
  const Window2d& win;
  int64_t ic, oc;
  int block;
};

// Output rows [r0, r0 + rows) of group g of one image y: x holds input rows [x_row0, x_row1) of the
// group's channels, x_channel floats apart; wb the blocked weights.
void run_band(const GroupLayout& l, const Phases& phases, const float* x, int64_t x_channel, int64_t x_row0,
              int64_t x_row1, const float* wb, const float* bias, float* y, int64_t g, int64_t r0, int64_t rows,
              const Activation& act, GroupedIsa isa) {
  thread_local std::vector<float> scratch;
  thread_local std::vector<int64_t> taps;
  thread_local std::vector<PhaseRow> plan;
  const int64_t lane = on_isa(isa, [](auto kernels) { return decltype(kernels)::kLanes; });
  const int64_t ntaps = l.win.kernel_size(), k = l.ic * ntaps;
  float lo, hi;
  const bool clamp = activation_as_clamp(act, lo, hi);
  const int64_t out_w = l.win.out_w, out_hw = l.win.out_size();
  const int64_t wide = (rows - 1) * phases.width + out_w, vectors = (wide + lane - 1) / lane;
  const int64_t ldo = vectors * lane, staged = l.ic * phases.channel_stride(rows);
  const size_t floats = static_cast<size_t>(staged + kSlack + l.oc * ldo);
  if (scratch.size() < floats) scratch.resize(floats);
  float* in = scratch.data();
  float* out = in + staged + kSlack;
  phases.stage(l.win, x, x_channel, x_row0, x_row1, l.ic, r0, rows, in, isa, plan);
  std::fill(in + staged, in + staged + kSlack, 0.f);
  phases.taps(l.win, rows, taps);
  Tile tile{in, phases.channel_stride(rows), taps.data(), ntaps, l.ic, lo, hi, out, ldo};
  for (int64_t o0 = 0; o0 < l.oc; o0 += l.block) {
    const int oc = static_cast<int>(std::min<int64_t>(l.block, l.oc - o0));
    const float* wg = wb + (g * l.oc + o0) * k;
    const float* bg = bias ? bias + g * l.oc + o0 : nullptr;
    tile.out = out + o0 * ldo;
    on_isa(isa, [&](auto kernels) { block<decltype(kernels)>(oc, tile, vectors, wg, bg); });
  }
  // The valid columns of each wide row to the output, then any activation the clamp did not cover.
  for (int64_t o = 0; o < l.oc; ++o) {
    float* yo = y + (g * l.oc + o) * out_hw + r0 * out_w;
    const float* src = out + o * ldo;
    for (int64_t r = 0; r < rows; ++r) {
#ifdef METALNN_HAS_AVX2_KERNELS
      if (isa == GroupedIsa::Avx512) {
        copy_row_avx512(src + r * phases.width, out_w, yo + r * out_w);
        continue;
      }
#endif
      std::memcpy(yo + r * out_w, src + r * phases.width, static_cast<size_t>(out_w) * sizeof(float));
    }
    if (!clamp) apply_activation(yo, rows * out_w, act);
  }
}

}  // namespace

bool GroupedConv::suits(const Window2d& w, int64_t groups, int64_t in_channels, int64_t out_channels) {
  if (groups <= 1 || in_channels % groups || out_channels % groups) return false;
  // A 1x1 stride-1 unpadded conv reads its input in place as one GEMM per group, which wins (measured):
  // the staging and output copies cost as much as its few multiply-adds per output.
  const bool pointwise = w.kernel_size() == 1 && w.stride_h == 1 && w.stride_w == 1 && w.pad_top == 0 &&
                         w.pad_left == 0 && w.pad_bottom == 0 && w.pad_right == 0;
  const int64_t ic = in_channels / groups;
  return !pointwise && ic >= 2 && ic <= kMaxGroupChannels;
}

GroupedConv::GroupedConv(const Window2d& win, int64_t groups, int64_t in_channels, int64_t out_channels,
                         const float* constant_w)
    : win_(win),
      groups_(groups),
      in_c_(in_channels),
      out_c_(out_channels),
      ic_(in_channels / groups),
      oc_(out_channels / groups),
      block_(on_isa(grouped_isa(), [](auto kernels) { return decltype(kernels)::kChannels; })) {
  if (constant_w) blocked_ = block_weights(constant_w, groups_, ic_, oc_, win_.kernel_size(), block_);
}

void GroupedConv::run(const float* x, const float* w, const float* bias, float* y, int64_t batch,
                      const Activation& act, ThreadPool& pool) const {
  if (batch == 0 || win_.out_size() == 0) return;
  const GroupedIsa isa = grouped_isa();
  std::vector<float> run_blocked;
  if (blocked_.empty()) run_blocked = block_weights(w, groups_, ic_, oc_, win_.kernel_size(), block_);
  const float* wb = blocked_.empty() ? run_blocked.data() : blocked_.data();
  const Phases phases(win_);
  const int64_t out_h = win_.out_h;
  // Bands of rows whose scratch fits kScratchFloats, and at least two tasks per thread where the map
  // has the rows for them.
  const int64_t per_row = (ic_ * static_cast<int64_t>(phases.used.size()) + oc_) * phases.width;
  int64_t rows = std::clamp<int64_t>(kScratchFloats / per_row - phases.halo, 1, out_h);
  const int64_t images = batch * groups_, want = 2 * pool.num_threads();
  if (images < want) rows = std::min(rows, std::max<int64_t>(1, out_h * images / want));
  const int64_t bands = (out_h + rows - 1) / rows, tasks = images * bands;
  std::atomic<int64_t> next{0};
  pool.parallel_for(std::min<int64_t>(pool.num_threads(), tasks), 1, [&](int64_t, int64_t) {
    for (int64_t t = next++; t < tasks; t = next++) {
      const int64_t n = t / (groups_ * bands), g = t / bands % groups_, r0 = t % bands * rows;
      run_band({win_, ic_, oc_, block_}, phases, x + (n * in_c_ + g * ic_) * win_.in_size(), win_.in_size(), 0,
               win_.in_h, wb, bias, y + n * out_c_ * win_.out_size(), g, r0, std::min(rows, out_h - r0), act, isa);
    }
  });
}

void GroupedConv::run_rows(const float* x, int64_t x_channel, int64_t x_row0, int64_t x_row1, const float* bias,
                           float* y, int64_t g0, int64_t g1, int64_t r0, int64_t rows, const Activation& act) const {
  const GroupedIsa isa = grouped_isa();
  const Phases phases(win_);
  for (int64_t g = g0; g < g1; ++g)
    run_band({win_, ic_, oc_, block_}, phases, x + (g - g0) * ic_ * x_channel, x_channel, x_row0, x_row1,
             blocked_.data(), bias, y, g, r0, rows, act, isa);
}


}  // namespace metalnn::cpu
