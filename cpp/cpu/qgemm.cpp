#include "cpu/qgemm.h"

#include <algorithm>
#include <atomic>
#include <cstdlib>
#include <cstring>
#include <string>

#include "cpu/simd_avx2.h"
#if defined(__SSE2__)
#include <emmintrin.h>
#endif
#if defined(METALNN_HAS_AVX2_KERNELS) && defined(__linux__)
#include <cpuid.h>
#include <sys/syscall.h>
#include <unistd.h>
#define METALNN_HAS_AMX_KERNELS 1
#endif

namespace metalnn::cpu {

namespace {

// Panels per task are sized to stay in L2 while a row block's weights (kTileRows x k bytes) sit in L1;
// few columns (late layers, wide weights) then fit one chunk, so the weights stream once.
constexpr int64_t kChunkBytes = int64_t{384} << 10;

enum class Isa { Portable, Avx2, AvxVnni, Avx512Vnni, Amx };

// claim_tasks with a per-thread set-up and tear-down around each thread's tasks (either may be null).
void claim_tasks_with(ThreadPool& pool, int64_t tasks, bool serial, const std::function<void(int64_t)>& task,
                      void (*enter)(), void (*leave)()) {
  auto run = [&](std::atomic<int64_t>& next) {
    if (enter) enter();
    for (int64_t t = next++; t < tasks; t = next++) task(t);
    if (leave) leave();
  };
  std::atomic<int64_t> next{0};
  if (serial || pool.num_threads() == 1 || tasks <= 1) return run(next);
  pool.parallel_for(pool.num_threads(), 1, [&](int64_t, int64_t) { run(next); });
}

#if defined(METALNN_HAS_AMX_KERNELS)
// AMX-TILE and AMX-INT8 present, and Linux grants this process the tile state (it must be asked for:
// arch_prctl(ARCH_REQ_XCOMP_PERM, XFEATURE_XTILEDATA)).
bool amx_usable() {
  unsigned a = 0, b = 0, c = 0, d = 0;
  if (!__get_cpuid_count(7, 0, &a, &b, &c, &d) || !(d & (1u << 24)) || !(d & (1u << 25))) return false;
  constexpr long kReqXcompPerm = 0x1023, kXtileData = 18;
  return syscall(SYS_arch_prctl, kReqXcompPerm, kXtileData) == 0;
}
#endif

// The best path this CPU has; METALNN_INT8_KERNELS=avx512vnni, =avxvnni, =avx2 or =portable caps it (so one
// machine can test every path).
Isa detect_isa() {
  const char* env = std::getenv("METALNN_INT8_KERNELS");
  const std::string cap = env ? env : "";
  if (cap == "portable") return Isa::Portable;
#if defined(METALNN_HAS_AVX2_KERNELS)
  if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) {
    if (cap == "avx2") return Isa::Avx2;
    const bool avx512 = __builtin_cpu_supports("avx512vnni") && __builtin_cpu_supports("avx512vl") &&
                        __builtin_cpu_supports("avx512bw");
#if defined(METALNN_HAS_AMX_KERNELS)
    if (avx512 && cap.empty() && amx_usable()) return Isa::Amx;
#endif
    if (avx512 && cap != "avxvnni") return Isa::Avx512Vnni;
    if (__builtin_cpu_supports("avxvnni")) return Isa::AvxVnni;
    return avx512 ? Isa::Avx512Vnni : Isa::Avx2;
  }
#endif
  return Isa::Portable;
}

Isa isa() {
  static const Isa chosen = detect_isa();
  return chosen;
}

// Sums of one tile: kTileRows rows of packed weights by one panel, into sums[kTileRows][kPanelCols].
using TileFn = void (*)(const int32_t* w, const uint8_t* panel, int64_t k_groups, int32_t* sums);

// Weights for the byte kernels: per group of 4 k's, the 4 bytes of each row of the tile in one int32.
void tile_portable(const int32_t* w, const uint8_t* panel, int64_t k_groups, int32_t* sums) {
  int32_t acc[kTileRows][kPanelCols] = {};
  for (int64_t g = 0; g < k_groups; ++g) {
    const uint8_t* p = panel + g * kPanelCols * 4;
    for (int r = 0; r < kTileRows; ++r) {
      int8_t wb[4];
      std::memcpy(wb, &w[g * kTileRows + r], 4);
      for (int j = 0; j < kPanelCols; ++j)
        acc[r][j] += p[j * 4] * wb[0] + p[j * 4 + 1] * wb[1] + p[j * 4 + 2] * wb[2] + p[j * 4 + 3] * wb[3];
    }
  }
  std::memcpy(sums, acc, sizeof(acc));
}

#if defined(METALNN_HAS_AVX2_KERNELS)
#define METALNN_TILE_BODY(DOT)                                                                 \
  __m256i c[kTileRows][2];                                                                     \
  for (int r = 0; r < kTileRows; ++r) c[r][0] = c[r][1] = _mm256_setzero_si256();              \
  for (int64_t g = 0; g < k_groups; ++g) {                                                     \
    const __m256i b0 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(panel + g * 64));      \
    const __m256i b1 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(panel + g * 64 + 32)); \
    for (int r = 0; r < kTileRows; ++r) {                                                      \
      const __m256i a = _mm256_set1_epi32(w[g * kTileRows + r]);                               \
      c[r][0] = DOT(c[r][0], b0, a);                                                           \
      c[r][1] = DOT(c[r][1], b1, a);                                                           \
    }                                                                                          \
  }                                                                                            \
  for (int r = 0; r < kTileRows; ++r) {                                                        \
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(sums + r * kPanelCols), c[r][0]);           \
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(sums + r * kPanelCols + 8), c[r][1]);       \
  }

