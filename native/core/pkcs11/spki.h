// Host-side encodings of public material read from the token: SPKI DER for
// RSA (modulus, exponent) and EC (CKA_EC_POINT) keys, and ECDSA signatures
// from PKCS#11's raw r || s to DER (what OpenSSL, JOSE and X.509 users want).
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

#include "../status.h"
#include "algorithms.h"

namespace hsmkms::pkcs11 {

[[nodiscard]] core::Status RsaSpki(const uint8_t* modulus, size_t modulus_len,
                                   const uint8_t* exponent, size_t exponent_len,
                                   std::vector<uint8_t>* der);
// `ec_point` is CKA_EC_POINT: DER OCTET STRING around 04 || X || Y (some
// tokens give the bare point; both are accepted).
[[nodiscard]] core::Status EcSpki(KeySpec spec, const uint8_t* ec_point, size_t ec_point_len,
                                  std::vector<uint8_t>* der);
// `raw` is r || s, each half the field size.
[[nodiscard]] core::Status EcdsaRawToDer(const uint8_t* raw, size_t raw_len,
                                         std::vector<uint8_t>* der);

}  // namespace hsmkms::pkcs11
