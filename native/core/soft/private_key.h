// An asymmetric CMK's private key on the host (soft root only): generated
// with OpenSSL, carried as PKCS#8 PrivateKeyInfo DER in secure memory while
// it is wrapped or unwrapped, and parsed into an EVP_PKEY to decrypt or sign.
//
// The EVP_PKEY lives in OpenSSL's heap, not in the locked arena: OpenSSL
// keeps a key's bignums in its own allocations, which are neither mlock'ed
// nor excluded from core dumps (Node's OpenSSL has no secure heap either).
// EVP_PKEY_free cleanses them (BN_clear_free) when the last reference goes.
// This is one reason `soft` is not for production.
#pragma once

#include <openssl/evp.h>

#include <cstddef>
#include <cstdint>
#include <memory>
#include <vector>

#include "../pkcs11/algorithms.h"
#include "../secure_memory.h"
#include "../status.h"

namespace hsmkms::soft {

class PrivateKey {
 public:
  // A fresh key of `spec` (RSA 2048/3072/4096 with e = 65537, or EC
  // P-256/P-384): `pkcs8` gets its PrivateKeyInfo DER in secure memory,
  // `spki` its SubjectPublicKeyInfo DER. kValidation for AES.
  [[nodiscard]] static core::Status Generate(pkcs11::KeySpec spec, core::SecureBytes* pkcs8,
                                             std::vector<uint8_t>* spki);
  // Parses PrivateKeyInfo DER; kInvalidCiphertext unless it is exactly one
  // private key of `spec` (type and size or curve).
  [[nodiscard]] static core::Status FromPkcs8(pkcs11::KeySpec spec, const uint8_t* der, size_t len,
                                              std::unique_ptr<PrivateKey>* out);

  ~PrivateKey();
  PrivateKey(const PrivateKey&) = delete;
  PrivateKey& operator=(const PrivateKey&) = delete;

  [[nodiscard]] pkcs11::KeySpec spec() const noexcept { return spec_; }

  // RSA-OAEP decryption (`hash` for the label hash and MGF1, empty label):
  // the raw RSA private operation into secure memory, then OpenSSL's
  // constant-time OAEP decoding (pkcs11::OaepDecode, as Hsm uses on tokens
  // without OAEP-SHA-256). Every failure, too small an output included, is
  // kInvalidCiphertext with `out` wiped: no padding oracle.
  [[nodiscard]] core::Status DecryptOaep(pkcs11::OaepHash hash, const uint8_t* ciphertext,
                                         size_t len, uint8_t* out, size_t out_capacity,
                                         size_t* out_len) const;
  // Signs a digest of `algorithm`'s hash: RSA PSS (MGF1 with the same hash,
  // salt = digest length, as AWS KMS), PKCS#1 v1.5, or ECDSA (DER). The
  // caller checked that the algorithm fits the key and the digest length.
  [[nodiscard]] core::Status SignDigest(pkcs11::SigningAlgorithm algorithm, const uint8_t* digest,
                                        size_t digest_len, std::vector<uint8_t>* signature) const;

 private:
  struct Deleter {
    void operator()(EVP_PKEY* key) const noexcept { EVP_PKEY_free(key); }
  };
  PrivateKey(EVP_PKEY* key, pkcs11::KeySpec spec) noexcept : key_(key), spec_(spec) {}

  // Safe to share between threads: operations only read it (each makes its
  // own EVP_PKEY_CTX; RSA blinding is locked inside OpenSSL).
  std::unique_ptr<EVP_PKEY, Deleter> key_;
  pkcs11::KeySpec spec_;
};

}  // namespace hsmkms::soft
