// Randomness from OpenSSL's DRBGs (never a home-made generator).
#pragma once

#include <cstddef>
#include <cstdint>

#include "status.h"

namespace hsmkms::core {

// Public randomness: IVs and nonces.
[[nodiscard]] Status RandomBytes(uint8_t* out, size_t len) noexcept;
// Private randomness: key material (OpenSSL keeps a separate DRBG for it).
[[nodiscard]] Status PrivateRandomBytes(uint8_t* out, size_t len) noexcept;

}  // namespace hsmkms::core
