// An AES-256-GCM key: 32 bytes in secure memory plus the OpenSSL contexts
// keyed with it. A context is keyed once and re-initialised per message with
// only the IV; each thread that uses the key borrows one from the idle list,
// so there is one context per (key, concurrent thread) and no allocation per
// message once warm.
#pragma once

#include <openssl/evp.h>

#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>
#include <vector>

#include "secure_memory.h"
#include "status.h"

namespace hsmkms::core {

class AesGcmKey {
 public:
  static constexpr size_t kKeySize = 32;
  static constexpr size_t kIvSize = 12;
  static constexpr size_t kTagSize = 16;
  static constexpr size_t kOverhead = kIvSize + kTagSize;

  // Copies `len` bytes (must be kKeySize) into secure memory.
  [[nodiscard]] static Status Import(const uint8_t* bytes, size_t len,
                                     std::shared_ptr<AesGcmKey>* out);
  // A fresh random key from OpenSSL's private DRBG.
  [[nodiscard]] static Status Generate(std::shared_ptr<AesGcmKey>* out);
  // Takes over `bytes` (must be kKeySize, already in secure memory): no copy.
  [[nodiscard]] static Status Adopt(SecureBytes bytes, std::shared_ptr<AesGcmKey>* out);

  // Copies the key bytes into `out` (secure memory, kKeySize bytes), for
  // core code that derives or wraps keys from keys. kKeyUnavailable once
  // destroyed. Copying first means no lock is held while the caller works,
  // so a key may be both the input and the wrapping key of one operation.
  [[nodiscard]] Status CopyTo(SecureBytes* out) const;

  ~AesGcmKey();
  AesGcmKey(const AesGcmKey&) = delete;
  AesGcmKey& operator=(const AesGcmKey&) = delete;

  // Writes IV || ciphertext || tag (in_len + kOverhead bytes) to `out`.
  // `iv` null means a random IV. In place when out + kIvSize == in.
  [[nodiscard]] Status Seal(const uint8_t* iv, const uint8_t* in, size_t in_len,
                            const uint8_t* aad, size_t aad_len, uint8_t* out) noexcept;
  // Reads IV || ciphertext || tag and writes sealed_len - kOverhead bytes of
  // plaintext to `out` (may equal sealed + kIvSize). On a failed tag check
  // `out` is wiped and kInvalidCiphertext returned.
  [[nodiscard]] Status Open(const uint8_t* sealed, size_t sealed_len, const uint8_t* aad,
                            size_t aad_len, uint8_t* out) noexcept;
  // As Open, for an IV (kIvSize), ciphertext and tag (kTagSize) stored apart.
  [[nodiscard]] Status OpenParts(const uint8_t* iv, const uint8_t* ciphertext, size_t len,
                                 const uint8_t* tag, const uint8_t* aad, size_t aad_len,
                                 uint8_t* out) noexcept;
  // Some bytes of a message that is not contiguous.
  struct Piece {
    const uint8_t* data;
    size_t length;
  };
  // As OpenParts, for a ciphertext in `count` pieces, opened where they lie
  // (a frame spanning the chunks it arrived in, without gathering it first);
  // writes their total length to `out`.
  [[nodiscard]] Status OpenPieces(const uint8_t* iv, const Piece* pieces, size_t count,
                                  const uint8_t* tag, const uint8_t* aad, size_t aad_len,
                                  uint8_t* out) noexcept;

  // Wipes the key bytes and idle contexts now; contexts in use are freed
  // when returned. Later operations fail with kKeyUnavailable.
  void Destroy() noexcept;
  [[nodiscard]] bool destroyed() const noexcept;

 private:
  AesGcmKey() = default;

  class Lease;
  [[nodiscard]] EVP_CIPHER_CTX* Acquire() noexcept;
  void Return(EVP_CIPHER_CTX* ctx) noexcept;

  mutable std::mutex mutex_;
  SecureBytes key_;
  std::vector<EVP_CIPHER_CTX*> idle_;
  size_t contexts_ = 0;  // idle + borrowed
  bool destroyed_ = false;
};

}  // namespace hsmkms::core
