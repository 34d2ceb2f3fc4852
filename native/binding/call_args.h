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

// Argument `i` as bytes (TypedArray, DataView or ArrayBuffer).
inline ByteView ArgBytes(const Napi::CallbackInfo& info, size_t i) {
  ByteView view = GetBytes(info.Env(), info[i], false);
  RethrowPending(info.Env());
  return view;
}

// The same, or absent (`present` false) when undefined. Two names, not a
// bool parameter: a length passed by mistake converted to `true` silently.
inline ByteView OptionalArgBytes(const Napi::CallbackInfo& info, size_t i) {
  ByteView view = GetBytes(info.Env(), info[i], true);
  RethrowPending(info.Env());
  return view;
}

}  // namespace hsmkms::binding
