// MatMulInteger kernel: int32 dot products of zero-point-shifted rows of A and columns of B; B is
// widened and transposed to int32 [N, K] once per run, so the inner loop is a contiguous int32 dot.
#include <vector>

#include "cpu/dtype_dispatch.h"
#include "cpu/kernel.h"

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

}  // namespace

std::unique_ptr<Kernel> make_matmul_integer_kernel(const Graph& g, const Node& n) { return stateless_kernel<matmul_integer>(g, n); }

}  // namespace metalnn::cpu
