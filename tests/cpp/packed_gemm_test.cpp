// The packed float32 GEMM on every kernel this CPU can run (and BLAS): packed left or right operand,
// transposes, alpha/beta, sizes with ragged register tiles and several cache blocks of K, M and N,
// serial and split over a pool, and the epilogue seeing each element of C exactly once.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <mutex>
#include <random>
#include <string>
#include <vector>

#include "cpu/packed_gemm.h"

namespace metalnn::cpu {
namespace {

std::vector<float> random_values(int64_t count, unsigned seed) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> dist(-1.f, 1.f);
  std::vector<float> v(static_cast<size_t>(count));
  for (float& x : v) x = dist(rng);
  return v;
}

std::vector<GemmIsa> isas() {
  std::vector<GemmIsa> out;
  for (GemmIsa isa : {GemmIsa::Blas, GemmIsa::Avx2, GemmIsa::Avx512})
    if (gemm_isa_supported(isa)) out.push_back(isa);
  return out;
}

// Restores the detected ISA when a test ends.
struct IsaScope {
  GemmIsa saved = gemm_isa();
  ~IsaScope() { set_gemm_isa(saved); }
};

struct Case {
  int64_t m, n, k;
  bool trans_a, trans_b, pack_a;  // pack_a: A is packed ahead, otherwise B is
  float alpha, beta;
};

// The fused epilogue a check applies: a bias per row and one per column of C, a clamp and an
// activation after it, each optional.
struct Fused {
  bool bias = false;
  float lo = -std::numeric_limits<float>::infinity(), hi = std::numeric_limits<float>::infinity();
  bool col_bias = false;
  Activation act;
};

Activation activation(Activation::Kind kind) {
  Activation act;
  act.kind = kind;
  return act;
}

double reference_activation(double x, const Activation& act) {
  switch (act.kind) {
    case Activation::Kind::Sigmoid: return 1.0 / (1.0 + std::exp(-x));
    case Activation::Kind::Gelu: return 0.5 * x * (1.0 + std::erf(x / std::sqrt(2.0)));
    default: return x;
  }
}

void check(const Case& t, GemmIsa isa, ThreadPool* pool, const Fused& f = {}, int64_t kc_max = 0) {
  SCOPED_TRACE("isa=" + std::to_string(int(isa)) + " m=" + std::to_string(t.m) + " n=" + std::to_string(t.n) +
               " k=" + std::to_string(t.k) + " ta=" + std::to_string(t.trans_a) + " tb=" + std::to_string(t.trans_b) +
               " pack_a=" + std::to_string(t.pack_a) + " threads=" + std::to_string(pool ? pool->num_threads() : 1) +
               " kc_max=" + std::to_string(kc_max));
  const int64_t lda = t.trans_a ? t.m : t.k, ldb = t.trans_b ? t.k : t.n, ldc = t.n + 3;
  const std::vector<float> a = random_values(t.m * t.k, 1), b = random_values(t.k * t.n, 2);
  std::vector<float> c = random_values(t.m * ldc, 3);
  const std::vector<float> bias = random_values(t.m, 4), col_bias = random_values(t.n, 5);
  GemmRowEpilogue fused;
  fused.row_bias = f.bias ? bias.data() : nullptr;
  fused.col_bias = f.col_bias ? col_bias.data() : nullptr;
  fused.act = f.act;
  fused.lo = f.lo;
  fused.hi = f.hi;
  const std::vector<float> c0 = c;
  const PackedMatrix packed = t.pack_a ? pack_left(a.data(), lda, t.trans_a, t.m, t.k, isa, kc_max)
                                       : pack_right(b.data(), ldb, t.trans_b, t.k, t.n, isa, kc_max);
  // The kernels load whole cache lines of a pack: it starts on one.
  if (!packed.data.empty()) EXPECT_EQ(reinterpret_cast<uintptr_t>(packed.data.data()) % 64, 0u);
  std::vector<int> seen(static_cast<size_t>(t.m * t.n), 0);
  std::mutex seen_mutex;
  gemm(pool, t.m, t.n, t.k, t.alpha, {a.data(), lda, t.trans_a, t.pack_a ? &packed : nullptr},
       {b.data(), ldb, t.trans_b, t.pack_a ? nullptr : &packed}, t.beta, c.data(), ldc,
       [&](int64_t r0, int64_t r1, int64_t q0, int64_t q1) {
         std::lock_guard<std::mutex> lock(seen_mutex);
         for (int64_t i = r0; i < r1; ++i)
           for (int64_t j = q0; j < q1; ++j) ++seen[static_cast<size_t>(i * t.n + j)];
       },
       fused);
  int bad = 0;
  for (int64_t i = 0; i < t.m; ++i) {
    for (int64_t j = 0; j < t.n; ++j) {
      double acc = 0;
      for (int64_t q = 0; q < t.k; ++q)
        acc += double(t.trans_a ? a[q * lda + i] : a[i * lda + q]) * (t.trans_b ? b[j * ldb + q] : b[q * ldb + j]);
      const double sum = t.alpha * acc + t.beta * c0[i * ldc + j] + (f.bias ? bias[i] : 0.f) +
                         (f.col_bias ? col_bias[j] : 0.f);
      const double want = reference_activation(std::clamp(sum, double(f.lo), double(f.hi)), f.act);
      const double tol = 1e-5 * (t.k + 1);
      if (std::abs(c[i * ldc + j] - want) > tol && bad++ < 5)
        ADD_FAILURE() << "C[" << i << ", " << j << "] = " << c[i * ldc + j] << ", expected " << want;
      if (seen[static_cast<size_t>(i * t.n + j)] != 1 && bad++ < 5)
        ADD_FAILURE() << "epilogue saw C[" << i << ", " << j << "] " << seen[static_cast<size_t>(i * t.n + j)]
                      << " times";
    }
    // The padding columns between rows stay untouched.
    for (int64_t j = t.n; j < ldc; ++j)
      if (c[i * ldc + j] != c0[i * ldc + j] && bad++ < 5) ADD_FAILURE() << "wrote past row " << i;
  }
}

TEST(PackedGemm, RaggedTilesEveryIsa) {
  IsaScope scope;
  ThreadPool pool(2);
  const std::vector<Case> cases = {
      {1, 1, 1, false, false, true, 1.f, 0.f},      {7, 13, 5, false, false, true, 1.f, 0.f},
      {13, 17, 9, false, false, false, 1.f, 0.f},   {15, 33, 31, true, false, true, 0.5f, 0.f},
      {29, 47, 129, false, true, false, 1.f, 1.f},  {6, 16, 257, true, true, true, -2.f, 0.5f},
      {14, 32, 300, false, false, false, 1.f, 0.f}, {3, 700, 64, false, true, false, 1.f, 0.f},
      {200, 41, 513, false, false, true, 1.f, 0.f}, {1, 1600, 37, false, false, false, 1.f, 0.f},
      {65, 1, 70, false, false, true, 1.f, -1.f},   {129, 129, 129, true, true, false, 1.f, 0.f},
      {50, 100, 300, false, false, true, 1.f, 0.f}, {64, 64, 64, false, false, true, 1.f, 1.f},
      {16, 1100, 40, false, false, true, 1.f, 0.f},  {20, 50, 1100, false, false, true, 1.f, 0.5f},
      // B packed per call with short K and long rows: tiles row panel by row panel.
      {200, 1400, 100, false, false, true, 1.f, 0.f}, {300, 600, 64, false, false, true, 1.f, 0.5f},
  };
  for (GemmIsa isa : isas()) {
    set_gemm_isa(isa);
    for (const Case& t : cases) {
      check(t, isa, nullptr);
      check(t, isa, &pool);
    }
  }
}

// B packed with K blocks other than the default: one block up to kc_max rows, equal blocks beyond; A
// packed per call (and shared by threads splitting the columns) follows them.
TEST(PackedGemm, PackedBKBlocksEveryIsa) {
  IsaScope scope;
  ThreadPool pool(2);
  const std::vector<Case> cases = {
      {30, 1700, 700, false, false, false, 1.f, 0.f}, {29, 47, 768, true, false, false, 0.5f, 1.f},
      {43, 600, 769, false, true, false, 1.f, 0.f},    {300, 70, 1600, false, false, false, 1.f, 0.5f},
      {15, 2000, 1537, true, true, false, 1.f, 0.f},
  };
  for (GemmIsa isa : isas()) {
    set_gemm_isa(isa);
    for (const Case& t : cases)
      for (int64_t kc_max : {768, 300}) {
        check(t, isa, nullptr, {}, kc_max);
        check(t, isa, &pool, {true, -0.5f, 0.75f, true, activation(Activation::Kind::Gelu)}, kc_max);
      }
  }
}

// A packed ahead with K blocks other than the default (an im2col convolution's, sized for L1): B
// read in place (few rows, or a short span) or packed per call follows them, the epilogue on the last.
TEST(PackedGemm, PackedAKBlocksEveryIsa) {
  IsaScope scope;
  ThreadPool pool(2);
  const std::vector<Case> cases = {
      {192, 128, 1600, false, false, true, 1.f, 0.f}, {20, 89, 1000, false, false, true, 1.f, 0.5f},
      {300, 130, 700, false, false, true, 1.f, 0.f},  {13, 7, 263, true, false, true, -1.f, 0.f},
  };
  for (GemmIsa isa : isas()) {
    set_gemm_isa(isa);
    const int64_t l1_kc = gemm_l1_k_block(isa);
    EXPECT_EQ(l1_kc == 0, isa == GemmIsa::Blas);
    for (const Case& t : cases)
      for (int64_t kc_max : {l1_kc, int64_t{100}}) {
        check(t, isa, nullptr, {}, kc_max);
        check(t, isa, &pool, {true, 0.f, 6.f, false, activation(Activation::Kind::Sigmoid)}, kc_max);
      }
  }
}

TEST(PackedGemm, FusedEpilogueEveryIsa) {
  IsaScope scope;
  ThreadPool pool(2);
  constexpr float inf = std::numeric_limits<float>::infinity();
  // Ragged tiles, several K blocks (the epilogue only on the last), beta != 0, either side
  // packed, a transposed A packed per call.
  const std::vector<Case> cases = {
      {7, 13, 5, false, false, true, 1.f, 0.f},     {29, 47, 300, false, false, true, 1.f, 0.f},
      {49, 64, 600, true, false, false, 1.f, 0.f},  {50, 100, 513, false, true, false, 0.5f, 1.f},
      {200, 41, 129, false, false, true, 1.f, 0.f}, {14, 1600, 40, true, false, false, 1.f, 0.f},
      {65, 1, 70, false, false, true, 1.f, -1.f},   {200, 1400, 100, false, false, true, 1.f, 0.f},
      {600, 70, 33, false, false, false, 1.f, 0.f},
  };
  // Row and column biases, clamps, activations after them (on the tile just stored, or as a pass over
  // BLAS's block where C is one column).
  const std::vector<Fused> epilogues = {
      {true, -inf, inf},
      {true, 0.f, inf},
      {false, -0.5f, 0.75f},
      {true, -1.f, 2.f},
      {false, -inf, inf, true},
      {true, 0.f, inf, true},
      {false, -inf, inf, true, activation(Activation::Kind::Gelu)},
      {true, -0.5f, 0.75f, false, activation(Activation::Kind::Sigmoid)},
  };
  for (GemmIsa isa : isas()) {
    set_gemm_isa(isa);
    for (const Case& t : cases)
      for (const Fused& f : epilogues) {
        check(t, isa, nullptr, f);
        check(t, isa, &pool, f);
      }
  }
}

// C's columns (and B's, or B plain) run over images of `per_image` columns with gaps between the
// images' blocks; A packed. Tiles across two images with beta != 0, several K blocks, a first column
// inside an image, serial and split.
TEST(PackedGemm, ImageColumnsEveryKernel) {
  IsaScope scope;
  ThreadPool pool(2);
  struct ImageCase {
    int64_t m, per_image, images, first, n, k;
    bool b_spread;
    float beta;
  };
  const std::vector<ImageCase> cases = {
      {7, 49, 3, 0, 147, 5, true, 0.f},   {29, 7, 8, 0, 56, 700, true, 1.f},  {48, 1, 5, 0, 5, 45, true, 0.f},
      {20, 35, 4, 10, 120, 600, false, 0.5f}, {15, 196, 2, 0, 392, 40, true, 0.f}, {33, 9, 6, 4, 40, 17, false, 0.f},
  };
  for (GemmIsa isa : isas()) {
    if (isa == GemmIsa::Blas) continue;
    set_gemm_isa(isa);
    for (const ImageCase& t : cases)
      for (ThreadPool* p : {static_cast<ThreadPool*>(nullptr), &pool}) {
        SCOPED_TRACE("isa=" + std::to_string(int(isa)) + " m=" + std::to_string(t.m) + " per_image=" +
                     std::to_string(t.per_image) + " k=" + std::to_string(t.k) + " pool=" + std::to_string(p != nullptr));
        const int64_t ldb = t.per_image + 2, b_image = t.k * ldb + 5;  // B image blocks [k, per_image]
        const int64_t ldc = t.per_image + 1, c_image = t.m * ldc + 3;  // C image blocks [m, per_image]
        const int64_t b_count = t.b_spread ? t.images * b_image : t.k * t.n;
        const std::vector<float> a = random_values(t.m * t.k, 1), b = random_values(b_count, 2);
        std::vector<float> c = random_values(t.images * c_image, 3);
        const std::vector<float> c0 = c;
        const PackedMatrix packed = pack_left(a.data(), t.k, false, t.m, t.k, isa);
        const ImageColumns images{t.per_image, t.first, t.b_spread ? b_image : 0, c_image};
        std::vector<int> seen(static_cast<size_t>(t.m * t.n), 0);
        std::mutex seen_mutex;
        gemm(p, t.m, t.n, t.k, 1.f, {a.data(), t.k, false, &packed}, {b.data(), t.b_spread ? ldb : t.n, false, nullptr},
             t.beta, c.data(), ldc,
             [&](int64_t r0, int64_t r1, int64_t q0, int64_t q1) {
               std::lock_guard<std::mutex> lock(seen_mutex);
               for (int64_t i = r0; i < r1; ++i)
                 for (int64_t j = q0; j < q1; ++j) ++seen[static_cast<size_t>(i * t.n + j)];
             },
             {}, images);
        std::vector<char> written(c.size(), 0);
        int bad = 0;
        for (int64_t j = 0; j < t.n; ++j) {
          const int64_t g = t.first + j, image = g / t.per_image, col = g % t.per_image;
          for (int64_t i = 0; i < t.m; ++i) {
            double acc = 0;
            for (int64_t q = 0; q < t.k; ++q)
              acc += double(a[i * t.k + q]) * (t.b_spread ? b[image * b_image + q * ldb + col] : b[q * t.n + j]);
            const size_t at = static_cast<size_t>(image * c_image + i * ldc + col);
            written[at] = 1;
            const double want = acc + t.beta * c0[at];
            if (std::abs(c[at] - want) > 1e-5 * (t.k + 1) && bad++ < 5)
              ADD_FAILURE() << "C[" << i << ", " << j << "] = " << c[at] << ", expected " << want;
            if (seen[static_cast<size_t>(i * t.n + j)] != 1 && bad++ < 5) ADD_FAILURE() << "epilogue count";
          }
        }
        for (size_t at = 0; at < c.size(); ++at)
          if (!written[at] && c[at] != c0[at] && bad++ < 5) ADD_FAILURE() << "wrote outside C at " << at;
      }
  }
}

// B packed ahead, A packed per call with its rows spread evenly over the row panels: M just below,
// at and above multiples of both kernels' tile heights (6 and 14) and past a block of row panels, A
// plain or transposed, one K block or several, split by columns (A packed once for both threads)
// and by rows, with a bias per row and beta != 0 (row offsets of C, the bias and the packed panels
// must agree).
TEST(PackedGemm, EvenRowPanelsEveryIsa) {
  IsaScope scope;
  ThreadPool pool(2);
  std::vector<Case> cases;
  for (int64_t m : {2, 5, 7, 13, 15, 27, 29, 43, 64, 127, 128, 129, 197, 400})
    for (bool trans_a : {false, true}) {
      cases.push_back({m, 512, 300, trans_a, false, false, 1.f, 0.f});          // split by columns
      cases.push_back({m, 70, 1100, trans_a, m % 2 == 0, false, 0.5f, 1.f});   // several K blocks
      cases.push_back({m, 33, 530, trans_a, false, false, 1.f, 0.f});          // split by rows
    }
  for (GemmIsa isa : isas()) {
    if (isa == GemmIsa::Blas) continue;
    set_gemm_isa(isa);
    for (const Case& t : cases) {
      check(t, isa, nullptr);
      check(t, isa, &pool);
      check(t, isa, &pool, {true, -0.5f, 0.75f});
    }
  }
}

TEST(PackedGemm, EnvironmentAndSupport) {
  EXPECT_TRUE(gemm_isa_supported(GemmIsa::Blas));
  EXPECT_TRUE(gemm_isa_supported(gemm_isa()));
  // A BLAS "pack" holds nothing: the raw operand is used.
  EXPECT_TRUE(pack_left(nullptr, 0, false, 4, 4, GemmIsa::Blas).data.empty());
}

}  // namespace
}  // namespace metalnn::cpu
