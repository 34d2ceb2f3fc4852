// The AES-256-GCM implementation, fetched from the default provider once per
// process: an implicit lookup per call costs more than a small message's AES.
#pragma once

#include <openssl/evp.h>

namespace hsmkms::core {

// Never null once the process has OpenSSL 3; freed by OpenSSL at exit.
[[nodiscard]] EVP_CIPHER* AesGcmCipher() noexcept;

}  // namespace hsmkms::core
