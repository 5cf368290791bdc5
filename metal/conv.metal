// Convolution (NCHW, OIHW weights) with fused bias + activation. conv_tiled (implicit GEMM): a
// threadgroup of 64 threads computes TileOc output channels x 1024 / TileOc output pixels (32 x 32,
// or 8 x 128 for groups of few channels) of one image and group, walking K = in_c_per_group *
// kernel_h * kernel_w 16 at a time: each step stages the filter tile and the gathered input patches
// (zeros for padding) in threadgroup memory as 4-vectors (4 KiB or 8.5 KiB in float, half that in
// half, plus 512 B of row offsets), then each thread accumulates 4 channels x 4 pixels in float4.
// conv_depthwise (one input channel per group): one thread per 4 adjacent output pixels along W of
// one channel, filter in registers; no threadgroup memory. 1x1 stride-1 unpadded convolutions run as
// GEMM (gemm.metal). conv_transpose (IOHW weights): one thread per output element, gathering the
// input taps that land on it; no threadgroup memory. conv_residual: a fused residual sum, then the
// activation, one thread per element.
#include "common.h"

constant constexpr uint kConvThreads = 64;
constant constexpr uint kConvTileK = 16;
constant constexpr int kConvOutside = -(1 << 28);  // a row offset no bounds check accepts

template <typename T>
inline float conv_bias(device const T* bias, uint oc, constant ConvParams& p) {
  return p.epilogue.has_bias ? float(bias[oc]) : 0.0f;
}

// acc includes the bias.
template <typename T>
inline void conv_store(device T* y, float acc, uint n, uint oc, uint pixel, constant ConvParams& p) {
  y[(n * p.out_c + oc) * p.out_h * p.out_w + pixel] = T(activate(acc, p.epilogue));
}

// Row k of the implicit GEMM's K dimension = (input channel, tap): (element offset from a pixel's
// window origin, dy, dx); past the end, a dy that is never inside.
inline int4 conv_row(uint k, uint depth, uint taps, uint kernel_w, constant ConvParams& p) {
  if (k >= depth) return int4(0, kConvOutside, 0, 0);
  const uint ic = k / taps, tap = k % taps;
  const int dy = int((tap / kernel_w) * p.dilation_h), dx = int((tap % kernel_w) * p.dilation_w);
  return int4(int(ic * p.in_h * p.in_w) + dy * int(p.in_w) + dx, dy, dx, 0);
}

