// Fused quantized ops on the CPU (core/ops/qfused.h). QuantizedConv and QuantizedMatMul run the int8
// GEMM of cpu/qgemm.h on weights packed once here: the convolution unfolds its input straight into
// the GEMM's u8 panels (im2col per tile, any group count), depthwise convolutions sum their taps
// directly; requantisation runs on each tile as it leaves the GEMM.
#include <algorithm>
#include <memory>
#include <vector>

#include "core/ops/qfused.h"
#include "core/ops/window.h"
#include "core/ops/window2d.h"
#include "cpu/dtype_dispatch.h"
#include "cpu/kernel.h"
#include "cpu/qgemm.h"

namespace metalnn::cpu {

namespace {

// Integer sums to output bytes, per output channel (row).
struct RowRequant {
  std::vector<int32_t> correction;  // (x_zero + shift) * sum_k w: the sums are of shifted u8 activations
  std::vector<float> multiplier, bias;
  float lo = 0.f, hi = 0.f;
  int32_t y_zero = 0;

  RowRequant(const Requantization& r, const std::vector<int32_t>& row_sums, int64_t row0, int32_t shifted_zero)
      : lo(r.lo), hi(r.hi), y_zero(r.y_zero) {
    for (size_t i = 0; i < row_sums.size(); ++i) {
      correction.push_back(shifted_zero * row_sums[i]);
      multiplier.push_back(r.multiplier[size_t(row0) + i]);
      bias.push_back(r.bias[size_t(row0) + i]);
    }
  }
  uint8_t operator()(int64_t r, int32_t sum) const {
    float v = float(sum - correction[size_t(r)]) * multiplier[size_t(r)] + bias[size_t(r)];
    v = std::min(std::max(v, lo), hi);
    return uint8_t(round_half_even(v) + y_zero);  // int8 outputs keep their two's complement byte
  }
};

// The u8 shift of an int8/uint8 activation: x ^ mask = x + shift as an unsigned byte.
uint8_t shift_mask(DType t) { return t == DType::Int8 ? 0x80 : 0; }
int32_t shift_of(DType t) { return t == DType::Int8 ? 128 : 0; }

class QuantizedConvKernel : public Kernel {
 public:
  QuantizedConvKernel(const Graph& g, const Node& n) {
    const Shape& x = g.value(n.inputs[kQX]).shape;
    const Tensor& w = g.value(n.inputs[kQW]).constant;
    win_ = to_window2d(resolve_window(n, {x[2], x[3]}, {w.dim(2), w.dim(3)}, false));
    group_ = n.attrs.get_int("group", 1);
    in_c_ = x[1];
    out_c_ = w.dim(0);
    const Requantization r = requantization(g, n, out_c_);
    const DType xt = g.value(n.inputs[kQX]).dtype;
    mask_ = shift_mask(xt);
    x_zero_ = r.x_zero;
    const int32_t shifted_zero = r.x_zero + shift_of(xt);
    pad_ = uint8_t(shifted_zero);
    const int64_t k = w.numel() / out_c_, rows = out_c_ / group_;
    depthwise_ = group_ == in_c_ && group_ == out_c_;
    if (depthwise_) {
      weights_.assign(w.data<int8_t>(), w.data<int8_t>() + w.numel());
      requant_.emplace_back(r, std::vector<int32_t>(size_t(out_c_), 0), 0, 0);
      return;
    }
    for (int64_t gi = 0; gi < group_; ++gi) {
      gemm_.emplace_back(std::make_unique<QGemmWeights>(w.data<int8_t>() + gi * rows * k, rows, k, k, 1));
      requant_.emplace_back(r, gemm_.back()->row_sums(), gi * rows, shifted_zero);
    }
  }

