// MatMulNBits on the CPU; B stays 4-bit. Few rows (decoding, memory-bound): threads split N, and each
// block of codes is decoded in registers and dotted with A, whose floats are reordered once per run so
// that 8 bytes' low nibbles meet 8 contiguous floats and their high nibbles the next 8. The zero point
// comes out of the dot as zp * sum(A's block). Many rows (prefill): threads dequantise panels of B
// into float (in the same reordered K) and multiply them with BLAS.
#include <algorithm>
#include <vector>

#include "core/ops/matmul_nbits.h"
#include "cpu/blas.h"
#include "cpu/cpu_features.h"
#include "cpu/kernel.h"
#include "cpu/simd_avx2.h"

namespace metalnn::cpu {

namespace {

constexpr int64_t kRowGroup = 4;       // rows of A sharing one decode of a column's codes
constexpr int64_t kFusedMaxRows = 8;   // above this, dequantising panels for sgemm is faster
constexpr int64_t kPanel = 64;        // columns of B per sgemm call

struct Column {  // column n of B^T and its quantisation parameters
  const uint8_t* codes;  // k_blocks * blob_bytes
  const float* scales;   // k_blocks
  const uint8_t* zp_packed;
  const float* zp_float;
  float zero_point(int64_t kb) const {
    if (zp_packed) return float(kb & 1 ? zp_packed[kb / 2] >> 4 : zp_packed[kb / 2] & 15);
    return zp_float ? zp_float[kb] : 8.f;
  }
};

// out[r] = sum over blocks of scale * (sum codes . a_r - zp * sum a_r) for R rows of reordered A (see
// reorder_row) `stride` floats apart, their block sums `k_blocks` apart.
template <int R>
void column_dot(const Column& c, const float* a, int64_t stride, const float* a_sums, int64_t k_blocks, int64_t block,
                float* out) {
  float acc[R] = {};
  for (int64_t kb = 0; kb < k_blocks; ++kb) {
    const uint8_t* codes = c.codes + kb * block / 2;
    float dot[R] = {};
    for (int64_t g = 0; g < block / 16; ++g)
      for (int j = 0; j < 8; ++j) {
        const uint8_t byte = codes[g * 8 + j];
        const float lo = float(byte & 15), hi = float(byte >> 4);
        for (int r = 0; r < R; ++r) {
          const float* ab = a + r * stride + kb * block + g * 16;
          dot[r] += lo * ab[j] + hi * ab[8 + j];
        }
      }
    const float zp = c.zero_point(kb);
    for (int r = 0; r < R; ++r) acc[r] += c.scales[kb] * (dot[r] - zp * a_sums[r * k_blocks + kb]);
  }
  for (int r = 0; r < R; ++r) out[r] = acc[r];
}

// sum over blocks of scale * zp * sum a_r, for R rows: the zero points' share of column_dot.
template <int R>
void zero_point_terms(const Column& c, const float* a_sums, int64_t k_blocks, float* out) {
  float acc[R] = {};
  if (c.zp_packed) {
    for (int64_t kb = 0; kb < k_blocks; ++kb) {
      const float szp = c.scales[kb] * float(kb & 1 ? c.zp_packed[kb / 2] >> 4 : c.zp_packed[kb / 2] & 15);
      for (int r = 0; r < R; ++r) acc[r] += szp * a_sums[r * k_blocks + kb];
    }
  } else {
    for (int64_t kb = 0; kb < k_blocks; ++kb) {
      const float szp = c.scales[kb] * (c.zp_float ? c.zp_float[kb] : 8.f);
      for (int r = 0; r < R; ++r) acc[r] += szp * a_sums[r * k_blocks + kb];
    }
  }
  for (int r = 0; r < R; ++r) out[r] = acc[r];
}

#ifdef METALNN_HAS_AVX2_KERNELS
METALNN_AVX2_INLINE float sum8(__m256 v) {
  __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  s = _mm_add_ps(s, _mm_movehl_ps(s, s));
  return _mm_cvtss_f32(_mm_add_ss(s, _mm_movehdup_ps(s)));
}

// dot[r] += the 16 codes of `bytes` (8 low nibbles, then 8 high ones) . 16 floats of row r at `a`.
template <int R>
METALNN_AVX2_INLINE void dot16(__m128i bytes, const float* a, int64_t stride, __m256* dot) {
  const __m128i low4 = _mm_set1_epi8(15);
  const __m256 lo = _mm256_cvtepi32_ps(_mm256_cvtepu8_epi32(_mm_and_si128(bytes, low4)));
  const __m256 hi = _mm256_cvtepi32_ps(_mm256_cvtepu8_epi32(_mm_and_si128(_mm_srli_epi16(bytes, 4), low4)));
  for (int r = 0; r < R; ++r) {
    dot[r] = _mm256_fmadd_ps(lo, _mm256_loadu_ps(a + r * stride), dot[r]);
    dot[r] = _mm256_fmadd_ps(hi, _mm256_loadu_ps(a + r * stride + 8), dot[r]);
  }
}

// column_dot with the codes decoded in registers, 16 bytes a load where the block has 32 or more.
template <int R>
METALNN_AVX2 void column_dot_avx2(const Column& c, const float* a, int64_t stride, const float* a_sums,
                                  int64_t k_blocks, int64_t block, float* out) {
  __m256 acc[R];
  for (int r = 0; r < R; ++r) acc[r] = _mm256_setzero_ps();
  for (int64_t kb = 0; kb < k_blocks; ++kb) {
    const uint8_t* codes = c.codes + kb * block / 2;
    const float* ab = a + kb * block;
    // Columns follow one another in memory: fetching ahead across their ends keeps DRAM busy.
    _mm_prefetch(reinterpret_cast<const char*>(codes) + 1024, _MM_HINT_T0);
    __m256 dot[R];
    for (int r = 0; r < R; ++r) dot[r] = _mm256_setzero_ps();
    if (block == 16) {
      dot16<R>(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(codes)), ab, stride, dot);
    } else {
      for (int64_t g = 0; g < block / 32; ++g) {
        const __m128i bytes = _mm_loadu_si128(reinterpret_cast<const __m128i*>(codes + g * 16));
        dot16<R>(bytes, ab + g * 32, stride, dot);
        dot16<R>(_mm_srli_si128(bytes, 8), ab + g * 32 + 16, stride, dot);
      }
    }
    const __m256 scale = _mm256_set1_ps(c.scales[kb]);
    for (int r = 0; r < R; ++r) acc[r] = _mm256_fmadd_ps(scale, dot[r], acc[r]);
  }
  float zp_terms[R];
  zero_point_terms<R>(c, a_sums, k_blocks, zp_terms);
  for (int r = 0; r < R; ++r) out[r] = sum8(acc[r]) - zp_terms[r];
}
#endif

using ColumnDot = void (*)(const Column&, const float*, int64_t, const float*, int64_t, int64_t, float*);

// The kernel for `rows` rows (1 to kRowGroup).
ColumnDot column_dot_for(int64_t rows) {
#ifdef METALNN_HAS_AVX2_KERNELS
  if (has_avx2_fma()) {
    static constexpr ColumnDot kAvx2[] = {column_dot_avx2<1>, column_dot_avx2<2>, column_dot_avx2<3>,
                                          column_dot_avx2<4>};
    return kAvx2[rows - 1];
  }
#endif
  static constexpr ColumnDot kPortable[] = {column_dot<1>, column_dot<2>, column_dot<3>, column_dot<4>};
  return kPortable[rows - 1];
}

// A row of K floats -> k_blocks * block floats, zero-padded, each group of 16 as its 8 even-indexed
// floats then its 8 odd-indexed ones (the low and high nibbles of 8 code bytes); plus per-block sums.
void reorder_row(const float* a, int64_t k, int64_t k_blocks, int64_t block, float* out, float* sums) {
  for (int64_t kb = 0; kb < k_blocks; ++kb) {
    float sum = 0.f;
    for (int64_t i = 0; i < block; ++i) {
      const int64_t src = kb * block + i;
      const float v = src < k ? a[src] : 0.f;
      sum += v;
      const int64_t g = i / 16, j = i % 16;
      out[kb * block + g * 16 + (j % 2) * 8 + j / 2] = v;
    }
    sums[kb] = sum;
  }
}

// Column c as k_blocks * block floats in the order reorder_row puts A in.
void dequantize_column(const Column& c, int64_t k_blocks, int64_t block, float* w) {
  for (int64_t kb = 0; kb < k_blocks; ++kb) {
    const float scale = c.scales[kb], offset = -c.zero_point(kb) * scale;
    const uint8_t* codes = c.codes + kb * block / 2;
    float* out = w + kb * block;
    for (int64_t g = 0; g < block / 16; ++g)
      for (int j = 0; j < 8; ++j) {
        out[g * 16 + j] = float(codes[g * 8 + j] & 15) * scale + offset;
        out[g * 16 + 8 + j] = float(codes[g * 8 + j] >> 4) * scale + offset;
      }
  }
}

#ifdef METALNN_HAS_AVX2_KERNELS
METALNN_AVX2 void dequantize_column_avx2(const Column& c, int64_t k_blocks, int64_t block, float* w) {
  const __m128i low4 = _mm_set1_epi8(15);
  for (int64_t kb = 0; kb < k_blocks; ++kb) {
    const __m256 scale = _mm256_set1_ps(c.scales[kb]), offset = _mm256_set1_ps(-c.zero_point(kb) * c.scales[kb]);
    const uint8_t* codes = c.codes + kb * block / 2;
    float* out = w + kb * block;
    for (int64_t g = 0; g < block / 16; ++g) {
      const __m128i bytes = _mm_loadl_epi64(reinterpret_cast<const __m128i*>(codes + g * 8));
      const __m256 lo = _mm256_cvtepi32_ps(_mm256_cvtepu8_epi32(_mm_and_si128(bytes, low4)));
      const __m256 hi = _mm256_cvtepi32_ps(_mm256_cvtepu8_epi32(_mm_and_si128(_mm_srli_epi16(bytes, 4), low4)));
      _mm256_storeu_ps(out + g * 16, _mm256_fmadd_ps(lo, scale, offset));
      _mm256_storeu_ps(out + g * 16 + 8, _mm256_fmadd_ps(hi, scale, offset));
    }
  }
}
#endif

class MatMulNBitsKernel : public Kernel {
 public:
  MatMulNBitsKernel(const Graph& g, const Node& n) : geo_(nbits_geometry(g, n)) {}

