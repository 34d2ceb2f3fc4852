// The `soft` root of trust: the key hierarchy of DESIGN.md section 1 with no
// HSM, for zero set-up. NOT FOR PRODUCTION: every secret is in this process.
//
//   root key (32 bytes: a 0600 file, or scrypt of a passphrase, read by the
//   TypeScript side and handed in)
//     └─ domain keys: random AES-256 keys in locked memory, stored sealed
//        under the root key (sealed_domain_key.h: the `reference`)
//          └─ CMK versions: generated with OpenSSL, wrapped under a domain
//             key with RFC 5649 (aes_kwp.h), the same blob format as a token's
//
// Every operation mirrors pkcs11::Hsm: the same checks in the same order,
// the same statuses, the same output formats, so that the KMS above can tell
// the two apart only by kind(). Where they differ (see the methods): soft
// uses the caller's GCM IV as SoftHSM does, never retries (stats().retries
// is 0), and reports failures with HsmResult::fn null and rv CKR_OK.
//
// The unwrapped-key cache holds AES keys as core::AesGcmKey (locked memory)
// and private keys as EVP_PKEY, which live in OpenSSL's heap (private_key.h).
//
// All methods are thread-safe; run them on Threads() (RSA is CPU-heavy),
// never on the JS thread and not on the AES pool.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <shared_mutex>
#include <string>
#include <vector>

#include "../aes_gcm_key.h"
#include "../root_of_trust.h"
#include "../secure_memory.h"
#include "../worker_pool.h"
#include "key_cache.h"

namespace hsmkms::soft {

using pkcs11::HsmResult;
using pkcs11::KeySpec;
using pkcs11::KeyUsage;
using pkcs11::MacAlgorithm;
using pkcs11::MessageType;
using pkcs11::OaepHash;
using pkcs11::SigningAlgorithm;
using pkcs11::WrappedKey;

class SoftRoot final : public core::RootOfTrust {
 public:
  static constexpr size_t kRootKeySize = 32;
  static constexpr size_t kDefaultKeyCacheCapacity = 1024;

  // `root_key` must be kRootKeySize bytes (kValidation otherwise); it is
  // kept in locked memory and wiped when the root goes. Grows Threads() to
  // `threads`. `key_cache_capacity` 0 unwraps for every operation.
  [[nodiscard]] static HsmResult Open(core::SecureBytes root_key, size_t threads,
                                      std::shared_ptr<SoftRoot>* out,
                                      size_t key_cache_capacity = kDefaultKeyCacheCapacity);
  ~SoftRoot() override;
  SoftRoot(const SoftRoot&) = delete;
  SoftRoot& operator=(const SoftRoot&) = delete;

  // The process-wide soft-root threads, separate from the AES pool and the
  // HSM threads. Process-wide and leaked, like Hsm::Threads(): a root whose
  // last reference drops on one of its own threads must not join them.
  static core::WorkerPool& Threads();

  [[nodiscard]] const char* kind() const noexcept override { return "soft"; }

  // --- Domain keys -------------------------------------------------------------
  // A random AES-256 domain key; `reference` gets it sealed under the root
  // key (sealed_domain_key.h). kAlreadyExists when `version` is open in this
  // root (created or opened): open every stored version before creating one.
  [[nodiscard]] HsmResult CreateDomainKey(uint32_t version,
                                          std::vector<uint8_t>* reference) override;
  // Unseals `reference` into locked memory. kInvalidCiphertext when it does
  // not open (wrong root key, another version's reference, tampered,
  // malformed). Idempotent: Ok when `version` is open with the same key
  // already; kInvalidState when it is open with a different key (two keys
  // claim one version, as a token with a duplicate label).
  [[nodiscard]] HsmResult OpenDomainKey(uint32_t version, const uint8_t* reference,
                                        size_t reference_len) override;
  // kNotFound always: soft keeps no state of its own (the key store keeps
  // the sealed references).
  [[nodiscard]] HsmResult FindDomainKey(uint32_t version,
                                        std::vector<uint8_t>* reference) override;

  // --- Randomness ---------------------------------------------------------------
  // OpenSSL's private DRBG (RAND_priv_bytes): the output often becomes data keys.
  [[nodiscard]] HsmResult GenerateRandom(uint8_t* out, size_t len) override;

