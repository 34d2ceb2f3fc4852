// One PKCS#11 token used as the KMS root of trust: the module, the keeper
// session (login, unwrapped keys), the worker sessions, the cache of
// unwrapped keys, and every HSM operation of the KMS, each run under the
// recovery rules (re-open sessions, re-find domain keys and re-unwrap keys,
// log in again, back off and retry after device errors) within a budget.
//
// Every operation blocks on the HSM: call it on an HSM thread (Threads()),
// never on the JS thread. All methods are thread-safe.
//
// It is the `pkcs11` core::RootOfTrust. RewrapKey cannot work here: see
// hsm.cc (kRewrapImpossible) for why, and what the KMS does instead.
#pragma once

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "../root_of_trust.h"
#include "../secure_memory.h"
#include "../worker_pool.h"
#include "algorithms.h"
#include "ckr.h"
#include "cryptoki.h"
#include "hsm_result.h"
#include "keeper.h"
#include "key_cache.h"
#include "module.h"
#include "session_object.h"
#include "session_pool.h"
#include "wrapped_key.h"

namespace hsmkms::pkcs11 {

struct RetryBudget {
  uint32_t max_attempts = 5;                     // tries of one operation, the first included
  std::chrono::milliseconds total{1000};         // no new try starts after this (device
                                                 // errors: counted from RequestStart)
  std::chrono::milliseconds first_backoff{5};    // wait after a device error; doubles per try
};

struct HsmConfig {
  std::string module_path;
  std::string token_label;
  size_t threads = 2;                // worker sessions = HSM threads
  size_t key_cache_capacity = 1024;  // unwrapped keys kept (0: unwrap per operation)
  RetryBudget retry;
  ModuleOptions module;
  // CKA_PRIVATE of the unwrapped CMKs (session objects of this process
  // only, never stored). TRUE: usable only while logged in, and SoftHSM
  // keeps their values encrypted under its token key in memory. FALSE:
  // they outlive a lost login, and SoftHSM skips that decryption, which it
  // does under one token-wide mutex on every use: with it, two HSM threads
  // scale ECDSA P-256 about 1.4x, without it about 1.75x (bench/pkcs11).
  bool private_session_keys = true;
  // The mechanism for WrapAlgorithm::kAesKwp; 0 probes: CKM_AES_KEY_WRAP_KWP
  // (0x210B) when the token has it, else CKM_AES_KEY_WRAP_PAD (0x210A).
  CK_MECHANISM_TYPE kwp_mechanism = 0;
};

struct HsmStats {
  size_t worker_sessions;   // open (leased + idle)
  size_t cached_keys;
  uint64_t generation;      // grows with every recovery that lost handles
  uint64_t retries;         // operations tried again after a recoverable error
  uint64_t unwraps;         // C_UnwrapKey calls for the key cache
};

class Hsm final : public core::RootOfTrust {
 public:
  // kGcmIvSize and kGcmTagSize come from core::RootOfTrust.
  static constexpr size_t kDomainKeyIdSize = 16;

  // Loads the module, finds the token by label, logs in. `pin` stays in
  // locked memory for logging in again, and is wiped when the Hsm goes (or
  // at once after a PIN error).
  // kNotFound: module file or token label; kAccessDenied: PIN error.
  [[nodiscard]] static HsmResult Open(const HsmConfig& config, core::SecureBytes pin,
                                      std::shared_ptr<Hsm>* out);
  ~Hsm() override;
  Hsm(const Hsm&) = delete;
  Hsm& operator=(const Hsm&) = delete;

  // The process-wide HSM threads (default 2, HSMKMS_HSM_THREADS overrides),
  // separate from the AES WorkerPool; Open grows it to config.threads. They
  // run at niceness 5 relative to their creator (HSMKMS_HSM_NICE overrides),
  // so that the event loop preempts them.
  static core::WorkerPool& Threads();
  // RootOfTrust: Threads().
  [[nodiscard]] core::WorkerPool& threads() override { return Threads(); }
  [[nodiscard]] const char* kind() const noexcept override { return "pkcs11"; }

