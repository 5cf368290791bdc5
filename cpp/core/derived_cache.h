// Data derived from a constant tensor (pre-packed weights, uploaded GPU buffers) made once and shared
// by every executable built from the same tensor, so a model specialised for a new input shape
// copies no weight. Entries live as long as some executable holds them: the cache keeps only weak
// references. An entry does not keep its source alive (an executable may free a weight once packed):
// it is found only while the source's owner lives, so a reused address never matches a dead entry.
#pragma once
#include <algorithm>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <tuple>

#include "core/tensor.h"

namespace metalnn {

template <class T>
class DerivedCache {
 public:
  // The value derived from `source` as `how` says (the derivation and its parameters), made by
  // `make` unless a holder of it still lives. Thread-safe.
  std::shared_ptr<T> get(const Tensor& source, const std::string& how, const std::function<std::shared_ptr<T>()>& make) {
    const Key key{source.raw(), source.nbytes(), static_cast<int>(source.dtype()), how};
    std::lock_guard<std::mutex> lock(mutex_);
    auto it = entries_.find(key);
    if (it != entries_.end())
      if (std::shared_ptr<Holder> held = it->second.lock(); held && held->source_alive())
        return std::shared_ptr<T>(held, held->value.get());
    // A source without an owner (its lifetime guaranteed elsewhere) is held as before.
    auto held = std::make_shared<Holder>(
        Holder{source.owner() ? Tensor() : source, source.owner(), make()});
    entries_[key] = held;
    if (entries_.size() > 2 * live_after_prune_) prune();
    return std::shared_ptr<T>(held, held->value.get());
  }

  // Entries some executable still holds.
  size_t live() {
    std::lock_guard<std::mutex> lock(mutex_);
    prune();
    return entries_.size();
  }

 private:
  struct Holder {
    Tensor unowned_source;
    std::weak_ptr<const void> owner;
    std::shared_ptr<T> value;
    bool source_alive() const { return unowned_source.defined() || !owner.expired(); }
  };
  using Key = std::tuple<const void*, size_t, int, std::string>;
  void prune() {
    for (auto it = entries_.begin(); it != entries_.end();) it = it->second.expired() ? entries_.erase(it) : std::next(it);
    live_after_prune_ = std::max<size_t>(entries_.size(), 64);
  }
  std::mutex mutex_;
  std::map<Key, std::weak_ptr<Holder>> entries_;
  size_t live_after_prune_ = 64;
};

}  // namespace metalnn
