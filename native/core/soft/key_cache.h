// The soft root's bounded LRU of unwrapped CMK versions by (id, version).
// Entries are shared: an operation holding one keeps it alive after an
// eviction, and evicted entries are released outside the lock.
#pragma once

#include <cstddef>
#include <cstdint>
#include <list>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <utility>

#include "../aes_gcm_key.h"
#include "../pkcs11/algorithms.h"
#include "private_key.h"

namespace hsmkms::soft {

// One unwrapped CMK version: `aes` for SYMMETRIC_DEFAULT (key bytes in the
// locked arena, contexts pooled per thread), `private_key` otherwise (an
// EVP_PKEY in OpenSSL's heap; see private_key.h). Immutable once cached.
struct UnwrappedKey {
  pkcs11::KeySpec spec = pkcs11::KeySpec::kAes256;
  pkcs11::KeyUsage usage = pkcs11::KeyUsage::kEncryptDecrypt;
  std::shared_ptr<core::AesGcmKey> aes;
  std::unique_ptr<PrivateKey> private_key;
};

class KeyCache {
 public:
  // capacity 0 caches nothing (every operation unwraps).
  explicit KeyCache(size_t capacity) : capacity_(capacity) {}
  KeyCache(const KeyCache&) = delete;
  KeyCache& operator=(const KeyCache&) = delete;

  // The cached key (now the most recently used), or null.
  [[nodiscard]] std::shared_ptr<const UnwrappedKey> Find(const std::string& id, uint32_t version);
  // Caches `key` and returns it, or returns the entry another thread cached
  // for the same (id, version) in the meantime (then `key` is dropped).
  std::shared_ptr<const UnwrappedKey> Insert(const std::string& id, uint32_t version,
                                             std::shared_ptr<const UnwrappedKey> key);
  void Erase(const std::string& id, uint32_t version);
  void Clear();
  [[nodiscard]] size_t size() const;
  [[nodiscard]] size_t capacity() const noexcept { return capacity_; }

 private:
  using Key = std::pair<std::string, uint32_t>;
  struct Entry {
    Key key;
    std::shared_ptr<const UnwrappedKey> value;
  };

  const size_t capacity_;
  mutable std::mutex mutex_;
  std::list<Entry> lru_;  // most recently used first
  std::map<Key, std::list<Entry>::iterator> index_;
};

}  // namespace hsmkms::soft
