// FusedAttention on the CPU, float32, flash-style: each task takes one (batch, head, block of query
// rows) and walks the keys a block at a time, scores = scale * Q . Kt (+ mask), a running row maximum
// and sum rescale the output accumulated in place (+= P . V), and the rows are divided by their sums
// at the end. The full score tensor never exists; a task's scratch is one block of scores. The two
// products run on the register tiles of cpu/attention_tiles.h (which also take the softmax while the
// scores are in registers), or through sgemm where those do not. Every operand is read through its
// layout's strides (core/ops/attention.h), so the [B, S, H * D] rows of the `heads` layout need no
// copy; keys stored by row go to sgemm as B^T, and to the tiles (which read Kt) through a head-major
// copy of a head's keys (in 32-key panels) and values in the task's scratch.
#include <algorithm>
#include <cmath>
#include <limits>
#include <vector>

#include "core/ops/attention.h"
#include "core/ops/broadcast.h"
#include "cpu/attention_tiles.h"
#include "cpu/blas.h"
#include "cpu/kernel.h"
#include "cpu/node_values.h"
#include "cpu/vector_math.h"

namespace metalnn::cpu {

namespace {

constexpr int64_t kRowBlock = 36, kKeyBlock = 256, kPanel = 32;

class AttentionKernel : public Kernel {
 public:
  AttentionKernel(const Graph& g, const Node& n)
      : scale_(n.attrs.get_float("scale", 1.f)),
        nan_to_zero_(n.attrs.get_int("nan_to_zero", 0) != 0),
        l_(attention_layout(input_value(g, n, 0).shape, input_value(g, n, 1).shape, input_value(g, n, 2).shape,
                            n.attrs.get_int("heads", 0))) {
    if (has_input(n, 3)) {
      has_mask_ = true;
      mask_strides_ = broadcast_strides(input_value(g, n, 3).shape, {l_.batch, l_.heads, l_.q_len, l_.kv_len});
    }
  }

  void run(const std::vector<const Tensor*>& in, const std::vector<Tensor*>& out, ThreadPool& pool) override {
    const float* q = in[0]->data<float>();
    const float* k = in[1]->data<float>();
    const float* v = in[2]->data<float>();
    const float* mask = has_mask_ ? in[3]->data<float>() : nullptr;
    float* y = out[0]->data<float>();
    const int64_t blocks = (l_.q_len + kRowBlock - 1) / kRowBlock, group = l_.heads / l_.kv_heads;
    const bool tiles = attention_tiles_available(), copies = tiles && keys_by_row();
    pool.parallel_for(l_.batch * l_.heads * blocks, 1, [&](int64_t t0, int64_t t1) {
      std::vector<float> scores(kRowBlock * kKeyBlock), peak(kRowBlock), sum(kRowBlock);
      std::vector<float> scaled_q(kRowBlock * l_.head_dim);
      std::vector<float> head(copies ? panelled_keys() + l_.kv_len * l_.v_dim : 0);
      int64_t copied = -1;  // the kv head in `head`; a thread's tasks are consecutive, so each is copied once
      for (int64_t t = t0; t < t1; ++t) {
        const int64_t bh = t / blocks, b = bh / l_.heads, h = bh % l_.heads, kvh = h / group;
        const int64_t r0 = (t % blocks) * kRowBlock, nr = std::min(kRowBlock, l_.q_len - r0);
        const float* qb = q + b * l_.q[0] + h * l_.q[1] + r0 * l_.q[2];
        float* yb = y + b * l_.y[0] + h * l_.y[1] + r0 * l_.y[2];
        const float* mb = mask ? mask + b * mask_strides_[0] + h * mask_strides_[1] + r0 * mask_strides_[2] : nullptr;
        const float* kb = k + b * l_.k[0] + kvh * l_.k[1];
        const float* vb = v + b * l_.v[0] + kvh * l_.v[1];
        int64_t ldv = l_.v[2];
        if (copies) {
          float* vh = head.data() + panelled_keys();
          if (copied != b * l_.kv_heads + kvh) head_major(kb, vb, head.data(), vh);
          copied = b * l_.kv_heads + kvh;
          kb = head.data(), vb = vh, ldv = l_.v_dim;
        }
        block(qb, kb, vb, ldv, mb, yb, nr, tiles, scores.data(), peak.data(), sum.data(), scaled_q.data());
      }
    });
  }

 private:
  // One head's keys [Skv, D] as Kt in contiguous panels of 32 keys [Skv / 32, D, 32] and its values
  // as [Skv, Dv], for the tiles: rows they read over and over become contiguous, not a few sets of the
  // L1 cache at the `heads` layout's row stride, and a tile's keys one stream, not a page per row.
  void head_major(const float* k, const float* v, float* kt, float* vh) const {
    for (int64_t j = 0; j < l_.kv_len; ++j) {
      const float* kj = k + j * l_.k[3];
      float* panel = kt + j / kPanel * this->panel() + j % kPanel;
      for (int64_t d = 0; d < l_.head_dim; ++d) panel[d * ldk()] = kj[d];
      std::copy(v + j * l_.v[2], v + j * l_.v[2] + l_.v_dim, vh + j * l_.v_dim);
    }
  }

  // Floats of head_major's key panels, the last one padded.
  int64_t panelled_keys() const { return (l_.kv_len + kPanel - 1) / kPanel * kPanel * l_.head_dim; }

  // Keys [Skv, D] (the `heads` layout) rather than Kt [D, Skv].
  bool keys_by_row() const { return l_.k[3] != 1; }

  // The tiles' view of the keys (attention_scores): head_major's panels, or Kt as the input has it.
  int64_t ldk() const { return keys_by_row() ? kPanel : l_.k[2]; }
  int64_t panel() const { return keys_by_row() ? kPanel * l_.head_dim : kPanel; }
  int64_t key_offset(int64_t k0) const { return k0 / kPanel * panel(); }

