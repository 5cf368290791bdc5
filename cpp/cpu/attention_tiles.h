// Register tiles for the CPU FusedAttention on AVX-512: the scores of up to 12 query rows against 32
// keys, and their value products 32 columns at a time, accumulate in registers (24 of the 32),
// reading Q, Kt and V through their row strides, unpacked (a head's keys stay in L2 for all of its
// rows). BLAS packs both operands of every small product. Elsewhere (attention_tiles_available()
// false) the kernel uses sgemm. attention_probs takes the softmax on the score tiles in registers;
// after attention_scores it is cpu/vector_math.h's.
#pragma once
#include <cstdint>

namespace metalnn::cpu {

constexpr int64_t kAttentionTileRows = 12;

// How far a score may pass its row's softmax reference before the reference rises (attention_probs):
// e^20 times a few thousand keys stays far inside float's range, so after a row's first keys its
// reference seldom moves.
constexpr float kAttentionProbSlack = 20.f;

// Whether the tiles run here: AVX-512, and METALNN_ATTENTION_KERNELS not set to avx2 or portable.
bool attention_tiles_available();

// s[r * lds + j] = scale * sum_d q[r * ldq + d] * Kt[d, j] for rows r < nr <= kAttentionTileRows and
// keys j < nk, Kt in panels of 32 keys: Kt[d, j] = kt[j / 32 * panel + d * ldk + j % 32] (unpanelled
// Kt [D, S] is ldk = S, panel = 32; contiguous panels, which stream from L2 without a new page per
// row, are ldk = 32, panel = 32 * D).
void attention_scores(const float* q, int64_t ldq, int64_t nr, const float* kt, int64_t ldk, int64_t panel,
                      int64_t dim, int64_t nk, float scale, float* s, int64_t lds);

// y[r * ldy + c] += sum_j p[r * ldp + j] * v[j * ldv + c] for rows r < nr <= kAttentionTileRows,
// columns c < v_dim and keys j < nk.
void attention_values(const float* p, int64_t ldp, int64_t nr, const float* v, int64_t ldv, int64_t nk,
                      int64_t v_dim, float* y, int64_t ldy);

// Softmax probabilities of rows r < nr <= kAttentionTileRows against keys j < nk, the scores q . Kt
// as attention_scores computes them for scale 1 (the caller folds the scale into q) plus
// mask[r * ldm + j] (mask may be null): p[r * ldp + j] = e^(score - ref[r]), their sum added to
// sum[r]. ref[r] (start at the lowest float) is the row's running reference: when a score passes it
// by more than kAttentionProbSlack it rises to the tile's largest score, and the row's sum, its
// probabilities so far in p and its output y[r * ldy + c], c < v_dim, are rescaled to match.
void attention_probs(const float* q, int64_t ldq, int64_t nr, const float* kt, int64_t ldk, int64_t panel,
                     int64_t dim, int64_t nk, const float* mask, int64_t ldm, float* p, int64_t ldp, float* ref,
                     float* sum, float* y, int64_t ldy, int64_t v_dim);

}  // namespace metalnn::cpu
