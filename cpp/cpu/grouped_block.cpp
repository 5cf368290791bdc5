#include "cpu/grouped_block.h"

#include <algorithm>
#include <atomic>
#include <cstdlib>
#include <string>
#include <vector>

#include "core/activation.h"
#include "core/ops/window.h"
#include "core/ops/window2d.h"
#include "cpu/cpu_features.h"
#include "cpu/depthwise_block.h"
#include "cpu/direct_gemm.h"
#include "cpu/grouped_conv.h"

namespace metalnn::cpu {

namespace {

bool blocks_enabled() {
  const char* v = std::getenv("METALNN_GROUPED_BLOCKS");
  return !(v && std::string(v) == "0");
}

// Expanded tensors of at least this many floats per image and over the batch, on maps of at least
// this many pixels, are fused; smaller ones stay in cache between the layers anyway (measured on
// RegNetY-400MF's blocks: 104 x 28 x 28 gains 7% at batch 8 and loses 3% at batch 1, 440 x 14 x 14
// loses 2% at batch 8, 208 x 14 x 14 and 440 x 7 x 7 lose 1% and 15%).
constexpr int64_t kMinImageFloats = int64_t{1} << 16, kMinBatchFloats = int64_t{1} << 18, kMinPixels = 512;

bool worth_fusing(const Shape& mid) {
  return mid[2] * mid[3] >= kMinPixels && mid[1] * mid[2] * mid[3] >= kMinImageFloats &&
         shape_numel(mid) >= kMinBatchFloats;
}

// Input rows of a band (all its channels), and expanded rows of a chunk: with the grouped conv's own
// staging they stay in L2.
constexpr int64_t kBandFloats = int64_t{1} << 17, kChunkFloats = int64_t{1} << 16;

bool constant_f32(const Graph& g, int v) {
  return v >= 0 && g.value(v).is_constant() && g.value(v).dtype == DType::Float32;
}

// A 2-D grouped Conv the GroupedConv kernel runs, constant weights, nothing fused in.
bool is_grouped(const Graph& g, const Node& n) {
  if (n.op_type != "Conv" || n.attrs.has("_residual") || n.attrs.get_int("_exact_sum", 0) != 0 ||
      is_depthwise_block(n) || is_grouped_block(n) || n.outputs.size() != 1 || n.inputs.size() < 2 ||
      n.inputs.size() > 3 || !constant_f32(g, n.inputs[1]))
    return false;
  if (n.inputs.size() > 2 && n.inputs[2] >= 0 && !constant_f32(g, n.inputs[2])) return false;
  const Value& x = g.value(n.inputs[0]);
  const Shape& w = g.value(n.inputs[1]).shape;
  if (x.shape.size() != 4 || w.size() != 4 || x.dtype != DType::Float32) return false;
  const std::vector<int64_t> in_spatial(x.shape.begin() + 2, x.shape.end()), kernel(w.begin() + 2, w.end());
  const Window2d win = to_window2d(resolve_window(n, in_spatial, kernel, false));
  return GroupedConv::suits(win, n.attrs.get_int("group", 1), x.shape[1], w[0]);
}

class GroupedBlockKernel : public Kernel {
 public:
  GroupedBlockKernel(const Graph& g, const Node& n)
      : act_(Activation::of_node(n)), expand_act_(expansion_activation(n)) {
    const Shape& x = g.value(n.inputs[0]).shape;
    const Value& weight = g.value(n.inputs[1]);
    const Shape& w = weight.shape;
    in_c_ = x[1];
    groups_ = n.attrs.get_int("group", 1);
    mid_c_ = g.value(n.inputs[4]).shape[0];
    out_c_ = w[0];
    ic_ = mid_c_ / groups_;
    const std::vector<int64_t> in_spatial(x.begin() + 2, x.end()), kernel(w.begin() + 2, w.end());
    win_ = to_window2d(resolve_window(n, in_spatial, kernel, false));
    conv_ = std::make_unique<GroupedConv>(win_, groups_, mid_c_, out_c_, weight.constant.data<float>());
    // Bands of output rows whose input rows fit kBandFloats, near-equal.
    rows_ = win_.out_h;
    while (rows_ > 1 && in_c_ * input_rows(rows_) * win_.in_w > kBandFloats) --rows_;
    bands_ = (win_.out_h + rows_ - 1) / rows_;
    rows_ = (win_.out_h + bands_ - 1) / bands_;
    // Chunks of whole groups whose expanded rows fit kChunkFloats, near-equal.
    const int64_t fit = std::max<int64_t>(1, kChunkFloats / (input_rows(rows_) * win_.in_w) / ic_);
    chunks_ = (groups_ + fit - 1) / fit;
  }