// Grid: (pixel tiles, output-channel tiles of a group, batch * groups), 64 threads. Kernel = 0: the
// window size comes from the params (1 and 3 are compiled in, so K decomposes without divisions).
// Staging: the first 16 threads decode the next step's K rows into a double-buffered table; filter
// loads run along K across threads, input loads along the pixels (coalesced for stride 1), each
// thread keeping the window origins of its 1 or 2 pixels. Compute: thread t owns channels
// 4 * (t / px_vecs)..+3 and pixels 4 * (t % px_vecs)..+3: two threadgroup vector loads per 16
// multiply-adds.
template <uint Kernel, uint TileOc, typename T>
kernel void conv_tiled(device const T* x [[buffer(0)]],
                       device const T* w [[buffer(1)]],
                       device const T* bias [[buffer(2)]],
                       device T* y [[buffer(3)]],
                       constant ConvParams& p [[buffer(4)]],
                       uint3 group [[threadgroup_position_in_grid]],
                       uint tid [[thread_index_in_threadgroup]]) {
  typedef vec<T, 4> T4;
  constexpr uint tile_px = 16 * kConvThreads / TileOc;  // 16 outputs per thread
  constexpr uint oc_vecs = TileOc / 4, px_vecs = tile_px / 4;
  constexpr uint lanes_per_row = tile_px < kConvThreads ? tile_px : kConvThreads;
  constexpr uint px_per_thread = tile_px / lanes_per_row;
  threadgroup T4 tile_w[kConvTileK][oc_vecs];
  threadgroup T4 tile_x[kConvTileK][px_vecs];
  // Threads stage single pixels: through a scalar view, since storing one component of a shared
  // vector is a read-modify-write of the whole vector, which loses a neighbour's store.
  threadgroup T* tile_x_scalar = reinterpret_cast<threadgroup T*>(&tile_x[0][0]);
  threadgroup int4 rows[2][kConvTileK];
  const uint kernel_w = Kernel ? Kernel : p.kernel_w;
  const uint taps = Kernel ? Kernel * Kernel : p.kernel_h * p.kernel_w;
  const uint depth = p.in_c_per_group * taps;
  const uint pixels = p.out_h * p.out_w;
  const uint groups = p.out_c / p.out_c_per_group;
  const uint g = group.z % groups, n = group.z / groups;
  const uint px0 = group.x * tile_px, oc0 = group.y * TileOc;
  device const T* in = x + (n * p.in_c + g * p.in_c_per_group) * p.in_h * p.in_w;
  device const T* filter = w + g * p.out_c_per_group * depth;

  // Window origins (and their element offsets) of this thread's staged pixels.
  const uint lane = tid % lanes_per_row;
  int iy0[px_per_thread], ix0[px_per_thread], origin[px_per_thread];
  for (uint q = 0; q < px_per_thread; ++q) {
    const uint px = px0 + lane + q * lanes_per_row;
    const bool inside = px < pixels;
    iy0[q] = inside ? int((px / p.out_w) * p.stride_h) - p.pad_top : kConvOutside;
    ix0[q] = int((px % p.out_w) * p.stride_w) - p.pad_left;
    origin[q] = inside ? iy0[q] * int(p.in_w) + ix0[q] : 0;
  }

  if (tid < kConvTileK) rows[0][tid] = conv_row(tid, depth, taps, kernel_w, p);
  threadgroup_barrier(mem_flags::mem_threadgroup);
  const uint tx = tid % px_vecs, ty = tid / px_vecs;
  float4 acc[4] = {float4(0.0f), float4(0.0f), float4(0.0f), float4(0.0f)};
  uint cur = 0;
  for (uint k0 = 0; k0 < depth; k0 += kConvTileK, cur ^= 1) {
    // The next step's rows go to the other buffer, read only after this step's second barrier.
    if (tid < kConvTileK) rows[cur ^ 1][tid] = conv_row(k0 + kConvTileK + tid, depth, taps, kernel_w, p);
    for (uint i = tid; i < kConvTileK * oc_vecs; i += kConvThreads) {
      const uint row = i % kConvTileK, ocv = i / kConvTileK;
      const uint k = k0 + row;
      T4 v = T4(T(0));
      for (uint c = 0; c < 4; ++c) {
        const uint oc = oc0 + ocv * 4 + c;
        if (oc < p.out_c_per_group && k < depth) v[c] = filter[oc * depth + k];
      }
      tile_w[row][ocv] = v;
    }
    for (uint row = tid / lanes_per_row; row < kConvTileK; row += kConvThreads / lanes_per_row) {
      const int4 r = rows[cur][row];
      for (uint q = 0; q < px_per_thread; ++q) {
        const int iy = iy0[q] + r.y, ix = ix0[q] + r.z;
        const uint px = lane + q * lanes_per_row;
        tile_x_scalar[row * tile_px + px] = uint(iy) < p.in_h && uint(ix) < p.in_w ? in[origin[q] + r.x] : T(0);
      }
    }
    threadgroup_barrier(mem_flags::mem_threadgroup);
    for (uint kk = 0; kk < kConvTileK; ++kk) {
      const float4 a = float4(tile_w[kk][ty]);
      const float4 b = float4(tile_x[kk][tx]);
      for (uint i = 0; i < 4; ++i) acc[i] = fma(float4(a[i]), b, acc[i]);
    }
    threadgroup_barrier(mem_flags::mem_threadgroup);
  }
  for (uint i = 0; i < 4; ++i) {
    if (oc0 + ty * 4 + i >= p.out_c_per_group) break;
    const uint oc = g * p.out_c_per_group + oc0 + ty * 4 + i;
    const float4 out = acc[i] + conv_bias(bias, oc, p);
    for (uint j = 0; j < 4; ++j) {
      const uint px = px0 + tx * 4 + j;
      if (px < pixels) conv_store(y, out[j], n, oc, px, p);
    }
  }
}

// Depthwise position of thread gid: 4 output pixels (oy, ox0..ox0+3) of channel c in image n, which
// reads input channel c / out_c_per_group. False past the end of the grid.
struct DepthwiseQuad {
  uint n, c, oy, ox0;
};

