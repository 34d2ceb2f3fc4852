// One operation of a root of trust, run on the root's own threads and
// settled as a promise through the environment's batched completions; also
// the host-side public-key operations (no root: run on the AES pool).
//
// The job holds everything the worker touches: a reference to the root, a
// napi reference to the root's handle object (so closing waits for it) and
// to every array it reads or writes.
#pragma once

#include <napi.h>

#include <chrono>
#include <initializer_list>
#include <memory>
#include <string>
#include <vector>

#include "../core/pkcs11/hsm.h"
#include "../core/aes_gcm_key.h"
#include "../core/root_of_trust.h"
#include "../core/worker_pool.h"
#include "byte_view.h"
#include "completion.h"
#include "env_state.h"
#include "packed_items.h"
#include "root_handle.h"

namespace hsmkms::binding {

enum class RootOp {
  kCreateDomainKey,  // version -> reference (Buffer)
  kOpenDomainKey,    // version, reference=in -> undefined
  kGenerateRandom,   // out -> out
  kGenerateKey,      // spec, usage, version -> { keySpec, keyUsage, domainVersion, algorithm, blob, publicKey }
  kRewrapKey,        // key, version -> wrapped key
  kEncrypt,          // key, iv (in/out), aad, in, out -> the caller's { iv, ciphertext: out }
  kDecrypt,          // key, iv, aad, in, out -> out
  kRsaDecrypt,       // key, hash, in, out -> bytes written
  kSign,             // key, algorithm, message type, in, out -> signature (a view of out)
  kEvictKey,         // id, version -> undefined
  kStats,            // -> { kind, cachedKeys, retries, unwraps, (token) workerSessions, generation, objects }
  kEncryptOaep,      // public key=extra, hash, in -> ciphertext (Buffer)   [no root]
  kVerify,           // public key=extra, algorithm, message type, in, signature=aad -> boolean   [no root]
  kFindDomainKey,    // version -> reference (Buffer), or null when absent
  kReEncrypt,        // key, iv, aad, in; destination=key2, iv2, aad2; out -> ciphertext || tag (a view of out)
  kDecryptToAeadKey,  // key, iv, aad, in -> an AES-256-GCM key handle
  kGenerateDataKeyHandle,  // key, iv (in/out), aad, length=version, out -> { dataKey, iv, ciphertext: out }
  kEncryptAeadKey,  // key, iv (in/out), aad, data key=aead_key, out -> the caller's { iv, ciphertext: out }
  kGenerateDataKey,  // key, iv (in/out), aad, plaintext=in (written), out -> the caller's { iv, plaintext, ciphertext: out }
  kEncryptMany,  // key, ivs=iv, aad, in, items; out (in + 16 per item) -> (Error | null)[]
  kDecryptMany,  // key, ivs=iv, aad, in, items; out (as in, plaintext first in each slot) -> (Error | null)[]
  kGenerateMac,  // key, MAC algorithm, in, out (64 bytes) -> the MAC (a view of out)
  kVerifyMac,    // key, MAC algorithm, in, mac=aad -> boolean (compared in the root)
};

class RootJob final : public core::Task, public Completion {
 public:
  struct Args {
    RootOp op;
    std::shared_ptr<core::RootOfTrust> root;  // null for the public-key operations
    pkcs11::Hsm* hsm = nullptr;               // the root, when it is a PKCS#11 token
    std::shared_ptr<const pkcs11::WrappedKey> key;  // parsed once (WrappedKeyRef)
    std::string id;        // evictKey
    uint32_t version = 0;  // a domain key version (evictKey: the key version)
    pkcs11::KeySpec spec = pkcs11::KeySpec::kAes256;
    pkcs11::KeyUsage usage = pkcs11::KeyUsage::kEncryptDecrypt;
    pkcs11::OaepHash hash = pkcs11::OaepHash::kSha1;
    pkcs11::SigningAlgorithm algorithm = pkcs11::SigningAlgorithm::kEcdsaSha256;
    pkcs11::MessageType message_type = pkcs11::MessageType::kRaw;
    pkcs11::MacAlgorithm mac_algorithm = pkcs11::MacAlgorithm::kHmacSha256;
    ByteView in, aad, iv, out, extra;
    // reEncrypt: the destination key, IV and AAD.
    std::shared_ptr<const pkcs11::WrappedKey> key2;
    ByteView aad2, iv2;
    // encryptAeadKey: the data key whose bytes are encrypted (never in JavaScript).
    std::shared_ptr<core::AesGcmKey> aead_key;
    // encryptMany / decryptMany: where each item lies in iv (12 bytes each), aad, in and out.
    PackedItems items;
  };
  // `handle` is null for the public-key operations.
  RootJob(EnvState* state, RootHandle* handle, Args args, napi_deferred deferred);