__attribute__((target("avxvnni,avx2,fma"))) void tile_avx_vnni(const int32_t* w, const uint8_t* panel,
                                                                int64_t k_groups, int32_t* sums) {
  METALNN_TILE_BODY(_mm256_dpbusd_avx_epi32)
}

__attribute__((target("avx512vnni,avx512vl,avx2,fma"))) void tile_avx512_vnni(const int32_t* w, const uint8_t* panel,
                                                                              int64_t k_groups, int32_t* sums) {
  METALNN_TILE_BODY(_mm256_dpbusd_epi32)
}
#undef METALNN_TILE_BODY

// AVX512-VNNI: a panel's group of 4 k's (16 columns x 4 bytes) is one zmm; two panels at a time keep
// eight accumulators in flight.
#define METALNN_AVX512 __attribute__((target("avx512f,avx512bw,avx512vl,avx512vnni,avx2,fma")))
METALNN_AVX512 void tiles_avx512_vnni(const int32_t* w, const uint8_t* p0, const uint8_t* p1, int64_t k_groups,
                                      int32_t* s0, int32_t* s1) {
  __m512i c[kTileRows][2];
  for (int r = 0; r < kTileRows; ++r) c[r][0] = c[r][1] = _mm512_setzero_si512();
  for (int64_t g = 0; g < k_groups; ++g) {
    const __m512i b0 = _mm512_loadu_si512(p0 + g * 64), b1 = _mm512_loadu_si512(p1 + g * 64);
    for (int r = 0; r < kTileRows; ++r) {
      const __m512i a = _mm512_set1_epi32(w[g * kTileRows + r]);
      c[r][0] = _mm512_dpbusd_epi32(c[r][0], b0, a);
      c[r][1] = _mm512_dpbusd_epi32(c[r][1], b1, a);
    }
  }
  for (int r = 0; r < kTileRows; ++r) {
    _mm512_storeu_si512(s0 + r * kPanelCols, c[r][0]);
    _mm512_storeu_si512(s1 + r * kPanelCols, c[r][1]);
  }
}
#undef METALNN_AVX512

// AVX2 weights: per group of 4 k's and row, two int32s: (w0, w2) and (w1, w3) as int16 pairs, which
// vpmaddwd pairs with the even and odd activation bytes widened to int16.
METALNN_AVX2 void tile_avx2(const int32_t* w, const uint8_t* panel, int64_t k_groups, int32_t* sums) {
  const __m256i low_bytes = _mm256_set1_epi16(0x00FF);
  __m256i c[kTileRows][2];
  for (int r = 0; r < kTileRows; ++r) c[r][0] = c[r][1] = _mm256_setzero_si256();
  for (int64_t g = 0; g < k_groups; ++g) {
    const __m256i b0 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(panel + g * 64));
    const __m256i b1 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(panel + g * 64 + 32));
    const __m256i e0 = _mm256_and_si256(b0, low_bytes), o0 = _mm256_srli_epi16(b0, 8);
    const __m256i e1 = _mm256_and_si256(b1, low_bytes), o1 = _mm256_srli_epi16(b1, 8);
    for (int r = 0; r < kTileRows; ++r) {
      const __m256i we = _mm256_set1_epi32(w[(g * kTileRows + r) * 2]);
      const __m256i wo = _mm256_set1_epi32(w[(g * kTileRows + r) * 2 + 1]);
      c[r][0] = _mm256_add_epi32(c[r][0], _mm256_add_epi32(_mm256_madd_epi16(e0, we), _mm256_madd_epi16(o0, wo)));
      c[r][1] = _mm256_add_epi32(c[r][1], _mm256_add_epi32(_mm256_madd_epi16(e1, we), _mm256_madd_epi16(o1, wo)));
    }
  }
  for (int r = 0; r < kTileRows; ++r) {
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(sums + r * kPanelCols), c[r][0]);
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(sums + r * kPanelCols + 8), c[r][1]);
  }
}
#endif

// Two panels by one row block at once, where the ISA has a kernel for it (else nullptr).
using TilesFn = void (*)(const int32_t* w, const uint8_t* p0, const uint8_t* p1, int64_t k_groups, int32_t* s0,
                         int32_t* s1);
TilesFn tiles_fn() {
#if defined(METALNN_HAS_AVX2_KERNELS)
  if (isa() == Isa::Avx512Vnni || isa() == Isa::Amx) return tiles_avx512_vnni;
#endif
  return nullptr;
}

