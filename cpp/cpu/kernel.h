// The CPU device's unit of work: a Kernel is built once per node at compile time (where it may
// pre-pack constant weights) and run once per inference on tensors whose memory the Plan assigned.
#pragma once
#include <memory>
#include <string>
#include <vector>

#include "core/error.h"
#include "core/graph.h"
#include "cpu/thread_pool.h"

namespace metalnn::cpu {

class Kernel {
 public:
  virtual ~Kernel() = default;
  // inputs[i] is nullptr for an omitted optional input; outputs are allocated with their inferred shapes.
  virtual void run(const std::vector<const Tensor*>& inputs, const std::vector<Tensor*>& outputs,
                   ThreadPool& pool) = 0;
  // Whether run() reads the data of input i when that input is a constant. A kernel that keeps its
  // own form of a weight (packed, transformed) says false, and the executable frees the original
  // once no other kernel reads it (run() then gets a tensor with its dtype and shape but no data).
  virtual bool reads_constant(size_t input) const {
    (void)input;
    return true;
  }
  // Whether this kernel takes over `consumer`, the one node reading its one output, writing the
  // consumer's outputs from then on; the executable then skips the consumer and stores nothing between.
  virtual bool absorb_consumer(const Graph& g, const Node& consumer) {
    (void)g;
    (void)consumer;
    return false;
  }
  // Whether this kernel writes the images of output `output` `stride` elements apart from now on (a
  // band of a concatenation along channels, core/plan.h PlanView), rather than contiguously.
  virtual bool write_image_stride(size_t output, int64_t stride) {
    (void)output;
    (void)stride;
    return false;
  }
};

// Builds the kernel for node `n`; shapes and dtypes of all its values are already inferred.
using KernelFactory = std::unique_ptr<Kernel> (*)(const Graph& g, const Node& n);

// nullptr when the CPU device has no kernel for the op type.
KernelFactory find_kernel(const std::string& op_type);

// Adapts a plain function to a Kernel, for ops with nothing to prepare.
using KernelFn = void (*)(const Node& n, const std::vector<const Tensor*>& in, const std::vector<Tensor*>& out,
                          ThreadPool& pool);
template <KernelFn F>
std::unique_ptr<Kernel> stateless_kernel(const Graph&, const Node& n) {
  struct Impl : Kernel {
    explicit Impl(const Node& node) : node_(node) {}
    void run(const std::vector<const Tensor*>& in, const std::vector<Tensor*>& out, ThreadPool& pool) override {
      F(node_, in, out, pool);
    }
    Node node_;
  };
  return std::make_unique<Impl>(n);
}

}  // namespace metalnn::cpu