  // --- CMK material -----------------------------------------------------------
  // AES-256 (ENCRYPT_DECRYPT only), RSA 2048/3072/4096 (either usage), EC
  // P-256/P-384 (SIGN_VERIFY only), else kInvalidKeyUsage. kNotFound when
  // domain key `domain_version` is not open. The blob is RFC 5649 of the key
  // (40 bytes) or of its PKCS#8 PrivateKeyInfo; `spki` (asymmetric only; may
  // be null for AES and is then left alone) gets the SubjectPublicKeyInfo DER.
  [[nodiscard]] HsmResult GenerateKey(KeySpec spec, KeyUsage usage, uint32_t domain_version,
                                      WrappedKey* out, std::vector<uint8_t>* spki) override;
  // Unwraps under key.domain_version into locked memory, checks the material
  // is of key.spec, wraps under `domain_version`, wipes. `out` is `key` with
  // the new domain_version and blob (out may be &key). kNotFound for a
  // domain key that is not open; kInvalidCiphertext for a bad blob.
  [[nodiscard]] HsmResult RewrapKey(const WrappedKey& key, uint32_t domain_version,
                                    WrappedKey* out) override;

  // --- AES-256-GCM ------------------------------------------------------------
  // As Hsm: kInvalidKeyUsage unless an AES ENCRYPT_DECRYPT key; empty AAD is
  // kValidation (SoftHSM needs AAD, so Hsm refuses it; soft refuses it too so
  // that the two behave alike). The caller's IV is used and left unchanged.
  [[nodiscard]] HsmResult Encrypt(const WrappedKey& key, uint8_t* iv, const uint8_t* aad,
                                  size_t aad_len, const uint8_t* plaintext, size_t len,
                                  uint8_t* out) override;
  // kInvalidCiphertext (out wiped) for a bad tag or len < kGcmTagSize;
  // kValidation when out_capacity < len - kGcmTagSize.
  [[nodiscard]] HsmResult Decrypt(const WrappedKey& key, const uint8_t* iv, const uint8_t* aad,
                                  size_t aad_len, const uint8_t* ciphertext, size_t len,
                                  uint8_t* out, size_t out_capacity, size_t* out_len) override;

  // --- Asymmetric -------------------------------------------------------------
  // RSA-OAEP with SHA-1 or SHA-256 (label hash and MGF1), empty label.
  // kInvalidKeyUsage unless an RSA ENCRYPT_DECRYPT key; every failure of the
  // ciphertext, a too small `out` included, is kInvalidCiphertext with `out`
  // wiped (one status, no oracle).
  [[nodiscard]] HsmResult RsaDecrypt(const WrappedKey& key, OaepHash hash,
                                     const uint8_t* ciphertext, size_t len, uint8_t* out,
                                     size_t out_capacity, size_t* out_len) override;
  // kRaw hashes on the host; kDigest takes the digest (kValidation for a
  // wrong length). RSA signatures are modulus-sized, ECDSA ones DER. They
  // verify with pkcs11::PublicKey::Verify, as Hsm's do.
  [[nodiscard]] HsmResult Sign(const WrappedKey& key, SigningAlgorithm algorithm,
                               MessageType type, const uint8_t* data, size_t len,
                               std::vector<uint8_t>* signature) override;

  // --- HMAC -----------------------------------------------------------------------
  [[nodiscard]] HsmResult GenerateMac(const WrappedKey& key, MacAlgorithm algorithm,
                                      const uint8_t* data, size_t len,
                                      std::vector<uint8_t>* mac) override;
  [[nodiscard]] HsmResult VerifyMac(const WrappedKey& key, MacAlgorithm algorithm,
                                    const uint8_t* data, size_t len, const uint8_t* mac,
                                    size_t mac_len, bool* valid) override;

  // --- Cache and diagnostics ----------------------------------------------------
  void EvictKey(const std::string& id, uint32_t version) override;
  // cached_keys, unwraps (cache misses); retries is always 0.
  [[nodiscard]] core::RootStats stats() const override;
  [[nodiscard]] core::WorkerPool& threads() override { return Threads(); }

 private:
  using DomainKey = std::shared_ptr<const core::SecureBytes>;

  SoftRoot(std::shared_ptr<core::AesGcmKey> root_key, size_t key_cache_capacity);

  // Null when `version` is not open.
  [[nodiscard]] DomainKey FindDomainKey(uint32_t version) const;
  // The unwrapped key of `key`, from the cache or unwrapped (and cached).
  [[nodiscard]] HsmResult Resolve(const WrappedKey& key,
                                  std::shared_ptr<const UnwrappedKey>* out);
  // Unwraps `key.blob` under its domain key into locked memory.
  [[nodiscard]] HsmResult UnwrapMaterial(const WrappedKey& key, core::SecureBytes* material);

  const std::shared_ptr<core::AesGcmKey> root_key_;
  mutable std::shared_mutex domain_keys_mutex_;
  std::map<uint32_t, DomainKey> domain_keys_;
  KeyCache cache_;
  std::atomic<uint64_t> unwraps_{0};
};

}  // namespace hsmkms::soft