TileFn tile_fn() {
  switch (isa()) {
#if defined(METALNN_HAS_AVX2_KERNELS)
    case Isa::AvxVnni: return tile_avx_vnni;
    case Isa::Avx512Vnni:
    case Isa::Amx: return tile_avx512_vnni;
    case Isa::Avx2: return tile_avx2;
#endif
    default: return tile_portable;
  }
}

#if defined(METALNN_HAS_AVX2_KERNELS)
// Eight requantised sums as int32 (MXCSR rounding: nearest, half to even).
METALNN_AVX2_INLINE __m256i requantize8(const Requant& q, const int32_t* s) {
  __m256 v = _mm256_cvtepi32_ps(
      _mm256_sub_epi32(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(s)), _mm256_set1_epi32(q.correction)));
  // A multiply, then an add, each rounded, as requantize_one (and ONNX Runtime) computes it: an FMA
  // rounds once and can move a value across a rounding boundary, a step away from the other paths.
  v = _mm256_add_ps(_mm256_mul_ps(v, _mm256_set1_ps(q.multiplier)), _mm256_set1_ps(q.bias));
  v = _mm256_min_ps(_mm256_max_ps(v, _mm256_set1_ps(q.lo)), _mm256_set1_ps(q.hi));
  return _mm256_add_epi32(_mm256_cvtps_epi32(v), _mm256_set1_epi32(q.y_zero));
}

METALNN_AVX2 int64_t requantize_avx2(const Requant& q, const int32_t* sums, int64_t n, uint8_t* dst) {
  int64_t i = 0;
  for (; i + 16 <= n; i += 16) {
    // Values are already in the output range, so the saturating packs only narrow.
    const __m256i w = _mm256_permute4x64_epi64(_mm256_packs_epi32(requantize8(q, sums + i), requantize8(q, sums + i + 8)), 0xD8);
    const __m128i a = _mm256_castsi256_si128(w), b = _mm256_extracti128_si256(w, 1);
    const __m128i bytes = q.lo + float(q.y_zero) < 0.f ? _mm_packs_epi16(a, b) : _mm_packus_epi16(a, b);
    _mm_storeu_si128(reinterpret_cast<__m128i*>(dst + i), bytes);
  }
  return i;
}
#endif

#if defined(METALNN_HAS_AMX_KERNELS)
#define METALNN_AMX __attribute__((target("amx-tile,amx-int8,avx512f,avx512bw,avx512vl,avx512vnni,avx2,fma")))

// Every tile used is 16 rows of 64 bytes: C tiles 0-3, weight tiles 4-5, panel tiles 6-7.
struct TileConfig {
  uint8_t palette = 1, start_row = 0, reserved[14] = {};
  uint16_t bytes_per_row[16] = {};
  uint8_t rows[16] = {};
};

METALNN_AMX void amx_configure() {
  TileConfig cfg;
  for (int t = 0; t < 8; ++t) {
    cfg.bytes_per_row[t] = 64;
    cfg.rows[t] = 16;
  }
  // ldtilecfg's operand is not visible to the optimiser as a read: keep the stores.
  asm volatile("" : : "r"(&cfg) : "memory");
  _tile_loadconfig(&cfg);
}

METALNN_AMX void amx_release() { _tile_release(); }

// Raw sums of weight row tiles (rt, rt + 1) by panels p0, p1 (each k_tiles * 16 groups readable; the
// weight tiles are 0 past k): out[(2 * row half + panel) * 256 + i * 16 + j].
METALNN_AMX void amx_block(const QGemmWeights& w, int64_t rt, const uint8_t* p0, const uint8_t* p1, int32_t* out) {
  _tile_zero(0);
  _tile_zero(1);
  _tile_zero(2);
  _tile_zero(3);
  for (int64_t kt = 0; kt < w.k_tiles(); ++kt) {
    _tile_loadd(4, w.amx_tile(rt, kt), 64);
    _tile_loadd(5, w.amx_tile(rt + 1, kt), 64);
    _tile_loadd(6, p0 + kt * 1024, 64);
    _tile_loadd(7, p1 + kt * 1024, 64);
    _tile_dpbusd(0, 4, 6);
    _tile_dpbusd(1, 4, 7);
    _tile_dpbusd(2, 5, 6);
    _tile_dpbusd(3, 5, 7);
  }
  _tile_stored(0, out, 64);
  _tile_stored(1, out + 256, 64);
  _tile_stored(2, out + 512, 64);
  _tile_stored(3, out + 768, 64);
}

// Column sums of one panel as s8 bytes: sums[j] = sum over k of the panel's byte (j, k).
METALNN_AMX void panel_column_sums(const uint8_t* panel, int64_t k_groups, int32_t* sums) {
  const __m512i ones = _mm512_set1_epi8(1);
  __m512i acc = _mm512_setzero_si512();
  for (int64_t g = 0; g < k_groups; ++g) acc = _mm512_dpbusd_epi32(acc, ones, _mm512_loadu_si512(panel + g * 64));
  _mm512_storeu_si512(sums, acc);
}

