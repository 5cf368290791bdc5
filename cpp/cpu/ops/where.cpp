// Where kernel: out = cond ? x : y over a StridedLoop with broadcast strides for all three inputs;
// the element type only matters by its size.
#include "cpu/dtype_dispatch.h"
#include "cpu/kernel.h"
#include "cpu/node_values.h"
#include "cpu/strided_loop.h"

namespace metalnn::cpu {

namespace {

class WhereKernel : public Kernel {
 public:
  WhereKernel(const Graph& g, const Node& n)
      : loop_(output_value(g, n, 0).shape, operand_strides(g, n)), elem_size_(dtype_size(output_value(g, n, 0).dtype)) {}

  void run(const std::vector<const Tensor*>& in, const std::vector<Tensor*>& out, ThreadPool& pool) override {
    const int64_t sc = loop_.inner_stride(1), sx = loop_.inner_stride(2), sy = loop_.inner_stride(3);
    const bool* cond = in[0]->data<bool>();
    visit_element_size(elem_size_, [&](auto tag) {
      using T = typename decltype(tag)::type;
      const T* x = in[1]->data<T>();
      const T* y = in[2]->data<T>();
      T* o = out[0]->data<T>();
      loop_.parallel_runs(pool, 1 << 14, [&](const StridedLoop::Offsets& off, int64_t n) {
        const bool* c = cond + off[1];
        const T* px = x + off[2];
        const T* py = y + off[3];
        T* po = o + off[0];
        for (int64_t i = 0; i < n; ++i) po[i] = c[i * sc] ? px[i * sx] : py[i * sy];
      });
    });
  }

 private:
  static std::vector<std::vector<int64_t>> operand_strides(const Graph& g, const Node& n) {
    const Shape& out = output_value(g, n, 0).shape;
    std::vector<std::vector<int64_t>> s{shape_strides(out)};
    for (int i = 0; i < 3; ++i) s.push_back(broadcast_strides(input_value(g, n, i).shape, out));
    return s;
  }

  StridedLoop loop_;
  size_t elem_size_;
};

}  // namespace

std::unique_ptr<Kernel> make_where_kernel(const Graph& g, const Node& n) { return std::make_unique<WhereKernel>(g, n); }

}  // namespace metalnn::cpu
