// y = softmax(x) over each row of a rows x cols matrix. One threadgroup per row; threads stride over
// the row, reduce with simd_max / simd_sum, then combine SIMD-groups through threadgroup memory
// (32 partial values and one broadcast value).
#include <metal_stdlib>
using namespace metal;

kernel void softmax_rows_f32(device const float* x [[buffer(0)]],
                             device float* y [[buffer(1)]],
                             constant uint& cols [[buffer(2)]],
                             uint row [[threadgroup_position_in_grid]],
                             uint tid [[thread_index_in_threadgroup]],
                             uint threads [[threads_per_threadgroup]],
                             uint lane [[thread_index_in_simdgroup]],
                             uint simd_group [[simdgroup_index_in_threadgroup]],
                             uint simd_groups [[simdgroups_per_threadgroup]]) {
  threadgroup float partial[32];
  threadgroup float row_value;
  device const float* in = x + row * cols;
  device float* out = y + row * cols;

  float local_max = -INFINITY;
  for (uint i = tid; i < cols; i += threads) {
    local_max = max(local_max, in[i]);
  }
  local_max = simd_max(local_max);
  if (lane == 0) {
    partial[simd_group] = local_max;
  }
  threadgroup_barrier(mem_flags::mem_threadgroup);
  if (simd_group == 0) {
    const float v = simd_max(lane < simd_groups ? partial[lane] : -INFINITY);
    if (lane == 0) {
      row_value = v;
    }
  }
  threadgroup_barrier(mem_flags::mem_threadgroup);
  const float row_max = row_value;

  float local_sum = 0.0f;
  for (uint i = tid; i < cols; i += threads) {
    local_sum += exp(in[i] - row_max);
  }
  local_sum = simd_sum(local_sum);
  if (lane == 0) {
    partial[simd_group] = local_sum;
  }
  threadgroup_barrier(mem_flags::mem_threadgroup);
  if (simd_group == 0) {
    const float v = simd_sum(lane < simd_groups ? partial[lane] : 0.0f);
    if (lane == 0) {
      row_value = v;
    }
  }
  threadgroup_barrier(mem_flags::mem_threadgroup);
  const float inv_sum = 1.0f / row_value;
  for (uint i = tid; i < cols; i += threads) {
    out[i] = exp(in[i] - row_max) * inv_sum;
  }
}