// (w + 128) . (x - 128) back to w . x for the first nr rows of a 16 x 16 tile: + 128 * sum w - 128 * sum (x - 128).
METALNN_AMX void amx_correct(int32_t* sums, const int32_t* row_sums, int64_t nr, const int32_t* column_sums) {
  const __m512i cs = _mm512_slli_epi32(_mm512_loadu_si512(column_sums), 7);
  for (int64_t i = 0; i < nr; ++i) {
    const __m512i row = _mm512_set1_epi32(row_sums[i] * 128);
    _mm512_storeu_si512(sums + i * 16, _mm512_add_epi32(_mm512_loadu_si512(sums + i * 16), _mm512_sub_epi32(row, cs)));
  }
}

// The sums of every weight row-tile pair by one panel pair (p0, p1 = p0 + panel_bytes, columns from c0),
// corrected and handed to the epilogue.
METALNN_AMX void amx_rows(const QGemmWeights& w, const uint8_t* p0, int64_t panel_bytes, const int32_t* colsum,
                          int64_t c0, int64_t cols, int64_t rp_begin, int64_t rp_end, const TileEpilogue& epilogue) {
  alignas(64) int32_t sums[4 * 256];
  const int64_t rows = w.rows();
  for (int64_t rp = rp_begin; rp < rp_end; ++rp) {
    amx_block(w, 2 * rp, p0, p0 + panel_bytes, sums);
    for (int half = 0; half < 2; ++half) {
      const int64_t r0 = (2 * rp + half) * 16, nr = std::min<int64_t>(16, rows - r0);
      if (nr <= 0) continue;
      for (int q = 0; q < 2; ++q) {
        const int64_t pc0 = c0 + q * kPanelCols, nc = std::min(kPanelCols, cols - pc0);
        if (nc <= 0) continue;
        int32_t* s = sums + (2 * half + q) * 256;
        amx_correct(s, w.row_sums().data() + r0, nr, colsum + q * kPanelCols);
        epilogue(r0, nr, pc0, nc, s);
      }
    }
  }
}

// qgemm on AMX with columns enough for every thread: each task packs one panel pair at a time into a
// buffer that stays in L1 and runs every weight row through it before packing the next (the panels of a
// whole layer, written first and read once per row pair, come back from L3).
void qgemm_amx_by_columns(ThreadPool& pool, const QGemmWeights& w, int64_t cols, const PanelPacker& pack,
                          const TileEpilogue& epilogue, bool serial, int64_t chunk_pairs) {
  const int64_t groups = w.k_groups(), panel_bytes = groups * kPanelCols * 4;
  const int64_t pairs = (cols + 2 * kPanelCols - 1) / (2 * kPanelCols), row_pairs = (w.rows() + 31) / 32;
  const int64_t tasks = (pairs + chunk_pairs - 1) / chunk_pairs;
  claim_tasks_with(pool, tasks, serial, [&](int64_t t) {
    // Zeroed once: the packers never write past k (bytes the column sums read) nor past the panels
    // (the slack the last k tile reads); columns past `cols` may keep an earlier pair's bytes, which
    // reach only sums the epilogue is not given.
    thread_local std::vector<uint8_t> buffer;
    buffer.assign(size_t(2 * panel_bytes + w.k_tiles() * 1024), 0);
    alignas(64) int32_t colsum[2 * kPanelCols];
    const int64_t end = std::min(pairs, (t + 1) * chunk_pairs);
    for (int64_t pp = t * chunk_pairs; pp < end; ++pp) {
      const int64_t c0 = pp * 2 * kPanelCols;
      pack(c0, std::min(cols, c0 + 2 * kPanelCols) - c0, buffer.data());
      panel_column_sums(buffer.data(), groups, colsum);
      panel_column_sums(buffer.data() + panel_bytes, groups, colsum + kPanelCols);
      amx_rows(w, buffer.data(), panel_bytes, colsum, c0, cols, 0, row_pairs, epilogue);
    }
  }, amx_configure, amx_release);
}

