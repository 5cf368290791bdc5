// Gemm and MatMul on the CPU through cpu/packed_gemm.h (a constant B packed once per tensor; BLAS
// otherwise; cpu/gemv.h when A has at most four rows). The GEMM adds the bias and applies the fused
// activation as it stores each tile (gemv in one epilogue pass). MatMul folds the batch into M when B is one shared matrix; otherwise one GEMM per
// batch entry, offsets for broadcast batch dims precomputed at build time.
#include <algorithm>
#include <memory>
#include <string>
#include <vector>

#include "cpu/activation.h"
#include "cpu/epilogue.h"
#include "cpu/gemv.h"
#include "cpu/kernel.h"
#include "cpu/packed_gemm.h"

namespace metalnn::cpu {

namespace {

// Below this many columns a packed panel would be mostly padding. A single row of A is a
// matrix-vector product that reads B once either way, so a packed copy would only cost memory. Above
// kMaxPackedRows rows B is packed only up to kMaxTallColumns columns (one column block of the packed
// GEMM): there the bias and activation stored with each tile spare BLAS's extra passes over a C too big
// for the caches (4-16% less CPU time on products of 1500 to 25000 rows, ConvNeXt-T at batch 8 about
// 6% in all); on a wider B (768 x 3072) BLAS's kernel stays ahead by 8-15% (measured).
constexpr int64_t kMinPackedColumns = 16, kMinPackedRows = 2, kMaxPackedRows = 512, kMaxTallColumns = 1536;
// K rows per block of a packed B at most: one block through K = 1024 and fewer on deeper ones spare
// passes over C, which on products of 512 to 12000 rows outweighs a B panel (96-128 KB) spilling L1
// into L2: GPT-2 at batch 8 took about 5% less CPU time than with 512-row blocks (measured).
constexpr int64_t kPackedBKc = 1024;

// A constant B (k x n, transposed when trans) packed for the GEMM kernel, or nullptr.
std::shared_ptr<const std::vector<PackedMatrix>> pack_constant_b(const Value& b, bool trans, int64_t m, int64_t k,
                                                                 int64_t n) {
  const GemmIsa isa = gemm_isa();
  if (!b.is_constant() || isa == GemmIsa::Blas || m < kMinPackedRows || n < kMinPackedColumns || k == 0 ||
      (m > kMaxPackedRows && n > kMaxTallColumns))
    return nullptr;
  return packed_weights().get(b.constant, "right_t" + std::to_string(trans) + "/gemm" + std::to_string(int(isa)), [&] {
    auto packed = std::make_shared<std::vector<PackedMatrix>>();
    packed->push_back(pack_right(b.constant.data<float>(), trans ? k : n, trans, k, n, isa, kPackedBKc));
    return std::shared_ptr<const std::vector<PackedMatrix>>(std::move(packed));
  });
}

// A bias and activation for gemm() to apply as it stores C: a ReLU or Clip as its clamp.
GemmRowEpilogue fused_epilogue(const float* row_bias, const float* col_bias, const Activation& act) {
  GemmRowEpilogue fused;
  fused.row_bias = row_bias;
  fused.col_bias = col_bias;
  if (!activation_as_clamp(act, fused.lo, fused.hi)) fused.act = act;
  return fused;
}

class GemmKernel : public Kernel {
 public:
  GemmKernel(const Graph& g, const Node& n) : act_(Activation::of_node(n)) {
    trans_a_ = n.attrs.get_int("transA", 0) != 0;
    trans_b_ = n.attrs.get_int("transB", 0) != 0;
    alpha_ = n.attrs.get_float("alpha", 1.f);
    beta_ = n.attrs.get_float("beta", 1.f);
    const Shape& a = g.value(n.inputs[0]).shape;
    const Shape& b = g.value(n.inputs[1]).shape;
    m_ = trans_a_ ? a[1] : a[0];
    k_ = trans_a_ ? a[0] : a[1];
    n_ = trans_b_ ? b[0] : b[1];
    if (n.inputs.size() > 2 && n.inputs[2] >= 0 && beta_ != 0.f) {
      // C right-aligned against [M, N]: it varies along M and/or N or is one scalar.
      const Shape& c = g.value(n.inputs[2]).shape;
      c_rows_ = c.size() == 2 ? c[0] : 1;
      c_cols_ = c.empty() ? 1 : c.back();
      has_c_ = true;
    }
    // A few rows of A: the weights are streamed once as they lie rather than packed.
    gemv_ = gemv_available() && m_ <= kGemvMaxRows && (m_ == 1 || !trans_a_) && k_ > 0;
    if (!gemv_) packed_b_ = pack_constant_b(g.value(n.inputs[1]), trans_b_, m_, k_, n_);
  }

