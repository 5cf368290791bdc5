// Conv on the CPU, NCHW float32, paths chosen once per node: depthwise (own kernel), narrow groups
// (cpu/grouped_conv.h), stride-2 stems of few channels (cpu/stem_conv.h), 3x3 stride 1 with constant
// weights and enough input channels (Winograd, cpu/winograd_conv.h), dilated or padding-heavy windows
// (one GEMM per tap over the outputs it reaches, cpu/tap_conv.h), 1x1 stride-1 unpadded (a GEMM
// straight on the input), and the rest (im2col tiles + GEMM); with several images on small maps, the
// last two run one GEMM whose columns span the batch. Where its shapes suit it, the GEMM is cpu/direct_gemm.h instead of cpu/packed_gemm.h. The GEMM
// takes the weight [OC/g, IC/g*KH*KW] as A, so its output lands in NCHW directly; bias and the fused
// activation run on each output tile right after its GEMM. Constant weights are packed for the GEMM
// once per tensor.
#include <algorithm>
#include <memory>
#include <string>
#include <vector>

#include "core/derived_cache.h"
#include "core/ops/window.h"
#include "cpu/aligned_vector.h"
#include "cpu/depthwise_block.h"
#include "cpu/grouped_block.h"
#include "cpu/depthwise_conv.h"
#include "cpu/activation.h"
#include "cpu/cache_sizes.h"
#include "cpu/epilogue.h"
#include "cpu/im2col.h"
#include "cpu/kernel.h"
#include "cpu/direct_gemm.h"
#include "cpu/gemv.h"
#include "cpu/grouped_conv.h"
#include "cpu/packed_gemm.h"
#include "cpu/stem_conv.h"
#include "cpu/tap_conv.h"
#include "cpu/winograd_conv.h"

