// Kernel argument structs, included by the .metal kernels and by the host (cpp/gpu/), so both sides
// agree on every layout. Only 4-byte fields and fixed arrays: identical in MSL and C++.
#pragma once
#ifndef __METAL_VERSION__
#include <cstdint>
namespace metalnn::gpu {
#endif

#define MNN_MAX_RANK 8

// Matches metalnn::Activation::Kind (static_assert in cpp/gpu/lowering.cpp).
enum MnnActivation : int32_t {
  kActNone = 0, kActRelu, kActLeakyRelu, kActClip, kActSigmoid, kActHardSigmoid, kActHardSwish, kActTanh, kActSwish,
  kActGelu, kActGeluTanh
};

struct Epilogue {
  int32_t activation;  // MnnActivation
  float alpha;
  float beta;
  uint32_t has_bias;
};

struct UnaryParams {
  uint32_t count;
  float alpha;
  float beta;
};

// Up to three inputs broadcast to `shape`; strides are in elements, 0 along broadcast dims.
struct BroadcastParams {
  uint32_t rank;
  uint32_t count;
  uint32_t shape[MNN_MAX_RANK];
  uint32_t strides[3][MNN_MAX_RANK];
};

// Element i of the `shape`-shaped index space reads in[in_offset + sum idx*in_strides] and writes
// out[out_offset + sum idx*out_strides]: transpose, slice, expand, concat, split and plain copies.
struct CopyParams {
  uint32_t rank;
  uint32_t count;
  int32_t in_offset;
  uint32_t out_offset;
  uint32_t shape[MNN_MAX_RANK];
  int32_t in_strides[MNN_MAX_RANK];
  uint32_t out_strides[MNN_MAX_RANK];
};

struct CastParams {
  uint32_t count;
};

struct GatherParams {
  uint32_t count;
  uint32_t axis_len;
  uint32_t index_count;
  uint32_t inner;
};

// GatherElements: output element i (of `shape`, the indices' shape) reads data at its coordinates
// under data_strides, the one along `axis` replaced by indices[i].
struct GatherElementsParams {
  uint32_t count;
  uint32_t rank;
  uint32_t axis;
  uint32_t axis_len;
  uint32_t shape[MNN_MAX_RANK];
  uint32_t data_strides[MNN_MAX_RANK];
};

// Resize tap of one output coordinate along one dim: rows i0/i1 weighted 1 - w1/w1, or outside the
// tf_crop_and_resize box (the extrapolation value).
struct ResizeTap {
  int32_t i0;
  int32_t i1;
  float w1;
  uint32_t outside;
};

// Output element i: per dim d, tap (or span) taps[tap_offset[d] + coordinate]; `linear_dims` bit d:
// blend i0/i1.
struct ResizeParams {
  uint32_t count;
  uint32_t rank;
  uint32_t linear_dims;
  float extrapolation;
  uint32_t out_shape[MNN_MAX_RANK];
  uint32_t in_strides[MNN_MAX_RANK];
  uint32_t tap_offset[MNN_MAX_RANK];
};

// Filtered resize (cubic, antialiased linear): output coordinate o along dim d sums `count` weights from
// `first` in the (index, weight) list, or is the extrapolation value when `outside`.
struct ResizeSpan {
  uint32_t first;
  uint32_t count;
  uint32_t outside;
  uint32_t pad;
};

struct ResizeWeight {
  int32_t index;
  float weight;
};

// RoiAlign: output element i of [num_rois, channels, out_h, out_w]; batch_indices are clamped to
// [0, batch) (the CPU reports them instead).
struct RoiAlignParams {
  uint32_t count;
  uint32_t batch;
  uint32_t channels;
  uint32_t height;
  uint32_t width;
  uint32_t out_h;
  uint32_t out_w;
  int32_t sampling_ratio;  // 0: ceil(bin size) samples per bin side
  uint32_t max_mode;
  uint32_t half_pixel;
  float spatial_scale;
};

enum MnnPadMode : uint32_t { kPadConstant = 0, kPadReflect, kPadEdge };

struct PadParams {
  uint32_t rank;
  uint32_t count;
  uint32_t mode;  // MnnPadMode; the constant comes in its own buffer, in the data's dtype
  uint32_t out_shape[MNN_MAX_RANK];
  uint32_t in_shape[MNN_MAX_RANK];
  uint32_t in_strides[MNN_MAX_RANK];
  int32_t pad_begin[MNN_MAX_RANK];
};

// Output element o (kept dims) reduces the red_count elements at kept offset + reduced offsets.
struct ReduceParams {
  uint32_t out_count;
  uint32_t kept_rank;
  uint32_t red_rank;
  uint32_t red_count;
  float scale;  // 1/N for means, 1 otherwise
  uint32_t kept_shape[MNN_MAX_RANK];
  uint32_t kept_strides[MNN_MAX_RANK];
  uint32_t red_shape[MNN_MAX_RANK];
  uint32_t red_strides[MNN_MAX_RANK];
};

// Rows of n elements spaced `inner` apart: row r starts at (r / inner) * n * inner + r % inner.
struct SoftmaxParams {
  uint32_t rows;
  uint32_t n;
  uint32_t inner;
};

// 1-D and 2-D windows (1-D as height 1) over planes of batch * channels.
struct PoolParams {
  uint32_t count;
  uint32_t in_h, in_w, out_h, out_w;
  uint32_t kernel_h, kernel_w, stride_h, stride_w, dilation_h, dilation_w;
  int32_t pad_top, pad_left, pad_bottom, pad_right;
  uint32_t count_include_pad;
};

// A Conv's fused residual connection: y = act(y + r) over count elements.
struct ResidualParams {
  uint32_t count;
  Epilogue epilogue;  // has_bias unused
};

struct ConvParams {
  uint32_t batch;
  uint32_t in_c, in_h, in_w;
  uint32_t out_c, out_h, out_w;
  uint32_t kernel_h, kernel_w, stride_h, stride_w, dilation_h, dilation_w;
  int32_t pad_top, pad_left;
  uint32_t in_c_per_group, out_c_per_group;
  Epilogue epilogue;
};

// out[b][m][n] = act(alpha * sum_k A[b](m,k) B[b](k,n) + beta * bias(m,n)); A(m,k) at
// a + a_batch + m*a_m + k*a_k (likewise B); batch dims up to 4 with per-operand strides (0: broadcast).
struct MatmulParams {
  uint32_t m, n, k;
  uint32_t batch_count;
  uint32_t batch_rank;
  uint32_t batch_shape[4];
  uint32_t a_batch_strides[4];
  uint32_t b_batch_strides[4];
  uint32_t a_m, a_k, b_k, b_n;
  uint32_t bias_m, bias_n;  // bias(m,n) at bias + m*bias_m + n*bias_n
  float alpha, beta;
  Epilogue epilogue;
};

// y = x * scale[c] + shift[c] for x of shape [outer, channels, inner].
struct AffineParams {
  uint32_t count;
  uint32_t channels;
  uint32_t inner;
};

// BatchNormalization with its parameters fed at run time: the affine map is built per element.
struct BatchNormParams {
  uint32_t count;
  uint32_t channels;
  uint32_t inner;
  float epsilon;
};

struct LrnParams {
  uint32_t count;
  uint32_t channels;
  uint32_t inner;
  uint32_t size;
  float alpha, beta, bias;
};

// LayerNormalization: `rows` rows of `width` contiguous elements; scale/bias element i at
// strided_offset(i, rank, shape, *_strides) (0 along broadcast dims).
struct LayerNormParams {
  uint32_t rows;
  uint32_t width;
  uint32_t rank;
  float epsilon;
  uint32_t has_bias;
  uint32_t shape[MNN_MAX_RANK];
  uint32_t scale_strides[MNN_MAX_RANK];
  uint32_t bias_strides[MNN_MAX_RANK];
};

// ArgMax/ArgMin over rows of n elements spaced `inner` apart (as SoftmaxParams).
struct ArgReduceParams {
  uint32_t rows;
  uint32_t n;
  uint32_t inner;
  uint32_t select_last;
};

// Einsum of up to 3 operands: output element o (of out_shape) sums, over the sum_count points of
// sum_shape, the product of operand i at the two coordinates' dot products with its strides.
struct EinsumParams {
  uint32_t count;
  uint32_t inputs;
  uint32_t out_rank;
  uint32_t sum_rank;
  uint32_t sum_count;
  uint32_t out_shape[MNN_MAX_RANK];
  uint32_t sum_shape[MNN_MAX_RANK];
  uint32_t out_strides[3][MNN_MAX_RANK];
  uint32_t sum_strides[3][MNN_MAX_RANK];
};

// TopK over rows of n elements spaced `inner` apart; outputs are rows of k, likewise spaced.
struct TopKParams {
  uint32_t rows;
  uint32_t n;
  uint32_t inner;
  uint32_t k;
  uint32_t largest;
};

// NonZero over `count` elements of a row-major `shape` of `rank` dims (a scalar as [1]).
struct NonZeroParams {
  uint32_t count;
  uint32_t rank;
  uint32_t shape[MNN_MAX_RANK];
};

// NonMaxSuppression: boxes [batches, boxes, 4], scores [batches, classes, boxes]; `rows` output rows of
// which each (batch, class) keeps at most `max_out`.
struct NmsParams {
  uint32_t batches;
  uint32_t classes;
  uint32_t boxes;
  uint32_t max_out;
  uint32_t rows;
  uint32_t center_point_box;
  uint32_t has_iou_threshold;
  uint32_t has_score_threshold;
};

// GatherND / ScatterND: `tuples` index tuples per batch entry, each of k coordinates into data dims of
// extent dims[j] and element stride strides[j], addressing a run of `slice` elements.
struct IndexTupleParams {
  uint32_t count;  // threads: output elements (GatherND), updates or slice elements (ScatterND)
  uint32_t tuples;
  uint32_t k;
  uint32_t slice;
  uint32_t batch_stride;
  uint32_t dims[MNN_MAX_RANK];
  uint32_t strides[MNN_MAX_RANK];
};

// ScatterElements: one thread per line of the updates along `axis` (`count` lines); update shape,
// its row-major strides, and the data's strides.
struct ScatterElementsParams {
  uint32_t count;
  uint32_t rank;
  uint32_t axis;
  uint32_t data_axis_len;
  uint32_t shape[MNN_MAX_RANK];
  uint32_t strides[MNN_MAX_RANK];
  uint32_t data_strides[MNN_MAX_RANK];
};

enum MnnScatterReduction : uint32_t { kScatterNone = 0, kScatterAdd, kScatterMul, kScatterMax, kScatterMin };

// InstanceNormalization / GroupNormalization (core/ops/group_norm.h): `rows` rows of `width`
// contiguous elements; element i of row r scales by entry ((r % groups) * width + i) / span.
struct GroupNormParams {
  uint32_t rows;
  uint32_t width;
  uint32_t groups;
  uint32_t span;
  float epsilon;
};

// CumSum over `columns` columns of n elements spaced `inner` apart (as SoftmaxParams' rows).
struct CumSumParams {
  uint32_t columns;
  uint32_t n;
  uint32_t inner;
  uint32_t exclusive;
  uint32_t reverse;
};

// Trilu over matrices of rows x cols (the last two dims); k is clamped to [-rows - 1, cols + 1].
struct TriluParams {
  uint32_t count;
  uint32_t rows;
  uint32_t cols;
  int32_t k;
  uint32_t upper;
};

// QuantizeLinear / DequantizeLinear: x as [outer, axis_len, inner]; element (o, c, i) reads scale and
// zero point o * scale_outer + (c / block) * scale_axis + i * scale_inner; quantized range [qmin, qmax].
struct QuantizeParams {
  uint32_t count;
  uint32_t axis_len;
  uint32_t inner;
  uint32_t block;
  uint32_t scale_outer;
  uint32_t scale_axis;
  uint32_t scale_inner;
  int32_t qmin;
  int32_t qmax;
};

// MatMulInteger: y[m][n] (count = M * N) over K; B's zero point at n * zb_stride (0 for per-tensor).
struct MatMulIntegerParams {
  uint32_t count;
  uint32_t n;
  uint32_t k;
  uint32_t zb_stride;
};

// MatMulNBits: out[m][n] (m < M rows of A, n < N) over K; B's 4-bit codes of column n start at byte
// n * k_blocks * block_size / 2. zp_mode 0: zero point 8; 1: packed uint8 codes, rows zp_row_bytes
// apart; 2: float zero points [N, k_blocks].
struct MatMulNBitsParams {
  uint32_t m, n, k;
  uint32_t block_size;
  uint32_t k_blocks;
  uint32_t zp_mode;
  uint32_t zp_row_bytes;
  uint32_t has_bias;
};

// GatherBlockQuantized (see core/ops/gather_block_quantized.h): output element (o, j, e) (count in
// all) dequantises code d = (o * axis_len + indices[j]) * gather_block + e of scale
// s = x * scale_outer_stride + y / block_size * quantize_inner + d % quantize_inner, where d is
// (x, y, _) of data viewed as [.., quantize_len, quantize_inner]; zero point: code s % zp_row of row
// s / zp_row (rows zp_row_bytes apart).
struct GatherBlockQuantizedParams {
  uint32_t count;
  uint32_t index_count;
  uint32_t axis_len;
  uint32_t gather_block;
  uint32_t quantize_len;
  uint32_t quantize_inner;
  uint32_t scale_outer_stride;
  uint32_t block_size;
  uint32_t bits;
  uint32_t is_signed;
  uint32_t has_zero_points;
  int32_t default_zero_point;
  uint32_t zp_row;
  uint32_t zp_row_bytes;
};

// The requantisation of the fused quantized ops (core/ops/qfused.h): v = sum * multiplier[c] +
// bias[c] clamped to [lo, hi], rounded half to even, plus y_zero.
struct Requantize {
  int32_t x_zero;
  int32_t y_zero;
  float lo;
  float hi;
};

// QuantizedConv: NCHW, count = N * out_c * out_h * out_w; weights [out_c, group_in_c, kernel_h, kernel_w].
struct QuantizedConvParams {
  uint32_t count;
  uint32_t in_c, in_h, in_w;
  uint32_t out_c, out_h, out_w;
  uint32_t kernel_h, kernel_w, stride_h, stride_w, dilation_h, dilation_w, pad_top, pad_left;
  uint32_t group_in_c, group_out_c;
  Requantize q;
};

// QuantizedMatMul: y[m][n] (count = M * N) over K, weights [K, N].
struct QuantizedMatMulParams {
  uint32_t count;
  uint32_t n;
  uint32_t k;
  Requantize q;
};

// QuantizedAdd: y = requantised (a - a_zero) * a_multiplier + (b - b_zero) * b_multiplier.
struct QuantizedAddParams {
  uint32_t count;
  int32_t a_zero;
  int32_t b_zero;
  float a_multiplier;
  float b_multiplier;
  Requantize q;
};

// FusedAttention: rows = B * Hq * Sq query rows of head_dim; query head h reads key/value head
// h / group; the kernel accumulates MNN_ATTENTION_MAX_DIM value dims at a time. Element strides: q and
// y rows at (b, h, i), v rows at (b, kv head, j), keys at (b, kv head, d, j), the mask element of
// (b, h, i, j) at b * mask_strides[0] + ... + j * mask_strides[3].
#define MNN_ATTENTION_MAX_DIM 128
struct AttentionParams {
  uint32_t rows;
  uint32_t heads;
  uint32_t group;
  uint32_t q_len;
  uint32_t kv_len;
  uint32_t head_dim;
  uint32_t v_dim;
  uint32_t has_mask;
  uint32_t nan_to_zero;
  float scale;
  uint32_t q_strides[3];
  uint32_t k_strides[4];
  uint32_t v_strides[3];
  uint32_t y_strides[3];
  uint32_t mask_strides[4];
};

#ifndef __METAL_VERSION__
}  // namespace metalnn::gpu
#endif
