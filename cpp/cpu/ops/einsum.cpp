// Einsum kernel: the direct sum over the parsed labels. Every output element walks the summed labels'
// index space (its per-input offsets precomputed once) and accumulates the product of the operands
// (in double for float32). Simple and general rather than fast: exported models mostly use Einsum for
// small contractions, and large ones should reach MatMul.
#include <algorithm>

#include "core/ops/einsum.h"
#include "cpu/dtype_dispatch.h"
#include "cpu/kernel.h"
#include "cpu/node_values.h"

namespace metalnn::cpu {

namespace {

class EinsumKernel : public Kernel {
 public:
  EinsumKernel(const Graph& g, const Node& n) {
    std::vector<Shape> shapes;
    for (size_t i = 0; i < n.inputs.size(); ++i) shapes.push_back(input_value(g, n, static_cast<int>(i)).shape);
    const EinsumSpec spec = parse_einsum(n, shapes);
    const size_t labels = spec.sizes.size();
    inputs_ = static_cast<int>(shapes.size());
    // strides[l][i]: input i's element stride along label l (summed over a diagonal's dims; 0 to broadcast).
    std::vector<std::vector<int64_t>> strides(labels, std::vector<int64_t>(inputs_, 0));
    std::vector<char> used(labels, 0), in_output(labels, 0);
    for (int i = 0; i < inputs_; ++i) {
      const std::vector<int64_t> s = shape_strides(shapes[i]);
      for (size_t d = 0; d < shapes[i].size(); ++d) {
        const int l = spec.inputs[i][d];
        used[l] = 1;
        if (shapes[i][d] != 1 || spec.sizes[l] == 1) strides[l][i] += s[d];
      }
    }
    for (int l : spec.output) {
      in_output[l] = 1;
      out_sizes_.push_back(spec.sizes[l]);
      out_strides_.push_back(strides[l]);
    }
    // Offsets of every point of the summed labels' space, per input.
    summed_ = {std::vector<int64_t>(inputs_, 0)};
    for (size_t l = 0; l < labels; ++l) {
      if (!used[l] || in_output[l]) continue;
      std::vector<std::vector<int64_t>> next;
      for (const auto& base : summed_)
        for (int64_t k = 0; k < spec.sizes[l]; ++k) {
          std::vector<int64_t> o = base;
          for (int i = 0; i < inputs_; ++i) o[i] += k * strides[l][i];
          next.push_back(std::move(o));
        }
      summed_ = std::move(next);
    }
  }

  void run(const std::vector<const Tensor*>& in, const std::vector<Tensor*>& out, ThreadPool& pool) override {
    visit_numeric_dtype(in[0]->dtype(), [&](auto tag) {
      using T = typename decltype(tag)::type;
      using Acc = std::conditional_t<std::is_floating_point_v<T>, double, T>;
      std::vector<const T*> x;
      for (const Tensor* t : in) x.push_back(t->data<T>());
      T* y = out[0]->data<T>();
      const int64_t count = out[0]->numel();
      const int64_t grain = std::max<int64_t>(1, 16384 / std::max<int64_t>(1, static_cast<int64_t>(summed_.size())));
      pool.parallel_for(count, grain, [&](int64_t b, int64_t e) {
        std::vector<int64_t> base(inputs_);
        for (int64_t p = b; p < e; ++p) {
          std::fill(base.begin(), base.end(), 0);
          for (int64_t d = static_cast<int64_t>(out_sizes_.size()) - 1, rest = p; d >= 0; --d) {
            const int64_t coord = rest % out_sizes_[d];
            rest /= out_sizes_[d];
            for (int i = 0; i < inputs_; ++i) base[i] += coord * out_strides_[d][i];
          }
          Acc acc = 0;
          for (const std::vector<int64_t>& s : summed_) {
            Acc term = 1;
            for (int i = 0; i < inputs_; ++i) term *= static_cast<Acc>(x[i][base[i] + s[i]]);
            acc += term;
          }
          y[p] = static_cast<T>(acc);
        }
      });
    });
  }

 private:
  int inputs_ = 0;
  std::vector<int64_t> out_sizes_;
  std::vector<std::vector<int64_t>> out_strides_;  // per output dim, per input
  std::vector<std::vector<int64_t>> summed_;       // per point of the summed space, per input
};

}  // namespace

std::unique_ptr<Kernel> make_einsum_kernel(const Graph& g, const Node& n) { return std::make_unique<EinsumKernel>(g, n); }

}  // namespace metalnn::cpu
