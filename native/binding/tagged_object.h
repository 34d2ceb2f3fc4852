// JavaScript objects that own a native object (napi_wrap) and carry a type
// tag, so that no other object can be mistaken for one: every handle the
// binding gives JavaScript (AES keys, roots, prepared wrapped keys, message
// signatures) is made and read through these two.
#pragma once

#include <napi.h>

namespace hsmkms::binding {

// A new object that owns `native` (deleted when the object is collected,
// or here if wrapping fails) and is tagged `tag`.
template <typename T>
Napi::Object WrapTagged(Napi::Env env, T* native, const napi_type_tag& tag) {
  Napi::Object object = Napi::Object::New(env);
  const napi_status status = napi_wrap(
      env, object, native, [](napi_env, void* data, void*) { delete static_cast<T*>(data); },
      nullptr, nullptr);
  if (status != napi_ok) {
    delete native;
    NAPI_THROW_IF_FAILED(env, status, object);
  }
  NAPI_THROW_IF_FAILED(env, napi_type_tag_object(env, object, &tag), object);
  return object;
}

// The native object `value` owns when it carries `tag`; null for anything else.
template <typename T>
T* UnwrapTagged(napi_env env, napi_value value, const napi_type_tag& tag) noexcept {
  bool tagged = false;
  napi_valuetype type;
  if (napi_typeof(env, value, &type) == napi_ok && type == napi_object) {
    napi_check_object_type_tag(env, value, &tag, &tagged);
  }
  void* data = nullptr;
  if (!tagged || napi_unwrap(env, value, &data) != napi_ok) return nullptr;
  return static_cast<T*>(data);
}

}  // namespace hsmkms::binding