namespace metalnn::cpu {

namespace {

// im2col scratch per tile (floats): two fifths of the core's L2, so the tile is still cached when the
// GEMM reads it (512 KiB of Ice Lake's 1.25 MiB; measured on one thread, a quarter or a half of it
// made AlexNet's stride-4 stem of 8 images 2% slower).
int64_t column_floats() {
  static const int64_t floats = static_cast<int64_t>(cache_sizes().l2 * 2 / 5 / sizeof(float));
  return floats;
}
// Fewest output positions per tile, however deep: each tile streams all the weights once. Measured on
// one thread, a 3x3 stride-2 128->128 onto 28x28 (K 1152) took 8% less time in tiles of 112 than of 196
// (one image) and 5% less in tiles of 128 than of 256 (eight images).
constexpr int64_t kMinTileColumns = 128;
// Tiles a whole number of the widest register tile's columns: a 3x3 stride-2 64->128 onto 28x28 of 8
// images took 4% longer in tiles of 227 than of 256, 2% less in tiles of 224.
constexpr int64_t kTileAlign = 32;

// 1x1 layers the direct kernel still takes from the packed GEMM (measured): at most this many
// inputs or outputs.
constexpr int64_t kDirectMaxPackedInputs = 16, kDirectMaxPackedOutputs = 32;

// Below this many input channels the Winograd GEMMs are too thin to beat im2col: measured on one
// thread, 8 channels lose up to 10%, 16 and 24 (SqueezeNet's and EfficientNet's early 3x3s) gain 15-50%.
constexpr int64_t kWinogradMinChannels = 16;

DerivedCache<const std::vector<float>>& depthwise_weights() {
  static DerivedCache<const std::vector<float>> cache;
  return cache;
}

// Maps of at most this many pixels whose vectors would use less than this share of their lanes run
// the GEMM transposed (its output then passes through a scratch block of pixels x channels).
constexpr int64_t kTransposedMaxPixels = 256;
constexpr double kTransposedMaxLaneUse = 0.85;

// With several images, maps of at most this many pixels run as one GEMM whose columns span the batch:
// wide enough for whole vectors, and the weights are read once for all images rather than per image.
// Not for im2col matrices of more than kBatchedColumnFloats: measured, 3x3 convolutions onto 7x7 maps
// of 8 images (1.8M floats) gain 10-15%, onto 14x14 maps (3.6M) lose 3%.
constexpr int64_t kBatchedMaxPixels = 256, kBatchedColumnFloats = int64_t{1} << 21;

// A pool of one, for im2col inside a task that already runs on a worker.
ThreadPool& serial_pool() {
  static ThreadPool pool(1);
  return pool;
}

class ConvKernel : public Kernel {
 public:
  ConvKernel(const Graph& g, const Node& n) : act_(Activation::of_node(n)) {
    if (n.attrs.get_int("_residual", 0) != 0) {  // the paths stop at the bias; the sum, then act
      after_ = act_;
      act_ = Activation();
      residual_ = true;
    }
    const Shape& x = g.value(n.inputs[0]).shape;
    const Shape& w = g.value(n.inputs[1]).shape;
    win_ = to_window2d(resolve_window(n, std::vector<int64_t>(x.begin() + 2, x.end()),
                                      std::vector<int64_t>(w.begin() + 2, w.end()), false));
    group_ = n.attrs.get_int("group", 1);
    in_c_ = x[1];
    out_c_ = w[0];
    images_ = x[0];
    const Value& weight = g.value(n.inputs[1]);
    // A lowered ConvInteger sums integers that float32 holds exactly; Winograd's transforms would round them.
    const bool exact_sum = n.attrs.get_int("_exact_sum", 0) != 0;
    if (group_ > 1 && group_ == in_c_) {  // one input channel per group: depthwise, any multiplier
      path_ = Path::Depthwise;
      if (weight.is_constant() && depthwise_uses_blocks(win_, out_c_ / in_c_))
        blocked_ = depthwise_weights().get(weight.constant, "depthwise_blocks", [&] {
          return std::make_shared<const std::vector<float>>(
              depthwise_blocked_weights(weight.constant.data<float>(), out_c_, win_.kernel_size()));
        });
    } else if (GroupedConv::suits(win_, group_, in_c_, out_c_)) {
      path_ = Path::Grouped;
      grouped_ = std::make_unique<GroupedConv>(win_, group_, in_c_, out_c_,
                                               weight.is_constant() ? weight.constant.data<float>() : nullptr);
    } else if (weight.is_constant() && StemConv::suits(win_, in_c_, group_)) {
      path_ = Path::Stem;
      stem_ = std::make_unique<StemConv>(weight.constant, out_c_, in_c_, win_);
    } else if (group_ == 1 && in_c_ >= kWinogradMinChannels && weight.is_constant() && WinogradConv::supports(win_) &&
               !exact_sum) {
      path_ = Path::Winograd;
      winograd_ = std::make_unique<WinogradConv>(weight.constant, out_c_, in_c_, win_, x[0]);
    } else if (group_ == 1 && weight.is_constant() && gemm_isa() != GemmIsa::Blas && TapConv::suits(win_)) {
      path_ = Path::Taps;
      taps_ = std::make_unique<TapConv>(weight.constant, out_c_, in_c_, win_, gemm_isa());
    } else if (win_.kernel_size() == 1 && win_.stride_h == 1 && win_.stride_w == 1 && win_.pad_top == 0 &&
               win_.pad_left == 0 && win_.pad_bottom == 0 && win_.pad_right == 0) {
      path_ = Path::Pointwise;
    } else {
      path_ = Path::Im2col;
    }
    const int64_t k = in_c_ / group_ * win_.kernel_size(), oc = out_c_ / group_;
    // Im2col tiles sized for L2, but wide enough that the GEMM's per-call work on the weights stays cheap.
    // A small map is one tile whatever its depth: splitting it would stream the weights once per tile.
    const int64_t l2_tile = column_floats() / k / kTileAlign * kTileAlign;
    tile_ = path_ == Path::Im2col && win_.out_size() > kTransposedMaxPixels
                ? std::min(win_.out_size(), std::max<int64_t>(kMinTileColumns, l2_tile))
                : win_.out_size();
    tile_ = std::max<int64_t>(tile_, 1);
    // Whole-image batches of tiles, a multiple of the thread count so no worker idles at the end.
    const int64_t threads = ThreadPool::global().num_threads(), images = x[0] * group_;
    int64_t tiles = (win_.out_size() + tile_ - 1) / tile_;
    if (path_ == Path::Im2col && images * tiles >= threads && images * tiles < 8 * threads) {
      while (images * tiles % threads) ++tiles;
      tile_ = (win_.out_size() + tiles - 1) / tiles;
    }
    const GemmIsa isa = gemm_isa();
    if ((path_ == Path::Pointwise || path_ == Path::Im2col) && weight.is_constant() && isa != GemmIsa::Blas) {
      batched_ = group_ == 1 && x[0] > 1 && win_.out_size() <= kBatchedMaxPixels &&
                 (path_ == Path::Pointwise || k * x[0] * win_.out_size() <= kBatchedColumnFloats);
      // A map too narrow for the register tile's vectors (7 x 7 leaves 15 of 64 lanes idle) is the
      // GEMM's row side instead: Y^T = X^T W^T puts the output channels in the vectors. Only for
      // reductions at least as deep as the outputs are many: the transpose back costs per output,
      // and measured, 7x7 2048->512 and 960->160 gain 8-20% while 320->1280 and 160->960 lose up to 10%.
      const int64_t p = win_.out_size();
      transposed_ = !batched_ && tile_ == p && p <= kTransposedMaxPixels && oc % 16 == 0 && k >= oc &&
                    double(p) / double((p + 15) / 16 * 16) < kTransposedMaxLaneUse;
      const float* w = weight.constant.data<float>();
      // Im2col tiles are read in place or packed once per tile, then swept by every row panel of the
      // weights: K blocks whose B panel stays in L1 for all of them (measured on one thread, AlexNet's
      // 5x5 64->192 onto 27x27 of 8 images: 8-11% less time than blocks of 400).
      const int64_t kc_max = path_ == Path::Im2col && !batched_ && !transposed_ ? gemm_l1_k_block(isa) : 0;
      const std::string how = "conv_g" + std::to_string(group_) + (transposed_ ? "t" : "") + "/gemm" +
                              std::to_string(int(isa)) + "/kc" + std::to_string(kc_max);
      packed_ = packed_weights().get(weight.constant, how, [&] {
        auto packed = std::make_shared<std::vector<PackedMatrix>>();
        for (int64_t g = 0; g < group_; ++g)
          packed->push_back(transposed_ ? pack_right(w + g * oc * k, k, true, k, oc, isa)
                                        : pack_left(w + g * oc * k, k, false, oc, k, isa, kc_max));
        return std::shared_ptr<const std::vector<PackedMatrix>>(std::move(packed));
      });
    }
  }

