#include "aes_kwp.h"

#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>

#include <cstring>
#include <memory>

namespace hsmkms::soft {
namespace {

struct CtxDeleter {
  void operator()(EVP_CIPHER_CTX* ctx) const noexcept { EVP_CIPHER_CTX_free(ctx); }
};
using CtxPtr = std::unique_ptr<EVP_CIPHER_CTX, CtxDeleter>;

// Each size fetched once, on first use (an implicit lookup per call costs
// more than wrapping a key); never freed, like AesGcmCipher().
EVP_CIPHER* KwpCipher(size_t kek_len) noexcept {
  switch (kek_len) {
    case 16: {
      static EVP_CIPHER* const cipher = EVP_CIPHER_fetch(nullptr, "AES-128-WRAP-PAD", nullptr);
      return cipher;
    }
    case 24: {
      static EVP_CIPHER* const cipher = EVP_CIPHER_fetch(nullptr, "AES-192-WRAP-PAD", nullptr);
      return cipher;
    }
    case 32: {
      static EVP_CIPHER* const cipher = EVP_CIPHER_fetch(nullptr, "AES-256-WRAP-PAD", nullptr);
      return cipher;
    }
    default:
      return nullptr;
  }
}

// A context keyed for one wrap or unwrap (RFC 5649's default IV). Wrapping is
// rare (key generation, cache misses, rotation): no context pool.
CtxPtr Keyed(EVP_CIPHER* cipher, const uint8_t* kek, bool encrypt) noexcept {
  CtxPtr ctx(EVP_CIPHER_CTX_new());
  if (ctx == nullptr) return nullptr;
  // Only legacy ciphers need the flag; providers ignore it.
  EVP_CIPHER_CTX_set_flags(ctx.get(), EVP_CIPHER_CTX_FLAG_WRAP_ALLOW);
  const int ok = encrypt ? EVP_EncryptInit_ex2(ctx.get(), cipher, kek, nullptr, nullptr)
                         : EVP_DecryptInit_ex2(ctx.get(), cipher, kek, nullptr, nullptr);
  if (ok != 1) return nullptr;
  return ctx;
}

}  // namespace

core::Status AesKwpWrap(const uint8_t* kek, size_t kek_len, const uint8_t* key, size_t len,
                        std::vector<uint8_t>* wrapped) {
  if (kek_len != 16 && kek_len != 24 && kek_len != 32) return core::Status::kValidation;
  if (len == 0 || len > kMaxWrapInput) return core::Status::kValidation;
  EVP_CIPHER* cipher = KwpCipher(kek_len);
  if (cipher == nullptr) return core::Status::kUnsupportedRuntime;
  CtxPtr ctx = Keyed(cipher, kek, true);
  // EVP assumes room for len + one block; the padded output can need up to 7 more.
  std::vector<uint8_t> out(AesKwpWrappedSize(len) + 8);
  int written = 0, final_len = 0;
  if (ctx == nullptr ||
      EVP_EncryptUpdate(ctx.get(), out.data(), &written, key, static_cast<int>(len)) != 1 ||
      EVP_EncryptFinal_ex(ctx.get(), out.data() + written, &final_len) != 1 ||
      static_cast<size_t>(written + final_len) != AesKwpWrappedSize(len)) {
    ERR_clear_error();
    return core::Status::kInternal;
  }
  out.resize(AesKwpWrappedSize(len));
  *wrapped = std::move(out);
  return core::Status::kOk;
}

core::Status AesKwpUnwrap(const uint8_t* kek, size_t kek_len, const uint8_t* wrapped, size_t len,
                          core::SecureBytes* key) {
  key->Release();
  if (kek_len != 16 && kek_len != 24 && kek_len != 32) return core::Status::kValidation;
  // At least two semiblocks, whole semiblocks only (RFC 5649 section 4.2).
  if (len < 16 || len % 8 != 0 || len > AesKwpWrappedSize(kMaxWrapInput)) {
    return core::Status::kInvalidCiphertext;
  }
  EVP_CIPHER* cipher = KwpCipher(kek_len);
  if (cipher == nullptr) return core::Status::kUnsupportedRuntime;
  CtxPtr ctx = Keyed(cipher, kek, false);
  if (ctx == nullptr) {
    ERR_clear_error();
    return core::Status::kInternal;
  }
  // The padded plaintext (len - 8 bytes) lands in locked scratch sized as EVP
  // expects (len + one block), then the unpadded key is copied out.
  core::SecureBytes scratch(len + 8);
  int written = 0, final_len = 0;
  if (EVP_DecryptUpdate(ctx.get(), scratch.data(), &written, wrapped, static_cast<int>(len)) != 1 ||
      EVP_DecryptFinal_ex(ctx.get(), scratch.data() + written, &final_len) != 1 ||
      written + final_len <= 0 || static_cast<size_t>(written + final_len) > len - 8) {
    ERR_clear_error();
    return core::Status::kInvalidCiphertext;
  }
  core::SecureBytes out(static_cast<size_t>(written + final_len));
  std::memcpy(out.data(), scratch.data(), out.size());
  *key = std::move(out);
  return core::Status::kOk;
}

}  // namespace hsmkms::soft
