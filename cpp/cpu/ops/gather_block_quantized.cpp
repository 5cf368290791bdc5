// GatherBlockQuantized on the CPU: each selected slice of the 4-bit (or 8-bit) table is decoded and
// dequantised straight into the output; threads split the (outer, index) pairs.
#include <algorithm>

#include "core/ops/gather_block_quantized.h"
#include "cpu/kernel.h"

namespace metalnn::cpu {

namespace {

class GatherBlockQuantizedKernel : public Kernel {
 public:
  GatherBlockQuantizedKernel(const Graph& g, const Node& n) : geo_(block_gather_geometry(g, n)) {}

  void run(const std::vector<const Tensor*>& in, const std::vector<Tensor*>& out, ThreadPool& pool) override {
    const uint8_t* data = in[0]->data<uint8_t>();
    const Tensor& indices = *in[1];
    const float* scales = in[2]->data<float>();
    const uint8_t* zp = in.size() > 3 && in[3] ? in[3]->data<uint8_t>() : nullptr;
    float* y = out[0]->data<float>();
    const int64_t count = indices.numel(), block = geo_.gather_block;
    pool.parallel_for(geo_.outer * count, std::max<int64_t>(1, 4096 / std::max<int64_t>(block, 1)),
                      [&](int64_t begin, int64_t end) {
      for (int64_t i = begin; i < end; ++i) {
        int64_t index = indices.int_at(i % count);
        float* dst = y + i * block;
        if (index < -geo_.axis_len || index >= geo_.axis_len) {  // ONNX Runtime's choice: zeros
          std::fill(dst, dst + block, 0.f);
          continue;
        }
        if (index < 0) index += geo_.axis_len;
        const int64_t base = (i / count * geo_.axis_len + index) * block;
        for (int64_t e = 0; e < block; ++e) {
          const int64_t d = base + e, s = geo_.scale_index(d);
          dst[e] = float(code(data, d) - zero_point(zp, s)) * scales[s];
        }
      }
    });
  }

 private:
  int32_t nibble(const uint8_t* p, int64_t i) const {
    const int32_t v = i & 1 ? p[i / 2] >> 4 : p[i / 2] & 15;
    return geo_.is_signed && v >= 8 ? v - 16 : v;
  }
  int32_t code(const uint8_t* data, int64_t d) const { return geo_.bits == 8 ? data[d] : nibble(data, d); }
  int32_t zero_point(const uint8_t* zp, int64_t s) const {
    if (!zp) return int32_t(geo_.default_zero_point);
    if (geo_.bits == 8) return zp[s];
    return nibble(zp + s / geo_.zp_row * geo_.zp_row_bytes, s % geo_.zp_row);
  }

  BlockGatherGeometry geo_;
};

}  // namespace

std::unique_ptr<Kernel> make_gather_block_quantized_kernel(const Graph& g, const Node& n) {
  return std::make_unique<GatherBlockQuantizedKernel>(g, n);
}

}  // namespace metalnn::cpu
