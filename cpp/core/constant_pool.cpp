#include "core/constant_pool.h"

#include <cstring>

namespace metalnn {

namespace {

uint64_t hash_bytes(const void* data, size_t n) {
  // FNV-1a over 8-byte words: fast enough for weights, and equality is checked byte by byte anyway.
  const auto* p = static_cast<const unsigned char*>(data);
  uint64_t h = 1469598103934665603ull;
  size_t i = 0;
  for (; i + 8 <= n; i += 8) {
    uint64_t w;
    std::memcpy(&w, p + i, 8);
    h = (h ^ w) * 1099511628211ull;
  }
  for (; i < n; ++i) h = (h ^ p[i]) * 1099511628211ull;
  return h;
}

}  // namespace

void ConstantPool::intern(Graph& g, const Graph& source) {
  std::lock_guard<std::mutex> lock(mutex_);
  for (int v = 0; v < g.num_values(); ++v) {
    Tensor& t = g.value(v).constant;
    if (!t.defined() || t.nbytes() < kMinBytes || !t.owner()) continue;
    if (v < source.num_values() && source.value(v).constant.raw() == t.raw()) continue;
    const Key key{hash_bytes(t.raw(), t.nbytes()), t.nbytes(), static_cast<int>(t.dtype())};
    std::vector<Entry>& bucket = entries_[key];
    bool found = false;
    for (auto it = bucket.begin(); it != bucket.end();) {
      std::shared_ptr<const void> owner = it->owner.lock();
      if (!owner) {
        it = bucket.erase(it);
        continue;
      }
      if (!found && (it->view.raw() == t.raw() || std::memcmp(it->view.raw(), t.raw(), t.nbytes()) == 0)) {
        t = Tensor(t.dtype(), t.shape(), it->view.raw(), std::move(owner));
        found = true;
      }
      ++it;
    }
    if (!found) bucket.push_back(Entry{Tensor(t.dtype(), t.shape(), t.raw()), t.owner()});
  }
  for (auto it = entries_.begin(); it != entries_.end();) it = it->second.empty() ? entries_.erase(it) : std::next(it);
}

}  // namespace metalnn
