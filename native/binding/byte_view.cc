#include "byte_view.h"

namespace hsmkms::binding {

ByteView GetBytes(napi_env env, napi_value value, bool optional) {
  ByteView view;
  napi_valuetype type;
  if (optional && napi_typeof(env, value, &type) == napi_ok &&
      (type == napi_undefined || type == napi_null)) {
    return view;
  }
  napi_typedarray_type array_type;
  void* data = nullptr;
  if (napi_get_typedarray_info(env, value, &array_type, &view.length, &data, nullptr,
                               nullptr) != napi_ok ||
      array_type != napi_uint8_array) {
    Napi::TypeError::New(env, "Expected a Uint8Array").ThrowAsJavaScriptException();
    return {};
  }
  view.data = static_cast<uint8_t*>(data);
  view.present = true;
  return view;
}

void WipeBytes(const ByteView& view) noexcept {
  volatile uint8_t* p = view.data;
  for (size_t i = 0; i < view.length; ++i) p[i] = 0;
}

void KeepAlive::Hold(napi_env env, napi_value value) {
  if (count_ == kMax) return;
  napi_valuetype type;
  if (napi_typeof(env, value, &type) != napi_ok || type != napi_object) return;
  if (napi_create_reference(env, value, 1, &refs_[count_]) == napi_ok) ++count_;
}

void KeepAlive::Release(napi_env env) noexcept {
  if (env != nullptr) {
    for (size_t i = 0; i < count_; ++i) napi_delete_reference(env, refs_[i]);
  }
  count_ = 0;
}

}  // namespace hsmkms::binding