  void run(const std::vector<const Tensor*>& in, const std::vector<Tensor*>& out, ThreadPool& pool) override {
    const int64_t K = geo_.k, N = geo_.n, rows = in[0]->numel() / K;
    const float* a = in[0]->data<float>();
    const float* bias = in.size() > 5 && in[5] ? in[5]->data<float>() : nullptr;
    float* y = out[0]->data<float>();
    if (rows == 0) return;
    if (rows <= kFusedMaxRows) run_fused(a, rows, in, bias, y, pool);
    else run_panels(a, rows, in, bias, y, pool);
  }

 private:
  Column column(const std::vector<const Tensor*>& in, int64_t n) const {
    const Tensor* zp = in.size() > 3 ? in[3] : nullptr;
    const bool packed = geo_.zero_points == NBitsZeroPoints::kPacked, floats = geo_.zero_points == NBitsZeroPoints::kFloat;
    return Column{in[1]->data<uint8_t>() + n * geo_.k_blocks * geo_.blob_bytes, in[2]->data<float>() + n * geo_.k_blocks,
                  packed ? zp->data<uint8_t>() + n * geo_.zp_row_bytes : nullptr,
                  floats ? zp->data<float>() + n * geo_.k_blocks : nullptr};
  }

  // A's rows reordered as the codes decode (reorder_row): a dot product is the same in any K order.
  struct Reordered {
    std::vector<float> rows, sums;
    int64_t padded;
  };
  Reordered reorder(const float* a, int64_t rows) const {
    const int64_t kb = geo_.k_blocks, block = geo_.block_size;
    Reordered r{std::vector<float>(size_t(rows * kb * block)), std::vector<float>(size_t(rows * kb)), kb * block};
    for (int64_t m = 0; m < rows; ++m) reorder_row(a + m * geo_.k, geo_.k, kb, block, &r.rows[m * r.padded], &r.sums[m * kb]);
    return r;
  }