// qgemm on AMX: by columns when they are plenty and outnumber the weight rows; else every panel packed
// once (in parallel), then tasks of weight row-tile pairs by panel pairs.
void qgemm_amx(ThreadPool& pool, const QGemmWeights& w, int64_t cols, const PanelPacker& pack,
               const TileEpilogue& epilogue, bool serial) {
  const int64_t rows = w.rows(), groups = w.k_groups(), panel_bytes = groups * kPanelCols * 4;
  const int64_t panels = (cols + kPanelCols - 1) / kPanelCols;
  const int threads = serial ? 1 : pool.num_threads();
  const int64_t pairs = (panels + 1) / 2;
  // Either way every 32 x 32 block loads its weights and panels tile by tile; what differs is which side
  // stays in L1 while the other streams: stream the smaller (weights by columns, panels otherwise).
  if (pairs >= int64_t{2} * threads && rows < cols) {
    // Several tasks per thread when there are pairs enough, claimed as threads come free.
    const int64_t chunk = std::max<int64_t>(1, pairs / (int64_t{8} * threads));
    return qgemm_amx_by_columns(pool, w, cols, pack, epilogue, serial, chunk);
  }
  // One spare panel (the partner of an odd last one) and a k tile of slack past it.
  thread_local std::vector<uint8_t> buffer;
  thread_local std::vector<int32_t> column_sums;
  // Only what the packers leave unwritten is zeroed: the last panel (columns past `cols`) and all past
  // it, and when k is not a multiple of 4 every panel's last group (its bytes past k).
  buffer.resize(size_t((panels + 1) * panel_bytes + w.k_tiles() * 1024));
  std::memset(buffer.data() + (panels - 1) * panel_bytes, 0, buffer.size() - size_t((panels - 1) * panel_bytes));
  if (w.k() % 4 != 0)
    for (int64_t p = 0; p + 1 < panels; ++p) std::memset(buffer.data() + p * panel_bytes + (groups - 1) * 64, 0, 64);
  column_sums.assign(size_t((panels + 1) * kPanelCols), 0);
  uint8_t* base = buffer.data();
  int32_t* colsum = column_sums.data();
  constexpr int64_t kPackPanels = 4;
  const int64_t pack_tasks = (panels + kPackPanels - 1) / kPackPanels;
  claim_tasks(pool, pack_tasks, serial, [&](int64_t t) {
    const int64_t p0 = t * kPackPanels, p1 = std::min(panels, p0 + kPackPanels);
    const int64_t c0 = p0 * kPanelCols;
    pack(c0, std::min(cols, p1 * kPanelCols) - c0, base + p0 * panel_bytes);
    for (int64_t p = p0; p < p1; ++p) panel_column_sums(base + p * panel_bytes, groups, colsum + p * kPanelCols);
  });

  const int64_t row_pairs = (rows + 31) / 32, panel_pairs = (panels + 1) / 2;
  const int64_t want = serial ? 1 : int64_t{4} * threads;
  const int64_t row_chunks = std::min(row_pairs, want);
  const int64_t col_chunks = std::min(panel_pairs, (want + row_chunks - 1) / row_chunks);
  const int64_t pairs_per_row_chunk = (row_pairs + row_chunks - 1) / row_chunks;
  const int64_t pairs_per_col_chunk = (panel_pairs + col_chunks - 1) / col_chunks;
  auto task = [&](int64_t t) {
    const int64_t rc = t % row_chunks, cc = t / row_chunks;
    const int64_t rp_end = std::min(row_pairs, (rc + 1) * pairs_per_row_chunk);
    const int64_t pp_end = std::min(panel_pairs, (cc + 1) * pairs_per_col_chunk);
    for (int64_t rp = rc * pairs_per_row_chunk; rp < rp_end; ++rp)
      for (int64_t pp = cc * pairs_per_col_chunk; pp < pp_end; ++pp)
        amx_rows(w, base + 2 * pp * panel_bytes, panel_bytes, colsum + 2 * pp * kPanelCols, 2 * pp * kPanelCols, cols,
                 rp, rp + 1, epilogue);
  };
  claim_tasks_with(pool, row_chunks * col_chunks, serial, task, amx_configure, amx_release);
}
#undef METALNN_AMX
#endif

#if defined(METALNN_HAS_AVX2_KERNELS)
// 16 x 16 int32 transpose: 32-bit and 64-bit interleaves give 4 x 4 blocks per 128-bit lane, two
// lane shuffles put the blocks in place.
__attribute__((target("avx512f"))) void transpose_avx512(const int32_t* in, int32_t* out) {
  __m512i r[16], a[16];
  for (int i = 0; i < 16; ++i) r[i] = _mm512_loadu_si512(in + i * 16);
  for (int k = 0; k < 8; ++k) {
    a[2 * k] = _mm512_unpacklo_epi32(r[2 * k], r[2 * k + 1]);
    a[2 * k + 1] = _mm512_unpackhi_epi32(r[2 * k], r[2 * k + 1]);
  }
  for (int k = 0; k < 4; ++k) {  // r[4k + q], lane L: rows 4k..4k+3 of column 4L + q
    r[4 * k] = _mm512_unpacklo_epi64(a[4 * k], a[4 * k + 2]);
    r[4 * k + 1] = _mm512_unpackhi_epi64(a[4 * k], a[4 * k + 2]);
    r[4 * k + 2] = _mm512_unpacklo_epi64(a[4 * k + 1], a[4 * k + 3]);
    r[4 * k + 3] = _mm512_unpackhi_epi64(a[4 * k + 1], a[4 * k + 3]);
  }
  for (int q = 0; q < 4; ++q) {
    const __m512i c0 = _mm512_shuffle_i32x4(r[q], r[4 + q], _MM_SHUFFLE(2, 0, 2, 0));
    const __m512i c1 = _mm512_shuffle_i32x4(r[q], r[4 + q], _MM_SHUFFLE(3, 1, 3, 1));
    const __m512i d0 = _mm512_shuffle_i32x4(r[8 + q], r[12 + q], _MM_SHUFFLE(2, 0, 2, 0));
    const __m512i d1 = _mm512_shuffle_i32x4(r[8 + q], r[12 + q], _MM_SHUFFLE(3, 1, 3, 1));
    _mm512_storeu_si512(out + q * 16, _mm512_shuffle_i32x4(c0, d0, _MM_SHUFFLE(2, 0, 2, 0)));
    _mm512_storeu_si512(out + (8 + q) * 16, _mm512_shuffle_i32x4(c0, d0, _MM_SHUFFLE(3, 1, 3, 1)));
    _mm512_storeu_si512(out + (4 + q) * 16, _mm512_shuffle_i32x4(c1, d1, _MM_SHUFFLE(2, 0, 2, 0)));
    _mm512_storeu_si512(out + (12 + q) * 16, _mm512_shuffle_i32x4(c1, d1, _MM_SHUFFLE(3, 1, 3, 1)));
  }
}
#endif

