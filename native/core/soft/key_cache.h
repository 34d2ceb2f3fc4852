// The soft root's cache of unwrapped CMK versions by (id, version): the
// shared LRU (keyed_lru_cache.h) over immutable entries.
#pragma once

#include <memory>

#include "../aes_gcm_key.h"
#include "../keyed_lru_cache.h"
#include "../secure_memory.h"
#include "../pkcs11/algorithms.h"
#include "private_key.h"

namespace hsmkms::soft {

// One unwrapped CMK version: `aes` for SYMMETRIC_DEFAULT (key bytes in the
// locked arena, contexts pooled per thread), `mac_key` for HMAC keys (key
// bytes in the locked arena), `private_key` otherwise (an EVP_PKEY in
// OpenSSL's heap; see private_key.h). Immutable once cached.
struct UnwrappedKey {
  pkcs11::KeySpec spec = pkcs11::KeySpec::kAes256;
  pkcs11::KeyUsage usage = pkcs11::KeyUsage::kEncryptDecrypt;
  std::shared_ptr<core::AesGcmKey> aes;
  core::SecureBytes mac_key;
  std::unique_ptr<PrivateKey> private_key;
};

// Unwrapped keys are immutable and shared: an operation holding one keeps
// it alive after an eviction.
using KeyCache = core::KeyedLruCache<std::shared_ptr<const UnwrappedKey>>;

}  // namespace hsmkms::soft