  // The weights are read only by the depthwise and direct kernels and by the GEMM's matrix-vector
  // product (one output position), and by the grouped kernel when they are fed at run time; every other
  // path has its own packed or transformed copy.
  bool reads_constant(size_t input) const override {
    if (input != 1) return true;
    if (path_ == Path::Winograd || path_ == Path::Taps || path_ == Path::Stem) return false;
    if (path_ == Path::Grouped) return !grouped_->has_constant_weights();
    return path_ == Path::Depthwise || !packed_ || win_.out_size() == 1 || direct_pointwise();
  }

  // A stem convolution pools its output itself (cpu/stem_conv.h).
  bool absorb_consumer(const Graph& g, const Node& consumer) override {
    return path_ == Path::Stem && !residual_ && stem_->fuse_max_pool(g, consumer);
  }

  // Into a concatenation along channels: Winograd, the direct 1x1 kernel and the batched GEMM write so
  // themselves, the other paths image by image.
  bool write_image_stride(size_t output, int64_t stride) override {
    if (output != 0 || residual_) return false;
    out_image_stride_ = stride;
    return true;
  }

  void run(const std::vector<const Tensor*>& in, const std::vector<Tensor*>& out, ThreadPool& pool) override {
    const float* x = in[0]->data<float>();
    const float* w = in[1]->data<float>();
    const float* bias = in.size() > 2 && in[2] ? in[2]->data<float>() : nullptr;
    const float* res = residual_ ? in[3]->data<float>() : nullptr;
    float* y = out[0]->data<float>();
    if (out_image_stride_ && path_ != Path::Winograd && !direct_pointwise() && !vector_pointwise() && !batched_) {
      for (int64_t b = 0; b < in[0]->dim(0); ++b)
        compute(x + b * in_c_ * win_.in_size(), w, bias, nullptr, y + b * out_image_stride_, 1, pool);
      return;
    }
    // The GEMM and Winograd paths add the residual to each block as they finish it, the others in a pass after.
    if (!compute(x, w, bias, res, y, in[0]->dim(0), pool) && res)
      residual_activation(y, res, out[0]->numel(), after_, pool);
  }