  // block() on the tiles with keys masked (if at all) one by one: each group of tile rows gets its
  // probabilities over a key block with the softmax applied while the scores are in registers
  // (attention_probs), then its value products while the probabilities are in L1.
  void softmax_in_tiles(const float* q, const float* k, const float* v, int64_t ldv, const float* mask, float* y,
                        int64_t nr, float* p, float* ref, float* sum, float* scaled_q) const {
    const int64_t dim = l_.head_dim, dv = l_.v_dim, ldq = l_.q[2], ldy = l_.y[2], ldm = mask ? mask_strides_[2] : 0;
    std::fill(ref, ref + nr, std::numeric_limits<float>::lowest());
    for (int64_t r = 0; r < nr; ++r) scale(q + r * ldq, scaled_q + r * dim, dim, scale_);
    for (int64_t k0 = 0; k0 < l_.kv_len; k0 += kKeyBlock) {
      const int64_t nk = std::min(kKeyBlock, l_.kv_len - k0);
      for (int64_t r = 0; r < nr; r += kAttentionTileRows) {
        const int64_t rows = std::min(kAttentionTileRows, nr - r);
        attention_probs(scaled_q + r * dim, dim, rows, k + key_offset(k0), ldk(), panel(), dim, nk,
                        mask ? mask + r * ldm + k0 : nullptr, ldm, p, kKeyBlock, ref + r, sum + r, y + r * ldy, ldy,
                        dv);
        attention_values(p, kKeyBlock, rows, v + k0 * ldv, ldv, nk, dv, y + r * ldy, ldy);
      }
    }
  }

  // Rows [0, nr) of one (batch, head): q and y point at the block's first row, mask at its first row too,
  // k and v at the head's first key (k as Kt when tiles), v's rows ldv apart. tiles: the products on
  // cpu/attention_tiles.h, else sgemm.
  void block(const float* q, const float* k, const float* v, int64_t ldv, const float* mask, float* y, int64_t nr,
             bool tiles, float* s, float* peak, float* sum, float* scaled_q) const {
    constexpr float kNegInf = -std::numeric_limits<float>::infinity();
    const int64_t dim = l_.head_dim, dv = l_.v_dim, ldq = l_.q[2], ldy = l_.y[2];
    std::fill(peak, peak + nr, kNegInf);
    std::fill(sum, sum + nr, 0.f);
    for (int64_t r = 0; r < nr; ++r) std::fill(y + r * ldy, y + r * ldy + dv, 0.f);
    // With the tiles and a mask (if any) laid out key by key, the softmax runs in the tiles.
    const bool in_tiles = tiles && (!mask || mask_strides_[3] == 1);
    if (in_tiles) softmax_in_tiles(q, k, v, ldv, mask, y, nr, s, peak, sum, scaled_q);
    for (int64_t k0 = 0; !in_tiles && k0 < l_.kv_len; k0 += kKeyBlock) {
      const int64_t nk = std::min(kKeyBlock, l_.kv_len - k0), lds = tiles ? kKeyBlock : nk;
      if (tiles) {
        for (int64_t r = 0; r < nr; r += kAttentionTileRows)
          attention_scores(q + r * ldq, ldq, std::min(kAttentionTileRows, nr - r), k + key_offset(k0), ldk(), panel(),
                           dim, nk, scale_, s + r * lds, lds);
      } else {
        sgemm(false, keys_by_row(), int(nr), int(nk), int(dim), scale_, q, int(ldq), k + k0 * l_.k[3],
              int(keys_by_row() ? l_.k[3] : l_.k[2]), 0.f, s, int(nk));
      }
      for (int64_t r = 0; r < nr; ++r) {
        float* sr = s + r * lds;
        if (mask) {
          const float* mr = mask + r * mask_strides_[2] + k0 * mask_strides_[3];
          for (int64_t j = 0; j < nk; ++j) sr[j] += mr[j * mask_strides_[3]];
        }
        const float m = std::max(peak[r], max_of(sr, nk));
        if (m == kNegInf) {  // every score so far masked: nothing to add yet
          std::fill(sr, sr + nk, 0.f);
          continue;
        }
        const float rescale = std::exp(peak[r] - m);  // 0 on the first finite block
        sum[r] = sum[r] * rescale + exp_shifted_sum(sr, sr, nk, m);
        if (rescale != 1.f) scale(y + r * ldy, y + r * ldy, dv, rescale);
        peak[r] = m;
      }
      if (tiles) {
        for (int64_t r = 0; r < nr; r += kAttentionTileRows)
          attention_values(s + r * lds, lds, std::min(kAttentionTileRows, nr - r), v + k0 * ldv, ldv, nk, dv,
                           y + r * ldy, ldy);
      } else {
        sgemm(false, false, int(nr), int(dv), int(nk), 1.f, s, int(nk), v + k0 * ldv, int(ldv), 1.f, y, int(ldy));
      }
    }
    for (int64_t r = 0; r < nr; ++r) {
      float* yr = y + r * ldy;
      if (sum[r] > 0.f) scale(yr, yr, dv, 1.f / sum[r]);
      else std::fill(yr, yr + dv, nan_to_zero_ ? 0.f : std::numeric_limits<float>::quiet_NaN());
    }
  }

  float scale_;
  bool nan_to_zero_, has_mask_ = false;
  AttentionLayout l_;
  std::vector<int64_t> mask_strides_;
};

}  // namespace

std::unique_ptr<Kernel> make_attention_kernel(const Graph& g, const Node& n) {
  return std::make_unique<AttentionKernel>(g, n);
}

}  // namespace metalnn::cpu
