// A byte image laid out so that every tap of a strided, dilated, padded convolution reads one
// contiguous run per output row: the zero-padded input is split into stride phases (phase (py, px)
// holds padded rows py, py + sh, ... and columns px, px + sw, ...), each phase plane `width` columns
// wide. Output (oh, ow) of tap (i, j) then lies at tap_offset(c, i, j) + oh * width + ow, so the GEMM's
// columns can run over the "wide" grid oh * width + ow (ow >= out_w being columns the epilogue skips)
// and read each reduction row in place: no im2col matrix is written.
#pragma once
#include <cstdint>
#include <vector>

#include "core/ops/window2d.h"
#include "cpu/thread_pool.h"

namespace metalnn::cpu {

class PhasePlanes {
 public:
  PhasePlanes(const Window2d& w, int64_t channels);
  // Columns of the wide grid per image: (out_h - 1) * width + out_w.
  int64_t columns() const { return columns_; }
  int64_t width() const { return width_; }
  // Byte offset, in the planes of one image, of tap (i, j) of channel c at output (0, 0).
  int64_t tap_offset(int64_t c, int64_t i, int64_t j) const;
  int64_t bytes() const { return int64_t(phases_.size()) * channels_ * plane_; }
  // Fills `planes` (bytes() long) from one image x[channels][in_h][in_w]; padding reads `pad`.
  void fill(const uint8_t* x, uint8_t pad, uint8_t* planes, ThreadPool& pool) const;
  // Whether wide column q holds an output (ow < out_w), and how many outputs follow it in its row.
  int64_t outputs_from(int64_t q) const {
    const int64_t ow = q % width_;
    return ow < win_.out_w ? win_.out_w - ow : 0;
  }
  // Columns from q to the start of the next wide row.
  int64_t to_row_end(int64_t q) const { return width_ - q % width_; }

 private:
  Window2d win_;
  int64_t channels_, height_, width_, plane_, columns_;
  std::vector<int64_t> phases_;  // py * stride_w + px of the phases some tap reads, in order
};

}  // namespace metalnn::cpu