#if defined(METALNN_HAS_AVX2_KERNELS)
// requantize_span's arithmetic on 16 lanes; values in the output range, so truncating to bytes is exact.
__attribute__((target("avx512f,avx512bw,avx512vl"))) void requantize_tile_avx512(const Requant* q, int64_t nr,
                                                                                  const int32_t* sums, int64_t n,
                                                                                  uint8_t* dst, int64_t dst_stride) {
  const __mmask16 lanes = __mmask16((1u << n) - 1);
  for (int64_t i = 0; i < nr; ++i) {
    const Requant& r = q[i];
    const __m512i s = _mm512_maskz_loadu_epi32(lanes, sums + i * kPanelCols);
    __m512 v = _mm512_cvtepi32_ps(_mm512_sub_epi32(s, _mm512_set1_epi32(r.correction)));
    v = _mm512_add_ps(_mm512_mul_ps(v, _mm512_set1_ps(r.multiplier)), _mm512_set1_ps(r.bias));  // no FMA: see above
    v = _mm512_min_ps(_mm512_max_ps(v, _mm512_set1_ps(r.lo)), _mm512_set1_ps(r.hi));
    const __m128i b = _mm512_cvtepi32_epi8(_mm512_add_epi32(_mm512_cvtps_epi32(v), _mm512_set1_epi32(r.y_zero)));
    // A whole row as one plain store: the masked narrowing store is several uops more.
    if (n == 16) _mm_storeu_si128(reinterpret_cast<__m128i*>(dst + i * dst_stride), b);
    else _mm_mask_storeu_epi8(dst + i * dst_stride, lanes, b);
  }
}
#endif
#if defined(METALNN_HAS_AVX2_KERNELS)
// requantize_tile_transposed on 16 lanes, one per row (channel): the tile transposed, then per column
// the channels' parameters as vectors.
__attribute__((target("avx512f,avx512bw,avx512vl"))) void requantize_transposed_avx512(
    const Requant* q, int64_t nr, const int32_t* sums, int64_t n, uint8_t* dst, int64_t dst_stride) {
  alignas(64) int32_t t[kPanelCols * kPanelCols], correction[kPanelCols] = {};
  alignas(64) float multiplier[kPanelCols] = {}, bias[kPanelCols] = {};
  transpose_avx512(sums, t);
  for (int64_t i = 0; i < nr; ++i) {
    correction[i] = q[i].correction;
    multiplier[i] = q[i].multiplier;
    bias[i] = q[i].bias;
  }
  const __m512i c = _mm512_load_si512(correction), zero = _mm512_set1_epi32(q[0].y_zero);
  const __m512 m = _mm512_load_ps(multiplier), b = _mm512_load_ps(bias);
  const __m512 lo = _mm512_set1_ps(q[0].lo), hi = _mm512_set1_ps(q[0].hi);
  const __mmask16 lanes = __mmask16((1u << nr) - 1);
  for (int64_t j = 0; j < n; ++j) {
    __m512 v = _mm512_cvtepi32_ps(_mm512_sub_epi32(_mm512_load_si512(t + j * kPanelCols), c));
    v = _mm512_min_ps(_mm512_max_ps(_mm512_add_ps(_mm512_mul_ps(v, m), b), lo), hi);  // no FMA: see requantize8
    _mm_mask_storeu_epi8(dst + j * dst_stride, lanes, _mm512_cvtepi32_epi8(_mm512_add_epi32(_mm512_cvtps_epi32(v), zero)));
  }
}
#endif
}  // namespace

void requantize_tile_transposed(const Requant* q, int64_t nr, const int32_t* sums, int64_t n, uint8_t* dst,
                                int64_t dst_stride) {
#if defined(METALNN_HAS_AVX2_KERNELS)
  // Every channel of one node shares the bounds and the output zero point.
  if (int8_avx512()) return requantize_transposed_avx512(q, nr, sums, n, dst, dst_stride);
#endif
  for (int64_t j = 0; j < n; ++j)
    for (int64_t i = 0; i < nr; ++i) dst[j * dst_stride + i] = requantize_one(q[i], sums[i * kPanelCols + j]);
}

void transpose_sums(const int32_t* sums, int32_t* out) {
#if defined(METALNN_HAS_AVX2_KERNELS)
  if (int8_avx512()) return transpose_avx512(sums, out);
#endif
  for (int64_t i = 0; i < kPanelCols; ++i)
    for (int64_t j = 0; j < kPanelCols; ++j) out[j * kPanelCols + i] = sums[i * kPanelCols + j];
}

