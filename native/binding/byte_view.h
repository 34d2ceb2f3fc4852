// A Uint8Array's bytes as seen from native code, and a reference that keeps
// the array alive while a worker thread uses its memory.
#pragma once

#include <napi.h>

#include <cstddef>
#include <cstdint>

namespace hsmkms::binding {

struct ByteView {
  uint8_t* data = nullptr;
  size_t length = 0;
  bool present = false;  // false for null/undefined (an optional argument)
};

// Throws a TypeError for anything but a Uint8Array (or null/undefined when
// `optional`). Sets a pending exception and returns {} on failure.
[[nodiscard]] ByteView GetBytes(napi_env env, napi_value value, bool optional);

// Overwrites the bytes with zeros in a way the compiler keeps (a secret the
// caller handed over, such as a PIN, once copied into locked memory).
void WipeBytes(const ByteView& view) noexcept;

// Holds napi references to the arrays an off-thread operation reads or writes.
class KeepAlive {
 public:
  static constexpr size_t kMax = 4;
  void Hold(napi_env env, napi_value value);
  // Deletes the references (skipped when env is null: teardown frees them).
  void Release(napi_env env) noexcept;

 private:
  napi_ref refs_[kMax] = {};
  size_t count_ = 0;
};

}  // namespace hsmkms::binding
