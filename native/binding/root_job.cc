#include "root_job.h"

#include <openssl/crypto.h>

#include <cstring>
#include <new>
#include <utility>

#include "../core/pkcs11/public_key.h"
#include "../core/pkcs11/request_start.h"
#include "../core/secure_memory.h"
#include "key_handle.h"
#include "wrapped_key_value.h"

namespace hsmkms::binding {
namespace {

using pkcs11::HsmResult;

napi_value Undefined(napi_env env) {
  napi_value value;
  napi_get_undefined(env, &value);
  return value;
}

napi_value RefValue(napi_env env, napi_ref ref) {
  napi_value value = nullptr;
  if (ref != nullptr) napi_get_reference_value(env, ref, &value);
  return value != nullptr ? value : Undefined(env);
}

// The first `length` bytes of a Uint8Array, as a view on the same memory.
napi_value Prefix(napi_env env, napi_value array, size_t length) {
  napi_typedarray_type type;
  size_t array_length = 0, offset = 0;
  napi_value buffer = nullptr;
  void* data = nullptr;
  napi_value view = nullptr;
  if (napi_get_typedarray_info(env, array, &type, &array_length, &data, &buffer, &offset) !=
          napi_ok ||
      length > array_length ||
      napi_create_typedarray(env, napi_uint8_array, length, buffer, offset, &view) != napi_ok) {
    throw Napi::Error::New(env, "cannot make a view of the output");
  }
  return view;
}

napi_value CopyBuffer(napi_env env, const std::vector<uint8_t>& bytes) {
  return Napi::Buffer<uint8_t>::Copy(env, bytes.data(), bytes.size());
}

// Batching completions pays when an HSM call is far cheaper than waking the
// JS thread (a healthy SoftHSM: tens of microseconds). A call that took
// longer says the HSM is slow or failing now (latency, backoff): the calls
// queued behind it will be slow too, so its result must not wait for theirs.
constexpr std::chrono::milliseconds kSlowCall{2};
// Whether the last call this HSM thread ran was slow (see kSlowCall).
thread_local bool last_call_slow = false;

}  // namespace

RootJob::RootJob(EnvState* state, RootHandle* handle, Args args, napi_deferred deferred)
    : state_(state), handle_(handle), args_(std::move(args)), deferred_(deferred) {}

void RootJob::Hold(napi_env env, napi_value handle, napi_value out, napi_value iv,
                   std::initializer_list<napi_value> inputs) {
  if (handle != nullptr) napi_create_reference(env, handle, 1, &handle_ref_);
  if (out != nullptr) napi_create_reference(env, out, 1, &out_ref_);
  if (iv != nullptr) napi_create_reference(env, iv, 1, &iv_ref_);
  for (napi_value input : inputs) {
    if (input != nullptr) keep_alive_.Hold(env, input);
  }
}

bool RootJob::Batched(RootOp op) noexcept {
  switch (op) {
    case RootOp::kGenerateRandom:
    case RootOp::kEncrypt:
    case RootOp::kDecrypt:
    case RootOp::kRsaDecrypt:
    case RootOp::kSign:
    case RootOp::kEvictKey:
    case RootOp::kEncryptOaep:
    case RootOp::kVerify:
    case RootOp::kReEncrypt:
    case RootOp::kDecryptToAeadKey:
    case RootOp::kGenerateDataKeyHandle:
    case RootOp::kEncryptAeadKey:
    case RootOp::kGenerateDataKey:
    case RootOp::kGenerateMac:
    case RootOp::kVerifyMac:
      return true;
    default:
      return false;
  }
}

pkcs11::HsmResult RootJob::CopyOut() noexcept {
  if (bytes_.size() > args_.out.length) {
    return HsmResult::Error(core::Status::kInternal, nullptr, "the result is longer than its buffer");
  }
  std::memcpy(args_.out.data, bytes_.data(), bytes_.size());
  out_len_ = bytes_.size();
  return HsmResult::Ok();
}

void RootJob::Run() noexcept {
  const auto started = std::chrono::steady_clock::now();
  const pkcs11::RequestStart request(submitted_);
  if (Batched(args_.op)) {
    state_->BatchedTaskStarted();
    // Results held for batching would wait behind this call, likely slow too.
    if (last_call_slow) state_->Flush();
  } else {
    state_->Flush();
  }
  core::RootOfTrust* root = args_.root.get();
  static const pkcs11::WrappedKey kNoKey;
  const pkcs11::WrappedKey& key = args_.key != nullptr ? *args_.key : kNoKey;
  try {
    switch (args_.op) {
      case RootOp::kCreateDomainKey:
        result_ = root->CreateDomainKey(args_.version, &bytes_);
        break;
      case RootOp::kOpenDomainKey:
        result_ = root->OpenDomainKey(args_.version, args_.in.data, args_.in.length);
        break;
      case RootOp::kGenerateRandom:
        result_ = root->GenerateRandom(args_.out.data, args_.out.length);
        break;
      case RootOp::kGenerateKey:
        result_ = root->GenerateKey(args_.spec, args_.usage, args_.version, &out_key_, &bytes_);
        break;
      case RootOp::kRewrapKey:
        result_ = root->RewrapKey(key, args_.version, &out_key_);
        break;
      case RootOp::kEncrypt:
        result_ = root->Encrypt(key, args_.iv.data, args_.aad.data, args_.aad.length,
                                args_.in.data, args_.in.length, args_.out.data);
        break;
      case RootOp::kDecrypt:
        result_ = root->Decrypt(key, args_.iv.data, args_.aad.data, args_.aad.length,
                                args_.in.data, args_.in.length, args_.out.data, args_.out.length,
                                &out_len_);
        break;
      case RootOp::kRsaDecrypt:
        result_ = root->RsaDecrypt(key, args_.hash, args_.in.data, args_.in.length,
                                   args_.out.data, args_.out.length, &out_len_);
        break;
      case RootOp::kSign:
        result_ = root->Sign(key, args_.algorithm, args_.message_type, args_.in.data,
                             args_.in.length, &bytes_);
        if (result_.ok()) result_ = CopyOut();
        break;
      case RootOp::kGenerateMac:
        result_ = root->GenerateMac(key, args_.mac_algorithm, args_.in.data, args_.in.length,
                                    &bytes_);
        if (result_.ok()) result_ = CopyOut();
        break;
      case RootOp::kVerifyMac:
        result_ = root->VerifyMac(key, args_.mac_algorithm, args_.in.data, args_.in.length,
                                  args_.aad.data, args_.aad.length, &valid_);
        break;
      case RootOp::kEvictKey:
        root->EvictKey(args_.id, args_.version);
        result_ = HsmResult::Ok();
        break;
      case RootOp::kStats:
        stats_ = root->stats();
        if (args_.hsm != nullptr) {
          hsm_stats_ = args_.hsm->hsm_stats();
          result_ = args_.hsm->CountObjects(&objects_);
        } else {
          result_ = HsmResult::Ok();
        }
        break;
      case RootOp::kEncryptOaep:
      case RootOp::kVerify:
        result_ = RunPublicKey();
        break;
      case RootOp::kFindDomainKey:
        result_ = root->FindDomainKey(args_.version, &bytes_);
        if (result_.status == core::Status::kNotFound) {
          found_ = false;
          result_ = HsmResult::Ok();
        }
        break;
      case RootOp::kReEncrypt:
        result_ = RunReEncrypt(key);
        break;
      case RootOp::kDecryptToAeadKey:
        result_ = RunDecryptToAeadKey(key);
        break;
      case RootOp::kGenerateDataKeyHandle:
        result_ = RunGenerateDataKeyHandle(key);
        break;
      case RootOp::kEncryptAeadKey:
        result_ = RunEncryptAeadKey(key);
        break;
      case RootOp::kGenerateDataKey:
        result_ = RunGenerateDataKey(key);
        break;
      case RootOp::kEncryptMany:
      case RootOp::kDecryptMany:
        result_ = RunMany(key);
        break;
    }
  } catch (const std::bad_alloc&) {
    result_ = HsmResult::Error(core::Status::kInternal, nullptr, "out of memory");
  }
  ran_for_ = std::chrono::steady_clock::now() - started;
  last_call_slow = ran_for_ >= kSlowCall;
}

EnvState::Delivery RootJob::DeliveryFor(bool batched) const noexcept {
  return batched && ran_for_ < kSlowCall ? EnvState::Delivery::kBatched : EnvState::Delivery::kNow;
}

HsmResult RootJob::RunPublicKey() noexcept {
  std::unique_ptr<pkcs11::PublicKey> key;
  core::Status status = pkcs11::PublicKey::FromSpki(args_.extra.data, args_.extra.length, &key);
  if (status != core::Status::kOk) {
    return HsmResult::Error(status, nullptr, "not an RSA or P-256/P-384 SubjectPublicKeyInfo");
  }
  if (args_.op == RootOp::kEncryptOaep) {
    status = key->EncryptOaep(args_.hash, args_.in.data, args_.in.length, &bytes_);
    if (status == core::Status::kValidation) {
      return HsmResult::Error(status, nullptr, "the plaintext is too long for this key");
    }
  } else {
    status = key->Verify(args_.algorithm, args_.message_type, args_.in.data, args_.in.length,
                         args_.aad.data, args_.aad.length, &valid_);
    if (status == core::Status::kValidation) {
      return HsmResult::Error(status, nullptr, "the digest has the wrong length");
    }
  }
  if (status == core::Status::kInvalidKeyUsage) {
    return HsmResult::Error(status, nullptr, "the algorithm does not fit the key");
  }
  if (status != core::Status::kOk) return HsmResult::Error(status, nullptr, nullptr);
  return HsmResult::Ok();
}

// Decrypts under `key` into locked memory, encrypts that under the
// destination key, wipes it. The token must use the destination IV the
// caller named (the blob header carries it): kInternal otherwise.
HsmResult RootJob::RunReEncrypt(const pkcs11::WrappedKey& key) {
  core::RootOfTrust* root = args_.root.get();
  core::SecureBytes plaintext(args_.in.length > 0 ? args_.in.length : 1);
  size_t len = 0;
  HsmResult result = root->Decrypt(key, args_.iv.data, args_.aad.data, args_.aad.length,
                                   args_.in.data, args_.in.length, plaintext.data(),
                                   plaintext.size(), &len);
  if (!result.ok()) return result;
  if (args_.out.length < len + core::RootOfTrust::kGcmTagSize) {
    plaintext.Release();
    return HsmResult::Error(core::Status::kInternal, nullptr, "the output is too small");
  }
  uint8_t iv[core::RootOfTrust::kGcmIvSize];
  std::memcpy(iv, args_.iv2.data, sizeof iv);
  result = root->Encrypt(*args_.key2, iv, args_.aad2.data, args_.aad2.length, plaintext.data(),
                         len, args_.out.data);
  plaintext.Release();
  if (!result.ok()) return result;
  if (std::memcmp(iv, args_.iv2.data, sizeof iv) != 0) {
    std::memset(args_.out.data, 0, len + core::RootOfTrust::kGcmTagSize);
    return HsmResult::Error(core::Status::kInternal, nullptr,
                            "the root chose its own IV, not the one the blob names");
  }
  out_len_ = len + core::RootOfTrust::kGcmTagSize;
  return HsmResult::Ok();
}

// Decrypts a 32-byte data key into locked memory and imports it.
HsmResult RootJob::RunDecryptToAeadKey(const pkcs11::WrappedKey& key) {
  core::SecureBytes plaintext(args_.in.length > 0 ? args_.in.length : 1);
  size_t len = 0;
  HsmResult result = args_.root->Decrypt(key, args_.iv.data, args_.aad.data, args_.aad.length,
                                         args_.in.data, args_.in.length, plaintext.data(),
                                         plaintext.size(), &len);
  if (!result.ok()) return result;
  if (len != core::AesGcmKey::kKeySize) {
    plaintext.Release();
    return HsmResult::Error(core::Status::kValidation, nullptr,
                            "the ciphertext does not hold a 32-byte data key");
  }
  const core::Status status = core::AesGcmKey::Import(plaintext.data(), len, &aead_key_);
  plaintext.Release();
  if (status != core::Status::kOk) return HsmResult::Error(status, nullptr, "cannot import the data key");
  return HsmResult::Ok();
}

// A data key from the root's RNG, in locked memory: encrypted under `key`
// (iv in/out, as encrypt), imported, wiped.
HsmResult RootJob::RunGenerateDataKeyHandle(const pkcs11::WrappedKey& key) {
  const size_t length = args_.version;
  if (length != core::AesGcmKey::kKeySize ||
      args_.out.length != length + core::RootOfTrust::kGcmTagSize) {
    return HsmResult::Error(core::Status::kValidation, nullptr, "a data key handle is 32 bytes");
  }
  core::SecureBytes data_key(length);
  HsmResult result = args_.root->GenerateRandom(data_key.data(), length);
  if (result.ok()) {
    result = args_.root->Encrypt(key, args_.iv.data, args_.aad.data, args_.aad.length,
                                 data_key.data(), length, args_.out.data);
  }
  if (result.ok()) {
    const core::Status status = core::AesGcmKey::Import(data_key.data(), length, &aead_key_);
    if (status != core::Status::kOk) {
      result = HsmResult::Error(status, nullptr, "cannot import the data key");
    }
  }
  data_key.Release();
  return result;
}

// A data key from the root's RNG into the caller's plaintext array, and
// encrypted under `key` (iv in/out, as encrypt), in one job: one hop to the
// HSM thread and back, not two. The plaintext is wiped if anything fails.
HsmResult RootJob::RunGenerateDataKey(const pkcs11::WrappedKey& key) {
  HsmResult result = args_.root->GenerateRandom(args_.in.data, args_.in.length);
  if (result.ok()) {
    result = args_.root->Encrypt(key, args_.iv.data, args_.aad.data, args_.aad.length,
                                 args_.in.data, args_.in.length, args_.out.data);
  }
  if (!result.ok()) OPENSSL_cleanse(args_.in.data, args_.in.length);
  return result;
}

// Encrypts a data key handle's bytes under `key` (iv in/out, as encrypt):
// copied into locked memory for the call, wiped after.
HsmResult RootJob::RunEncryptAeadKey(const pkcs11::WrappedKey& key) {
  core::SecureBytes bytes;
  const core::Status status = args_.aead_key->CopyTo(&bytes);
  if (status != core::Status::kOk) return HsmResult::Error(status, nullptr, "the data key is not available");
  if (args_.out.length != bytes.size() + core::RootOfTrust::kGcmTagSize) {
    bytes.Release();
    return HsmResult::Error(core::Status::kInternal, nullptr, "output size mismatch");
  }
  HsmResult result = args_.root->Encrypt(key, args_.iv.data, args_.aad.data, args_.aad.length,
                                         bytes.data(), bytes.size(), args_.out.data);
  bytes.Release();
  return result;
}

// Each item is encrypted (or decrypted) on its own: one failing (a bad tag)
// fails only itself. An encrypted item must use the IV the caller chose (its
// blob header names it); a root that picks its own fails the item, wiped.
HsmResult RootJob::RunMany(const pkcs11::WrappedKey& key) {
  constexpr size_t kIv = core::RootOfTrust::kGcmIvSize;
  constexpr size_t kTag = core::RootOfTrust::kGcmTagSize;
  const PackedItems& items = args_.items;
  const bool encrypt = args_.op == RootOp::kEncryptMany;
  item_results_.resize(items.count());
  for (size_t i = 0; i < items.count(); i++) {
    const uint8_t* aad = args_.aad.data + items.aad_start(i);
    const uint8_t* in = args_.in.data + items.in_start(i);
    const size_t in_len = items.in_length(i);
    const uint8_t* chosen_iv = args_.iv.data + i * kIv;
    if (encrypt) {
      // Each output slot is its input's length + a tag: item i starts 16 * i bytes later.
      uint8_t* out = args_.out.data + items.in_start(i) + i * kTag;
      uint8_t iv[kIv];
      std::memcpy(iv, chosen_iv, kIv);
      HsmResult result = args_.root->Encrypt(key, iv, aad, items.aad_length(i), in, in_len, out);
      if (result.ok() && std::memcmp(iv, chosen_iv, kIv) != 0) {
        OPENSSL_cleanse(out, in_len + kTag);
        result = HsmResult::Error(core::Status::kInternal, nullptr,
                                  "the root chose its own IV, not the one the blob names");
      }
      item_results_[i] = result;
    } else {
      // Output slots mirror the inputs: the root may size its output by the input.
      uint8_t* out = args_.out.data + items.in_start(i);
      size_t len = 0;
      HsmResult result = args_.root->Decrypt(key, chosen_iv, aad, items.aad_length(i), in, in_len,
                                             out, in_len, &len);
      if (result.ok() && len != in_len - kTag) {
        result = HsmResult::Error(core::Status::kInternal, nullptr,
                                  "the root returned a plaintext of the wrong length");
      }
      if (!result.ok()) OPENSSL_cleanse(out, in_len);
      item_results_[i] = result;
    }
  }
  return HsmResult::Ok();
}

napi_value RootJob::ItemResults(napi_env env) const {
  Napi::Env e(env);
  Napi::Array results = Napi::Array::New(e, item_results_.size());
  for (size_t i = 0; i < item_results_.size(); i++) {
    const HsmResult& result = item_results_[i];
    Napi::Value value = result.ok() ? e.Null() : state_->MakeError(result);
    results.Set(static_cast<uint32_t>(i), value.IsEmpty() ? e.Undefined() : value);
  }
  return results;
}

void RootJob::Finish() noexcept {
  const bool batched = Batched(args_.op);
  if (cancelled()) {
    if (batched) state_->BatchedTaskStarted();  // it never will
    result_ = HsmResult::Error(core::Status::kAborted, nullptr, "The operation was aborted");
  }
  // Let the root go here: closing it then never waits on the JS thread.
  args_.root.reset();
  args_.key.reset();
  args_.key2.reset();
  args_.aead_key.reset();
  args_.hsm = nullptr;
  state_->PostCompletion(this, DeliveryFor(batched));
}

napi_value RootJob::Result(napi_env env) {
  Napi::Env e(env);
  switch (args_.op) {
    case RootOp::kCreateDomainKey:
    case RootOp::kEncryptOaep:
      return CopyBuffer(env, bytes_);
    case RootOp::kSign:
    case RootOp::kGenerateMac:
      return Prefix(env, RefValue(env, out_ref_), out_len_);
    case RootOp::kGenerateRandom:
      return RefValue(env, out_ref_);
    case RootOp::kGenerateKey: {
      Napi::Object object = MakeWrappedKey(e, out_key_);
      object.Delete("id");
      object.Delete("version");
      object.Set("publicKey", bytes_.empty() ? e.Null() : Napi::Value(e, CopyBuffer(env, bytes_)));
      return object;
    }
    case RootOp::kRewrapKey:
      return MakeWrappedKey(e, out_key_);
    case RootOp::kEncrypt:
    case RootOp::kEncryptAeadKey:
    case RootOp::kGenerateDataKey:
      return RefValue(env, out_ref_);  // the caller's { iv, ciphertext } (and plaintext)
    case RootOp::kDecrypt:
    case RootOp::kRsaDecrypt:
      return Prefix(env, RefValue(env, out_ref_), out_len_);
    case RootOp::kOpenDomainKey:
    case RootOp::kEvictKey:
      return Undefined(env);
    case RootOp::kStats: {
      Napi::Object object = Napi::Object::New(e);
      object.Set("kind", handle_ != nullptr ? handle_->kind() : "");
      object.Set("cachedKeys", static_cast<double>(stats_.cached_keys));
      object.Set("retries", static_cast<double>(stats_.retries));
      object.Set("unwraps", static_cast<double>(stats_.unwraps));
      if (hsm_stats_.generation != 0) {
        object.Set("workerSessions", static_cast<double>(hsm_stats_.worker_sessions));
        object.Set("generation", static_cast<double>(hsm_stats_.generation));
        object.Set("objects", static_cast<double>(objects_));
      }
      return object;
    }
    case RootOp::kVerify:
    case RootOp::kVerifyMac:
      return Napi::Boolean::New(e, valid_);
    case RootOp::kFindDomainKey:
      return found_ ? CopyBuffer(env, bytes_) : static_cast<napi_value>(e.Null());
    case RootOp::kReEncrypt:
      return Prefix(env, RefValue(env, out_ref_), out_len_);
    case RootOp::kDecryptToAeadKey:
      return WrapKey(e, std::move(aead_key_));
    case RootOp::kEncryptMany:
    case RootOp::kDecryptMany:
      return ItemResults(env);
    case RootOp::kGenerateDataKeyHandle: {
      Napi::Object object = Napi::Object::New(e);
      object.Set("dataKey", WrapKey(e, std::move(aead_key_)));
      object.Set("iv", Napi::Value(e, RefValue(env, iv_ref_)));
      object.Set("ciphertext", Napi::Value(e, RefValue(env, out_ref_)));
      return object;
    }
  }
  return Undefined(env);
}

void RootJob::Complete(napi_env env) noexcept {
  if (env != nullptr) {
    try {
      if (result_.ok()) {
        napi_resolve_deferred(env, deferred_, Result(env));
      } else {
        napi_reject_deferred(env, deferred_, state_->MakeError(result_));
      }
    } catch (const Napi::Error& error) {
      napi_reject_deferred(env, deferred_, error.Value());
    }
    if (handle_ != nullptr) handle_->Release(env);
    if (handle_ref_ != nullptr) napi_delete_reference(env, handle_ref_);
    if (out_ref_ != nullptr) napi_delete_reference(env, out_ref_);
    if (iv_ref_ != nullptr) napi_delete_reference(env, iv_ref_);
    keep_alive_.Release(env);
  } else if (handle_ != nullptr) {
    handle_->Release(nullptr);
  }
  delete this;
}

}  // namespace hsmkms::binding