  // --- Domain keys: AES-256 token objects labelled "hsmkms:domain:<n>" ----
  // Creates version `version` (kAlreadyExists if it exists); gives its
  // CKA_ID (kDomainKeyIdSize random bytes).
  // The CKA_ID is what the key store keeps as the domain key's reference.
  [[nodiscard]] HsmResult CreateDomainKey(uint32_t version, std::vector<uint8_t>* id) override;
  // kNotFound when absent, kInvalidState when several objects carry the label.
  [[nodiscard]] HsmResult FindDomainKey(uint32_t version, std::vector<uint8_t>* id) override;
  // FindDomainKey, then checks the object's CKA_ID equals `reference`
  // (kNotFound otherwise: another token, or a domain key made again).
  [[nodiscard]] HsmResult OpenDomainKey(uint32_t version, const uint8_t* reference,
                                        size_t reference_len) override;

  // --- Randomness -----------------------------------------------------------
  [[nodiscard]] HsmResult GenerateRandom(uint8_t* out, size_t len) override;

  // --- CMK material -----------------------------------------------------------
  // Generates a key in the HSM and wraps it under domain key
  // `domain_version`. Fills out->spec, usage, domain_version, algorithm and
  // blob (the caller sets id and version); for asymmetric specs `spki` gets
  // the public key (SubjectPublicKeyInfo DER). AES keys are ENCRYPT_DECRYPT.
  [[nodiscard]] HsmResult GenerateKey(KeySpec spec, KeyUsage usage, uint32_t domain_version,
                                      WrappedKey* out, std::vector<uint8_t>* spki) override;
  // Only the trivial case works on a PKCS#11 token: `domain_version` is the
  // one that already wraps `key` (gives a copy). Otherwise kInvalidState: a
  // CMK unwrapped by a domain key is non-extractable, so no token call can
  // wrap it again (see kRewrapImpossible in hsm.cc).
  [[nodiscard]] HsmResult RewrapKey(const WrappedKey& key, uint32_t domain_version,
                                    WrappedKey* out) override;

  // --- AES-256-GCM in the HSM (symmetric CMKs) --------------------------------
  // `iv` (kGcmIvSize bytes) is in/out: the caller's IV goes in, and what the
  // token leaves there (some HSMs choose the IV) comes out. `aad` must not
  // be empty. Writes len + kGcmTagSize bytes (ciphertext || tag) to `out`.
  [[nodiscard]] HsmResult Encrypt(const WrappedKey& key, uint8_t* iv, const uint8_t* aad,
                                  size_t aad_len, const uint8_t* plaintext, size_t len,
                                  uint8_t* out) override;
  // `ciphertext` is ciphertext || tag (the tag is always 128 bits). Writes
  // len - kGcmTagSize bytes; out_capacity >= len saves a call on tokens that
  // size the output by the input (SoftHSM). Bad tag: kInvalidCiphertext,
  // `out` wiped.
  [[nodiscard]] HsmResult Decrypt(const WrappedKey& key, const uint8_t* iv, const uint8_t* aad,
                                  size_t aad_len, const uint8_t* ciphertext, size_t len,
                                  uint8_t* out, size_t out_capacity, size_t* out_len) override;

  // --- RSA ----------------------------------------------------------------------
  // RSA-OAEP decryption in the HSM: natively when the token has the hash
  // (probed once), else raw RSA in the HSM and OAEP decoding on the host.
  // Encryption needs no HSM: PublicKey::EncryptOaep.
  [[nodiscard]] HsmResult RsaDecrypt(const WrappedKey& key, OaepHash hash,
                                     const uint8_t* ciphertext, size_t len, uint8_t* out,
                                     size_t out_capacity, size_t* out_len) override;

  // --- Signatures (RSA PSS / PKCS#1 v1.5, ECDSA) ---------------------------------
  // Hashes on the host (MessageType::kRaw) or takes the digest. ECDSA
  // signatures come back DER-encoded; RSA ones are modulus-sized.
  // Verification needs no HSM: PublicKey::Verify.
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