 private:
  // The convolution with bias and act_; true when it also added `res` (if any) and applied after_.
  bool compute(const float* x, const float* w, const float* bias, const float* res, float* y, int64_t batch,
               ThreadPool& pool) {
    if (path_ == Path::Depthwise) {
      depthwise_conv2d(x, w, bias, y, batch, in_c_, out_c_ / in_c_, win_, act_, pool,
                       blocked_ ? blocked_->data() : nullptr);
      return false;
    }
    // With packed weights the GEMM beats the direct kernel except on the thinnest inputs and outputs.
    if (direct_pointwise()) {
      pointwise_conv_direct(x, w, bias, y, batch, in_c_, out_c_, win_.out_size(), act_, pool, out_image_stride_);
      return false;
    }
    // One output position per image (a squeeze-excitation's 1x1 layers on pooled channels): the GEMM
    // would fill one lane per vector, so each output is a dot product over its weight row in place.
    if (vector_pointwise()) {
      const int64_t ldy = out_image_stride_ ? out_image_stride_ : out_c_;
      for (int64_t b0 = 0; b0 < batch; b0 += kGemvMaxRows) {
        const int64_t rows = std::min(kGemvMaxRows, batch - b0);
        float* yb = y + b0 * ldy;
        gemv(pool, rows, out_c_, in_c_, 1.f, x + b0 * in_c_, in_c_, w, in_c_, true, yb, ldy,
             [&](int64_t r0, int64_t r1, int64_t c0, int64_t c1) {
               bias_activation_serial(yb + r0 * ldy + c0, r1 - r0, c1 - c0, ldy, nullptr, bias ? bias + c0 : nullptr,
                                      act_);
             });
      }
      return false;
    }
    if (path_ == Path::Grouped) {
      grouped_->run(x, w, bias, y, batch, act_, pool);
      return false;
    }
    if (path_ == Path::Winograd) {
      winograd_->run(x, bias, y, batch, res ? after_ : act_, pool, res, out_image_stride_);
      return true;
    }
    if (path_ == Path::Stem) {
      stem_->run(x, bias, y, batch, act_, pool);
      return false;
    }
    if (path_ == Path::Taps) {
      taps_->run(x, bias, y, batch, act_, pool);
      return false;
    }
    if (batched_ && batch > 1) {
      run_batched(x, w, bias, res, y, batch, pool);
      return true;
    }
    const int64_t ic = in_c_ / group_, oc = out_c_ / group_, k = ic * win_.kernel_size();
    const int64_t in_hw = win_.in_size(), out_hw = win_.out_size();
    const int64_t tiles = (out_hw + tile_ - 1) / tile_, tasks = batch * group_ * tiles;
    // One im2col tile (or, 1x1, one image) and its GEMM per task; tasks split over the pool when
    // there are enough of them, otherwise each GEMM is split instead.
    const bool task_parallel = tasks >= pool.num_threads();
    auto run_task = [&](int64_t t, bool inner_parallel) {
      const int64_t b = t / (group_ * tiles), g = t / tiles % group_, p0 = t % tiles * tile_;
      const int64_t cols = path_ == Path::Im2col ? std::min(tile_, out_hw - p0) : out_hw;
      const float* xg = x + (b * in_c_ + g * ic) * in_hw;
      const float* wg = w + g * oc * k;
      const float* bg = bias ? bias + g * oc : nullptr;
      float* yg = y + (b * out_c_ + g * oc) * out_hw + p0;
      const float* src = xg;
      if (path_ == Path::Im2col) {
        thread_local AlignedFloats col;  // per worker, kept between runs
        if (col.size() < static_cast<size_t>(k * cols)) col.resize(static_cast<size_t>(k * cols));
        im2col(xg, ic, win_, p0, p0 + cols, col.data(), inner_parallel ? pool : serial_pool());
        src = col.data();
      }
      if (!inner_parallel && path_ == Path::Im2col && !packed_ && direct_gemm_suits_im2col(k, oc)) {
        direct_gemm(src, cols, wg, bg, yg, out_hw, k, oc, cols, act_);
        if (res) residual_activation_serial(yg, res + (yg - y), oc, cols, out_hw, after_);
        return;
      }
      const int64_t ld_src = path_ == Path::Im2col ? cols : in_hw;
      if (transposed_) {
        thread_local AlignedFloats yt;  // Y^T of this task, cols x oc
        if (yt.size() < static_cast<size_t>(cols * oc)) yt.resize(static_cast<size_t>(cols * oc));
        float* t = yt.data();
        gemm(inner_parallel ? &pool : nullptr, cols, oc, k, 1.f, {src, ld_src, true, nullptr},
             {wg, k, true, &(*packed_)[g]}, 0.f, t, oc, [&](int64_t r0, int64_t r1, int64_t c0, int64_t c1) {
               float* yb = yg + c0 * out_hw + r0;
               transpose_bias_activation(t + r0 * oc + c0, oc, r1 - r0, c1 - c0, yb, out_hw, bg ? bg + c0 : nullptr,
                                         act_);
               if (res) residual_activation_serial(yb, res + (yb - y), c1 - c0, r1 - r0, out_hw, after_);
             });
        return;
      }
      // The bias, residual and activation as the GEMM stores each tile (see fused_epilogue).
      bool blocks = false;
      const GemmRowEpilogue fused = fused_epilogue(bg, res ? res + (yg - y) : nullptr, blocks);
      gemm(inner_parallel ? &pool : nullptr, oc, cols, k, 1.f, {wg, k, false, packed_ ? &(*packed_)[g] : nullptr},
           {src, ld_src, false, nullptr}, 0.f, yg, out_hw,
           !blocks ? BlockEpilogue() : BlockEpilogue([&](int64_t r0, int64_t r1, int64_t c0, int64_t c1) {
             finish_block(yg + r0 * out_hw + c0, r1 - r0, c1 - c0, out_hw, y, res);
           }),
           fused);
    };
    if (task_parallel) {
      pool.parallel_for(tasks, 1, [&](int64_t t0, int64_t t1) {
        for (int64_t t = t0; t < t1; ++t) run_task(t, false);
      });
    } else {
      for (int64_t t = 0; t < tasks; ++t) run_task(t, true);
    }
    return true;
  }