  // Whether the operation is short (a few HSM calls): its completion may
  // wait a little for others to share the hop to JavaScript. Long ones
  // (key generation, searches) deliver what is waiting before they start.
  [[nodiscard]] static bool Batched(RootOp op) noexcept;

  // JS thread: references the handle object, `out` and `iv` (written by the
  // worker and part of some results), and the arrays the worker only reads
  // (at most KeepAlive::kMax). Null values are skipped.
  void Hold(napi_env env, napi_value handle, napi_value out, napi_value iv,
            std::initializer_list<napi_value> inputs);

  void Run() noexcept override;
  void Finish() noexcept override;
  void Complete(napi_env env) noexcept override;

 private:
  [[nodiscard]] pkcs11::HsmResult RunPublicKey() noexcept;
  // The composite operations: a secret in locked memory, never in JavaScript.
  [[nodiscard]] pkcs11::HsmResult RunReEncrypt(const pkcs11::WrappedKey& key);
  [[nodiscard]] pkcs11::HsmResult RunDecryptToAeadKey(const pkcs11::WrappedKey& key);
  [[nodiscard]] pkcs11::HsmResult RunGenerateDataKeyHandle(const pkcs11::WrappedKey& key);
  [[nodiscard]] pkcs11::HsmResult RunEncryptAeadKey(const pkcs11::WrappedKey& key);
  [[nodiscard]] pkcs11::HsmResult RunGenerateDataKey(const pkcs11::WrappedKey& key);
  // encryptMany / decryptMany: each item on its own; their results in item_results_.
  [[nodiscard]] pkcs11::HsmResult RunMany(const pkcs11::WrappedKey& key);
  [[nodiscard]] napi_value ItemResults(napi_env env) const;
  [[nodiscard]] napi_value Result(napi_env env);
  // sign, generateMac: bytes_ into the caller's out (its length in out_len_).
  [[nodiscard]] pkcs11::HsmResult CopyOut() noexcept;
  // How the result goes to JavaScript: batched only when the call was short.
  [[nodiscard]] EnvState::Delivery DeliveryFor(bool batched) const noexcept;

  EnvState* state_;
  RootHandle* handle_;
  Args args_;
  napi_deferred deferred_;
  napi_ref handle_ref_ = nullptr;
  napi_ref out_ref_ = nullptr;
  napi_ref iv_ref_ = nullptr;
  KeepAlive keep_alive_;

  // When JavaScript asked (the HSM retry budget of a device error counts from it).
  const std::chrono::steady_clock::time_point submitted_ = std::chrono::steady_clock::now();
  std::chrono::steady_clock::duration ran_for_{};  // Run(), for DeliveryFor
  pkcs11::HsmResult result_;
  std::vector<uint8_t> bytes_;  // reference, signature, MAC, SPKI, OAEP ciphertext
  pkcs11::WrappedKey out_key_;
  size_t out_len_ = 0;
  bool valid_ = false;
  core::RootStats stats_;
  pkcs11::HsmStats hsm_stats_{};
  size_t objects_ = 0;
  bool found_ = true;                         // findDomainKey
  std::shared_ptr<core::AesGcmKey> aead_key_;  // decryptToAeadKey, generateDataKeyHandle
  std::vector<pkcs11::HsmResult> item_results_;  // encryptMany, decryptMany
};

}  // namespace hsmkms::binding
