#include "key_cache.h"

#include <vector>

namespace hsmkms::soft {

// In each method the released entries are declared before the lock, so that
// they are destroyed (EVP_PKEY_free, secure memory returned) after it.

std::shared_ptr<const UnwrappedKey> KeyCache::Find(const std::string& id, uint32_t version) {
  std::lock_guard<std::mutex> lock(mutex_);
  auto it = index_.find(Key(id, version));
  if (it == index_.end()) return nullptr;
  lru_.splice(lru_.begin(), lru_, it->second);
  return it->second->value;
}

std::shared_ptr<const UnwrappedKey> KeyCache::Insert(const std::string& id, uint32_t version,
                                                     std::shared_ptr<const UnwrappedKey> key) {
  if (capacity_ == 0) return key;
  std::vector<std::shared_ptr<const UnwrappedKey>> dropped;
  std::lock_guard<std::mutex> lock(mutex_);
  Key name(id, version);
  auto it = index_.find(name);
  if (it != index_.end()) {
    // Two threads missed at once: keep the first, so both share one key.
    lru_.splice(lru_.begin(), lru_, it->second);
    dropped.push_back(std::move(key));
    return it->second->value;
  }
  while (lru_.size() >= capacity_) {
    dropped.push_back(std::move(lru_.back().value));
    index_.erase(lru_.back().key);
    lru_.pop_back();
  }
  lru_.push_front(Entry{name, key});
  index_.emplace(std::move(name), lru_.begin());
  return key;
}

void KeyCache::Erase(const std::string& id, uint32_t version) {
  std::shared_ptr<const UnwrappedKey> dropped;
  std::lock_guard<std::mutex> lock(mutex_);
  auto it = index_.find(Key(id, version));
  if (it == index_.end()) return;
  dropped = std::move(it->second->value);
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

}  // namespace hsmkms::soft
