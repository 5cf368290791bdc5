// FusedAttention on the CPU, float32, flash-style: each task takes one (batch, head, block of query
// rows) and walks the keys a block at a time, scores = scale * Q . Kt (+ mask), a running row maximum
// and sum rescale the output accumulated in place (+= P . V), and the rows are divided by their sums
// at the end. The full score tensor never exists; a task's scratch is one block of scores. The two
// products run on the register tiles of cpu/attention_tiles.h, or through sgemm where those do not.
#include <algorithm>
#include <cmath>
#include <limits>
#include <vector>

#include "core/ops/broadcast.h"
#include "cpu/attention_tiles.h"
#include "cpu/blas.h"
#include "cpu/kernel.h"
#include "cpu/node_values.h"
#include "cpu/vector_math.h"

namespace metalnn::cpu {

namespace {

constexpr int64_t kRowBlock = 32, kKeyBlock = 256;

class AttentionKernel : public Kernel {
 public:
  AttentionKernel(const Graph& g, const Node& n)
      : scale_(n.attrs.get_float("scale", 1.f)), nan_to_zero_(n.attrs.get_int("nan_to_zero", 0) != 0) {
    const Shape &q = input_value(g, n, 0).shape, &kt = input_value(g, n, 1).shape, &v = input_value(g, n, 2).shape;
    batch_ = q[0], heads_ = q[1], rows_ = q[2], dim_ = q[3], kv_heads_ = kt[1], keys_ = kt[3], v_dim_ = v[3];
    if (has_input(n, 3)) {
      has_mask_ = true;
      mask_strides_ = broadcast_strides(input_value(g, n, 3).shape, {batch_, heads_, rows_, keys_});
    }
  }

  void run(const std::vector<const Tensor*>& in, const std::vector<Tensor*>& out, ThreadPool& pool) override {
    const float* q = in[0]->data<float>();
    const float* kt = in[1]->data<float>();
    const float* v = in[2]->data<float>();
    const float* mask = has_mask_ ? in[3]->data<float>() : nullptr;
    float* y = out[0]->data<float>();
    const int64_t blocks = (rows_ + kRowBlock - 1) / kRowBlock, group = heads_ / kv_heads_;
    const bool tiles = attention_tiles_available();
    pool.parallel_for(batch_ * heads_ * blocks, 1, [&](int64_t t0, int64_t t1) {
      std::vector<float> scores(kRowBlock * kKeyBlock), peak(kRowBlock), sum(kRowBlock);
      for (int64_t t = t0; t < t1; ++t) {
        const int64_t bh = t / blocks, b = bh / heads_, h = bh % heads_, kvh = b * kv_heads_ + h / group;
        const int64_t r0 = (t % blocks) * kRowBlock, nr = std::min(kRowBlock, rows_ - r0);
        const float* qb = q + (bh * rows_ + r0) * dim_;
        float* yb = y + (bh * rows_ + r0) * v_dim_;
        const float* mb = mask ? mask + b * mask_strides_[0] + h * mask_strides_[1] + r0 * mask_strides_[2] : nullptr;
        block(qb, kt + kvh * dim_ * keys_, v + kvh * keys_ * v_dim_, mb, yb, nr, tiles, scores.data(), peak.data(),
              sum.data());
      }
    });
  }

 private:
  // Rows [0, nr) of one (batch, head): q and y point at the block's first row, mask at its first row too.
  // tiles: the products on cpu/attention_tiles.h, else sgemm.
  void block(const float* q, const float* kt, const float* v, const float* mask, float* y, int64_t nr, bool tiles,
             float* s, float* peak, float* sum) const {
    constexpr float kNegInf = -std::numeric_limits<float>::infinity();
    std::fill(peak, peak + nr, kNegInf);
    std::fill(sum, sum + nr, 0.f);
    std::fill(y, y + nr * v_dim_, 0.f);
    for (int64_t k0 = 0; k0 < keys_; k0 += kKeyBlock) {
      const int64_t nk = std::min(kKeyBlock, keys_ - k0), lds = tiles ? kKeyBlock : nk;
      if (tiles) {
        for (int64_t r = 0; r < nr; r += kAttentionTileRows)
          attention_scores(q + r * dim_, dim_, std::min(kAttentionTileRows, nr - r), kt + k0, keys_, dim_, nk, scale_,
                           s + r * lds, lds);
      } else {
        sgemm(false, false, int(nr), int(nk), int(dim_), scale_, q, int(dim_), kt + k0, int(keys_), 0.f, s, int(nk));
      }
      for (int64_t r = 0; r < nr; ++r) {
        float* sr = s + r * lds;
        if (mask) {
          const float* mr = mask + r * mask_strides_[2] + k0 * mask_strides_[3];
          for (int64_t j = 0; j < nk; ++j) sr[j] += mr[j * mask_strides_[3]];
        }
        const float m = std::max(peak[r], tiles ? attention_row_max(sr, nk) : max_of(sr, nk));
        if (m == kNegInf) {  // every score so far masked: nothing to add yet
          std::fill(sr, sr + nk, 0.f);
          continue;
        }
        const float rescale = std::exp(peak[r] - m);  // 0 on the first finite block
        sum[r] = sum[r] * rescale + (tiles ? attention_exp_sum(sr, nk, m) : exp_shifted_sum(sr, sr, nk, m));
        if (rescale != 1.f) scale(y + r * v_dim_, y + r * v_dim_, v_dim_, rescale);
        peak[r] = m;
      }
      if (tiles) {
        for (int64_t r = 0; r < nr; r += kAttentionTileRows)
          attention_values(s + r * lds, lds, std::min(kAttentionTileRows, nr - r), v + k0 * v_dim_, v_dim_, nk, v_dim_,
                           y + r * v_dim_, v_dim_);
      } else {
        sgemm(false, false, int(nr), int(v_dim_), int(nk), 1.f, s, int(nk), v + k0 * v_dim_, int(v_dim_), 1.f, y,
              int(v_dim_));
      }
    }
    for (int64_t r = 0; r < nr; ++r) {
      float* yr = y + r * v_dim_;
      if (sum[r] > 0.f) scale(yr, yr, v_dim_, 1.f / sum[r]);
      else std::fill(yr, yr + v_dim_, nan_to_zero_ ? 0.f : std::numeric_limits<float>::quiet_NaN());
    }
  }

  float scale_;
  bool nan_to_zero_, has_mask_ = false;
  int64_t batch_ = 1, heads_ = 1, rows_ = 1, dim_ = 1, kv_heads_ = 1, keys_ = 1, v_dim_ = 1;
  std::vector<int64_t> mask_strides_;
};

}  // namespace

std::unique_ptr<Kernel> make_attention_kernel(const Graph& g, const Node& n) {
  return std::make_unique<AttentionKernel>(g, n);
}

}  // namespace metalnn::cpu
