// 3x3 stride-1 convolution by Winograd F(m x m, 3x3): each m x m block of outputs comes from an
// (m + 2)^2 input tile, as (m + 2)^2 GEMMs between transformed weights and transformed input tiles.
// F(4x4, 3x3) needs 36 multiplies per 16 outputs and input channel (direct: 144, F(2x2, 3x3): 64), so
// it is used wherever rows are wide enough to fill its vectors of tiles; narrower maps use F(2x2, 3x3),
// and maps of 6x6 to 16x16 an image's tiles per vector (run_small).
// Transforms are AVX2 (8 tiles per vector); the GEMMs are cpu/packed_gemm.h with U packed once.
#pragma once
#include <cstdint>
#include <memory>
#include <vector>

#include "core/activation.h"
#include "core/tensor.h"
#include "core/ops/window2d.h"
#include "cpu/packed_gemm.h"
#include "cpu/thread_pool.h"

namespace metalnn::cpu {

class WinogradConv {
 public:
  // Whether the kernel handles this window (3x3, stride 1, dilation 1, outputs at least 8x8, or with
  // AVX-512 at least 6x6) on this CPU.
  static bool supports(const Window2d& w);

  // Output block size m (2 or 4) for this window, batch and out_channels * in_channels.
  static int tile_size(const Window2d& w, int64_t batch, int64_t weights);

  // weights: [out_channels, in_channels, 3, 3], transformed once per tensor and tile size and shared
  // by every WinogradConv built from the same tensor (one per input shape a model is specialised for);
  // batch: the images a run is built for.
  WinogradConv(const Tensor& weights, int64_t out_channels, int64_t in_channels, const Window2d& window,
               int64_t batch = 1);

  // y = act(conv(x) + bias + res) for a batch of NCHW images; bias and res (laid out as a contiguous
  // output) may be nullptr. Output images lie y_image floats apart (0: contiguous).
  void run(const float* x, const float* bias, float* y, int64_t batch, const Activation& act, ThreadPool& pool,
           const float* res = nullptr, int64_t y_image = 0) const;

 private:
  // Whole tile rows [tile_row0, tile_row0 + tile_rows) of one image; tiles = tile_rows * row_tiles_.
  struct Chunk {
    int64_t tile_row0, tile_rows, tiles;
  };
  Chunk make_chunk(int64_t tile_row0) const;
  // The three phases, each over a range of its own dimension: V[xi][c][tile] = B^T d B for input
  // channels [c0, c1); M[xi] = U[xi] V[xi] for xi in [xi0, xi1); outputs of channels [o0, o1).
  // xi runs over the points_ = (m + 2)^2 positions of a transformed tile.
  // U = G g G^T for every (out, in) pair, as points_ matrices [out_c, in_c].
  std::shared_ptr<const std::vector<float>> transform_weights(const Tensor& weights) const;
  void transform_input(const float* x, const Chunk& chunk, int64_t c0, int64_t c1, float* v) const;
  void multiply(const float* v, float* m, int64_t tiles, int64_t xi0, int64_t xi1) const;
  // The grid form's products for output channels [block * block_rows_, ...) of every point, from the
  // tiles columns of v (leading dimension ldv) to m ([points][rows][tiles]).
  void multiply_block(const float* v, int64_t ldv, float* m, int64_t tiles, int64_t block) const;
  void transform_output(const float* m, const float* bias, float* y, const float* res, const Chunk& chunk, int64_t o0,
                        int64_t o1, const Activation& act) const;
  // Maps of 6x6 to 8x8 outputs (ResNets' last stage; F(2x2, 3x3)) and of 10x10 to 16x16 (ResNets' third
  // stage, AlexNet's 13x13; F(4x4, 3x3)): an image's 4x4 grid of tiles in one vector, and the GEMMs'
  // columns running over the batch, so each transformed weight matrix is read once for all images (the
  // row layout would leave up to half of each vector empty and read the weights per image). Below 6x6
  // the grid's idle tiles cost more than Winograd saves; F(4x4, 3x3)'s weights, 4 times the size of
  // the originals, only pay from kGridF4MinBatch images on (in a whole network they come from memory:
  // one 14x14 image took 10% longer than the F(2x2, 3x3) rows).
  void run_small(const float* x, const float* bias, float* y, int64_t batch, const Activation& act,
                 ThreadPool& pool, const float* res, int64_t y_image) const;
  // weights: out_channels * in_channels. F(4x4, 3x3)'s grid form is kept to layers of at most 128 x 128
  // channels: its weights would raise a deep network's peak memory (ResNet-50 at 8 images: 341 MB with
  // it on the 256-channel layers, ONNX Runtime 339 MB).
  static bool small_map(const Window2d& w, int64_t batch, int64_t weights);
  static constexpr int64_t kGridF4MinBatch = 4, kGridF4MaxWeights = 128 * 128;
  // The grid form's GEMMs and output transform run per block of kGridBlockRows output channels (two
  // AVX-512 row panels), so each block's products are still in L2 when transformed back, where the whole
  // product would be more than kGridBlockMinFloats and the transformed input, which every block reads
  // again, at most half of it and small enough to stay in L2 (measured on one thread: SqueezeNet's
  // 13x13 expand3x3 at 8 images 24-35% faster; 256->512 on 7x7, its input 2 MB, 11% slower).
  bool grid_blocks(int64_t batch) const;
  static constexpr int64_t kGridBlockRows = 28, kGridBlockMinFloats = int64_t{1} << 18,
                           kGridBlockMaxInputFloats = int64_t{3} << 17;

  // Floats from one point's matrix of V or M (rows x cols) to the next: a cache line more than the
  // matrix, so that a tile's values, one per point, do not all fall in one L1 set when matrices are a
  // multiple of 4 KB (measured on one thread: 16->64 on 55x55 and 64->64 on 56x56 15-19% faster, 64->64
  // on 224x224 18%, deep layers the same).
  static int64_t point_stride(int64_t rows, int64_t cols) { return rows * cols + 16; }
  int64_t out_c_, in_c_;
  Window2d win_;
  bool grid_;           // run_small
  int64_t m_, points_;  // output block size, and (m + 2)^2
  int64_t block_rows_;  // output channels per packed block of the transformed weights (all but the grid form: all)
  int64_t tiles_h_, tiles_w_, row_tiles_;  // row_tiles_: tiles_w_ rounded up to whole vectors
  int64_t chunk_rows_;                     // tile rows per task, at most
  // points_ transformed weight matrices [out_c, in_c]: packed for the GEMM kernel, or (BLAS) plain in u_.
  std::shared_ptr<const std::vector<PackedMatrix>> packed_u_;
  std::shared_ptr<const std::vector<float>> u_;
};

}  // namespace metalnn::cpu