  // --- The unwrapped-key cache ------------------------------------------------------
  // The key's session object, unwrapped on a miss (operations do this
  // themselves; use it to warm the cache or to inspect the object).
  [[nodiscard]] HsmResult LoadKey(const WrappedKey& key, std::shared_ptr<SessionObject>* out);
  void EvictKey(const std::string& id, uint32_t version) override;

  // Every object the token shows this process (token and session objects):
  // a diagnostic for leak tests.
  [[nodiscard]] HsmResult CountObjects(size_t* count);
  // RootOfTrust's view (cached keys, retries, unwraps).
  [[nodiscard]] core::RootStats stats() const override;
  // The token's view: worker sessions and the recovery generation too.
  [[nodiscard]] HsmStats hsm_stats() const;

  [[nodiscard]] const std::shared_ptr<Module>& module() const noexcept { return module_; }
  [[nodiscard]] CK_SLOT_ID slot() const noexcept { return slot_; }
  [[nodiscard]] CK_MECHANISM_TYPE kwp_mechanism() const noexcept { return kwp_mechanism_; }

 private:
  struct Attempt;
  struct DomainKeyEntry {
    CK_OBJECT_HANDLE handle;
    uint64_t generation;
  };

  Hsm(const HsmConfig& config, std::shared_ptr<Module> module, CK_SLOT_ID slot,
      CK_MECHANISM_TYPE kwp_mechanism, std::shared_ptr<Keeper> keeper);

  // Runs op(Attempt&) -> HsmResult until it succeeds, fails for good, or the
  // retry budget is spent (then kKeyUnavailable, keeping the last CKR).
  template <typename Op>
  HsmResult Execute(Op&& op);
  void Recover(Recovery recovery, uint64_t generation);
  void ClearHandles();

  [[nodiscard]] HsmResult Lease(Attempt& attempt);
  // Finds domain key `version` (exactly one object) in the keeper session.
  [[nodiscard]] HsmResult FindDomainKeyLocked(CK_SESSION_HANDLE keeper, uint32_t version,
                                              CK_ULONG* matches, CK_OBJECT_HANDLE* handle);
  [[nodiscard]] HsmResult DomainKeyHandle(Attempt& attempt, uint32_t version,
                                          CK_OBJECT_HANDLE* handle);
  [[nodiscard]] HsmResult ResolveKey(Attempt& attempt, const WrappedKey& key,
                                     std::shared_ptr<SessionObject>* out);
  [[nodiscard]] HsmResult WrapWithDomainKey(Attempt& attempt, uint32_t domain_version,
                                            CK_OBJECT_HANDLE key, std::vector<uint8_t>* blob);
  [[nodiscard]] HsmResult GenerateSecretKey(Attempt& attempt, KeySpec spec, WrappedKey* out);
  // C_SignInit (or C_VerifyInit) with an HMAC key's mechanism, in the attempt's session.
  [[nodiscard]] HsmResult StartMac(Attempt& attempt, const WrappedKey& key, bool verify);
  [[nodiscard]] HsmResult GenerateKeyPairOnce(Attempt& attempt, KeySpec spec, KeyUsage usage,
                                              WrappedKey* out, std::vector<uint8_t>* spki);

  const HsmConfig config_;
  const std::shared_ptr<Module> module_;
  CK_FUNCTION_LIST* const p11_;
  const CK_SLOT_ID slot_;
  const CK_MECHANISM_TYPE kwp_mechanism_;
  const std::shared_ptr<Keeper> keeper_;
  SessionPool pool_;
  KeyCache cache_;

  std::mutex domain_keys_mutex_;
  std::map<uint32_t, DomainKeyEntry> domain_keys_;

  // Whether C_DecryptInit takes OAEP with SHA-256: unknown until tried.
  enum class Support : int { kUnknown, kYes, kNo };
  std::atomic<Support> native_oaep_sha256_{Support::kUnknown};
  std::atomic<uint64_t> retries_{0};
  std::atomic<uint64_t> unwraps_{0};
};

}  // namespace hsmkms::pkcs11
