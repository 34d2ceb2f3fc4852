// A thread-safe LRU cache of unwrapped key material keyed by (key id,
// version), shared by both roots. Values are shared_ptrs; whatever the cache
// drops is released after its lock, because releasing one can be expensive
// (destroying an HSM object, freeing an EVP_PKEY, wiping secure memory).
#pragma once

#include <cstddef>
#include <cstdint>
#include <list>
#include <map>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

namespace hsmkms::core {

template <typename Value>
class KeyedLruCache {
 public:
  // capacity 0 caches nothing (every operation unwraps).
  explicit KeyedLruCache(size_t capacity) : capacity_(capacity) {}
  KeyedLruCache(const KeyedLruCache&) = delete;
  KeyedLruCache& operator=(const KeyedLruCache&) = delete;

  // The cached value (now the most recently used), or null. An entry for
  // which `fresh(value)` is false is dropped and not returned.
  template <typename Fresh>
  [[nodiscard]] Value Find(const std::string& id, uint32_t version, Fresh&& fresh) {
    Value stale;  // released after the lock
    std::lock_guard<std::mutex> lock(mutex_);
    auto it = index_.find(Key(id, version));
    if (it == index_.end()) return nullptr;
    if (!fresh(it->second->value)) {
      stale = std::move(it->second->value);
      lru_.erase(it->second);
      index_.erase(it);
      return nullptr;
    }
    lru_.splice(lru_.begin(), lru_, it->second);
    return it->second->value;
  }

  [[nodiscard]] Value Find(const std::string& id, uint32_t version) {
    return Find(id, version, [](const Value&) { return true; });
  }

  // Caches `value` and returns it. When two threads missed at once, an entry
  // already there for which `keep(existing)` holds wins (both then share
  // one unwrapped key) and `value` is dropped; otherwise it is replaced.
  template <typename Keep>
  Value Insert(const std::string& id, uint32_t version, Value value, Keep&& keep) {
    if (capacity_ == 0) return value;
    std::vector<Value> dropped;  // released after the lock
    std::lock_guard<std::mutex> lock(mutex_);
    Key key(id, version);
    auto it = index_.find(key);
    if (it != index_.end()) {
      if (keep(it->second->value)) {
        lru_.splice(lru_.begin(), lru_, it->second);
        dropped.push_back(std::move(value));
        return it->second->value;
      }
      dropped.push_back(std::move(it->second->value));
      lru_.erase(it->second);
      index_.erase(it);
    }
    while (lru_.size() >= capacity_) {
      dropped.push_back(std::move(lru_.back().value));
      index_.erase(lru_.back().key);
      lru_.pop_back();
    }
    lru_.push_front(Entry{key, value});
    index_.emplace(std::move(key), lru_.begin());
    return value;
  }

  Value Insert(const std::string& id, uint32_t version, Value value) {
    return Insert(id, version, std::move(value), [](const Value&) { return true; });
  }

  void Erase(const std::string& id, uint32_t version) {
    Value dropped;
    std::lock_guard<std::mutex> lock(mutex_);
    auto it = index_.find(Key(id, version));
    if (it == index_.end()) return;
    dropped = std::move(it->second->value);
    lru_.erase(it->second);
    index_.erase(it);
  }

  void Clear() {
    std::list<Entry> dropped;
    std::lock_guard<std::mutex> lock(mutex_);
    index_.clear();
    dropped.swap(lru_);
  }

  [[nodiscard]] size_t size() const {
    std::lock_guard<std::mutex> lock(mutex_);
    return lru_.size();
  }

  [[nodiscard]] size_t capacity() const noexcept { return capacity_; }

 private:
  using Key = std::pair<std::string, uint32_t>;
  struct Entry {
    Key key;
    Value value;
  };

  const size_t capacity_;
  mutable std::mutex mutex_;
  std::list<Entry> lru_;  // most recently used first
  std::map<Key, typename std::list<Entry>::iterator> index_;
};

}  // namespace hsmkms::core
