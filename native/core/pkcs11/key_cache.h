// A bounded LRU of unwrapped keys by (CMK id, version). An entry belongs to
// the keeper generation that unwrapped it: after a recovery that lost the
// handles, an older entry is stale and never returned. Evicted session
// objects are destroyed once no operation holds them.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "../keyed_lru_cache.h"
#include "session_object.h"

namespace hsmkms::pkcs11 {

class KeyCache {
 public:
  explicit KeyCache(size_t capacity) : cache_(capacity) {}

  // The cached key of this generation, or null (stale entries are dropped).
  [[nodiscard]] std::shared_ptr<SessionObject> Find(const std::string& id, uint32_t version,
                                                    uint64_t generation) {
    return cache_.Find(id, version, [generation](const std::shared_ptr<SessionObject>& object) {
      return object->generation() == generation;
    });
  }
  // Caches `object` and returns it, or returns the entry another thread
  // cached for the same key and generation in the meantime.
  std::shared_ptr<SessionObject> Insert(const std::string& id, uint32_t version,
                                        std::shared_ptr<SessionObject> object) {
    const uint64_t generation = object->generation();
    return cache_.Insert(id, version, std::move(object),
                         [generation](const std::shared_ptr<SessionObject>& existing) {
                           return existing->generation() == generation;
                         });
  }
  void Erase(const std::string& id, uint32_t version) { cache_.Erase(id, version); }
  void Clear() { cache_.Clear(); }
  [[nodiscard]] size_t size() const { return cache_.size(); }
  [[nodiscard]] size_t capacity() const noexcept { return cache_.capacity(); }

 private:
  core::KeyedLruCache<std::shared_ptr<SessionObject>> cache_;
};

}  // namespace hsmkms::pkcs11
