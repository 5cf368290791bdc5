// Cast between storage types (float to integer truncates toward zero; to bool: x != 0), also the
// float32 <-> float16 conversions at the edges of a float16 model. One thread per element; every
// ordered pair of distinct storage types has a kernel (bool and uint8 share uchar, told apart by ToBool).
#include "common.h"

template <typename From, typename To, bool ToBool>
kernel void cast(device const From* x [[buffer(0)]],
                 device To* y [[buffer(1)]],
                 constant CastParams& p [[buffer(2)]],
                 uint gid [[thread_position_in_grid]]) {
  if (gid >= p.count) return;
  y[gid] = ToBool ? To(x[gid] != From(0) ? 1 : 0) : To(x[gid]);
}

#define instantiate_cast(from, From, to, To, ToBool) instantiate_kernel(cast, from, to, cast<From, To, ToBool>)
instantiate_cast(f32, float, f16, half, false) instantiate_cast(f32, float, i64, long, false)
instantiate_cast(f32, float, i32, int, false) instantiate_cast(f32, float, u8, uchar, false)
instantiate_cast(f32, float, i8, char, false) instantiate_cast(f32, float, b8, uchar, true)
instantiate_cast(f16, half, f32, float, false) instantiate_cast(f16, half, i64, long, false)
instantiate_cast(f16, half, i32, int, false) instantiate_cast(f16, half, u8, uchar, false)
instantiate_cast(f16, half, i8, char, false) instantiate_cast(f16, half, b8, uchar, true)
instantiate_cast(i64, long, f32, float, false) instantiate_cast(i64, long, f16, half, false)
instantiate_cast(i64, long, i32, int, false) instantiate_cast(i64, long, u8, uchar, false)
instantiate_cast(i64, long, i8, char, false) instantiate_cast(i64, long, b8, uchar, true)
instantiate_cast(i32, int, f32, float, false) instantiate_cast(i32, int, f16, half, false)
instantiate_cast(i32, int, i64, long, false) instantiate_cast(i32, int, u8, uchar, false)
instantiate_cast(i32, int, i8, char, false) instantiate_cast(i32, int, b8, uchar, true)
instantiate_cast(u8, uchar, f32, float, false) instantiate_cast(u8, uchar, f16, half, false)
instantiate_cast(u8, uchar, i64, long, false) instantiate_cast(u8, uchar, i32, int, false)
instantiate_cast(u8, uchar, i8, char, false) instantiate_cast(u8, uchar, b8, uchar, true)
instantiate_cast(i8, char, f32, float, false) instantiate_cast(i8, char, f16, half, false)
instantiate_cast(i8, char, i64, long, false) instantiate_cast(i8, char, i32, int, false)
instantiate_cast(i8, char, u8, uchar, false) instantiate_cast(i8, char, b8, uchar, true)
instantiate_cast(b8, uchar, f32, float, false) instantiate_cast(b8, uchar, f16, half, false)
instantiate_cast(b8, uchar, i64, long, false) instantiate_cast(b8, uchar, i32, int, false)
instantiate_cast(b8, uchar, u8, uchar, false) instantiate_cast(b8, uchar, i8, char, false)
