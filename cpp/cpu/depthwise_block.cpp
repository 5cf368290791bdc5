#include "cpu/depthwise_block.h"

#include <algorithm>
#include <atomic>
#include <cstdlib>
#include <string>
#include <vector>

#include "core/activation.h"
#include "core/ops/window.h"
#include "core/ops/window2d.h"
#include "cpu/activation.h"
#include "cpu/cache_sizes.h"
#include "cpu/cpu_features.h"
#include "cpu/depthwise_conv.h"
#include "cpu/direct_gemm.h"
#include "cpu/epilogue.h"
#include "cpu/packed_gemm.h"
#include "cpu/stem_conv.h"

namespace metalnn::cpu {

namespace {

// METALNN_DEPTHWISE_BLOCKS=0 leaves the layers apart (for comparison).
bool blocks_enabled() {
  const char* v = std::getenv("METALNN_DEPTHWISE_BLOCKS");
  return !(v && std::string(v) == "0");
}

// Depthwise inputs of at least this many floats per image, and this many over the batch, are fused
// with their neighbours (measured: 14 x 14 x 384 gains at batch 8, 7 x 7 maps lose, and a batch of
// one 28 x 28 x 192 loses); smaller ones stay in cache between the layers anyway.
constexpr int64_t kMinImageFloats = int64_t{1} << 16, kMinBatchFloats = int64_t{1} << 18;

// Whether a depthwise input of this shape is large enough.
bool worth_fusing(const Shape& x) {
  const int64_t image = x[1] * x[2] * x[3];
  return image >= kMinImageFloats && x[0] * image >= kMinBatchFloats;
}

// A depthwise conv without an expansion takes in its projection only from this many floats over the
// batch: below, its output stays in the cores' L2 for the projection as a separate layer, which then
// splits over output channels rather than into per-chunk partial sums (measured: 32 x 112 x 112 at
// batch 1 is 0.33 ms apart against 0.43 ms fused; at batch 8 fused is faster).
constexpr int64_t kMinProjectOnlyBatchFloats = int64_t{1} << 20;

// METALNN_DEPTHWISE_BANDS=0 keeps whole planes per chunk, and stems apart (for comparison).
bool bands_enabled() {
  const char* v = std::getenv("METALNN_DEPTHWISE_BANDS");
  return !(v && std::string(v) == "0");
}

// Scratch per chunk of expanded channels (floats): a quarter of the core's L2 (2^17 floats of a 2 MiB
// one, where it was measured), so that with the input image and the projection's sums it stays there.
int64_t chunk_floats() { return static_cast<int64_t>(cache_sizes().l2 / sizeof(float) / 4); }
// Scratch per chunk of a band of rows: half the core's L2 (a band's input and output rows are small
// beside it; measured on a 1.25 MiB L2: 10% less time than a quarter at 96 x 112 x 112 stride 2,
// the same at 48 channels).
int64_t band_floats() { return static_cast<int64_t>(cache_sizes().l2 / sizeof(float) / 2); }
constexpr int64_t kChunkAlign = 16;  // the channel-blocked depthwise path's vector of channels
// Chunks of the other depthwise paths need no such alignment, and may be narrower where that gives
// an even count: two threads splitting one image's chunks then get equal halves (144 channels over
// 56 x 56 in four chunks of 36, not 32, 32, 32, 32, 16; 48 over 112 x 112 in four of 12, not three of
// 16; the same time on one thread, measured).
constexpr int64_t kPlaneChunkAlign = 4, kPlaneMinChunk = 8;
// Expansions at least this deep run on the packed GEMM, shallower ones on direct_gemm (measured: 16
// deep 6% faster direct, 160 deep 5% faster packed).
constexpr int64_t kPackedMinDepth = 64;

bool constant_f32(const Graph& g, int v) {
  return v >= 0 && g.value(v).is_constant() && g.value(v).dtype == DType::Float32;
}

bool plain_conv(const Node& n) {
  return n.op_type == "Conv" && !n.attrs.has("_residual") && n.attrs.get_int("_exact_sum", 0) == 0 &&
         !is_depthwise_block(n) && n.outputs.size() == 1 && n.inputs.size() >= 2 && n.inputs.size() <= 3;
}

bool all_equal(const std::vector<int64_t>& v, int64_t x) {
  return std::all_of(v.begin(), v.end(), [x](int64_t e) { return e == x; });
}

// A 1x1 stride-1 unpadded group-1 Conv on 4-D float32 with constant weights (auto_pad pads a 1x1
// window at stride 1 by nothing).
bool is_expansion(const Graph& g, const Node& n) {
  if (!plain_conv(n) || n.attrs.get_int("group", 1) != 1 || !constant_f32(g, n.inputs[1])) return false;
  if (n.inputs.size() > 2 && n.inputs[2] >= 0 && !constant_f32(g, n.inputs[2])) return false;
  const Shape& w = g.value(n.inputs[1]).shape;
  const Value& x = g.value(n.inputs[0]);
  return w.size() == 4 && w[2] == 1 && w[3] == 1 && x.shape.size() == 4 && x.dtype == DType::Float32 &&
         all_equal(n.attrs.get_ints("strides", {1}), 1) && all_equal(n.attrs.get_ints("pads", {0}), 0);
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

// A 1x1 stride-1 unpadded group-1 Conv with constant weights, its residual (if any) of any value.
bool is_projection(const Graph& g, const Node& n) {
  if (n.op_type != "Conv" || n.attrs.get_int("_exact_sum", 0) != 0 || is_depthwise_block(n) ||
      n.outputs.size() != 1 || n.inputs.size() < 2)
    return false;
  Node plain = n;
  plain.inputs.resize(std::min<size_t>(n.inputs.size(), 3));
  plain.attrs.erase("_residual");
  return is_expansion(g, plain);
}

// A convolution StemConv runs (few input channels, stride 2) on 4-D float32, constant weights.
bool is_stem(const Graph& g, const Node& n) {
  if (!plain_conv(n) || n.attrs.get_int("group", 1) != 1 || !constant_f32(g, n.inputs[1])) return false;
  if (n.inputs.size() > 2 && n.inputs[2] >= 0 && !constant_f32(g, n.inputs[2])) return false;
  const Value& x = g.value(n.inputs[0]);
  const Shape& w = g.value(n.inputs[1]).shape;
  if (x.shape.size() != 4 || x.dtype != DType::Float32 || w.size() != 4) return false;
  const Window2d win = to_window2d(resolve_window(n, {x.shape[2], x.shape[3]}, {w[2], w[3]}, false));
  return StemConv::suits(win, x.shape[1], 1);
}

const char* const kWindowAttrs[] = {"kernel_shape", "strides", "pads", "dilations", "auto_pad"};

const char* const kActivationAttrs[] = {"_activation", "_activation_alpha", "_activation_beta"};

std::string prefixed(const char* prefix, const char* name) { return std::string(prefix) + name; }

// Copies node `from`'s fused activation to `to` under attribute names starting with `prefix`.
void store_activation(const Node& from, const char* prefix, Node& to) {
  for (const char* a : kActivationAttrs)
    if (const Attribute* v = from.attrs.find(a)) to.attrs.set(prefixed(prefix, a), *v);
}

// The activation store_activation put on `n` under `prefix`.
Activation stored_activation(const Node& n, const char* prefix) {
  Node plain;
  plain.name = n.name;
  for (const char* a : kActivationAttrs)
    if (const Attribute* v = n.attrs.find(prefixed(prefix, a))) plain.attrs.set(a, *v);
  return Activation::of_node(plain);
}

// The stem's window attributes, stored on the block under "_stem_", as a node of its own.
Node stored_stem(const Node& n) {
  Node plain;
  plain.name = n.name;
  for (const char* a : kWindowAttrs)
    if (const Attribute* v = n.attrs.find(prefixed("_stem_", a))) plain.attrs.set(a, *v);
  return plain;
}

class DepthwiseBlockKernel : public Kernel {
 public:
  DepthwiseBlockKernel(const Graph& g, const Node& n)
      : act_(Activation::of_node(n)), expand_act_(stored_activation(n, "_expand")) {
    const Shape& x = g.value(n.inputs[0]).shape;
    const Shape& w = g.value(n.inputs[1]).shape;
    expand_ = n.attrs.has("_expand");
    in_c_ = x[1];
    channels_ = w[0];
    std::vector<int64_t> in_spatial(x.begin() + 2, x.end());
    const std::vector<int64_t> kernel(w.begin() + 2, w.end());
    if (n.attrs.has("_stem")) {
      const Value& sw = g.value(n.inputs[4]);
      const Window2d stem_win =
          to_window2d(resolve_window(stored_stem(n), in_spatial, {sw.shape[2], sw.shape[3]}, false));
      stem_ = std::make_unique<StemConv>(sw.constant, channels_, in_c_, stem_win);
      in_spatial = {stem_win.out_h, stem_win.out_w};
    }
    win_ = to_window2d(resolve_window(n, in_spatial, kernel, false));
    const Value& weight = g.value(n.inputs[1]);
    if (depthwise_uses_blocks(win_, 1))
      blocked_ = depthwise_blocked_weights(weight.constant.data<float>(), channels_, win_.kernel_size());
    const int64_t align = blocked_.empty() ? kPlaneChunkAlign : kChunkAlign;
    const int64_t min_chunk = blocked_.empty() ? kPlaneMinChunk : kChunkAlign;
    chunk_ = std::max<int64_t>(kChunkAlign, chunk_floats() / win_.in_size() / align * align);
    chunk_ = std::min(chunk_, (channels_ + align - 1) / align * align);
    // Even chunks where rounding allows: 144 channels in 48s rather than 64, 64, 16; and an even count
    // of them where they stay at least min_chunk wide.
    chunks_ = (channels_ + chunk_ - 1) / chunk_;
    if (chunks_ % 2 == 1 && chunks_ > 1 && channels_ / (chunks_ + 1) >= min_chunk) ++chunks_;
    chunk_ = ((channels_ + chunks_ - 1) / chunks_ + align - 1) / align * align;
    chunks_ = (channels_ + chunk_ - 1) / chunk_;
    if (n.attrs.get_int("_project", 0) != 0 && bands_enabled()) choose_bands();
    const GemmIsa isa = gemm_isa();
    if (expand_ && isa != GemmIsa::Blas && in_c_ >= kPackedMinDepth) {
      const float* ew = g.value(n.inputs[4]).constant.data<float>();
      for (int64_t c0 = 0; c0 < channels_; c0 += chunk_)
        expand_packs_.push_back(pack_left(ew + c0 * in_c_, in_c_, false, std::min(chunk_, channels_ - c0), in_c_, isa));
    }
    if (n.attrs.get_int("_project", 0) != 0) {
      project_act_ = stored_activation(n, "_project");
      residual_ = n.inputs[3] >= 0;
      const Value& pw = g.value(n.inputs[6]);
      project_c_ = pw.shape[0];
      if (isa != GemmIsa::Blas)
        for (int64_t c0 = 0; c0 < channels_; c0 += chunk_)
          project_packs_.push_back(pack_left(pw.constant.data<float>() + c0, channels_, false, project_c_,
                                             std::min(chunk_, channels_ - c0), isa));
    }
  }

  // The projection's weights only through their packs (the GEMM reads the original for one column).
  bool reads_constant(size_t input) const override {
    return input != 6 || project_packs_.empty() || win_.out_size() == 1;
  }

  void run(const std::vector<const Tensor*>& in, const std::vector<Tensor*>& out, ThreadPool& pool) override {
    const int64_t batch = in[0]->dim(0);
    const Operands o{in[0]->data<float>(),
                     in[1]->data<float>(),
                     in[2] ? in[2]->data<float>() : nullptr,
                     in[3] ? in[3]->data<float>() : nullptr,
                     in[4] ? in[4]->data<float>() : nullptr,
                     in[5] ? in[5]->data<float>() : nullptr,
                     in.size() > 6 && in[6] ? in[6]->data<float>() : nullptr,
                     in.size() > 7 && in[7] ? in[7]->data<float>() : nullptr,
                     out[0]->data<float>()};
    if (bands_ > 1 || stem_) {
      run_bands(o, batch, pool);
      return;
    }
    const int64_t threads = pool.num_threads();
    // With a projection each image's chunks sum into its output: the images split over the pool, and
    // when they would leave threads idle (fewer images than threads, or a last round only some take),
    // each image's chunks too, into partial sums added after.
    const bool whole_images = project_c_ == 0 || batch % threads == 0 || batch >= 4 * threads;
    const int64_t parts = whole_images ? 1 : std::min<int64_t>(chunks_, threads);
    const int64_t tasks = project_c_ ? batch * parts : batch * chunks_;
    const int64_t out_hw = win_.out_size(), image_floats = project_c_ * out_hw;
    if (parts > 1 && partials_.size() < static_cast<size_t>(batch * (parts - 1) * image_floats))
      partials_.resize(static_cast<size_t>(batch * (parts - 1) * image_floats));
    std::atomic<int64_t> next{0};
    pool.parallel_for(std::min(threads, tasks), 1, [&](int64_t, int64_t) {
      thread_local std::vector<float> scratch;
      const size_t floats = static_cast<size_t>(chunk_ * ((expand_ ? win_.in_size() : 0) + (project_c_ ? out_hw : 0)));
      if (scratch.size() < floats) scratch.resize(floats);
      for (int64_t t = next++; t < tasks; t = next++) {
        if (project_c_ == 0) {
          chunk(o, t / chunks_, t % chunks_, scratch.data(), nullptr, false);
          continue;
        }
        const int64_t n = t / parts, part = t % parts;
        float* dst = part == 0 ? o.y + n * image_floats
                               : partials_.data() + (n * (parts - 1) + part - 1) * image_floats;
        for (int64_t k = part; k < chunks_; k += parts) chunk(o, n, k, scratch.data(), dst, k != part);
        if (parts == 1) finish(o, n, nullptr, 0);
      }
    });
    if (parts > 1)
      pool.parallel_for(batch, 1, [&](int64_t n0, int64_t n1) {
        for (int64_t n = n0; n < n1; ++n) finish(o, n, partials_.data() + n * (parts - 1) * image_floats, parts - 1);
      });
  }

 private:
  struct Operands {
    const float *x, *w, *bias, *res, *expand_w, *expand_b, *project_w, *project_b;
    float* y;
  };

  // Picks chunk_ and band_rows_ for a block with a projection where a chunk of whole planes would
  // overflow its share of L2: the widest chunk of channels (halving down to one vector of them) whose
  // band of at least min_rows output rows, with the expanded rows it reads, fits band_floats().
  void choose_bands() {
    const int64_t align = blocked_.empty() ? kPlaneChunkAlign : kChunkAlign;
    if (stem_) {  // all channels at once, as StemConv makes them; in bands whatever the size
      chunk_ = (channels_ + align - 1) / align * align;
      chunks_ = 1;
    } else if (!expand_ || chunk_ * win_.in_size() <= chunk_floats()) {
      return;
    }
    const int64_t budget = band_floats();
    // Rows enough that the rows a band shares with its neighbours are at most an eighth of the
    // expansion it computes (4 at 3x3 stride 2, 16 at 3x3 stride 1).
    const int64_t shared = band_in_rows(1) - win_.stride_h;
    const int64_t min_rows = std::min(win_.out_h, (8 * shared + win_.stride_h - 1) / win_.stride_h);
    const auto floats = [&](int64_t c, int64_t r) { return c * (band_in_rows(r) * win_.in_w + r * win_.out_w); };
    const auto rows = [&](int64_t c) {
      int64_t r = 1;
      while (r < win_.out_h && floats(c, r + 1) <= budget) ++r;
      return r;
    };
    int64_t c = (channels_ + align - 1) / align * align;
    while (!stem_ && c > align && rows(c) < min_rows) c = (c / 2 + align - 1) / align * align;
    const int64_t r = rows(c);
    if (r >= win_.out_h && !stem_) return;
    chunks_ = (channels_ + c - 1) / c;
    chunk_ = ((channels_ + chunks_ - 1) / chunks_ + align - 1) / align * align;
    chunks_ = (channels_ + chunk_ - 1) / chunk_;
    bands_ = (win_.out_h + r - 1) / r;
    band_rows_ = (win_.out_h + bands_ - 1) / bands_;
    bands_ = (win_.out_h + band_rows_ - 1) / band_rows_;
  }

  // Input rows a band of r output rows reads (at most; fewer at the image's edges).
  int64_t band_in_rows(int64_t r) const { return (r - 1) * win_.stride_h + (win_.kernel_h - 1) * win_.dilation_h + 1; }

  // The window of output rows [oh0, oh1) over its input rows [ih0, ...): the image's padding only
  // where the band meets the image's edge.
  Window2d band_window(int64_t oh0, int64_t oh1, int64_t& ih0) const {
    Window2d b = win_;
    const int64_t first = oh0 * win_.stride_h - win_.pad_top, end = first + band_in_rows(oh1 - oh0);
    ih0 = std::max<int64_t>(0, first);
    const int64_t ih1 = std::min(win_.in_h, end);
    b.in_h = ih1 - ih0;
    b.out_h = oh1 - oh0;
    b.pad_top = ih0 - first;
    b.pad_bottom = end - ih1;
    return b;
  }

  // Each task one band of rows of one image, all its chunks: the bands' outputs are disjoint, so
  // the images' bands split over the pool with no partial sums.
  void run_bands(const Operands& o, int64_t batch, ThreadPool& pool) const {
    const int64_t tasks = batch * bands_, out_hw = win_.out_size();
    std::atomic<int64_t> next{0};
    pool.parallel_for(std::min<int64_t>(pool.num_threads(), tasks), 1, [&](int64_t, int64_t) {
      thread_local std::vector<float> scratch;
      const size_t floats = static_cast<size_t>(chunk_ * (band_in_rows(band_rows_) * win_.in_w + band_rows_ * win_.out_w));
      if (scratch.size() < floats) scratch.resize(floats);
      for (int64_t t = next++; t < tasks; t = next++) {
        const int64_t n = t / bands_, oh0 = t % bands_ * band_rows_, oh1 = std::min(win_.out_h, oh0 + band_rows_);
        int64_t ih0 = 0;
        const Window2d band = band_window(oh0, oh1, ih0);
        float* y = o.y + n * project_c_ * out_hw + oh0 * win_.out_w;
        for (int64_t k = 0; k < chunks_; ++k) band_chunk(o, n, k, band, ih0, scratch.data(), y);
        const int64_t cols = band.out_size();
        if (residual_) {
          residual_activation_serial(y, o.res + n * project_c_ * out_hw + oh0 * win_.out_w, project_c_, cols, out_hw,
                                     project_act_);
        } else {
          bias_activation_serial(y, project_c_, cols, out_hw, nullptr, nullptr, project_act_);
        }
      }
    });
  }

  // Channels [k * chunk_, ...) of image n over the band `band` (its input rows from ih0): their
  // expanded rows into scratch, the depthwise conv after them, its projection summed into y (the
  // band's first output, rows out_hw apart).
  void band_chunk(const Operands& o, int64_t n, int64_t k, const Window2d& band, int64_t ih0, float* scratch,
                  float* y) const {
    static ThreadPool serial(1);
    const int64_t in_hw = win_.in_size(), out_hw = win_.out_size(), ksize = win_.kernel_size();
    const int64_t band_in = band.in_size(), band_out = band.out_size();
    const int64_t c0 = k * chunk_, c = std::min(chunk_, channels_ - c0);
    if (stem_) {
      stem_->rows(o.x + n * in_c_ * stem_->window().in_size(), o.expand_b, scratch, band_in, ih0, ih0 + band.in_h,
                  expand_act_);
    } else {
      expand(o, k, o.x + n * in_c_ * in_hw + ih0 * win_.in_w, in_hw, band_in, scratch, band_in);
    }
    float* dw = scratch + chunk_ * band_in;
    depthwise_conv2d(scratch, o.w + c0 * ksize, o.bias ? o.bias + c0 : nullptr, dw, 1, c, 1, band, act_, serial,
                     blocked_.empty() ? nullptr : blocked_.data() + c0 * ksize);
    GemmRowEpilogue fused;
    if (k == 0) fused.row_bias = o.project_b;
    gemm(nullptr, project_c_, band_out, c, 1.f,
         {o.project_w + c0, channels_, false, project_packs_.empty() ? nullptr : &project_packs_[k]},
         {dw, band_out, false, nullptr}, k == 0 ? 0.f : 1.f, y, out_hw, BlockEpilogue(), fused);
  }

  // Channels [k * chunk_, ...) of the expansion of `pixels` pixels of x (rows ldx apart) into y (rows ldy apart).
  void expand(const Operands& o, int64_t k, const float* x, int64_t ldx, int64_t pixels, float* y, int64_t ldy) const {
    const int64_t c0 = k * chunk_, c = std::min(chunk_, channels_ - c0);
    if (!expand_packs_.empty()) {
      GemmRowEpilogue fused;
      fused.row_bias = o.expand_b ? o.expand_b + c0 : nullptr;
      const bool clamp = activation_as_clamp(expand_act_, fused.lo, fused.hi);
      gemm(nullptr, c, pixels, in_c_, 1.f, {o.expand_w + c0 * in_c_, in_c_, false, &expand_packs_[k]},
           {x, ldx, false, nullptr}, 0.f, y, ldy,
           clamp ? BlockEpilogue() : BlockEpilogue([&](int64_t r0, int64_t r1, int64_t q0, int64_t q1) {
             bias_activation_serial(y + r0 * ldy + q0, r1 - r0, q1 - q0, ldy, nullptr, nullptr, expand_act_);
           }),
           fused);
    } else {
      direct_gemm(x, ldx, o.expand_w + c0 * in_c_, o.expand_b ? o.expand_b + c0 : nullptr, y, ldy, in_c_, c, pixels,
                  expand_act_);
    }
  }

  // Channels [k * chunk_, ...) of image n: the expansion (if any) into scratch, the depthwise conv
  // into y (or, with a projection, into scratch after it, then its product summed into `sum`).
  void chunk(const Operands& o, int64_t n, int64_t k, float* scratch, float* sum, bool accumulate) const {
    static ThreadPool serial(1);  // the depthwise kernel inside a task
    const int64_t in_hw = win_.in_size(), out_hw = win_.out_size(), ksize = win_.kernel_size();
    const int64_t c0 = k * chunk_, c = std::min(chunk_, channels_ - c0);
    const float* src = o.x + (n * in_c_ + c0) * in_hw;
    if (expand_) {
      expand(o, k, o.x + n * in_c_ * in_hw, in_hw, in_hw, scratch, in_hw);
      src = scratch;
      scratch += chunk_ * in_hw;
    }
    float* dw = project_c_ ? scratch : o.y + (n * channels_ + c0) * out_hw;
    depthwise_conv2d(src, o.w + c0 * ksize, o.bias ? o.bias + c0 : nullptr, dw, 1, c, 1, win_, act_, serial,
                     blocked_.empty() ? nullptr : blocked_.data() + c0 * ksize);
    if (!project_c_) return;
    GemmRowEpilogue fused;
    if (!accumulate && sum == o.y + n * project_c_ * out_hw) fused.row_bias = o.project_b;
    gemm(nullptr, project_c_, out_hw, c, 1.f,
         {o.project_w + c0, channels_, false, project_packs_.empty() ? nullptr : &project_packs_[k]},
         {dw, out_hw, false, nullptr}, accumulate ? 1.f : 0.f, sum, out_hw, BlockEpilogue(), fused);
  }

  // Image n's projection: its `count` partial sums added, then the residual and the activation.
  void finish(const Operands& o, int64_t n, const float* partials, int64_t count) const {
    const int64_t out_hw = win_.out_size(), floats = project_c_ * out_hw;
    float* y = o.y + n * floats;
    for (int64_t i = 0; i < count; ++i) {
      const float* p = partials + i * floats;
      for (int64_t j = 0; j < floats; ++j) y[j] += p[j];
    }
    if (residual_) {
      residual_activation_serial(y, o.res + n * floats, project_c_, out_hw, out_hw, project_act_);
    } else {
      bias_activation_serial(y, project_c_, out_hw, out_hw, nullptr, nullptr, project_act_);
    }
  }

  Activation act_, expand_act_, project_act_;
  Window2d win_{};
  bool expand_ = false;  // inputs 4 and 5 are a 1x1 expansion before the depthwise conv
  std::unique_ptr<StemConv> stem_;  // or the stem convolution making the depthwise input
  int64_t in_c_ = 0, channels_ = 0, chunk_ = kChunkAlign, chunks_ = 1;
  int64_t bands_ = 1, band_rows_ = 0;  // bands of output rows per image, and their height
  std::vector<float> blocked_;
  int64_t project_c_ = 0;  // output channels of the fused projection, 0 without one
  bool residual_ = false;
  std::vector<PackedMatrix> expand_packs_;   // the expansion's weights, one pack per chunk, or none
  std::vector<PackedMatrix> project_packs_;  // the projection's weights, one pack per chunk
  std::vector<float> partials_;              // per image, the chunk sums of all but the first part
};

}  // namespace

namespace {

// A network's stem convolution, the depthwise conv reading it and the projection after that (the
// stem's output its only reader's, the depthwise output too) become one block in the projection's
// place: inputs [x, dw weight, dw bias, residual, stem weight, stem bias, project weight, project
// bias], attribute _stem, the stem's window under "_stem_" and its activation as an expansion's.
// The stem's full-resolution map then never leaves L2: each band of it is made as it is consumed
// (measured: 3 -> 32 at 224 x 224, then 32 x 112 x 112 depthwise and a projection to 16, batch 8,
// 15% less time; at batch 1, below kMinProjectOnlyBatchFloats, 5% more, the map staying in L3).
void fold_stems(Graph& g, std::vector<char>& dead) {
  const std::vector<int> uses = g.use_counts(), producer = g.producers();
  std::vector<Node>& nodes = g.nodes();
  std::vector<int> reader(g.num_values(), -1);
  for (size_t i = 0; i < nodes.size(); ++i)
    for (int v : nodes[i].inputs)
      if (v >= 0) reader[v] = static_cast<int>(i);
  for (size_t i = 0; i < nodes.size(); ++i) {
    const Node& dw = nodes[i];
    if (dead[i] || dw.attrs.has("_expand") || !is_depthwise(g, dw)) continue;
    const int e = dw.inputs[0], p = producer[e], d = dw.outputs[0], r = reader[d];
    const Shape& x = g.value(e).shape;
    if (p < 0 || uses[e] != 1 || dead[p] || !is_stem(g, nodes[p]) || !worth_fusing(x) ||
        x[0] * x[1] * x[2] * x[3] < kMinProjectOnlyBatchFloats)
      continue;
    if (uses[d] != 1 || r < 0 || dead[r] || !is_projection(g, nodes[r])) continue;
    const Node& stem = nodes[p];
    Node& proj = nodes[r];
    Node fused = dw;
    fused.inputs.resize(8, -1);
    fused.inputs[0] = stem.inputs[0];
    fused.inputs[3] = proj.inputs.size() > 3 ? proj.inputs[3] : -1;
    fused.inputs[4] = stem.inputs[1];
    fused.inputs[5] = stem.inputs.size() > 2 ? stem.inputs[2] : -1;
    fused.inputs[6] = proj.inputs[1];
    fused.inputs[7] = proj.inputs.size() > 2 ? proj.inputs[2] : -1;
    fused.outputs = proj.outputs;
    fused.attrs.set("_stem", Attribute::make_int(1));
    fused.attrs.set("_project", Attribute::make_int(1));
    for (const char* a : kWindowAttrs)
      if (const Attribute* v = stem.attrs.find(a)) fused.attrs.set(prefixed("_stem_", a), *v);
    store_activation(stem, "_expand", fused);
    store_activation(proj, "_project", fused);
    proj = std::move(fused);
    dead[i] = dead[p] = 1;
  }
}

}  // namespace

Graph fuse_depthwise_blocks(Graph g) {
  if (!has_avx2_fma() || !blocks_enabled()) return g;  // shallow expansions run on direct_gemm
  const std::vector<int> uses = g.use_counts();
  std::vector<char> dead(g.nodes().size(), 0);
  std::vector<Node>& nodes = g.nodes();
  fold_expansions(g, dead, is_depthwise, worth_fusing, "_expand");
  if (bands_enabled()) fold_stems(g, dead);
  // A projection reading a pair's output, or a large depthwise conv's, joins it in its own place
  // (where its residual is ready).
  std::vector<int> reader(g.num_values(), -1);
  for (size_t i = 0; i < nodes.size(); ++i)
    if (!dead[i])
      for (int v : nodes[i].inputs)
        if (v >= 0) reader[v] = static_cast<int>(i);
  for (size_t i = 0; i < nodes.size(); ++i) {
    const Node& dw = nodes[i];
    if (dead[i] || dw.attrs.has("_project")) continue;
    if (!dw.attrs.has("_expand")) {
      if (!is_depthwise(g, dw)) continue;
      const Shape& x = g.value(dw.inputs[0]).shape;
      if (!worth_fusing(x) || x[0] * x[1] * x[2] * x[3] < kMinProjectOnlyBatchFloats) continue;
    }
    const int d = nodes[i].outputs[0], r = reader[d];
    if (uses[d] != 1 || r < 0 || !is_projection(g, nodes[r])) continue;
    Node& proj = nodes[r];
    Node fused = nodes[i];
    fused.inputs.resize(8, -1);
    fused.inputs[3] = proj.inputs.size() > 3 ? proj.inputs[3] : -1;
    fused.inputs[6] = proj.inputs[1];
    fused.inputs[7] = proj.inputs.size() > 2 ? proj.inputs[2] : -1;
    fused.outputs = proj.outputs;
    fused.attrs.set("_project", Attribute::make_int(1));
    store_activation(proj, "_project", fused);
    proj = std::move(fused);
    dead[i] = 1;
  }
  drop_nodes(g, dead);
  return g;
}

bool is_depthwise_block(const Node& n) { return n.attrs.has("_expand") || n.attrs.has("_project"); }

void fold_expansions(Graph& g, std::vector<char>& dead, bool (*accept)(const Graph&, const Node&),
                     bool (*worth)(const Shape&), const char* attr) {
  const std::vector<int> uses = g.use_counts(), producer = g.producers();
  std::vector<Node>& nodes = g.nodes();
  for (Node& n : nodes) {
    if (!accept(g, n)) continue;
    const int e = n.inputs[0], p = producer[e];
    if (p < 0 || uses[e] != 1 || dead[p] || !is_expansion(g, nodes[p]) || !worth(g.value(e).shape)) continue;
    const Node& ex = nodes[p];
    Node fused = n;
    fused.inputs.resize(6, -1);
    fused.inputs[0] = ex.inputs[0];
    fused.inputs[4] = ex.inputs[1];
    fused.inputs[5] = ex.inputs.size() > 2 ? ex.inputs[2] : -1;
    fused.attrs.set(attr, Attribute::make_int(1));
    store_activation(ex, "_expand", fused);
    n = std::move(fused);
    dead[p] = 1;
  }
}

void drop_nodes(Graph& g, const std::vector<char>& dead) {
  std::vector<Node>& nodes = g.nodes();
  std::vector<Node> kept;
  for (size_t i = 0; i < nodes.size(); ++i)
    if (!dead[i]) kept.push_back(std::move(nodes[i]));
  nodes = std::move(kept);
}

Activation expansion_activation(const Node& n) { return stored_activation(n, "_expand"); }

std::unique_ptr<Kernel> make_depthwise_block_kernel(const Graph& g, const Node& n) {
  return std::make_unique<DepthwiseBlockKernel>(g, n);
}

}  // namespace metalnn::cpu
