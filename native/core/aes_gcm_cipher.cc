#include "aes_gcm_cipher.h"

namespace hsmkms::core {

EVP_CIPHER* AesGcmCipher() noexcept {
  // Thread-safe one-time fetch; intentionally never freed (workers may still
  // hold contexts that reference it while the process exits).
  static EVP_CIPHER* cipher = EVP_CIPHER_fetch(nullptr, "AES-256-GCM", nullptr);
  return cipher;
}

}  // namespace hsmkms::core
