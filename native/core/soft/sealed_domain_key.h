// The soft root's domain keys at rest: each AES-256 domain key sealed under
// the root key with AES-256-GCM. The sealed form is the `reference` of
// RootOfTrust::CreateDomainKey, which the key store keeps.
//
// Layout (kSealedDomainKeySize = 61 bytes):
//   u8 format (kSealFormat = 1) | 12 B IV (random) | 32 B ciphertext | 16 B tag
//   AAD = "hsmkms:soft:domain-key" (22 ASCII bytes) | u8 format | u32 BE domain version
// The version in the AAD binds the sealed key to its version: a reference
// stored under another version does not open. The label keeps these blobs
// apart from anything else the root key might ever seal.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

#include "../aes_gcm_key.h"
#include "../secure_memory.h"
#include "../status.h"

namespace hsmkms::soft {

constexpr uint8_t kSealFormat = 1;
constexpr size_t kDomainKeySize = 32;
constexpr size_t kSealedDomainKeySize =
    1 + core::AesGcmKey::kIvSize + kDomainKeySize + core::AesGcmKey::kTagSize;

// Seals a kDomainKeySize-byte key (kValidation for another size).
[[nodiscard]] core::Status SealDomainKey(core::AesGcmKey& root_key, uint32_t version,
                                         const core::SecureBytes& domain_key,
                                         std::vector<uint8_t>* reference);
// Opens a sealed key into secure memory. Every failure of the reference
// (wrong root key, wrong version, tampered, wrong length or format) is
// kInvalidCiphertext, `*domain_key` left empty.
[[nodiscard]] core::Status UnsealDomainKey(core::AesGcmKey& root_key, uint32_t version,
                                           const uint8_t* reference, size_t len,
                                           core::SecureBytes* domain_key);

}  // namespace hsmkms::soft