  void run(const std::vector<const Tensor*>& in, const std::vector<Tensor*>& out, ThreadPool& pool) override {
    const uint8_t* x = static_cast<const uint8_t*>(in[kQX]->raw());
    uint8_t* y = static_cast<uint8_t*>(out[0]->raw());
    const int64_t batch = in[kQX]->dim(0);
    if (depthwise_) return run_depthwise(x, y, batch, pool);
    const int64_t P = win_.out_size(), cg = in_c_ / group_, rows = out_c_ / group_;
    const int64_t kh = win_.kernel_h, kw = win_.kernel_w;
    const int64_t in_hw = win_.in_size();
    for (int64_t gi = 0; gi < group_; ++gi) {
      const QGemmWeights& w = *gemm_[size_t(gi)];
      const RowRequant& rq = requant_[size_t(gi)];
      const int64_t groups = w.k_groups();
      auto pack = [&](int64_t c0, int64_t nc, uint8_t* panels) {
        for (int64_t j = 0; j < nc; ++j) {
          const int64_t col = c0 + j, b = col / P, p = col % P;
          const int64_t ih0 = (p / win_.out_w) * win_.stride_h - win_.pad_top;
          const int64_t iw0 = (p % win_.out_w) * win_.stride_w - win_.pad_left;
          const uint8_t* xb = x + (b * in_c_ + gi * cg) * in_hw;
          uint8_t* dst = panels + panel_offset(j, 0, groups);
          for (int64_t c = 0; c < cg; ++c) {
            for (int64_t i = 0; i < kh; ++i) {
              const int64_t ih = ih0 + i * win_.dilation_h;
              const bool row_in = ih >= 0 && ih < win_.in_h;
              for (int64_t t = 0; t < kw; ++t) {
                const int64_t kk = (c * kh + i) * kw + t, iw = iw0 + t * win_.dilation_w;
                const bool inside = row_in && iw >= 0 && iw < win_.in_w;
                dst[(kk / 4) * kPanelCols * 4 + kk % 4] = inside ? uint8_t(xb[c * in_hw + ih * win_.in_w + iw] ^ mask_) : pad_;
              }
            }
          }
        }
      };
      auto epilogue = [&](int64_t r0, int64_t nr, int64_t c0, int64_t nc, const int32_t* sums) {
        for (int64_t i = 0; i < nr; ++i) {
          const int64_t m = gi * rows + r0 + i;
          for (int64_t j = 0; j < nc; ++j) {
            const int64_t col = c0 + j, b = col / P, p = col % P;
            y[(b * out_c_ + m) * P + p] = rq(r0 + i, sums[i * kPanelCols + j]);
          }
        }
      };
      qgemm(pool, w, batch * P, pack, epilogue);
    }
  }

 private:
  // One channel per group: each output plane sums its kh x kw taps of one zero-shifted input plane.
  void run_depthwise(const uint8_t* x, uint8_t* y, int64_t batch, ThreadPool& pool) {
    const Window2d& w = win_;
    const int64_t ph = w.pad_top + w.in_h + w.pad_bottom + w.stride_h + (w.kernel_h - 1) * w.dilation_h;
    const int64_t pw = w.pad_left + w.in_w + w.pad_right + w.stride_w + (w.kernel_w - 1) * w.dilation_w;
    const bool s8 = mask_ != 0;
    pool.parallel_for(batch * out_c_, 1, [&](int64_t begin, int64_t end) {
      std::vector<int16_t> plane(size_t(ph * pw));
      std::vector<int32_t> acc(size_t(w.out_w));
      for (int64_t bc = begin; bc < end; ++bc) {
        const int64_t c = bc % out_c_;
        const uint8_t* src = x + bc * w.in_size();
        std::fill(plane.begin(), plane.end(), int16_t{0});
        for (int64_t i = 0; i < w.in_h; ++i)
          for (int64_t j = 0; j < w.in_w; ++j) {
            const int32_t v = s8 ? int32_t(int8_t(src[i * w.in_w + j])) : int32_t(src[i * w.in_w + j]);
            plane[size_t((i + w.pad_top) * pw + j + w.pad_left)] = int16_t(v - x_zero_);
          }
        const int8_t* wc = weights_.data() + c * w.kernel_size();
        uint8_t* dst = y + bc * w.out_size();
        for (int64_t oh = 0; oh < w.out_h; ++oh) {
          std::fill(acc.begin(), acc.end(), 0);
          for (int64_t i = 0; i < w.kernel_h; ++i)
            for (int64_t t = 0; t < w.kernel_w; ++t) {
              const int32_t wv = wc[i * w.kernel_w + t];
              const int16_t* row = plane.data() + (oh * w.stride_h + i * w.dilation_h) * pw + t * w.dilation_w;
              if (w.stride_w == 1) {
                for (int64_t ow = 0; ow < w.out_w; ++ow) acc[size_t(ow)] += wv * row[ow];
              } else {
                for (int64_t ow = 0; ow < w.out_w; ++ow) acc[size_t(ow)] += wv * row[ow * w.stride_w];
              }
            }
          for (int64_t ow = 0; ow < w.out_w; ++ow) dst[oh * w.out_w + ow] = requant_[0](c, acc[size_t(ow)]);
        }
      }
    });
  }