inline bool depthwise_quad(uint gid, constant ConvParams& p, thread DepthwiseQuad& q) {
  const uint quads = (p.out_w + 3) / 4;
  if (gid >= p.batch * p.out_c * p.out_h * quads) return false;
  q.ox0 = (gid % quads) * 4;
  q.oy = (gid / quads) % p.out_h;
  q.c = (gid / (quads * p.out_h)) % p.out_c;
  q.n = gid / (quads * p.out_h * p.out_c);
  return true;
}

template <typename T>
inline void depthwise_store(device T* y, device const T* bias, float4 acc, DepthwiseQuad q,
                            constant ConvParams& p) {
  acc += conv_bias(bias, q.c, p);
  for (uint j = 0; j < 4; ++j)
    if (q.ox0 + j < p.out_w) conv_store(y, acc[j], q.n, q.c, q.oy * p.out_w + q.ox0 + j, p);
}

// Square Kernel, equal strides Stride, no dilation: each input row segment the 4 outputs read
// ((4 - 1) * Stride + Kernel values) is loaded once into registers.
template <uint Kernel, uint Stride, typename T>
kernel void conv_depthwise_window(device const T* x [[buffer(0)]],
                                  device const T* w [[buffer(1)]],
                                  device const T* bias [[buffer(2)]],
                                  device T* y [[buffer(3)]],
                                  constant ConvParams& p [[buffer(4)]],
                                  uint gid [[thread_position_in_grid]]) {
  DepthwiseQuad q;
  if (!depthwise_quad(gid, p, q)) return;
  constexpr uint span = 3 * Stride + Kernel;
  device const T* plane = x + (q.n * p.in_c + q.c / p.out_c_per_group) * p.in_h * p.in_w;
  float f[Kernel * Kernel];
  for (uint i = 0; i < Kernel * Kernel; ++i) f[i] = float(w[q.c * Kernel * Kernel + i]);
  const int y0 = int(q.oy * Stride) - p.pad_top, x0 = int(q.ox0 * Stride) - p.pad_left;
  float4 acc = float4(0.0f);
  for (uint ky = 0; ky < Kernel; ++ky) {
    const int iy = y0 + int(ky);
    if (uint(iy) >= p.in_h) continue;
    device const T* row = plane + iy * int(p.in_w);
    float v[span];
    for (uint i = 0; i < span; ++i) v[i] = uint(x0 + int(i)) < p.in_w ? float(row[x0 + int(i)]) : 0.0f;
    for (uint kx = 0; kx < Kernel; ++kx) {
      const float4 taps = float4(v[kx], v[kx + Stride], v[kx + 2 * Stride], v[kx + 3 * Stride]);
      acc = fma(taps, float4(f[ky * Kernel + kx]), acc);
    }
  }
  depthwise_store(y, bias, acc, q, p);
}

// Any window, stride and dilation.
template <typename T>
kernel void conv_depthwise(device const T* x [[buffer(0)]],
                           device const T* w [[buffer(1)]],
                           device const T* bias [[buffer(2)]],
                           device T* y [[buffer(3)]],
                           constant ConvParams& p [[buffer(4)]],
                           uint gid [[thread_position_in_grid]]) {
  DepthwiseQuad q;
  if (!depthwise_quad(gid, p, q)) return;
  device const T* plane = x + (q.n * p.in_c + q.c / p.out_c_per_group) * p.in_h * p.in_w;
  device const T* filter = w + q.c * p.kernel_h * p.kernel_w;
  const int y0 = int(q.oy * p.stride_h) - p.pad_top, x0 = int(q.ox0 * p.stride_w) - p.pad_left;
  const int4 xs = x0 + int4(0, 1, 2, 3) * int(p.stride_w);
  float4 acc = float4(0.0f);
  for (uint ky = 0; ky < p.kernel_h; ++ky) {
    const int iy = y0 + int(ky * p.dilation_h);
    if (uint(iy) >= p.in_h) continue;
    device const T* row = plane + iy * int(p.in_w);
    for (uint kx = 0; kx < p.kernel_w; ++kx) {
      const int4 ix = xs + int(kx * p.dilation_w);
      float4 v = float4(0.0f);
      for (uint j = 0; j < 4; ++j)
        if (uint(ix[j]) < p.in_w) v[j] = float(row[ix[j]]);
      acc = fma(v, float4(float(filter[ky * p.kernel_w + kx])), acc);
    }
  }
  depthwise_store(y, bias, acc, q, p);
}

