#include "key_transform_functions.h"

#include <cstring>
#include <memory>
#include <string>

#include "../core/key_transforms.h"
#include "byte_view.h"
#include "call_args.h"
#include "env_state.h"
#include "key_handle.h"

namespace hsmkms::binding {
namespace {

using core::AesGcmKey;
using core::HkdfDigest;
using core::Status;

void Check(Napi::Env env, Status status) {
  if (status == Status::kOk) return;
  throw Napi::Error(env, EnvState::Get(env)->MakeError(status, StatusMessage(status)));
}

AesGcmKey& ArgKey(const Napi::CallbackInfo& info, size_t i) {
  return *UnwrapKey(info.Env(), info[i]);
}

HkdfDigest ArgDigest(const Napi::CallbackInfo& info, size_t i) {
  const std::string name = info[i].IsString() ? info[i].As<Napi::String>().Utf8Value() : "";
  if (name == "SHA256") return HkdfDigest::kSha256;
  if (name == "SHA384") return HkdfDigest::kSha384;
  if (name == "SHA512") return HkdfDigest::kSha512;
  throw Napi::TypeError::New(info.Env(), "digest must be SHA256, SHA384 or SHA512");
}

// hkdfKey(key, digest, salt, info) -> new key handle
Napi::Value HkdfKey(const Napi::CallbackInfo& info) {
  AesGcmKey& key = ArgKey(info, 0);
  const HkdfDigest digest = ArgDigest(info, 1);
  ByteView salt = ArgBytes(info, 2), label = ArgBytes(info, 3);
  std::shared_ptr<AesGcmKey> derived;
  Check(info.Env(), core::DeriveKey(key, digest, salt.data, salt.length, label.data, label.length,
                                    &derived));
  return WrapKey(info.Env(), std::move(derived));
}

// hkdfBytes(key, digest, salt, info, out): fills out (not for secrets)
Napi::Value HkdfBytes(const Napi::CallbackInfo& info) {
  AesGcmKey& key = ArgKey(info, 0);
  const HkdfDigest digest = ArgDigest(info, 1);
  ByteView salt = ArgBytes(info, 2), label = ArgBytes(info, 3), out = ArgBytes(info, 4);
  Check(info.Env(), core::DeriveBytes(key, digest, salt.data, salt.length, label.data,
                                      label.length, out.data, out.length));
  return info.Env().Undefined();
}

// sealKey(wrapping, key, aad?, out): out = IV || ciphertext || tag (60 bytes)
Napi::Value SealKey(const Napi::CallbackInfo& info) {
  AesGcmKey& wrapping = ArgKey(info, 0);
  AesGcmKey& key = ArgKey(info, 1);
  ByteView aad = OptionalArgBytes(info, 2), out = ArgBytes(info, 3);
  if (out.length != AesGcmKey::kKeySize + AesGcmKey::kOverhead) {
    throw Napi::RangeError::New(info.Env(), "output size mismatch");
  }
  Check(info.Env(), core::SealKey(wrapping, key, aad.data, aad.length, out.data));
  return info.Env().Undefined();
}

// openKey(wrapping, sealed, aad?) -> new key handle
Napi::Value OpenKey(const Napi::CallbackInfo& info) {
  AesGcmKey& wrapping = ArgKey(info, 0);
  ByteView sealed = ArgBytes(info, 1), aad = OptionalArgBytes(info, 2);
  std::shared_ptr<AesGcmKey> key;
  Check(info.Env(),
        core::OpenKey(wrapping, sealed.data, sealed.length, aad.data, aad.length, &key));
  return WrapKey(info.Env(), std::move(key));
}

}  // namespace

void ExportKeyTransformFunctions(Napi::Env env, Napi::Object exports) {
  exports.Set("hkdfKey", Napi::Function::New(env, HkdfKey, "hkdfKey"));
  exports.Set("hkdfBytes", Napi::Function::New(env, HkdfBytes, "hkdfBytes"));
  exports.Set("sealKey", Napi::Function::New(env, SealKey, "sealKey"));
  exports.Set("openKey", Napi::Function::New(env, OpenKey, "openKey"));
}

}  // namespace hsmkms::binding
