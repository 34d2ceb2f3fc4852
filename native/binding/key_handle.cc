#include "key_handle.h"

namespace hsmkms::binding {
namespace {

constexpr napi_type_tag kKeyHandleTag = {0x6873'6d6b'6d73'6165ULL, 0x6164'6b65'7968'6e64ULL};

struct KeyHolder {
  std::shared_ptr<core::AesGcmKey> key;
};

}  // namespace

Napi::Object WrapKey(Napi::Env env, std::shared_ptr<core::AesGcmKey> key) {
  Napi::Object handle = Napi::Object::New(env);
  auto* holder = new KeyHolder{std::move(key)};
  // Garbage collection drops this reference; the bytes are wiped once no
  // operation in flight still holds the key.
  napi_status status = napi_wrap(
      env, handle, holder,
      [](napi_env, void* data, void*) { delete static_cast<KeyHolder*>(data); }, nullptr,
      nullptr);
  if (status != napi_ok) {
    delete holder;
    NAPI_THROW_IF_FAILED(env, status, handle);
  }
  NAPI_THROW_IF_FAILED(env, napi_type_tag_object(env, handle, &kKeyHandleTag), handle);
  return handle;
}

const std::shared_ptr<core::AesGcmKey>& UnwrapKey(Napi::Env env, napi_value value) {
  static const std::shared_ptr<core::AesGcmKey> kNone;
  bool tagged = false;
  napi_valuetype type;
  if (napi_typeof(env, value, &type) == napi_ok && type == napi_object) {
    napi_check_object_type_tag(env, value, &kKeyHandleTag, &tagged);
  }
  void* data = nullptr;
  if (!tagged || napi_unwrap(env, value, &data) != napi_ok || data == nullptr) {
    Napi::TypeError::New(env, "Expected an AeadKey handle").ThrowAsJavaScriptException();
    return kNone;
  }
  return static_cast<KeyHolder*>(data)->key;
}

}  // namespace hsmkms::binding
