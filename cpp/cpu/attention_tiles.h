// Register tiles for the CPU FusedAttention on AVX-512: the scores of up to 8 query rows against 32
// keys, and their value products 32 columns at a time, accumulate in registers, reading Q, Kt and V
// through their row strides, unpacked (a head's keys stay in L2 for all of its rows). BLAS packs
// both operands of every small product. Elsewhere (attention_tiles_available() false) the kernel
// uses sgemm. The softmax between them is cpu/vector_math.h's.
#pragma once
#include <cstdint>

namespace metalnn::cpu {

constexpr int64_t kAttentionTileRows = 8;

// Whether the tiles run here: AVX-512, and METALNN_ATTENTION_KERNELS not set to avx2 or portable.
bool attention_tiles_available();

// s[r * lds + j] = scale * sum_d q[r * ldq + d] * kt[d * ldk + j] for rows r < nr <= 8 and keys j < nk.
void attention_scores(const float* q, int64_t ldq, int64_t nr, const float* kt, int64_t ldk, int64_t dim, int64_t nk,
                      float scale, float* s, int64_t lds);

// y[r * ldy + c] += sum_j p[r * ldp + j] * v[j * ldv + c] for rows r < nr <= 8, columns c < v_dim and
// keys j < nk.
void attention_values(const float* p, int64_t ldp, int64_t nr, const float* v, int64_t ldv, int64_t nk,
                      int64_t v_dim, float* y, int64_t ldy);

}  // namespace metalnn::cpu
