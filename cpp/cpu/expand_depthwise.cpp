#include "cpu/expand_depthwise.h"

#include <algorithm>
#include <atomic>
#include <cstdlib>
#include <string>
#include <vector>

#include "core/activation.h"
#include "core/ops/window.h"
#include "core/ops/window2d.h"
#include "cpu/cpu_features.h"
#include "cpu/depthwise_conv.h"
#include "cpu/direct_gemm.h"

namespace metalnn::cpu {

namespace {

// Expanded tensors of at least this many floats per image are fused (measured): smaller ones stay in
// cache between the two layers anyway.
constexpr int64_t kMinExpandedFloats = int64_t{1} << 17;
// Scratch per chunk of expanded channels (floats): with the input image it stays in L2.
constexpr int64_t kChunkFloats = int64_t{1} << 17;
constexpr int64_t kChunkAlign = 16;  // the channel-blocked depthwise path's vector of channels

int64_t env_int(const char* name, int64_t fallback) {
  const char* v = std::getenv(name);
  return v && *v ? std::atoll(v) : fallback;
}

bool constant_f32(const Graph& g, int v) {
  return v >= 0 && g.value(v).is_constant() && g.value(v).dtype == DType::Float32;
}

bool plain_conv(const Node& n) {
  return n.op_type == "Conv" && !n.attrs.has("_residual") && n.attrs.get_int("_exact_sum", 0) == 0 &&
         !n.attrs.has("_expand") && n.outputs.size() == 1 && n.inputs.size() >= 2 && n.inputs.size() <= 3;
}

bool all_equal(const std::vector<int64_t>& v, int64_t x) {
  return std::all_of(v.begin(), v.end(), [x](int64_t e) { return e == x; });
}

// A 1x1 stride-1 unpadded group-1 Conv on 4-D float32 with constant weights.
bool is_expansion(const Graph& g, const Node& n) {
  if (!plain_conv(n) || n.attrs.get_int("group", 1) != 1 || !constant_f32(g, n.inputs[1])) return false;
  if (n.inputs.size() > 2 && n.inputs[2] >= 0 && !constant_f32(g, n.inputs[2])) return false;
  const Shape& w = g.value(n.inputs[1]).shape;
  const Value& x = g.value(n.inputs[0]);
  return w.size() == 4 && w[2] == 1 && w[3] == 1 && x.shape.size() == 4 && x.dtype == DType::Float32 &&
         all_equal(n.attrs.get_ints("strides", {1}), 1) && all_equal(n.attrs.get_ints("pads", {0}), 0) &&
         n.attrs.get_string("auto_pad", "NOTSET") != "SAME_UPPER" && n.attrs.get_string("auto_pad", "NOTSET") != "SAME_LOWER";
}

// A 2-D depthwise Conv of multiplier 1 with constant weights.
bool is_depthwise(const Graph& g, const Node& n) {
  if (!plain_conv(n) || !constant_f32(g, n.inputs[1])) return false;
  if (n.inputs.size() > 2 && n.inputs[2] >= 0 && !constant_f32(g, n.inputs[2])) return false;
  const Shape& x = g.value(n.inputs[0]).shape;
  const Shape& w = g.value(n.inputs[1]).shape;
  return x.size() == 4 && w.size() == 4 && w[1] == 1 && w[0] == x[1] && n.attrs.get_int("group", 1) == x[1] &&
         x[1] > 1;
}

const char* const kActivationAttrs[] = {"_activation", "_activation_alpha", "_activation_beta"};

std::string expand_attr(const char* name) { return std::string("_expand") + name; }

class ExpandDepthwiseKernel : public Kernel {
 public:
  ExpandDepthwiseKernel(const Graph& g, const Node& n) : act_(Activation::of_node(n)) {
    Node expand;
    expand.name = n.name;
    for (const char* a : kActivationAttrs)
      if (const Attribute* v = n.attrs.find(expand_attr(a))) expand.attrs.set(a, *v);
    expand_act_ = Activation::of_node(expand);
    const Shape& x = g.value(n.inputs[0]).shape;
    const Shape& w = g.value(n.inputs[1]).shape;
    in_c_ = x[1];
    channels_ = w[0];
    const std::vector<int64_t> in_spatial(x.begin() + 2, x.end()), kernel(w.begin() + 2, w.end());
    win_ = to_window2d(resolve_window(n, in_spatial, kernel, false));
    const Value& weight = g.value(n.inputs[1]);
    if (depthwise_uses_blocks(win_, 1))
      blocked_ = depthwise_blocked_weights(weight.constant.data<float>(), channels_, win_.kernel_size());
    chunk_ = std::max<int64_t>(kChunkAlign, env_int("METALNN_EXPAND_CHUNK_FLOATS", kChunkFloats) / win_.in_size() /
                                                kChunkAlign * kChunkAlign);
    chunk_ = std::min(chunk_, (channels_ + kChunkAlign - 1) / kChunkAlign * kChunkAlign);
    // Even chunks: 144 channels in 48s rather than 32, 32, 32, 32, 16.
    const int64_t chunks = (channels_ + chunk_ - 1) / chunk_;
    chunk_ = ((channels_ + chunks - 1) / chunks + kChunkAlign - 1) / kChunkAlign * kChunkAlign;
  }