// ConvTranspose: in/out are the transposed op's input/output; output pixel (oy, ox) receives input
// (iy, ix) through tap (ky, kx) when oy + pad_top = iy * stride + ky * dilation (likewise x).
template <typename T>
kernel void conv_transpose(device const T* x [[buffer(0)]],
                           device const T* w [[buffer(1)]],
                           device const T* bias [[buffer(2)]],
                           device T* y [[buffer(3)]],
                           constant ConvParams& p [[buffer(4)]],
                           uint gid [[thread_position_in_grid]]) {
  const uint pixels = p.out_h * p.out_w;
  if (gid >= p.batch * p.out_c * pixels) return;
  const uint pixel = gid % pixels;
  const uint oc = (gid / pixels) % p.out_c;
  const uint n = gid / (pixels * p.out_c);
  const uint group = oc / p.out_c_per_group, oc_in_group = oc % p.out_c_per_group;
  const int oy = int(pixel / p.out_w) + p.pad_top, ox = int(pixel % p.out_w) + p.pad_left;
  float acc = 0.0f;
  for (uint ky = 0; ky < p.kernel_h; ++ky) {
    const int ty = oy - int(ky * p.dilation_h);
    if (ty < 0 || ty % int(p.stride_h) != 0 || ty / int(p.stride_h) >= int(p.in_h)) continue;
    const uint iy = uint(ty) / p.stride_h;
    for (uint kx = 0; kx < p.kernel_w; ++kx) {
      const int tx = ox - int(kx * p.dilation_w);
      if (tx < 0 || tx % int(p.stride_w) != 0 || tx / int(p.stride_w) >= int(p.in_w)) continue;
      const uint ix = uint(tx) / p.stride_w;
      for (uint i = 0; i < p.in_c_per_group; ++i) {
        const uint ic = group * p.in_c_per_group + i;
        const float v = float(x[((n * p.in_c + ic) * p.in_h + iy) * p.in_w + ix]);
        const float k = float(w[((ic * p.out_c_per_group + oc_in_group) * p.kernel_h + ky) * p.kernel_w + kx]);
        acc = fma(v, k, acc);
      }
    }
  }
  conv_store(y, acc + conv_bias(bias, oc, p), n, oc, pixel, p);
}

// A fused residual connection, after the convolution stored y with its bias and no activation:
// y = act(y + r), each thread one element, reading y through y_in (the same buffer).
template <typename T>
kernel void conv_residual(device const T* r [[buffer(0)]],
                          device const T* y_in [[buffer(1)]],
                          device T* y [[buffer(2)]],
                          constant ResidualParams& p [[buffer(3)]],
                          uint gid [[thread_position_in_grid]]) {
  if (gid >= p.count) return;
  y[gid] = T(activate(float(y_in[gid]) + float(r[gid]), p.epilogue));
}

#define instantiate_conv(dtype, T, _)                                                           \
  instantiate_kernel(conv, tiled, dtype, conv_tiled<0, 32, T>)                                  \
  instantiate_kernel(conv, tiled_1x1, dtype, conv_tiled<1, 32, T>)                              \
  instantiate_kernel(conv, tiled_3x3, dtype, conv_tiled<3, 32, T>)                              \
  instantiate_kernel(conv, tiled_oc8, dtype, conv_tiled<0, 8, T>)                               \
  instantiate_kernel(conv, tiled_1x1_oc8, dtype, conv_tiled<1, 8, T>)                           \
  instantiate_kernel(conv, tiled_3x3_oc8, dtype, conv_tiled<3, 8, T>)                           \
  instantiate_kernel(conv, depthwise, dtype, conv_depthwise<T>)                                 \
  instantiate_kernel(conv, depthwise_3x3s1, dtype, conv_depthwise_window<3, 1, T>)              \
  instantiate_kernel(conv, depthwise_3x3s2, dtype, conv_depthwise_window<3, 2, T>)              \
  instantiate_kernel(conv, transpose, dtype, conv_transpose<T>)                                 \
  instantiate_kernel(conv, residual, dtype, conv_residual<T>)
MNN_FLOAT_TYPES(instantiate_conv, )