  // The GEMM's fused epilogue for the output block where res (laid out as y, or nullptr) is added: the
  // bias, and with packed weights the residual and activation too, on each tile as it is stored, while
  // it is in L1 (measured on one thread: a fused SiLU made 3x3 stride-2 layers 3-8% faster and 1x1 ones
  // 4-22%; the residual + Relu of ResNet-50's 1x1 expansions of one image 4-20%, of 8 images on the
  // batched GEMM no different). `blocks`: finish_block still has to run on each finished block.
  GemmRowEpilogue fused_epilogue(const float* bias, const float* res, bool& blocks) const {
    GemmRowEpilogue fused;
    fused.row_bias = bias;
    if (packed_) {
      fused.residual = res;
      const Activation& act = res ? after_ : act_;
      if (!activation_as_clamp(act, fused.lo, fused.hi)) fused.act = act;
      blocks = false;
    } else {
      blocks = res || !activation_as_clamp(act_, fused.lo, fused.hi);
    }
    return fused;
  }

  // A finished block of y (rows x cols, leading dimension ld) after the GEMM and its row bias: the
  // residual at the same place of res (laid out as y), then the activation.
  void finish_block(float* block, int64_t rows, int64_t cols, int64_t ld, const float* y, const float* res) const {
    if (res) residual_activation_serial(block, res + (block - y), rows, cols, ld, after_);
    else bias_activation_serial(block, rows, cols, ld, nullptr, nullptr, act_);
  }