  void run(const std::vector<const Tensor*>& in, const std::vector<Tensor*>& out, ThreadPool& pool) override {
    const float* x = in[0]->data<float>();
    const float* w = in[1]->data<float>();
    const float* bias = in.size() > 2 && in[2] ? in[2]->data<float>() : nullptr;
    const float* ew = in[4]->data<float>();
    const float* eb = in.size() > 5 && in[5] ? in[5]->data<float>() : nullptr;
    float* y = out[0]->data<float>();
    const int64_t batch = in[0]->dim(0), chunks = (channels_ + chunk_ - 1) / chunk_, tasks = batch * chunks;
    const int64_t in_hw = win_.in_size(), out_hw = win_.out_size(), ksize = win_.kernel_size();
    static ThreadPool serial(1);  // the depthwise kernel inside a task
    std::atomic<int64_t> next{0};
    pool.parallel_for(std::min<int64_t>(pool.num_threads(), tasks), 1, [&](int64_t, int64_t) {
      thread_local std::vector<float> scratch;
      if (scratch.size() < static_cast<size_t>(chunk_ * in_hw)) scratch.resize(static_cast<size_t>(chunk_ * in_hw));
      for (int64_t t = next++; t < tasks; t = next++) {
        const int64_t n = t / chunks, c0 = t % chunks * chunk_, c = std::min(chunk_, channels_ - c0);
        direct_gemm(x + n * in_c_ * in_hw, in_hw, ew + c0 * in_c_, eb ? eb + c0 : nullptr, scratch.data(), in_hw,
                    in_c_, c, in_hw, expand_act_);
        depthwise_conv2d(scratch.data(), w + c0 * ksize, bias ? bias + c0 : nullptr, y + (n * channels_ + c0) * out_hw,
                         1, c, 1, win_, act_, serial, blocked_.empty() ? nullptr : blocked_.data() + c0 * ksize);
      }
    });
  }

 private:
  Activation act_, expand_act_;
  Window2d win_{};
  int64_t in_c_ = 0, channels_ = 0, chunk_ = kChunkAlign;
  std::vector<float> blocked_;
};

}  // namespace

Graph fuse_expand_depthwise(Graph g) {
  if (!has_avx2_fma()) return g;  // the expansion runs on direct_gemm
  const int64_t min_floats = env_int("METALNN_EXPAND_MIN_FLOATS", kMinExpandedFloats);
  const std::vector<int> uses = g.use_counts(), producer = g.producers();
  std::vector<char> dead(g.nodes().size(), 0);
  for (Node& dw : g.nodes()) {
    if (!is_depthwise(g, dw)) continue;
    const int e = dw.inputs[0], p = producer[e];
    if (p < 0 || uses[e] != 1 || dead[p] || !is_expansion(g, g.nodes()[p])) continue;
    const Node& ex = g.nodes()[p];
    const Shape& es = g.value(e).shape;
    if (es[1] * es[2] * es[3] < min_floats) continue;
    Node fused = dw;
    fused.inputs.resize(6, -1);
    fused.inputs[0] = ex.inputs[0];
    fused.inputs[3] = -1;
    fused.inputs[4] = ex.inputs[1];
    fused.inputs[5] = ex.inputs.size() > 2 ? ex.inputs[2] : -1;
    fused.attrs.set("_expand", Attribute::make_int(1));
    for (const char* a : kActivationAttrs)
      if (const Attribute* v = ex.attrs.find(a)) fused.attrs.set(expand_attr(a), *v);
    dw = std::move(fused);
    dead[p] = 1;
  }
  std::vector<Node> kept;
  for (size_t i = 0; i < g.nodes().size(); ++i)
    if (!dead[i]) kept.push_back(std::move(g.nodes()[i]));
  g.nodes() = std::move(kept);
  return g;
}

std::unique_ptr<Kernel> make_expand_depthwise_kernel(const Graph& g, const Node& n) {
  return std::make_unique<ExpandDepthwiseKernel>(g, n);
}

}  // namespace metalnn::cpu
