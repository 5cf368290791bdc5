// Swaps the two axes of a batch of row-major planes, out[b][c][r] = in[b][r][c], in square tiles so
// that both the reads and the writes stay on a few cache lines (a Transpose NCHW <-> NHWC is one).
#pragma once
#include <cstddef>
#include <cstdint>
#include <vector>

#include "cpu/thread_pool.h"

namespace metalnn::cpu {

// Whether 4-byte planes are transposed in AVX-512 registers; METALNN_TRANSPOSE_KERNELS=portable says no
// (read once).
bool plane_transpose_avx512();

class PlaneTranspose {
 public:
  PlaneTranspose(size_t elem_size, int64_t batch, int64_t rows, int64_t cols)
      : elem_size_(elem_size), batch_(batch), rows_(rows), cols_(cols) {}
  void run(void* dst, const void* src, ThreadPool& pool) const;
  int64_t batch() const { return batch_; }
  int64_t rows() const { return rows_; }
  int64_t cols() const { return cols_; }

  // The plane form of a transpose of `shape` by `perm`, when it has one: after dropping dims of size 1
  // and merging axes that stay neighbours, perm is [1, 0] or [0, 2, 1] over [batch, rows, cols].
  static bool match(const std::vector<int64_t>& shape, const std::vector<int64_t>& perm, int64_t& batch,
                    int64_t& rows, int64_t& cols);

 private:
  size_t elem_size_;
  int64_t batch_, rows_, cols_;
};

}  // namespace metalnn::cpu
