#include "key_cache.h"

#include <vector>

namespace hsmkms::pkcs11 {

std::shared_ptr<SessionObject> KeyCache::Find(const std::string& id, uint32_t version,
                                              uint64_t generation) {
  std::shared_ptr<SessionObject> stale;  // released after the lock
  std::lock_guard<std::mutex> lock(mutex_);
  auto it = index_.find(Key(id, version));
  if (it == index_.end()) return nullptr;
  if (it->second->object->generation() != generation) {
    stale = std::move(it->second->object);
    lru_.erase(it->second);
    index_.erase(it);
    return nullptr;
  }
  lru_.splice(lru_.begin(), lru_, it->second);
  return it->second->object;
}

std::shared_ptr<SessionObject> KeyCache::Insert(const std::string& id, uint32_t version,
                                                std::shared_ptr<SessionObject> object) {
  if (capacity_ == 0) return object;
  std::vector<std::shared_ptr<SessionObject>> dropped;  // released after the lock
  std::lock_guard<std::mutex> lock(mutex_);
  Key key(id, version);
  auto it = index_.find(key);
  if (it != index_.end()) {
    if (it->second->object->generation() == object->generation()) {
      lru_.splice(lru_.begin(), lru_, it->second);
      dropped.push_back(std::move(object));
      return it->second->object;
    }
    dropped.push_back(std::move(it->second->object));
    lru_.erase(it->second);
    index_.erase(it);
  }
  while (lru_.size() >= capacity_) {
    dropped.push_back(std::move(lru_.back().object));
    index_.erase(lru_.back().key);
    lru_.pop_back();
  }
  lru_.push_front(Entry{key, object});
  index_.emplace(std::move(key), lru_.begin());
  return object;
}

void KeyCache::Erase(const std::string& id, uint32_t version) {
  std::shared_ptr<SessionObject> dropped;
  std::lock_guard<std::mutex> lock(mutex_);
  auto it = index_.find(Key(id, version));
  if (it == index_.end()) return;
  dropped = std::move(it->second->object);
  lru_.erase(it->second);
  index_.erase(it);
}

void KeyCache::Clear() {
  std::list<Entry> dropped;
  std::lock_guard<std::mutex> lock(mutex_);
  index_.clear();
  dropped.swap(lru_);
}

size_t KeyCache::size() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return lru_.size();
}

}  // namespace hsmkms::pkcs11