void requantize_tile(const Requant* q, int64_t nr, const int32_t* sums, int64_t n, uint8_t* dst, int64_t dst_stride) {
#if defined(METALNN_HAS_AVX2_KERNELS)
  if (int8_avx512()) return requantize_tile_avx512(q, nr, sums, n, dst, dst_stride);
#endif
  for (int64_t i = 0; i < nr; ++i) requantize_span(q[i], sums + i * kPanelCols, n, dst + i * dst_stride);
}

void claim_tasks(ThreadPool& pool, int64_t tasks, bool serial, const std::function<void(int64_t)>& task) {
  claim_tasks_with(pool, tasks, serial, task, nullptr, nullptr);
}

bool int8_simd() { return isa() != Isa::Portable; }
bool int8_avx512() { return isa() == Isa::Avx512Vnni || isa() == Isa::Amx; }

uint8_t panel_mask(uint8_t shift_mask) { return isa() == Isa::Amx ? uint8_t(shift_mask ^ 0x80) : shift_mask; }

void requantize_span(const Requant& q, const int32_t* sums, int64_t n, uint8_t* dst) {
  int64_t i = 0;
#if defined(METALNN_HAS_AVX2_KERNELS)
  if (isa() != Isa::Portable) i = requantize_avx2(q, sums, n, dst);
#endif
  for (; i < n; ++i) dst[i] = requantize_one(q, sums[i]);
}

void pack_rows(const uint8_t* const* rows, int64_t k_groups, int64_t first, int64_t cols, uint8_t mask,
               uint8_t* panels) {
  const int64_t panel_stride = k_groups * kPanelCols * 4;
  int64_t done = 0;
#if defined(__SSE2__)
  // Whole panels: four reduction rows of 16 columns interleave into the panel's 64 bytes.
  if (first % kPanelCols == 0) {
    const __m128i m = _mm_set1_epi8(char(mask));
    for (; done + kPanelCols <= cols; done += kPanelCols) {
      uint8_t* dst = panels + ((first + done) / kPanelCols) * panel_stride;
      for (int64_t g = 0; g < k_groups; ++g) {
        __m128i r[4];
        for (int t = 0; t < 4; ++t) {
          const uint8_t* src = rows[g * 4 + t];
          r[t] = src ? _mm_xor_si128(_mm_loadu_si128(reinterpret_cast<const __m128i*>(src + done)), m)
                     : _mm_setzero_si128();
        }
        const __m128i a = _mm_unpacklo_epi8(r[0], r[1]), b = _mm_unpackhi_epi8(r[0], r[1]);
        const __m128i c = _mm_unpacklo_epi8(r[2], r[3]), d = _mm_unpackhi_epi8(r[2], r[3]);
        __m128i* out = reinterpret_cast<__m128i*>(dst + g * kPanelCols * 4);
        _mm_storeu_si128(out, _mm_unpacklo_epi16(a, c));
        _mm_storeu_si128(out + 1, _mm_unpackhi_epi16(a, c));
        _mm_storeu_si128(out + 2, _mm_unpacklo_epi16(b, d));
        _mm_storeu_si128(out + 3, _mm_unpackhi_epi16(b, d));
      }
    }
  }
#endif
  for (int64_t g = 0; g < k_groups; ++g) {
    for (int t = 0; t < 4; ++t) {
      const uint8_t* r = rows[g * 4 + t];
      if (!r) continue;  // past k: the zeroed buffer meets zero weights
      uint8_t* base = panels + g * kPanelCols * 4 + t;
      for (int64_t j = done; j < cols; ++j) {
        const int64_t c = first + j;
        base[(c / kPanelCols) * panel_stride + (c % kPanelCols) * 4] = uint8_t(r[j] ^ mask);
      }
    }
  }
}

void pack_columns(const uint8_t* a, int64_t k, int64_t row0, int64_t cols, uint8_t mask, uint8_t* panels) {
  const int64_t groups = (k + 3) / 4, full = k / 4;
  const uint32_t mask4 = uint32_t(mask) * 0x01010101u;
  for (int64_t j = 0; j < cols; ++j) {
    const uint8_t* row = a + (row0 + j) * k;
    uint8_t* dst = panels + panel_offset(j, 0, groups);
    for (int64_t g = 0; g < full; ++g) {
      uint32_t v;
      std::memcpy(&v, row + g * 4, 4);
      v ^= mask4;
      std::memcpy(dst + g * kPanelCols * 4, &v, 4);
    }
    for (int64_t kk = full * 4; kk < k; ++kk) dst[full * kPanelCols * 4 + kk % 4] = uint8_t(row[kk] ^ mask);
  }
}

