// BatchNormalization at inference as a per-channel affine map (scale and shift folded on the host)
// or from parameters fed at run time, and LRN across channels: one thread per element. No threadgroup memory.
#include "common.h"

template <typename T>
kernel void channel_affine(device const T* x [[buffer(0)]],
                           device const T* scale [[buffer(1)]],
                           device const T* shift [[buffer(2)]],
                           device T* y [[buffer(3)]],
                           constant AffineParams& p [[buffer(4)]],
                           uint gid [[thread_position_in_grid]]) {
  if (gid >= p.count) return;
  const uint c = (gid / p.inner) % p.channels;
  y[gid] = T(fma(float(x[gid]), float(scale[c]), float(shift[c])));
}

// The same map from parameters fed at run time (each in the float storage type).
template <typename T>
kernel void batch_norm(device const T* x [[buffer(0)]],
                       device const T* gamma [[buffer(1)]],
                       device const T* beta [[buffer(2)]],
                       device const T* mean [[buffer(3)]],
                       device const T* var [[buffer(4)]],
                       device T* y [[buffer(5)]],
                       constant BatchNormParams& p [[buffer(6)]],
                       uint gid [[thread_position_in_grid]]) {
  if (gid >= p.count) return;
  const uint c = (gid / p.inner) % p.channels;
  const float a = float(gamma[c]) / sqrt(float(var[c]) + p.epsilon);
  y[gid] = T(fma(float(x[gid]), a, float(beta[c]) - float(mean[c]) * a));
}

// y = x / (bias + alpha / size * sum of x^2 over the channel window) ^ beta
template <typename T>
kernel void lrn(device const T* x [[buffer(0)]],
                device T* y [[buffer(1)]],
                constant LrnParams& p [[buffer(2)]],
                uint gid [[thread_position_in_grid]]) {
  if (gid >= p.count) return;
  const uint r = gid % p.inner;
  const int c = int((gid / p.inner) % p.channels);
  const uint plane_base = gid - uint(c) * p.inner - r;
  const int lo = max(c - int((p.size - 1) / 2), 0);
  const int hi = min(c + int(p.size / 2), int(p.channels) - 1);
  float sum = 0.0f;
  for (int i = lo; i <= hi; ++i) {
    const float v = float(x[plane_base + uint(i) * p.inner + r]);
    sum = fma(v, v, sum);
  }
  y[gid] = T(float(x[gid]) / pow(p.bias + p.alpha / float(p.size) * sum, p.beta));
}

#define instantiate_normalization(dtype, T, _)                                                  \
  instantiate_kernel(channel, affine, dtype, channel_affine<T>)                                 \
  instantiate_kernel(batch_norm, fed, dtype, batch_norm<T>)                                     \
  instantiate_kernel(lrn, across, dtype, lrn<T>)
MNN_FLOAT_TYPES(instantiate_normalization, )
