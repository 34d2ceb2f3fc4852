// A wrapped key parsed once into native form, behind an opaque type-tagged
// JS object: the hot operations take it instead of reading seven properties
// and copying the blob on every call. It holds no secret (the blob is
// wrapped), only what the core needs to unwrap it.
#pragma once

#include <napi.h>

#include <memory>

#include "../core/pkcs11/wrapped_key.h"

namespace hsmkms::binding {

class WrappedKeyRef {
 public:
  // prepareKey(wrappedKeyObject) -> a new reference object (TypeError for a bad shape).
  [[nodiscard]] static Napi::Object New(Napi::Env env, napi_value wrapped_key);
  // The key behind a reference object; throws a TypeError for anything else.
  [[nodiscard]] static const std::shared_ptr<const pkcs11::WrappedKey>& Unwrap(Napi::Env env,
                                                                              napi_value value);

 private:
  explicit WrappedKeyRef(std::shared_ptr<const pkcs11::WrappedKey> key) : key_(std::move(key)) {}
  std::shared_ptr<const pkcs11::WrappedKey> key_;
};

}  // namespace hsmkms::binding