  Window2d win_{};
  int64_t group_ = 1, in_c_ = 0, out_c_ = 0;
  uint8_t mask_ = 0, pad_ = 0;
  int32_t x_zero_ = 0;
  bool depthwise_ = false;
  std::vector<int8_t> weights_;
  std::vector<std::unique_ptr<QGemmWeights>> gemm_;
  std::vector<RowRequant> requant_;
};

class QuantizedMatMulKernel : public Kernel {
 public:
  QuantizedMatMulKernel(const Graph& g, const Node& n) {
    const Tensor& w = g.value(n.inputs[kQW]).constant;
    k_ = w.dim(0);
    n_ = w.dim(1);
    const Requantization r = requantization(g, n, n_);
    const DType xt = g.value(n.inputs[kQX]).dtype;
    mask_ = shift_mask(xt);
    gemm_ = std::make_unique<QGemmWeights>(w.data<int8_t>(), n_, k_, 1, n_);
    requant_ = std::make_unique<RowRequant>(r, gemm_->row_sums(), 0, r.x_zero + shift_of(xt));
  }

  void run(const std::vector<const Tensor*>& in, const std::vector<Tensor*>& out, ThreadPool& pool) override {
    const uint8_t* a = static_cast<const uint8_t*>(in[kQX]->raw());
    uint8_t* y = static_cast<uint8_t*>(out[0]->raw());
    const int64_t m = k_ > 0 ? in[kQX]->numel() / k_ : out[0]->numel() / std::max<int64_t>(n_, 1);
    const int64_t groups = gemm_->k_groups();
    const uint8_t mask = mask_;
    auto pack = [&](int64_t c0, int64_t nc, uint8_t* panels) {
      for (int64_t j = 0; j < nc; ++j) {
        const uint8_t* row = a + (c0 + j) * k_;
        uint8_t* dst = panels + panel_offset(j, 0, groups);
        for (int64_t kk = 0; kk < k_; ++kk) dst[(kk / 4) * kPanelCols * 4 + kk % 4] = uint8_t(row[kk] ^ mask);
      }
    };
    const RowRequant& rq = *requant_;
    auto epilogue = [&](int64_t r0, int64_t nr, int64_t c0, int64_t nc, const int32_t* sums) {
      for (int64_t j = 0; j < nc; ++j)
        for (int64_t i = 0; i < nr; ++i) y[(c0 + j) * n_ + r0 + i] = rq(r0 + i, sums[i * kPanelCols + j]);
    };
    qgemm(pool, *gemm_, m, pack, epilogue);
  }

 private:
  int64_t k_ = 0, n_ = 0;
  uint8_t mask_ = 0;
  std::unique_ptr<QGemmWeights> gemm_;
  std::unique_ptr<RowRequant> requant_;
};

template <class A, class B>
void quantized_add(const AddRequantization& r, const A* a, const B* b, uint8_t* y, int64_t count, ThreadPool& pool) {
  pool.parallel_for(count, 4096, [&](int64_t begin, int64_t end) {
    for (int64_t i = begin; i < end; ++i) {
      float v = float(int32_t(a[i]) - r.a_zero) * r.a_multiplier + float(int32_t(b[i]) - r.b_zero) * r.b_multiplier;
      v = std::min(std::max(v, r.lo), r.hi);
      y[i] = uint8_t(round_half_even(v) + r.y_zero);
    }
  });
}

class QuantizedAddKernel : public Kernel {
 public:
  QuantizedAddKernel(const Graph& g, const Node& n) : r_(add_requantization(g, n)) {}
  void run(const std::vector<const Tensor*>& in, const std::vector<Tensor*>& out, ThreadPool& pool) override {
    uint8_t* y = static_cast<uint8_t*>(out[0]->raw());
    visit_dtype<DType::Int8, DType::UInt8>(in[kQX]->dtype(), [&](auto ta) {
      using A = typename decltype(ta)::type;
      visit_dtype<DType::Int8, DType::UInt8>(in[kQW]->dtype(), [&](auto tb) {
        using B = typename decltype(tb)::type;
        quantized_add(r_, in[kQX]->data<A>(), in[kQW]->data<B>(), y, out[0]->numel(), pool);
      });
    });
  }

 private:
  AddRequantization r_;
};

}  // namespace

std::unique_ptr<Kernel> make_quantized_conv_kernel(const Graph& g, const Node& n) {
  return std::make_unique<QuantizedConvKernel>(g, n);
}
std::unique_ptr<Kernel> make_quantized_matmul_kernel(const Graph& g, const Node& n) {
  return std::make_unique<QuantizedMatMulKernel>(g, n);
}
std::unique_ptr<Kernel> make_quantized_add_kernel(const Graph& g, const Node& n) {
  return std::make_unique<QuantizedAddKernel>(g, n);
}

}  // namespace metalnn::cpu
