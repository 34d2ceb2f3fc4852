#include "wrapped_key_ref.h"

#include "wrapped_key_value.h"

namespace hsmkms::binding {
namespace {

constexpr napi_type_tag kWrappedKeyRefTag = {0x6873'6d6b'6d73'776bULL, 0x6579'7265'6665'7265ULL};

}  // namespace

Napi::Object WrappedKeyRef::New(Napi::Env env, napi_value wrapped_key) {
  auto key = std::make_shared<pkcs11::WrappedKey>();
  ReadWrappedKey(env, wrapped_key, key.get());
  Napi::Object object = Napi::Object::New(env);
  auto* ref = new WrappedKeyRef(std::move(key));
  napi_status status = napi_wrap(
      env, object, ref, [](napi_env, void* data, void*) { delete static_cast<WrappedKeyRef*>(data); },
      nullptr, nullptr);
  if (status != napi_ok) {
    delete ref;
    NAPI_THROW_IF_FAILED(env, status, object);
  }
  NAPI_THROW_IF_FAILED(env, napi_type_tag_object(env, object, &kWrappedKeyRefTag), object);
  return object;
}

const std::shared_ptr<const pkcs11::WrappedKey>& WrappedKeyRef::Unwrap(Napi::Env env,
                                                                      napi_value value) {
  bool tagged = false;
  napi_valuetype type;
  if (napi_typeof(env, value, &type) == napi_ok && type == napi_object) {
    napi_check_object_type_tag(env, value, &kWrappedKeyRefTag, &tagged);
  }
  void* data = nullptr;
  if (!tagged || napi_unwrap(env, value, &data) != napi_ok || data == nullptr) {
    throw Napi::TypeError::New(env, "Expected a prepared wrapped key (root.prepareKey)");
  }
  return static_cast<WrappedKeyRef*>(data)->key_;
}

}  // namespace hsmkms::binding