QGemmWeights::QGemmWeights(const int8_t* w, int64_t rows, int64_t k, int64_t row_stride, int64_t k_stride)
    : rows_(rows), k_(k) {
  const int64_t groups = k_groups(), blocks = (rows + kTileRows - 1) / kTileRows;
  const int ints_per_group = isa() == Isa::Avx2 ? 2 : 1;
  if (isa() == Isa::Amx) {  // row tiles in pairs (the kernel's unit), each 16 rows of 64 k bytes
    row_sums_.assign(size_t(rows), 0);
    amx_.assign(size_t((rows + 31) / 32 * 2 * k_tiles() * 1024), 0);
    for (int64_t r = 0; r < rows; ++r)
      for (int64_t kk = 0; kk < k; ++kk) {
        const int8_t v = w[r * row_stride + kk * k_stride];
        row_sums_[size_t(r)] += v;
        amx_[size_t(((r / 16) * k_tiles() + kk / 64) * 1024 + (r % 16) * 64 + kk % 64)] = uint8_t(v + 128);
      }
    block_ints_ = 0;
    return;
  }
  block_ints_ = groups * kTileRows * ints_per_group;
  packed_.assign(size_t(blocks * block_ints_), 0);
  row_sums_.assign(size_t(rows), 0);
  for (int64_t r = 0; r < rows; ++r) {
    int32_t* block = packed_.data() + (r / kTileRows) * block_ints_;
    for (int64_t kk = 0; kk < k; ++kk) {
      const int8_t v = w[r * row_stride + kk * k_stride];
      row_sums_[size_t(r)] += v;
      const int64_t slot = (kk / 4) * kTileRows + r % kTileRows;
      if (ints_per_group == 1) {
        reinterpret_cast<int8_t*>(block + slot)[kk % 4] = v;
      } else {  // (w0, w2) then (w1, w3), each an int16 pair
        reinterpret_cast<int16_t*>(block + slot * 2 + (kk % 2))[(kk % 4) / 2] = v;
      }
    }
  }
}

void qgemm(ThreadPool& pool, const QGemmWeights& w, int64_t cols, const PanelPacker& pack, const TileEpilogue& epilogue,
           bool serial) {
  const int64_t rows = w.rows(), groups = w.k_groups();
  if (rows == 0 || cols == 0) return;
#if defined(METALNN_HAS_AMX_KERNELS)
  if (isa() == Isa::Amx) return qgemm_amx(pool, w, cols, pack, epilogue, serial);
#endif
  const int64_t panels = (cols + kPanelCols - 1) / kPanelCols;
  const int64_t row_blocks = (rows + kTileRows - 1) / kTileRows;
  const int threads = serial ? 1 : pool.num_threads();
  int64_t chunk = std::clamp<int64_t>(kChunkBytes / (groups * kPanelCols * 4), 1, panels);
  // Several tasks per thread, claimed as threads come free: on a loaded machine a thread that lost
  // its core holds up only the task it is in.
  const int64_t want = serial ? 1 : int64_t{4} * threads;
  if ((panels + chunk - 1) / chunk < want) chunk = std::max<int64_t>(std::min<int64_t>(2, panels), panels / want);
  const int64_t col_chunks = (panels + chunk - 1) / chunk;
  // Still too few column chunks: split the rows too (each such task packs its panels).
  const int64_t row_chunks = col_chunks < want ? std::min<int64_t>(row_blocks, (want + col_chunks - 1) / col_chunks) : 1;
  const int64_t blocks_per_row_chunk = (row_blocks + row_chunks - 1) / row_chunks;
  const int64_t used_row_chunks = (row_blocks + blocks_per_row_chunk - 1) / blocks_per_row_chunk;
  const int64_t tasks = col_chunks * used_row_chunks;
  const TileFn tile = tile_fn();
  const TilesFn tiles = tiles_fn();
  auto task = [&](int64_t begin, int64_t end) {
    thread_local std::vector<uint8_t> buffer;
    // Whole 16 x 16 tiles (rows past kTileRows stay 0), as transpose_sums reads.
    alignas(64) int32_t sums[kPanelCols * kPanelCols] = {}, more[kPanelCols * kPanelCols] = {};
    for (int64_t t = begin; t < end; ++t) {
      const int64_t cc = t / used_row_chunks, rc = t % used_row_chunks;
      const int64_t c0 = cc * chunk * kPanelCols, nc = std::min(cols, c0 + chunk * kPanelCols) - c0;
      const int64_t chunk_panels = (nc + kPanelCols - 1) / kPanelCols;
      buffer.assign(size_t(chunk_panels * groups * kPanelCols * 4), 0);
      pack(c0, nc, buffer.data());
      const int64_t rb_end = std::min(row_blocks, (rc + 1) * blocks_per_row_chunk);
      for (int64_t rb = rc * blocks_per_row_chunk; rb < rb_end; ++rb) {
        const int64_t r0 = rb * kTileRows, nr = std::min(kTileRows, rows - r0);
        for (int64_t p = 0; p < chunk_panels; ++p) {
          const uint8_t* panel = buffer.data() + p * groups * kPanelCols * 4;
          const int64_t pc0 = c0 + p * kPanelCols;
          if (tiles && p + 1 < chunk_panels) {
            tiles(w.block(rb), panel, panel + groups * kPanelCols * 4, groups, sums, more);
            epilogue(r0, nr, pc0, kPanelCols, sums);
            ++p;
            epilogue(r0, nr, pc0 + kPanelCols, std::min(kPanelCols, c0 + nc - pc0 - kPanelCols), more);
            continue;
          }
          tile(w.block(rb), panel, groups, sums);
          epilogue(r0, nr, pc0, std::min(kPanelCols, c0 + nc - pc0), sums);
        }
      }
    }
  };
  claim_tasks(pool, tasks, serial, [&](int64_t t) { task(t, t + 1); });
}

}  // namespace metalnn::cpu
