// The key specs and algorithms of the PKCS#11 layer, with their AWS KMS
// names (the binding passes names; the core works with the enums).
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>

#include <openssl/evp.h>

namespace hsmkms::pkcs11 {

enum class KeySpec {
  kAes256,
  kRsa2048,
  kRsa3072,
  kRsa4096,
  kEccNistP256,
  kEccNistP384,
  kHmac224,
  kHmac256,
  kHmac384,
  kHmac512,
};
enum class KeyUsage { kEncryptDecrypt, kSignVerify, kGenerateVerifyMac };
// How a domain key wraps CMK material. Stored with each wrapped key by name;
// each token maps it to its own mechanism (RFC 5649 is 0x210A on SoftHSM and
// nShield, 0x210B KWP on PKCS#11 3.x tokens).
enum class WrapAlgorithm { kAesKwp };
enum class OaepHash { kSha1, kSha256 };
enum class SigningAlgorithm {
  kRsaPssSha256,
  kRsaPssSha384,
  kRsaPssSha512,
  kRsaPkcs1Sha256,
  kRsaPkcs1Sha384,
  kRsaPkcs1Sha512,
  kEcdsaSha256,
  kEcdsaSha384,
};
// HMAC with the SHA-2 digest of the key spec (AWS pairs HMAC_256 with HMAC_SHA_256, ...).
enum class MacAlgorithm { kHmacSha224, kHmacSha256, kHmacSha384, kHmacSha512 };
// Whether Sign/Verify get the message (hashed on the host) or its digest.
enum class MessageType { kRaw, kDigest };

// AWS names: "SYMMETRIC_DEFAULT", "RSA_2048", ..., "ECC_NIST_P384".
[[nodiscard]] const char* KeySpecName(KeySpec spec) noexcept;
[[nodiscard]] bool ParseKeySpec(std::string_view name, KeySpec* out) noexcept;
// "ENCRYPT_DECRYPT", "SIGN_VERIFY".
[[nodiscard]] const char* KeyUsageName(KeyUsage usage) noexcept;
[[nodiscard]] bool ParseKeyUsage(std::string_view name, KeyUsage* out) noexcept;
// "AES_KWP_RFC5649".
[[nodiscard]] const char* WrapAlgorithmName(WrapAlgorithm algorithm) noexcept;
[[nodiscard]] bool ParseWrapAlgorithm(std::string_view name, WrapAlgorithm* out) noexcept;
// "RSAES_OAEP_SHA_1", "RSAES_OAEP_SHA_256".
[[nodiscard]] const char* OaepHashName(OaepHash hash) noexcept;
[[nodiscard]] bool ParseOaepHash(std::string_view name, OaepHash* out) noexcept;
// "RSASSA_PSS_SHA_256", "RSASSA_PKCS1_V1_5_SHA_384", "ECDSA_SHA_256", ...
[[nodiscard]] const char* SigningAlgorithmName(SigningAlgorithm algorithm) noexcept;
[[nodiscard]] bool ParseSigningAlgorithm(std::string_view name, SigningAlgorithm* out) noexcept;
// "HMAC_SHA_224", ..., "HMAC_SHA_512".
[[nodiscard]] const char* MacAlgorithmName(MacAlgorithm algorithm) noexcept;
[[nodiscard]] bool ParseMacAlgorithm(std::string_view name, MacAlgorithm* out) noexcept;
// "RAW", "DIGEST".
[[nodiscard]] bool ParseMessageType(std::string_view name, MessageType* out) noexcept;

[[nodiscard]] bool IsRsa(KeySpec spec) noexcept;
[[nodiscard]] bool IsEc(KeySpec spec) noexcept;
[[nodiscard]] bool IsHmac(KeySpec spec) noexcept;
// Why a key of `spec` cannot have `usage` (null when it can): AES keys
// encrypt, EC keys sign, HMAC keys make MACs, RSA keys encrypt or sign.
[[nodiscard]] const char* KeyUsageRefusal(KeySpec spec, KeyUsage usage) noexcept;
// Modulus bits for RSA, field bits for EC, 256 for AES, key bits for HMAC
// (224 for HMAC_224: AWS's key lengths).
[[nodiscard]] size_t KeyBits(KeySpec spec) noexcept;
// Whether `algorithm` can sign with a key of `spec` (AWS pairs P-256 with
// SHA-256 and P-384 with SHA-384).
[[nodiscard]] bool SigningAlgorithmFits(SigningAlgorithm algorithm, KeySpec spec) noexcept;
[[nodiscard]] bool IsPss(SigningAlgorithm algorithm) noexcept;
[[nodiscard]] bool IsPkcs1(SigningAlgorithm algorithm) noexcept;
// Whether `algorithm` is the one MAC algorithm of an HMAC key of `spec`.
[[nodiscard]] bool MacAlgorithmFits(MacAlgorithm algorithm, KeySpec spec) noexcept;
// The digest of a MAC algorithm (OpenSSL's static methods; never null).
[[nodiscard]] const EVP_MD* MacDigest(MacAlgorithm algorithm) noexcept;

// The host digest of a signing algorithm or OAEP hash (OpenSSL's static
// methods; never null).
[[nodiscard]] const EVP_MD* SigningDigest(SigningAlgorithm algorithm) noexcept;
[[nodiscard]] const EVP_MD* OaepDigest(OaepHash hash) noexcept;
// Hashes on the host; `out` has room for EVP_MAX_MD_SIZE bytes.
[[nodiscard]] bool HostDigest(const EVP_MD* md, const uint8_t* data, size_t len, uint8_t* out,
                              size_t* out_len) noexcept;
// The DER DigestInfo header that PKCS#1 v1.5 puts before the digest
// (CKM_RSA_PKCS signs what it is given); null for other algorithms.
[[nodiscard]] const uint8_t* DigestInfoPrefix(SigningAlgorithm algorithm, size_t* len) noexcept;

}  // namespace hsmkms::pkcs11
