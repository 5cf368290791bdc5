// LayerNorm over the channels of planes [batch, channels, positions] (NCHW with H*W positions), written
// channels-last as [batch, positions, channels]: a Transpose to NHWC and the LayerNorm after it in one
// pass. Positions sit in the vector lanes, so the statistics need no horizontal sums. AVX-512 only.
#pragma once
#include <cstdint>
#include <vector>

#include "cpu/thread_pool.h"

namespace metalnn::cpu {

class LayerNormPlanes {
 public:
  // scale and bias (nullptr: 0) hold `channels` floats each.
  LayerNormPlanes(int64_t batch, int64_t channels, int64_t positions, float epsilon, const float* scale,
                  const float* bias);
  void run(float* out, const float* in, ThreadPool& pool) const;

 private:
  int64_t batch_, channels_, positions_;
  float epsilon_;
  std::vector<float> scale_, bias_;
};

}  // namespace metalnn::cpu