  // Pointwise or Im2col (group 1) as GEMMs whose columns are the output positions of all images.
  void run_batched(const float* x, const float* w, const float* bias, const float* res, float* y, int64_t batch,
                   ThreadPool& pool) {
    const int64_t k = in_c_ * win_.kernel_size(), in_hw = win_.in_size(), out_hw = win_.out_size(), n = batch * out_hw;
    const int64_t ys = out_image_stride_ ? out_image_stride_ : out_c_ * out_hw;
    bool blocks = false;  // packed weights: everything is fused
    const GemmRowEpilogue fused = fused_epilogue(bias, res, blocks);
    const GemmOperand a{w, k, false, &(*packed_)[0]};
    const BlockEpilogue epilogue;
    if (path_ == Path::Pointwise) {
      gemm(&pool, out_c_, n, k, 1.f, a, {x, in_hw, false, nullptr}, 0.f, y, out_hw, epilogue, fused,
           {out_hw, 0, in_c_ * in_hw, ys});
      return;
    }
    thread_local AlignedFloats col;
    if (col.size() < static_cast<size_t>(k * n)) col.resize(static_cast<size_t>(k * n));
    im2col(x, in_c_, win_, 0, n, col.data(), pool, in_c_ * in_hw);
    gemm(&pool, out_c_, n, k, 1.f, a, {col.data(), n, false, nullptr}, 0.f, y, out_hw, epilogue, fused,
         {out_hw, 0, 0, ys});
  }

  enum class Path { Depthwise, Grouped, Winograd, Taps, Pointwise, Im2col, Stem };
  bool vector_pointwise() const {
    return path_ == Path::Pointwise && group_ == 1 && win_.out_size() == 1 && gemv_available();
  }
  bool direct_pointwise() const {
    return path_ == Path::Pointwise && group_ == 1 &&
           direct_gemm_suits_pointwise(in_c_, out_c_, win_.out_size(), images_) &&
           (!packed_ || in_c_ <= kDirectMaxPackedInputs || out_c_ <= kDirectMaxPackedOutputs);
  }
  std::unique_ptr<WinogradConv> winograd_;
  std::unique_ptr<StemConv> stem_;
  std::unique_ptr<TapConv> taps_;
  std::unique_ptr<GroupedConv> grouped_;
  std::shared_ptr<const std::vector<PackedMatrix>> packed_;  // constant weights, one matrix per group
  std::shared_ptr<const std::vector<float>> blocked_;        // constant depthwise weights, channel-blocked
  Activation act_;
  Activation after_;       // with a residual: applied after the sum (act_ is then none)
  bool residual_ = false;  // input 3 is added to the output
  Window2d win_{};
  int64_t group_ = 1, in_c_ = 0, out_c_ = 0, images_ = 1;
  Path path_ = Path::Im2col;
  int64_t tile_ = 1;  // output positions per im2col tile; the whole map on the other paths
  bool transposed_ = false;  // the GEMM computes Y^T (packed_ holds W^T as its right operand)
  bool batched_ = false;     // several images on small maps: run_batched
  int64_t out_image_stride_ = 0;  // floats from one output image to the next; 0: out_c_ x out_hw
};

}  // namespace

std::unique_ptr<Kernel> make_conv_kernel(const Graph& g, const Node& n) {
  if (is_depthwise_block(n)) return make_depthwise_block_kernel(g, n);
  if (is_grouped_block(n)) return make_grouped_block_kernel(g, n);
  return std::make_unique<ConvKernel>(g, n);
}

}  // namespace metalnn::cpu