  // The grouped conv's weights only through its blocked copy.
  bool reads_constant(size_t input) const override { return input != 1; }

  void run(const std::vector<const Tensor*>& in, const std::vector<Tensor*>& out, ThreadPool& pool) override {
    const int64_t batch = in[0]->dim(0), threads = pool.num_threads();
    const float* x = in[0]->data<float>();
    const float* bias = in[2] ? in[2]->data<float>() : nullptr;
    const float* ew = in[4]->data<float>();
    const float* eb = in[5] ? in[5]->data<float>() : nullptr;
    float* y = out[0]->data<float>();
    // Narrower chunks where the bands leave threads idle: they repeat no work, unlike narrower bands.
    const int64_t chunks = std::min(groups_, std::max(chunks_, (2 * threads + batch * bands_ - 1) / (batch * bands_)));
    const int64_t per_chunk = (groups_ + chunks - 1) / chunks;
    const int64_t tasks = batch * bands_ * chunks, in_hw = win_.in_size(), in_w = win_.in_w;
    std::atomic<int64_t> next{0};
    pool.parallel_for(std::min(threads, tasks), 1, [&](int64_t, int64_t) {
      thread_local std::vector<float> scratch;
      for (int64_t t = next++; t < tasks; t = next++) {
        const int64_t n = t / (bands_ * chunks), r0 = t / chunks % bands_ * rows_;
        const int64_t g0 = t % chunks * per_chunk, g1 = std::min(groups_, g0 + per_chunk);
        if (g0 >= g1) continue;
        const int64_t rows = std::min(rows_, win_.out_h - r0);
        // The input rows these outputs read, inside the map.
        const int64_t top = std::max<int64_t>(0, r0 * win_.stride_h - win_.pad_top);
        const int64_t bottom = std::min(win_.in_h, (r0 + rows - 1) * win_.stride_h - win_.pad_top +
                                                       (win_.kernel_h - 1) * win_.dilation_h + 1);
        if (bottom <= top) {  // every tap in the padding: expand nothing
          conv_->run_rows(nullptr, 0, 0, 0, bias, y + n * out_c_ * win_.out_size(), g0, g1, r0, rows, act_);
          continue;
        }
        const int64_t pixels = (bottom - top) * in_w, c0 = g0 * ic_, c = (g1 - g0) * ic_;
        if (scratch.size() < static_cast<size_t>(c * pixels)) scratch.resize(static_cast<size_t>(c * pixels));
        direct_gemm(x + n * in_c_ * in_hw + top * in_w, in_hw, ew + c0 * in_c_, eb ? eb + c0 : nullptr,
                    scratch.data(), pixels, in_c_, c, pixels, expand_act_);
        conv_->run_rows(scratch.data(), pixels, top, bottom, bias, y + n * out_c_ * win_.out_size(), g0, g1, r0, rows,
                        act_);
      }
    });
  }

 private:
  // Input rows read by `rows` consecutive output rows.
  int64_t input_rows(int64_t rows) const {
    return std::min(win_.in_h, (rows - 1) * win_.stride_h + (win_.kernel_h - 1) * win_.dilation_h + 1);
  }

  Activation act_, expand_act_;
  Window2d win_{};
  int64_t in_c_ = 0, groups_ = 1, mid_c_ = 0, out_c_ = 0, ic_ = 0;
  int64_t rows_ = 1, bands_ = 1, chunks_ = 1;
  std::unique_ptr<GroupedConv> conv_;
};

}  // namespace

Graph fuse_grouped_blocks(Graph g) {
  if (!has_avx2_fma() || !blocks_enabled()) return g;  // the expansion runs on direct_gemm
  std::vector<char> dead(g.nodes().size(), 0);
  fold_expansions(g, dead, is_grouped, worth_fusing, "_grouped_expand");
  drop_nodes(g, dead);
  return g;
}

bool is_grouped_block(const Node& n) { return n.attrs.has("_grouped_expand"); }

std::unique_ptr<Kernel> make_grouped_block_kernel(const Graph& g, const Node& n) {
  return std::make_unique<GroupedBlockKernel>(g, n);
}

}  // namespace metalnn::cpu
