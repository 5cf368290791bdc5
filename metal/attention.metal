// FusedAttention: Y = softmax(scale * Q . Kt + mask) . V in one pass over the keys with a running
// maximum and sum (online softmax), so no score tensor is written. One thread per query row, its
// output row accumulated in float in thread memory, MNN_ATTENTION_MAX_DIM value dims at a time; no
// threadgroup memory. Every operand is read through its strides (either layout of the op).
#include "common.h"

template <typename T>
kernel void attention(device const T* q [[buffer(0)]],
                      device const T* k [[buffer(1)]],
                      device const T* v [[buffer(2)]],
                      device const T* mask [[buffer(3)]],
                      device T* y [[buffer(4)]],
                      constant AttentionParams& p [[buffer(5)]],
                      uint gid [[thread_position_in_grid]]) {
  if (gid >= p.rows) return;
  const uint i = gid % p.q_len;
  const uint bh = gid / p.q_len;
  const uint h = bh % p.heads;
  const uint b = bh / p.heads;
  const uint kv = h / p.group;
  device const T* qr = q + b * p.q_strides[0] + h * p.q_strides[1] + i * p.q_strides[2];
  device const T* kb = k + b * p.k_strides[0] + kv * p.k_strides[1];
  device const T* vb = v + b * p.v_strides[0] + kv * p.v_strides[1];
  device const T* mr = mask + b * p.mask_strides[0] + h * p.mask_strides[1] + i * p.mask_strides[2];
  device T* yr = y + b * p.y_strides[0] + h * p.y_strides[1] + i * p.y_strides[2];
  // Value dims in chunks that fit the accumulator; each chunk walks the keys again.
  for (uint d0 = 0; d0 < p.v_dim; d0 += MNN_ATTENTION_MAX_DIM) {
    const uint width = min(uint(MNN_ATTENTION_MAX_DIM), p.v_dim - d0);
    float acc[MNN_ATTENTION_MAX_DIM];
    for (uint d = 0; d < width; ++d) acc[d] = 0.0f;
    float peak = -INFINITY, sum = 0.0f;
    for (uint j = 0; j < p.kv_len; ++j) {
      float s = 0.0f;
      device const T* kj = kb + j * p.k_strides[3];
      for (uint d = 0; d < p.head_dim; ++d) s = fma(float(qr[d]), float(kj[d * p.k_strides[2]]), s);
      s *= p.scale;
      if (p.has_mask) s += float(mr[j * p.mask_strides[3]]);
      if (s == -INFINITY) continue;  // a masked key adds nothing (and keeps peak finite)
      const float next = max(peak, s);
      const float rescale = exp(peak - next);  // 0 while peak is still -inf
      const float e = exp(s - next);
      sum = fma(sum, rescale, e);
      device const T* vr = vb + j * p.v_strides[2] + d0;
      for (uint d = 0; d < width; ++d) acc[d] = fma(acc[d], rescale, e * float(vr[d]));
      peak = next;
    }
    if (sum > 0.0f) {
      const float inv = 1.0f / sum;
      for (uint d = 0; d < width; ++d) yr[d0 + d] = T(acc[d] * inv);
    } else {
      for (uint d = 0; d < width; ++d) yr[d0 + d] = p.nan_to_zero ? T(0) : T(NAN);
    }
  }
}

#define instantiate_attention(dtype, T, _) instantiate_kernel(attention, rows, dtype, attention<T>)
MNN_FLOAT_TYPES(instantiate_attention, )
