// Shared by the libFuzzer targets: a property check that reports and aborts
// (libFuzzer then saves the input as a crash), and fixed, non-secret test keys.
#pragma once

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <memory>

#include "aes_gcm_key.h"
#include "status.h"

#define FUZZ_CHECK(cond)                                                         \
  do {                                                                           \
    if (!(cond)) {                                                               \
      std::fprintf(stderr, "FUZZ_CHECK failed: %s (%s:%d)\n", #cond, __FILE__, \
                   __LINE__);                                                    \
      std::abort();                                                              \
    }                                                                            \
  } while (0)

namespace hsmkms::fuzz {

// A fixed test pattern (never a real key): kek[i] = seed + 7i.
inline void FillPattern(uint8_t* out, size_t len, uint8_t seed) {
  for (size_t i = 0; i < len; ++i) out[i] = static_cast<uint8_t>(seed + 7 * i);
}

// An AES-256-GCM key made once per process (each target uses one seed).
inline core::AesGcmKey& FixedGcmKey(uint8_t seed) {
  static std::shared_ptr<core::AesGcmKey> key;
  if (!key) {
    uint8_t bytes[core::AesGcmKey::kKeySize];
    FillPattern(bytes, sizeof bytes, seed);
    FUZZ_CHECK(core::AesGcmKey::Import(bytes, sizeof bytes, &key) == core::Status::kOk);
  }
  return *key;
}

}  // namespace hsmkms::fuzz