  bool reads_constant(size_t input) const override { return input != 1 || !packed_b_; }

  void run(const std::vector<const Tensor*>& in, const std::vector<Tensor*>& out, ThreadPool& pool) override {
    const float* a = in[0]->data<float>();
    const float* b = in[1]->data<float>();
    float* y = out[0]->data<float>();
    const float* c = has_c_ && in.size() > 2 && in[2] ? in[2]->data<float>() : nullptr;
    // A C that is a plain row or column bias goes to the epilogue; anything else is written first.
    const float* col_bias = c && beta_ == 1.f && c_rows_ == 1 && c_cols_ == n_ && n_ > 1 ? c : nullptr;
    const float* row_bias = c && beta_ == 1.f && c_cols_ == 1 && c_rows_ == m_ && m_ > 1 ? c : nullptr;
    const bool prefill = c && !col_bias && !row_bias;
    if (prefill) {
      for (int64_t i = 0; i < m_; ++i)
        for (int64_t j = 0; j < n_; ++j)
          y[i * n_ + j] = beta_ * c[(c_rows_ == 1 ? 0 : i) * c_cols_ + (c_cols_ == 1 ? 0 : j)];
    }
    if (m_ == 0 || n_ == 0) return;
    const BlockEpilogue finish = [&](int64_t r0, int64_t r1, int64_t c0, int64_t c1) {
      bias_activation_serial(y + r0 * n_ + c0, r1 - r0, c1 - c0, n_, row_bias ? row_bias + r0 : nullptr,
                             col_bias ? col_bias + c0 : nullptr, act_);
    };
    if (gemv_ && !prefill) {
      gemv(pool, m_, n_, k_, alpha_, a, k_, b, trans_b_ ? k_ : n_, trans_b_, y, n_, finish);
      return;
    }
    if (k_ == 0) {
      if (!prefill) std::fill(y, y + m_ * n_, 0.f);
    } else {
      gemm(&pool, m_, n_, k_, alpha_, {a, trans_a_ ? m_ : k_, trans_a_, nullptr},
           {b, trans_b_ ? k_ : n_, trans_b_, packed_b_ ? packed_b_->data() : nullptr}, prefill ? 1.f : 0.f, y, n_,
           {}, fused_epilogue(row_bias, col_bias, act_));
      return;
    }
    bias_activation(y, m_, n_, n_, row_bias, col_bias, act_, pool);
  }

