// The opaque JS object that stands for a native AES-256-GCM key. JavaScript
// never sees the key bytes; the object is type-tagged so that no other
// object can be mistaken for one.
#pragma once

#include <napi.h>

#include <memory>

#include "../core/aes_gcm_key.h"

namespace hsmkms::binding {

[[nodiscard]] Napi::Object WrapKey(Napi::Env env, std::shared_ptr<core::AesGcmKey> key);
// The key behind a handle; throws a TypeError for anything else.
[[nodiscard]] const std::shared_ptr<core::AesGcmKey>& UnwrapKey(Napi::Env env, napi_value value);

}  // namespace hsmkms::binding
