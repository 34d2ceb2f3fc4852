// A bounded LRU of unwrapped keys by (CMK id, version). Evicted entries are
// released outside the lock; their session objects are destroyed once no
// operation holds them.
#pragma once

#include <cstddef>
#include <cstdint>
#include <list>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <utility>

#include "session_object.h"

namespace hsmkms::pkcs11 {

class KeyCache {
 public:
  // capacity 0 caches nothing (every operation unwraps and destroys).
  explicit KeyCache(size_t capacity) : capacity_(capacity) {}
  KeyCache(const KeyCache&) = delete;
  KeyCache& operator=(const KeyCache&) = delete;

  // The cached key of this generation, or null (stale entries are dropped).
  [[nodiscard]] std::shared_ptr<SessionObject> Find(const std::string& id, uint32_t version,
                                                    uint64_t generation);
  // Caches `object` and returns it, or returns the entry another thread
  // cached for the same key and generation in the meantime (then `object`
  // is dropped).
  std::shared_ptr<SessionObject> Insert(const std::string& id, uint32_t version,
                                        std::shared_ptr<SessionObject> object);
  void Erase(const std::string& id, uint32_t version);
  void Clear();
  [[nodiscard]] size_t size() const;
  [[nodiscard]] size_t capacity() const noexcept { return capacity_; }

 private:
  using Key = std::pair<std::string, uint32_t>;
  struct Entry {
    Key key;
    std::shared_ptr<SessionObject> object;
  };

  const size_t capacity_;
  mutable std::mutex mutex_;
  std::list<Entry> lru_;  // most recently used first
  std::map<Key, std::list<Entry>::iterator> index_;
};

}  // namespace hsmkms::pkcs11
