// AES key wrap with padding (RFC 5649) on the host, for the soft root of
// trust. OpenSSL's AES-*-WRAP-PAD is the implementation SoftHSM2 runs for
// CKM_AES_KEY_WRAP_PAD: for the same KEK and key, a soft blob has the bytes a
// token's C_WrapKey would give, so a wrapped CMK has one format on both roots.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

#include "../secure_memory.h"
#include "../status.h"

namespace hsmkms::soft {

// The largest key we wrap: far above a PKCS#8 RSA-4096 key (~2.4 KB), far
// below EVP's int lengths.
constexpr size_t kMaxWrapInput = 64 * 1024;

// RFC 5649 output length for `len` bytes: the input padded to 8 bytes, plus 8.
[[nodiscard]] constexpr size_t AesKwpWrappedSize(size_t len) noexcept {
  return (len + 7) / 8 * 8 + 8;
}

// Wraps `len` bytes (1..kMaxWrapInput) under a `kek_len`-byte KEK (16, 24 or
// 32: AES-128/192/256). kValidation for a bad size; kInternal if OpenSSL fails.
[[nodiscard]] core::Status AesKwpWrap(const uint8_t* kek, size_t kek_len, const uint8_t* key,
                                      size_t len, std::vector<uint8_t>* wrapped);

// Unwraps into secure memory. Every failure of the blob (wrong KEK, tampered,
// truncated, bad padding) is kInvalidCiphertext with `*key` left empty;
// kValidation only for a bad KEK size.
[[nodiscard]] core::Status AesKwpUnwrap(const uint8_t* kek, size_t kek_len, const uint8_t* wrapped,
                                        size_t len, core::SecureBytes* key);

}  // namespace hsmkms::soft
