// HKDF (RFC 5869) through OpenSSL 3's EVP_KDF, the KDF fetched once per
// process. Used for envelope messages: the AWS Encryption SDK derives its
// content and commitment keys with HKDF-SHA512 (v2) or SHA-256/384 (v1).
#pragma once

#include <cstddef>
#include <cstdint>

#include "status.h"

namespace hsmkms::core {

enum class HkdfDigest { kSha256, kSha384, kSha512 };

// Extract-then-expand: writes `out_len` bytes of HKDF(digest, ikm, salt,
// info) to `out`. An empty salt means HashLen zero bytes, as RFC 5869 says.
// kValidation when out_len is 0 or above 255 * HashLen.
[[nodiscard]] Status Hkdf(HkdfDigest digest, const uint8_t* ikm, size_t ikm_len,
                          const uint8_t* salt, size_t salt_len, const uint8_t* info,
                          size_t info_len, uint8_t* out, size_t out_len) noexcept;

// The digest's output size: the length of a pseudorandom key (PRK).
[[nodiscard]] size_t HkdfDigestSize(HkdfDigest digest) noexcept;

// HKDF-Extract alone: writes HkdfDigestSize(digest) bytes of PRK to `prk`.
// With HkdfExpand, lets one extract serve several outputs of one salt/ikm.
[[nodiscard]] Status HkdfExtract(HkdfDigest digest, const uint8_t* ikm, size_t ikm_len,
                                 const uint8_t* salt, size_t salt_len, uint8_t* prk) noexcept;

// HKDF-Expand alone, from a PRK made by HkdfExtract.
[[nodiscard]] Status HkdfExpand(HkdfDigest digest, const uint8_t* prk, size_t prk_len,
                                const uint8_t* info, size_t info_len, uint8_t* out,
                                size_t out_len) noexcept;

}  // namespace hsmkms::core
