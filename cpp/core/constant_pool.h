// Deduplicates the constants the passes compute (folded BatchNorm weights, fused biases) across the
// specialisations of one model: a specialisation's graph ends up pointing at the bytes an earlier one
// made, so pre-packed and uploaded forms keyed by those bytes (core/derived_cache.h) are shared too.
// Holds only weak references: bytes live as long as some specialisation uses them.
#pragma once
#include <map>
#include <memory>
#include <mutex>
#include <tuple>
#include <vector>

#include "core/graph.h"

namespace metalnn {

class ConstantPool {
 public:
  // Replaces each constant of `g` (at least kMinBytes) by an equal one already pooled, or pools it.
  // Constants `g` still shares with `source` (the graph it was copied from) are left alone.
  void intern(Graph& g, const Graph& source);

  static constexpr size_t kMinBytes = 256;

 private:
  struct Entry {
    Tensor view;  // shape, dtype and address, without ownership
    std::weak_ptr<const void> owner;
  };
  using Key = std::tuple<uint64_t, size_t, int>;  // content hash, bytes, dtype
  std::mutex mutex_;
  std::map<Key, std::vector<Entry>> entries_;
};

}  // namespace metalnn
