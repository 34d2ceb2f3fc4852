// Argument helpers shared by the binding functions. A failed Get*/Unwrap*
// helper leaves a pending JavaScript exception; these turn it into a C++
// exception (node-addon-api rethrows it to the caller).
#pragma once

#include <napi.h>

#include <cstddef>

#include "byte_view.h"

namespace hsmkms::binding {

inline void RethrowPending(Napi::Env env) {
  if (env.IsExceptionPending()) throw env.GetAndClearPendingException();
}

// A RangeError for an argument out of range (a caller's mistake, not a KmsError).
inline void Require(Napi::Env env, bool ok, const char* message) {
  if (!ok) throw Napi::RangeError::New(env, message);
}

// `value` as bytes (a Uint8Array). A C++ exception when it is not one, even
// if the JavaScript error could not be raised (a terminating worker).
inline ByteView BytesOf(Napi::Env env, napi_value value) {
  ByteView view = GetBytes(env, value, false);
  RethrowPending(env);
  if (!view.present) throw Napi::TypeError::New(env, "Expected a Uint8Array");
  return view;
}

// Argument `i` as bytes (BytesOf).
inline ByteView ArgBytes(const Napi::CallbackInfo& info, size_t i) {
  return BytesOf(info.Env(), info[i]);
}

// The same, or absent (`present` false) when undefined. Two names, not a
// bool parameter: a length passed by mistake converted to `true` silently.
inline ByteView OptionalArgBytes(const Napi::CallbackInfo& info, size_t i) {
  ByteView view = GetBytes(info.Env(), info[i], true);
  RethrowPending(info.Env());
  return view;
}

}  // namespace hsmkms::binding
