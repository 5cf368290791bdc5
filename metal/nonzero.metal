// NonZero: one threadgroup of 256 threads. Each thread counts the nonzero elements of its contiguous
// chunk, an exclusive scan over the counts (threadgroup memory, 256 uints) gives each chunk its first
// column, and each thread writes its chunk's coordinates in row-major order; the columns past the total
// are filled with -1 (the output is planned at its upper bound, numel columns).
#include "common.h"

constant uint kNonZeroThreads = 256;

template <typename T>
kernel void nonzero(device const T* x [[buffer(0)]],
                    device long* out [[buffer(1)]],
                    constant NonZeroParams& p [[buffer(2)]],
                    uint tid [[thread_index_in_threadgroup]]) {
  threadgroup uint starts[kNonZeroThreads];
  const uint chunk = (p.count + kNonZeroThreads - 1) / kNonZeroThreads;
  const uint begin = min(p.count, tid * chunk), end = min(p.count, begin + chunk);
  uint mine = 0;
  for (uint i = begin; i < end; ++i) mine += x[i] != T(0) ? 1u : 0u;
  starts[tid] = mine;
  threadgroup_barrier(mem_flags::mem_threadgroup);
  if (tid == 0) {
    uint total = 0;
    for (uint t = 0; t < kNonZeroThreads; ++t) {
      const uint c = starts[t];
      starts[t] = total;
      total += c;
    }
    starts[0] = total;  // thread 0 starts at 0; the total rides in its slot
  }
  threadgroup_barrier(mem_flags::mem_threadgroup);
  const uint total = starts[0];
  uint column = tid == 0 ? 0u : starts[tid];
  for (uint i = begin; i < end; ++i) {
    if (!(x[i] != T(0))) continue;
    uint rest = i;
    for (int d = int(p.rank) - 1; d >= 0; --d) {
      out[uint(d) * p.count + column] = long(rest % p.shape[d]);
      rest /= p.shape[d];
    }
    ++column;
  }
  for (uint i = total + tid; i < p.count; i += kNonZeroThreads)
    for (uint d = 0; d < p.rank; ++d) out[d * p.count + i] = -1;
}

#define instantiate_nonzero(dtype, T, _) instantiate_kernel(nonzero, scan, dtype, nonzero<T>)
MNN_FLOAT_TYPES(instantiate_nonzero, )
instantiate_nonzero(i32, int, )
instantiate_nonzero(i64, long, )
instantiate_nonzero(u8, uchar, )
