// MatMulInteger kernel: int32 dot products of zero-point-shifted rows of A and columns of B. A
// constant int8 B with zero zero points (what dynamic quantization writes) is packed once for the int8
// GEMM of cpu/qgemm.h; any other B is widened and transposed to int32 [N, K] once per run, so the
// inner loop is a contiguous int32 dot.
#include <memory>
#include <vector>

#include "cpu/dtype_dispatch.h"
#include "cpu/kernel.h"
#include "cpu/qgemm.h"

namespace metalnn::cpu {

namespace {

void matmul_integer(const Node&, const std::vector<const Tensor*>& in, const std::vector<Tensor*>& out,
                    ThreadPool& pool) {
  const int64_t K = in[1]->shape()[0], N = in[1]->shape()[1];
  const int64_t rows = N > 0 ? out[0]->numel() / N : 0;
  const Tensor* zb = in.size() > 3 ? in[3] : nullptr;
  std::vector<int32_t> bt(static_cast<size_t>(N * K));
  visit_dtype<DType::Int8, DType::UInt8>(in[1]->dtype(), [&](auto tag) {
    using B = typename decltype(tag)::type;
    const B* b = in[1]->data<B>();
    const B* z = zb ? zb->data<B>() : nullptr;
    const bool per_column = zb && zb->numel() == N && N > 1;
    for (int64_t n = 0; n < N; ++n) {
      const int32_t zn = z ? int32_t(z[per_column ? n : 0]) : 0;
      for (int64_t k = 0; k < K; ++k) bt[size_t(n * K + k)] = int32_t(b[k * N + n]) - zn;
    }
  });
  int32_t* y = out[0]->data<int32_t>();
  visit_dtype<DType::Int8, DType::UInt8>(in[0]->dtype(), [&](auto tag) {
    using A = typename decltype(tag)::type;
    const A* a = in[0]->data<A>();
    const int32_t za = in.size() > 2 && in[2] ? int32_t(*in[2]->data<A>()) : 0;
    pool.parallel_for(rows, 8, [&](int64_t begin, int64_t end) {
      std::vector<int32_t> row(static_cast<size_t>(K));
      for (int64_t m = begin; m < end; ++m) {
        for (int64_t k = 0; k < K; ++k) row[size_t(k)] = int32_t(a[m * K + k]) - za;
        for (int64_t n = 0; n < N; ++n) {
          const int32_t* col = bt.data() + n * K;
          int32_t acc = 0;
          for (int64_t k = 0; k < K; ++k) acc += row[size_t(k)] * col[k];
          y[m * N + n] = acc;
        }
      }
    });
  });
}

// B packed at compile time; A's zero point is read at run time.
class PackedMatMulInteger : public Kernel {
 public:
  explicit PackedMatMulInteger(const Tensor& b)
      : k_(b.dim(0)), n_(b.dim(1)), weights_(b.data<int8_t>(), n_, k_, 1, n_) {}

  void run(const std::vector<const Tensor*>& in, const std::vector<Tensor*>& out, ThreadPool& pool) override {
    const uint8_t* a = static_cast<const uint8_t*>(in[0]->raw());
    const bool s8 = in[0]->dtype() == DType::Int8;
    const uint8_t mask = panel_mask(s8 ? 0x80 : 0);
    int32_t za = 0;
    if (in.size() > 2 && in[2]) za = s8 ? int32_t(*in[2]->data<int8_t>()) : int32_t(*in[2]->data<uint8_t>());
    const int32_t shifted_zero = za + (s8 ? 128 : 0);
    const int64_t m = n_ > 0 ? out[0]->numel() / n_ : 0;
    const std::vector<int32_t>& sums_w = weights_.row_sums();
    int32_t* y = out[0]->data<int32_t>();
    auto pack = [&](int64_t c0, int64_t nc, uint8_t* panels) { pack_columns(a, k_, c0, nc, mask, panels); };
    auto epilogue = [&](int64_t r0, int64_t nr, int64_t c0, int64_t nc, const int32_t* sums) {
      alignas(64) int32_t t[kPanelCols * kPanelCols];
      transpose_sums(sums, t);  // rows of sums beyond nr (up to the tile's) are never read
      const int32_t* w_sums = sums_w.data() + r0;
      for (int64_t j = 0; j < nc; ++j) {
        int32_t* out = y + (c0 + j) * n_ + r0;
        const int32_t* column = t + j * kPanelCols;
        for (int64_t i = 0; i < nr; ++i) out[i] = column[i] - shifted_zero * w_sums[i];
      }
    };
    qgemm(pool, weights_, m, pack, epilogue);
  }

 private:
  int64_t k_, n_;
  QGemmWeights weights_;
};

// B is a constant int8 matrix whose zero point, if any, is a constant 0.
bool packable(const Graph& g, const Node& n) {
  const Value& b = g.value(n.inputs[1]);
  if (!b.is_constant() || b.dtype != DType::Int8) return false;
  if (n.inputs.size() > 3 && n.inputs[3] >= 0) {
    const Value& z = g.value(n.inputs[3]);
    if (!z.is_constant()) return false;
    for (int64_t i = 0; i < z.constant.numel(); ++i)
      if (z.constant.data<int8_t>()[i] != 0) return false;
  }
  return true;
}

}  // namespace

std::unique_ptr<Kernel> make_matmul_integer_kernel(const Graph& g, const Node& n) {
  if (packable(g, n)) return std::make_unique<PackedMatMulInteger>(g.value(n.inputs[1]).constant);
  return stateless_kernel<matmul_integer>(g, n);
}

}  // namespace metalnn::cpu
