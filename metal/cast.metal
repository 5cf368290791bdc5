// Cast between storage types (float to integer truncates toward zero; to bool: x != 0), also the
// float32 <-> float16 conversions at the edges of a float16 model. One thread per element.
#include "common.h"

template <typename From, typename To> struct convert { static To apply(From x) { return To(x); } };
template <typename From> struct convert<From, uchar> { static uchar apply(From x) { return x != From(0) ? 1 : 0; } };

template <typename From, typename To>
kernel void cast(device const From* x [[buffer(0)]],
                 device To* y [[buffer(1)]],
                 constant CastParams& p [[buffer(2)]],
                 uint gid [[thread_position_in_grid]]) {
  if (gid >= p.count) return;
  y[gid] = convert<From, To>::apply(x[gid]);
}

#define instantiate_cast(from, From, to, To) instantiate_kernel(cast, from, to, cast<From, To>)
#define instantiate_cast_float(dtype, T, _)                                                     \
  instantiate_cast(dtype, T, i64, long) instantiate_cast(i64, long, dtype, T)                   \
  instantiate_cast(dtype, T, i32, int) instantiate_cast(i32, int, dtype, T)                     \
  instantiate_cast(dtype, T, b8, uchar) instantiate_cast(b8, uchar, dtype, T)
MNN_FLOAT_TYPES(instantiate_cast_float, )
instantiate_cast(f32, float, f16, half)
instantiate_cast(f16, half, f32, float)
instantiate_cast(i32, int, i64, long)
instantiate_cast(i64, long, i32, int)
instantiate_cast(i64, long, b8, uchar)