 private:
  Activation act_;
  bool trans_a_ = false, trans_b_ = false, has_c_ = false, gemv_ = false;
  float alpha_ = 1.f, beta_ = 1.f;
  int64_t m_ = 0, n_ = 0, k_ = 0, c_rows_ = 1, c_cols_ = 1;
  std::shared_ptr<const std::vector<PackedMatrix>> packed_b_;
};

class MatMulKernel : public Kernel {
 public:
  MatMulKernel(const Graph& g, const Node& n) : act_(Activation::of_node(n)) {
    Shape a = g.value(n.inputs[0]).shape, b = g.value(n.inputs[1]).shape;
    if (a.size() == 1) a.insert(a.begin(), 1);
    if (b.size() == 1) b.push_back(1);
    m_ = a[a.size() - 2];
    k_ = a.back();
    n_ = b.back();
    const size_t rank = std::max(a.size(), b.size());
    a.insert(a.begin(), rank - a.size(), 1);
    b.insert(b.begin(), rank - b.size(), 1);
    // Walk the broadcast batch index, recording where each entry's A and B matrices start.
    const size_t batch_rank = rank - 2;
    Shape out_batch(batch_rank);
    for (size_t i = 0; i < batch_rank; ++i) out_batch[i] = a[i] == 1 ? b[i] : a[i];  // not max(): 0 against 1 stays 0
    const int64_t count = shape_numel(out_batch);
    const std::vector<int64_t> a_strides = shape_strides(a), b_strides = shape_strides(b);
    std::vector<int64_t> idx(batch_rank, 0);
    for (int64_t e = 0; e < count; ++e) {
      int64_t ao = 0, bo = 0;
      for (size_t i = 0; i < batch_rank; ++i) {
        if (a[i] != 1) ao += idx[i] * a_strides[i];
        if (b[i] != 1) bo += idx[i] * b_strides[i];
      }
      a_offsets_.push_back(ao);
      b_offsets_.push_back(bo);
      for (size_t i = batch_rank; i-- > 0;) {
        if (++idx[i] < out_batch[i]) break;
        idx[i] = 0;
      }
    }
    // One shared B and an A that covers every batch entry: a single [count * M, K] x [K, N] GEMM.
    fold_batch_ = std::all_of(b_offsets_.begin(), b_offsets_.end(), [](int64_t o) { return o == 0; }) &&
                  shape_numel(Shape(a.begin(), a.end() - 2)) == count;
    gemv_ = fold_batch_ && gemv_available() && count * m_ <= kGemvMaxRows && k_ > 0;
    if (!gemv_ && std::all_of(b_offsets_.begin(), b_offsets_.end(), [](int64_t o) { return o == 0; }))
      packed_b_ = pack_constant_b(g.value(n.inputs[1]), false, int64_t(a_offsets_.size()) * m_, k_, n_);
  }

  bool reads_constant(size_t input) const override { return input != 1 || !packed_b_; }

  void run(const std::vector<const Tensor*>& in, const std::vector<Tensor*>& out, ThreadPool& pool) override {
    const float* a = in[0]->data<float>();
    const float* b = in[1]->data<float>();
    const float* bias = in.size() > 2 && in[2] ? in[2]->data<float>() : nullptr;
    float* y = out[0]->data<float>();
    const int64_t count = static_cast<int64_t>(a_offsets_.size());
    if (count * m_ * n_ == 0) return;
    if (k_ == 0) {
      std::fill(y, y + count * m_ * n_, 0.f);
    } else if (fold_batch_) {
      const BlockEpilogue finish = [&](int64_t r0, int64_t r1, int64_t c0, int64_t c1) {
        bias_activation_serial(y + r0 * n_ + c0, r1 - r0, c1 - c0, n_, nullptr, bias ? bias + c0 : nullptr, act_);
      };
      if (gemv_) {
        gemv(pool, count * m_, n_, k_, 1.f, a, k_, b, n_, false, y, n_, finish);
      } else {
        gemm(&pool, count * m_, n_, k_, 1.f, {a, k_, false, nullptr}, {b, n_, false, packed()}, 0.f, y, n_, {},
             fused_epilogue(nullptr, bias, act_));
      }
      return;
    } else {
      for (int64_t e = 0; e < count; ++e)
        gemm(&pool, m_, n_, k_, 1.f, {a + a_offsets_[e], k_, false, nullptr}, {b + b_offsets_[e], n_, false, packed()},
             0.f, y + e * m_ * n_, n_, {}, fused_epilogue(nullptr, bias, act_));
      return;
    }
    bias_activation(y, count * m_, n_, n_, nullptr, bias, act_, pool);
  }

 private:
  Activation act_;
  int64_t m_ = 0, n_ = 0, k_ = 0;
  const PackedMatrix* packed() const { return packed_b_ ? packed_b_->data() : nullptr; }

  std::vector<int64_t> a_offsets_, b_offsets_;  // per output batch entry, in elements
  bool fold_batch_ = false, gemv_ = false;  // gemv_: a few rows in all, B streamed by gemv()
  std::shared_ptr<const std::vector<PackedMatrix>> packed_b_;  // a constant B shared by every entry
};

}  // namespace

std::unique_ptr<Kernel> make_gemm_kernel(const Graph& g, const Node& n) { return std::make_unique<GemmKernel>(g, n); }
std::unique_ptr<Kernel> make_matmul_kernel(const Graph& g, const Node& n) {
  return std::make_unique<MatMulKernel>(g, n);
}

}  // namespace metalnn::cpu
