#include "cpu/evaluator.h"

#include "cpu/kernel.h"

namespace metalnn::cpu {

namespace {

class CpuEvaluator final : public NodeEvaluator {
 public:
  bool can_evaluate(const std::string& op_type) const override { return find_kernel(op_type) != nullptr; }
  void evaluate(const Graph& g, const Node& n, const std::vector<const Tensor*>& inputs,
                const std::vector<Tensor*>& outputs) const override {
    KernelFactory make = find_kernel(n.op_type);
    if (!make) throw UnsupportedOpError(n.label() + ": the cpu device has no kernel for '" + n.op_type + "'");
    make(g, n)->run(inputs, outputs, ThreadPool::global());
  }
};

}  // namespace

const NodeEvaluator& node_evaluator() {
  static const CpuEvaluator evaluator;
  return evaluator;
}

}  // namespace metalnn::cpu
