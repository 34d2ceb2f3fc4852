// Randomness from OpenSSL's DRBGs (never a home-made generator).
#pragma once

#include <cstddef>
#include <cstdint>

#include "status.h"

namespace hsmkms::core {

// Public randomness: IVs and nonces.
[[nodiscard]] Status RandomBytes(uint8_t* out, size_t len) noexcept;
// A random 12-byte GCM IV. Drawn from a per-thread buffer of DRBG output
// refilled in bulk: one DRBG call per message costs more than the AES of a
// small message. The buffer is discarded in a forked child, so parent and
// child never hand out the same IVs.
[[nodiscard]] Status RandomIv(uint8_t* out) noexcept;

// Private randomness: key material (OpenSSL keeps a separate DRBG for it).
[[nodiscard]] Status PrivateRandomBytes(uint8_t* out, size_t len) noexcept;

}  // namespace hsmkms::core
