#include "cpu/strided_copy.h"

#include <cstring>

#include "cpu/dtype_dispatch.h"

namespace metalnn::cpu {

namespace {
constexpr int64_t kCopyGrain = 1 << 15;  // elements per task: enough to amortise waking a thread
}

StridedCopy::StridedCopy(size_t elem_size, const Shape& shape, const std::vector<int64_t>& dst_strides,
                         const std::vector<int64_t>& src_strides)
    : elem_size_(elem_size), loop_(shape, {dst_strides, src_strides}) {}

void StridedCopy::run(void* dst, const void* src, ThreadPool& pool) const {
  const int64_t dst_step = loop_.inner_stride(0), src_step = loop_.inner_stride(1);
  visit_element_size(elem_size_, [&](auto tag) {
    using T = typename decltype(tag)::type;
    T* d = static_cast<T*>(dst);
    const T* s = static_cast<const T*>(src);
    loop_.parallel_runs(pool, kCopyGrain, [&](const StridedLoop::Offsets& off, int64_t n) {
      T* out = d + off[0];
      const T* in = s + off[1];
      if (dst_step == 1 && src_step == 1) {
        std::memcpy(out, in, static_cast<size_t>(n) * sizeof(T));
      } else if (src_step == 0) {
        const T v = *in;
        for (int64_t i = 0; i < n; ++i) out[i * dst_step] = v;
      } else {
        for (int64_t i = 0; i < n; ++i) out[i * dst_step] = in[i * src_step];
      }
    });
  });
}

}  // namespace metalnn::cpu