  void run_fused(const float* a, int64_t rows, const std::vector<const Tensor*>& in, const float* bias, float* y,
                 ThreadPool& pool) {
    const int64_t N = geo_.n, kb = geo_.k_blocks, block = geo_.block_size;
    const Reordered ar = reorder(a, rows);
    // Rows in groups of kRowGroup, each decoding the column (then in L1) once.
    const ColumnDot full = column_dot_for(std::min(rows, kRowGroup)), rest = column_dot_for(1 + (rows - 1) % kRowGroup);
    pool.parallel_for(N, 16, [&](int64_t n0, int64_t n1) {
      float result[kRowGroup];
      for (int64_t n = n0; n < n1; ++n) {
        const Column c = column(in, n);
        for (int64_t m0 = 0; m0 < rows; m0 += kRowGroup) {
          const int64_t count = std::min(kRowGroup, rows - m0);
          (count == kRowGroup ? full : rest)(c, &ar.rows[m0 * ar.padded], ar.padded, &ar.sums[m0 * kb], kb, block, result);
          for (int64_t m = 0; m < count; ++m) y[(m0 + m) * N + n] = result[m] + (bias ? bias[n] : 0.f);
        }
      }
    });
  }

  void run_panels(const float* a, int64_t rows, const std::vector<const Tensor*>& in, const float* bias, float* y,
                  ThreadPool& pool) {
    const int64_t N = geo_.n, panels = (N + kPanel - 1) / kPanel;
    const Reordered ar = reorder(a, rows);
    const int64_t K = ar.padded;  // the padding of A is zero, so B's padding never counts
    auto dequantize = &dequantize_column;
#ifdef METALNN_HAS_AVX2_KERNELS
    if (has_avx2_fma()) dequantize = &dequantize_column_avx2;
#endif
    pool.parallel_for(panels, 1, [&](int64_t p0, int64_t p1) {
      std::vector<float> w(size_t(kPanel * K));
      for (int64_t p = p0; p < p1; ++p) {
        const int64_t n0 = p * kPanel, cols = std::min(kPanel, N - n0);
        for (int64_t j = 0; j < cols; ++j) dequantize(column(in, n0 + j), geo_.k_blocks, geo_.block_size, &w[size_t(j * K)]);
        sgemm(false, true, int(rows), int(cols), int(K), 1.f, ar.rows.data(), int(K), w.data(), int(K), 0.f, y + n0,
              int(N));
        if (bias)
          for (int64_t m = 0; m < rows; ++m)
            for (int64_t j = 0; j < cols; ++j) y[m * N + n0 + j] += bias[n0 + j];
      }
    });
  }

  NBitsGeometry geo_;
};

}  // namespace

std::unique_ptr<Kernel> make_matmul_nbits_kernel(const Graph& g, const Node& n) {
  return std::make_unique<MatMulNBitsKernel>(g, n);
}

}  // namespace metalnn::cpu
