#include "core/profiler.h"

#include "core/ops/attention.h"

namespace metalnn {

Profiler& Profiler::global() {
  static Profiler profiler;
  return profiler;
}

void Profiler::set_enabled(bool on) {
  std::lock_guard<std::mutex> lock(mutex_);
  enabled_ = on;
}

bool Profiler::enabled() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return enabled_;
}

void Profiler::clear() {
  std::lock_guard<std::mutex> lock(mutex_);
  steps_.clear();
  arena_bytes_ = 0;
}

size_t Profiler::add_executable(const Graph& g, size_t arena_bytes) {
  std::lock_guard<std::mutex> lock(mutex_);
  const size_t first = steps_.size();
  for (const Node& n : g.nodes()) steps_.push_back(StepProfile{n.label(), n.op_type, node_flops(g, n), {}});
  arena_bytes_ += arena_bytes;
  return first;
}

void Profiler::record(size_t step, double seconds) {
  std::lock_guard<std::mutex> lock(mutex_);
  if (step < steps_.size()) steps_[step].seconds.push_back(seconds);
}

std::vector<StepProfile> Profiler::steps() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return steps_;
}

size_t Profiler::arena_bytes() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return arena_bytes_;
}

namespace {

// A depthwise or grouped Conv the cpu device runs with a 1x1 expansion (weights at input 4) before it
// and a 1x1 projection (input 6) after it (cpu/depthwise_block.h, cpu/grouped_block.h).
double depthwise_block_flops(const Graph& g, const Node& n, double taps) {
  const Shape& x = g.value(n.inputs[0]).shape;
  const Shape& y = g.value(n.outputs[0]).shape;
  const double channels = static_cast<double>(g.value(n.inputs[1]).shape[0]);
  const double out_pixels = static_cast<double>(y[0] * y[2] * y[3]);
  double flops = 2 * out_pixels * channels * static_cast<double>(g.value(n.inputs[1]).shape[1]) * taps;
  if (n.inputs[4] >= 0) flops += 2 * static_cast<double>(x[0] * x[2] * x[3]) * channels * static_cast<double>(x[1]);
  if (n.inputs.size() > 6 && n.inputs[6] >= 0) flops += 2 * out_pixels * channels * static_cast<double>(y[1]);
  return flops;
}

}  // namespace

double node_flops(const Graph& g, const Node& n) {
  if (n.outputs.empty() || n.outputs[0] < 0 || n.inputs.size() < 2) return 0;
  const double out = static_cast<double>(shape_numel(g.value(n.outputs[0]).shape));
  const Shape& w = g.value(n.inputs[1]).shape;
  if ((n.op_type == "Conv" || n.op_type == "ConvTranspose") && w.size() >= 3) {
    // Conv: each output sums over IC/group x kernel taps; ConvTranspose: each input over OC/group x taps.
    double taps = 1;
    for (size_t i = 2; i < w.size(); ++i) taps *= static_cast<double>(w[i]);
    if (n.op_type == "Conv" && n.inputs.size() > 4) return depthwise_block_flops(g, n, taps);
    if (n.op_type == "Conv") return 2 * out * static_cast<double>(w[1]) * taps;
    const double in = static_cast<double>(shape_numel(g.value(n.inputs[0]).shape));
    return 2 * in * static_cast<double>(w[1]) * taps;
  }
  if (n.op_type == "Gemm" || n.op_type == "MatMul") {
    const Shape& a = g.value(n.inputs[0]).shape;
    if (a.empty()) return 0;
    const bool trans_a = n.op_type == "Gemm" && n.attrs.get_int("transA", 0) != 0;
    return 2 * out * static_cast<double>(trans_a && a.size() >= 2 ? a[a.size() - 2] : a.back());
  }
  if (n.op_type == "FusedAttention") {  // Q . Kt and P . V
    const AttentionLayout a =
        attention_layout(g.value(n.inputs[0]).shape, w, g.value(n.inputs[2]).shape, n.attrs.get_int("heads", 0));
    if (a.valid) return 2.0 * double(a.batch * a.heads * a.q_len * a.kv_len) * double(a.head_dim + a.v_dim);
  }
  return 0;
}

}  // namespace metalnn
