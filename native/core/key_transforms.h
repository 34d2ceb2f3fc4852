// Keys made from keys, without their bytes leaving secure memory: HKDF from
// an AES-256 key to a new key (or to non-secret bytes such as a commitment
// key), and a key sealed under another key / opened back into a new key.
// The envelope code (lib/envelope) uses these so that a data key that came
// from the HSM as a handle is never copied into JavaScript.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>

#include "aes_gcm_key.h"
#include "hkdf.h"
#include "status.h"

namespace hsmkms::core {

// A new AES-256 key = HKDF(digest, ikm = key bytes, salt, info, 32 bytes).
[[nodiscard]] Status DeriveKey(const AesGcmKey& key, HkdfDigest digest, const uint8_t* salt,
                               size_t salt_len, const uint8_t* info, size_t info_len,
                               std::shared_ptr<AesGcmKey>* out);

// `out_len` bytes of HKDF(digest, ikm = key bytes, salt, info). Only for
// outputs that are not secret (a commitment value): they leave native memory.
[[nodiscard]] Status DeriveBytes(const AesGcmKey& key, HkdfDigest digest, const uint8_t* salt,
                                 size_t salt_len, const uint8_t* info, size_t info_len,
                                 uint8_t* out, size_t out_len);

// Seals `key`'s bytes under `wrapping`: writes IV || ciphertext || tag
// (kKeySize + kOverhead bytes) to `out`, with a random IV.
[[nodiscard]] Status SealKey(AesGcmKey& wrapping, const AesGcmKey& key, const uint8_t* aad,
                             size_t aad_len, uint8_t* out);

// Opens IV || ciphertext || tag (kKeySize + kOverhead bytes) sealed under
// `wrapping` into a new key. kInvalidCiphertext on a failed tag or a length
// that is not a 32-byte key's.
[[nodiscard]] Status OpenKey(AesGcmKey& wrapping, const uint8_t* sealed, size_t sealed_len,
                             const uint8_t* aad, size_t aad_len, std::shared_ptr<AesGcmKey>* out);

}  // namespace hsmkms::core
