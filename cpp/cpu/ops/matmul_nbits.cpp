// MatMulNBits on the CPU; B stays 4-bit. Few rows (decoding, memory-bound): threads split N, and each
// block of codes is decoded in registers and dotted with A, whose floats are reordered once per run so
// that 8 bytes' low nibbles meet 8 contiguous floats and their high nibbles the next 8. The zero point
// comes out of the dot as zp * sum(A's block). Many rows (prefill): threads dequantise panels of B
// into float and multiply them with BLAS.
#include <algorithm>
#include <vector>

#include "core/ops/matmul_nbits.h"
#include "cpu/blas.h"
#include "cpu/cpu_features.h"
#include "cpu/kernel.h"
#include "cpu/simd_avx2.h"

namespace metalnn::cpu {

namespace {

constexpr int64_t kFusedMaxRows = 4;  // above this, dequantising panels for sgemm is faster
constexpr int64_t kPanel = 32;        // columns of B per sgemm call

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

// sum over blocks of scale * (sum codes . a - zp * sum a); `a` reordered (see reorder_row).
float column_dot(const Column& c, const float* a, const float* a_sums, int64_t k_blocks, int64_t block) {
  float acc = 0.f;
  for (int64_t kb = 0; kb < k_blocks; ++kb) {
    const uint8_t* codes = c.codes + kb * block / 2;
    const float* ab = a + kb * block;
    float dot = 0.f;
    for (int64_t g = 0; g < block / 16; ++g)
      for (int j = 0; j < 8; ++j) {
        const uint8_t byte = codes[g * 8 + j];
        dot += float(byte & 15) * ab[g * 16 + j] + float(byte >> 4) * ab[g * 16 + 8 + j];
      }
    acc += c.scales[kb] * (dot - c.zero_point(kb) * a_sums[kb]);
  }
  return acc;
}

#ifdef METALNN_HAS_AVX2_KERNELS
METALNN_AVX2 float column_dot_avx2(const Column& c, const float* a, const float* a_sums, int64_t k_blocks,
                                   int64_t block) {
  const __m128i low4 = _mm_set1_epi8(15);
  __m256 acc = _mm256_setzero_ps();
  float correction = 0.f;
  for (int64_t kb = 0; kb < k_blocks; ++kb) {
    const uint8_t* codes = c.codes + kb * block / 2;
    const float* ab = a + kb * block;
    __m256 d0 = _mm256_setzero_ps(), d1 = _mm256_setzero_ps();
    for (int64_t g = 0; g < block / 16; ++g) {
      const __m128i bytes = _mm_loadl_epi64(reinterpret_cast<const __m128i*>(codes + g * 8));
      const __m128i lo = _mm_and_si128(bytes, low4), hi = _mm_and_si128(_mm_srli_epi16(bytes, 4), low4);
      d0 = _mm256_fmadd_ps(_mm256_cvtepi32_ps(_mm256_cvtepu8_epi32(lo)), _mm256_loadu_ps(ab + g * 16), d0);
      d1 = _mm256_fmadd_ps(_mm256_cvtepi32_ps(_mm256_cvtepu8_epi32(hi)), _mm256_loadu_ps(ab + g * 16 + 8), d1);
    }
    acc = _mm256_fmadd_ps(_mm256_set1_ps(c.scales[kb]), _mm256_add_ps(d0, d1), acc);
    correction += c.scales[kb] * c.zero_point(kb) * a_sums[kb];
  }
  __m128 s = _mm_add_ps(_mm256_castps256_ps128(acc), _mm256_extractf128_ps(acc, 1));
  s = _mm_add_ps(s, _mm_movehl_ps(s, s));
  s = _mm_add_ss(s, _mm_movehdup_ps(s));
  return _mm_cvtss_f32(s) - correction;
}
#endif

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

  void run_fused(const float* a, int64_t rows, const std::vector<const Tensor*>& in, const float* bias, float* y,
                 ThreadPool& pool) {
    const int64_t K = geo_.k, N = geo_.n, kb = geo_.k_blocks, block = geo_.block_size, padded = kb * block;
    std::vector<float> ar(size_t(rows * padded)), sums(size_t(rows * kb));
    for (int64_t m = 0; m < rows; ++m) reorder_row(a + m * K, K, kb, block, &ar[m * padded], &sums[m * kb]);
    auto dot = &column_dot;
#ifdef METALNN_HAS_AVX2_KERNELS
    if (has_avx2_fma()) dot = &column_dot_avx2;
#endif
    pool.parallel_for(N, 16, [&](int64_t n0, int64_t n1) {
      for (int64_t n = n0; n < n1; ++n) {
        const Column c = column(in, n);
        for (int64_t m = 0; m < rows; ++m)
          y[m * N + n] = dot(c, &ar[m * padded], &sums[m * kb], kb, block) + (bias ? bias[n] : 0.f);
      }
    });
  }

  void run_panels(const float* a, int64_t rows, const std::vector<const Tensor*>& in, const float* bias, float* y,
                  ThreadPool& pool) {
    const int64_t K = geo_.k, N = geo_.n, block = geo_.block_size;
    const int64_t panels = (N + kPanel - 1) / kPanel;
    pool.parallel_for(panels, 1, [&](int64_t p0, int64_t p1) {
      std::vector<float> w(size_t(kPanel * K));
      for (int64_t p = p0; p < p1; ++p) {
        const int64_t n0 = p * kPanel, cols = std::min(kPanel, N - n0);
        for (int64_t j = 0; j < cols; ++j) {
          const Column c = column(in, n0 + j);
          float* wj = &w[size_t(j * K)];
          for (int64_t k = 0; k < K; ++k) {
            const int64_t kb = k / block;
            const uint8_t byte = c.codes[k / 2];  // blocks are whole bytes, so code k is byte k / 2
            wj[k] = (float(k & 1 ? byte >> 4 : byte & 15) - c.zero_point(kb)) * c.scales[kb];
          }
        }
        sgemm(false, true, int(rows), int(cols), int(K), 1.f, a, int(K), w.data(), int(K), 0.f, y + n0, int(N));
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
