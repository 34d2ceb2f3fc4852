// The public half of an asymmetric CMK, on the host: public-key operations
// never need the HSM (RSA-OAEP encryption, signature verification).
#pragma once

#include <openssl/evp.h>

#include <cstddef>
#include <cstdint>
#include <memory>
#include <vector>

#include "../status.h"
#include "algorithms.h"

namespace hsmkms::pkcs11 {

class PublicKey {
 public:
  // Parses SPKI DER (kValidation when it is not an RSA or P-256/P-384 key).
  [[nodiscard]] static core::Status FromSpki(const uint8_t* der, size_t len,
                                             std::unique_ptr<PublicKey>* out);
  ~PublicKey();
  PublicKey(const PublicKey&) = delete;
  PublicKey& operator=(const PublicKey&) = delete;

  [[nodiscard]] KeySpec spec() const noexcept { return spec_; }

  // RSA-OAEP with `hash` for both the label hash and MGF1, empty label.
  [[nodiscard]] core::Status EncryptOaep(OaepHash hash, const uint8_t* plaintext, size_t len,
                                         std::vector<uint8_t>* ciphertext) const;
  // *valid is false for a wrong signature; the status reports only misuse
  // (kInvalidKeyUsage for an algorithm that does not fit the key, kValidation
  // for a digest of the wrong size).
  [[nodiscard]] core::Status Verify(SigningAlgorithm algorithm, MessageType type,
                                    const uint8_t* data, size_t len, const uint8_t* signature,
                                    size_t signature_len, bool* valid) const;

 private:
  PublicKey(EVP_PKEY* key, KeySpec spec) : key_(key), spec_(spec) {}

  EVP_PKEY* key_;
  KeySpec spec_;
};

}  // namespace hsmkms::pkcs11
