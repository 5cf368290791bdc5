// FusedAttention's operand layouts (core/ops/attention.cpp), shared by the devices' kernels.
#pragma once
#include <cstdint>

#include "core/tensor.h"

namespace metalnn {

// Dims and element strides of FusedAttention's operands. Without `heads` (0) Q, V and Y are
// [B, H, S, D] and K is Kt [B, Hkv, D, Skv]; with it each operand is the [B, S, H * D] rows a
// projection writes (K untransposed), so the head split and merge around the op copy nothing.
struct AttentionLayout {
  bool valid = false;
  int64_t batch = 0, heads = 0, kv_heads = 0, q_len = 0, kv_len = 0, head_dim = 0, v_dim = 0;
  // q and y over (b, h, i), v over (b, h, j), with the head dim contiguous; k over (b, h, d, j).
  int64_t q[3] = {}, k[4] = {}, v[3] = {}, y[3] = {};
  Shape output;
};

AttentionLayout attention_layout(const Shape& q, const Shape& k, const Shape& v, int64_t heads);

}  // namespace metalnn
