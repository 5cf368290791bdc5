// What MSL leaves undefined, made loud by metal-sim (undefined_test.cpp): reading an inactive SIMD
// lane through a shuffle gives a poison value. Dispatched with 40 threads per threadgroup, so the second
// SIMD-group has lanes 0..7 only. No threadgroup memory.
#include <metal_stdlib>
using namespace metal;

// Lane i reads lane i + 8: lanes 8..15 of the second SIMD-group do not exist.
kernel void shuffle_inactive_lane(device const float* in [[buffer(0)]], device float* out [[buffer(1)]],
                                  uint gid [[thread_position_in_grid]], ushort lane [[thread_index_in_simdgroup]]) {
  out[gid] = simd_shuffle(in[gid], ushort((lane + 8) % 32));
}

// The same shape, reading only lanes that exist: lane i reads lane (i + 1) mod the active lane count.
kernel void shuffle_active_lane(device const float* in [[buffer(0)]], device float* out [[buffer(1)]],
                                uint gid [[thread_position_in_grid]], ushort lane [[thread_index_in_simdgroup]],
                                ushort simd_group [[simdgroup_index_in_threadgroup]]) {
  const ushort active = simd_group == 0 ? 32 : 8;
  out[gid] = simd_shuffle(in[gid], ushort((lane + 1) % active));
}

// simd_shuffle_down past the SIMD-group's end leaves a lane's value unchanged (defined by MSL).
kernel void shuffle_down_edge(device const float* in [[buffer(0)]], device float* out [[buffer(1)]],
                              uint gid [[thread_position_in_grid]]) {
  out[gid] = simd_shuffle_down(in[gid], ushort(4));
}

// Integer division and remainder by a divisor read from memory (undefined_test.cpp passes zeros, -1
// with INT_MIN and ordinary values): a GPU does not trap, and neither does metal-sim. Each thread
// writes q and r of int, uint, long and ushort divisions.
kernel void integer_division(device const int* a [[buffer(0)]], device const int* b [[buffer(1)]],
                             device int* out [[buffer(2)]], uint gid [[thread_position_in_grid]]) {
  const int x = a[gid], y = b[gid];
  out[8 * gid + 0] = x / y;
  out[8 * gid + 1] = x % y;
  out[8 * gid + 2] = int(uint(x) / uint(y));
  out[8 * gid + 3] = int(uint(x) % uint(y));
  out[8 * gid + 4] = int(long(x) * 65536 / long(y) / 65536);
  out[8 * gid + 5] = int(long(x) % long(y));
  out[8 * gid + 6] = int(ushort(x) / ushort(y));
  out[8 * gid + 7] = int(ushort(x) % ushort(y));
}
