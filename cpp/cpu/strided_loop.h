// Walks an N-d iteration space with one strided cursor per operand (an output and up to three inputs):
// the one mechanism behind broadcasting, transposes, slices and expands. Dims that every operand
// walks contiguously are merged first, so the common cases (same shape, scalar, per-channel [C,1,1])
// become one or two dims and the innermost runs are long.
#pragma once
#include <algorithm>
#include <array>
#include <cstdint>
#include <vector>

#include "core/ops/broadcast.h"
#include "core/tensor.h"
#include "cpu/thread_pool.h"

namespace metalnn::cpu {

class StridedLoop {
 public:
  static constexpr int kMaxOperands = 4;
  using Offsets = std::array<int64_t, kMaxOperands>;

  // strides[k] are operand k's element strides over `shape` (0 repeats, negative walks backwards).
  StridedLoop(const Shape& shape, const std::vector<std::vector<int64_t>>& strides);

  int64_t size() const { return size_; }
  // Operand k's step between consecutive positions of a run.
  int64_t inner_stride(int k) const { return strides_.back()[k]; }

  // Calls fn(const Offsets& offsets, int64_t n) for each run of n positions in [begin, end) that are
  // consecutive along the innermost dim; offsets[k] is operand k's element offset at the run's start.
  template <class F>
  void for_each_run(int64_t begin, int64_t end, F&& fn) const;

  // for_each_run over the whole space, split across the pool in chunks of at least `grain` positions.
  template <class F>
  void parallel_runs(ThreadPool& pool, int64_t grain, F&& fn) const {
    pool.parallel_for(size_, grain, [&](int64_t b, int64_t e) { for_each_run(b, e, fn); });
  }

 private:
  int operands_;
  Shape dims_;                   // merged dims, outermost first; never empty
  std::vector<Offsets> strides_;  // per merged dim, per operand
  int64_t size_;
};

template <class F>
void StridedLoop::for_each_run(int64_t begin, int64_t end, F&& fn) const {
  end = std::min(end, size_);
  if (begin >= end) return;
  const int rank = static_cast<int>(dims_.size());
  std::vector<int64_t> idx(rank);
  Offsets off{};
  int64_t rest = begin;
  for (int d = rank - 1; d >= 0; --d) {
    idx[d] = rest % dims_[d];
    rest /= dims_[d];
    for (int k = 0; k < operands_; ++k) off[k] += idx[d] * strides_[d][k];
  }
  const int inner = rank - 1;
  for (int64_t pos = begin;;) {
    const int64_t n = std::min(dims_[inner] - idx[inner], end - pos);
    fn(static_cast<const Offsets&>(off), n);
    pos += n;
    if (pos >= end) return;
    idx[inner] += n;
    for (int k = 0; k < operands_; ++k) off[k] += n * strides_[inner][k];
    // Carry into the outer dims.
    for (int d = inner; d > 0 && idx[d] == dims_[d]; --d) {
      idx[d] = 0;
      ++idx[d - 1];
      for (int k = 0; k < operands_; ++k) off[k] += strides_[d - 1][k] - dims_[d] * strides_[d][k];
    }
  }
}

}  // namespace metalnn::cpu
