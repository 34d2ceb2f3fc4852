// OAEP decoding on the host, for tokens whose RSA-OAEP lacks a hash (SoftHSM
// 2.6.1 only does SHA-1): the HSM does the raw RSA private operation
// (CKM_RSA_X_509) and OpenSSL removes the padding in constant time.
#pragma once

#include <cstddef>
#include <cstdint>

#include "../status.h"
#include "algorithms.h"

namespace hsmkms::pkcs11 {

// `em` is the k-byte result of the raw RSA operation (k = modulus bytes).
// Writes at most `out_capacity` bytes of message to `out`. Every padding
// failure is kInvalidCiphertext, with no detail of which check failed.
[[nodiscard]] core::Status OaepDecode(OaepHash hash, const uint8_t* em, size_t k, uint8_t* out,
                                      size_t out_capacity, size_t* out_len) noexcept;

}  // namespace hsmkms::pkcs11
