// The root of trust of the key hierarchy, as the KMS sees it: domain keys,
// CMK material generated and wrapped under them, and every operation that
// needs a CMK's secret part. Two implementations: pkcs11::Hsm (any PKCS#11
// token) and soft::SoftRoot (the embedded default: the same hierarchy with
// domain keys in locked memory, sealed under a root key file; not an HSM).
//
// Every method may block (an HSM round trip): call them on the root's own
// threads (Threads()), never on the JS thread. All methods are thread-safe.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "pkcs11/algorithms.h"
#include "pkcs11/hsm_result.h"
#include "pkcs11/wrapped_key.h"
#include "worker_pool.h"

namespace hsmkms::core {

using pkcs11::HsmResult;
using pkcs11::KeySpec;
using pkcs11::KeyUsage;
using pkcs11::MacAlgorithm;
using pkcs11::MessageType;
using pkcs11::OaepHash;
using pkcs11::SigningAlgorithm;
using pkcs11::WrappedKey;

struct RootStats {
  size_t cached_keys = 0;   // unwrapped CMK versions held
  uint64_t retries = 0;     // operations tried again after a recoverable error
  uint64_t unwraps = 0;     // unwraps of CMK material (cache misses)
};

class RootOfTrust {
 public:
  static constexpr size_t kGcmIvSize = 12;
  static constexpr size_t kGcmTagSize = 16;

  virtual ~RootOfTrust() = default;

  // "pkcs11" or "soft".
  [[nodiscard]] virtual const char* kind() const noexcept = 0;

  // --- Domain keys -------------------------------------------------------------
  // Creates domain key `version`. `reference` receives what the key store
  // keeps to find it again: the CKA_ID on a token, the sealed key for soft.
  // kAlreadyExists when that version exists.
  [[nodiscard]] virtual HsmResult CreateDomainKey(uint32_t version,
                                                  std::vector<uint8_t>* reference) = 0;
  // Makes domain key `version` usable from its stored reference (a token
  // checks the object exists and carries that CKA_ID; soft unseals it).
  // kNotFound when absent; kInvalidCiphertext when a sealed reference fails.
  [[nodiscard]] virtual HsmResult OpenDomainKey(uint32_t version, const uint8_t* reference,
                                                size_t reference_len) = 0;
  // The stored reference of domain key `version` when the root itself keeps
  // it (a token: the object's CKA_ID). kNotFound when absent, and always for
  // a root that keeps no state of its own (soft: the key store has it).
  [[nodiscard]] virtual HsmResult FindDomainKey(uint32_t version,
                                                std::vector<uint8_t>* reference) = 0;

  // --- Randomness ---------------------------------------------------------------
  [[nodiscard]] virtual HsmResult GenerateRandom(uint8_t* out, size_t len) = 0;

  // --- CMK material -----------------------------------------------------------
  // Generates a key inside the root, wrapped under domain key
  // `domain_version` (fills spec, usage, domain_version, algorithm, blob; the
  // caller sets id and version). Asymmetric specs also give the SPKI DER.
  [[nodiscard]] virtual HsmResult GenerateKey(KeySpec spec, KeyUsage usage,
                                              uint32_t domain_version, WrappedKey* out,
                                              std::vector<uint8_t>* spki) = 0;
  // Re-wraps `key` under domain key `domain_version` (domain-key rotation);
  // the material never leaves the root in the clear.
  [[nodiscard]] virtual HsmResult RewrapKey(const WrappedKey& key, uint32_t domain_version,
                                            WrappedKey* out) = 0;

  // --- AES-256-GCM with a symmetric CMK -------------------------------------
  // `iv` in/out (some HSMs choose it). Writes len + kGcmTagSize bytes.
  [[nodiscard]] virtual HsmResult Encrypt(const WrappedKey& key, uint8_t* iv, const uint8_t* aad,
                                          size_t aad_len, const uint8_t* plaintext, size_t len,
                                          uint8_t* out) = 0;
  // `ciphertext` = ciphertext || tag. Bad tag: kInvalidCiphertext, out wiped.
  [[nodiscard]] virtual HsmResult Decrypt(const WrappedKey& key, const uint8_t* iv,
                                          const uint8_t* aad, size_t aad_len,
                                          const uint8_t* ciphertext, size_t len, uint8_t* out,
                                          size_t out_capacity, size_t* out_len) = 0;

  // --- Asymmetric CMKs (public-key halves need no root: pkcs11::PublicKey) --
  [[nodiscard]] virtual HsmResult RsaDecrypt(const WrappedKey& key, OaepHash hash,
                                             const uint8_t* ciphertext, size_t len, uint8_t* out,
                                             size_t out_capacity, size_t* out_len) = 0;
  [[nodiscard]] virtual HsmResult Sign(const WrappedKey& key, SigningAlgorithm algorithm,
                                       MessageType type, const uint8_t* data, size_t len,
                                       std::vector<uint8_t>* signature) = 0;

  // --- HMAC CMKs (GENERATE_VERIFY_MAC) ------------------------------------------
  // The MAC of `data` under `key` (digest-sized). kInvalidKeyUsage unless
  // `algorithm` is the key's one algorithm.
  [[nodiscard]] virtual HsmResult GenerateMac(const WrappedKey& key, MacAlgorithm algorithm,
                                              const uint8_t* data, size_t len,
                                              std::vector<uint8_t>* mac) = 0;
  // Whether `mac` is the MAC of `data`, compared inside the root (the token's
  // C_Verify, or CRYPTO_memcmp): a wrong MAC is `*valid = false`, not an error.
  [[nodiscard]] virtual HsmResult VerifyMac(const WrappedKey& key, MacAlgorithm algorithm,
                                            const uint8_t* data, size_t len, const uint8_t* mac,
                                            size_t mac_len, bool* valid) = 0;

  // --- Cache and diagnostics ------------------------------------------------------
  // Drops the unwrapped form of (id, version), e.g. when the key is deleted.
  virtual void EvictKey(const std::string& id, uint32_t version) = 0;
  [[nodiscard]] virtual RootStats stats() const = 0;

  // The threads this root's operations run on.
  [[nodiscard]] virtual WorkerPool& threads() = 0;
};

}  // namespace hsmkms::core
