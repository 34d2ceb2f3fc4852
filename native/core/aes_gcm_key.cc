#include "aes_gcm_key.h"

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/params.h>

#include <climits>
#include <cstring>
#include <new>

#include "aes_gcm_cipher.h"
#include "random.h"

namespace hsmkms::core {
namespace {

// EVP takes int lengths; feed larger inputs in pieces.
constexpr size_t kMaxUpdate = size_t{1} << 30;

using UpdateFn = int (*)(EVP_CIPHER_CTX*, unsigned char*, int*, const unsigned char*, int);

bool UpdateAll(UpdateFn update, EVP_CIPHER_CTX* ctx, uint8_t* out, const uint8_t* in,
               size_t len) noexcept {
  while (len > 0) {
    const size_t chunk = len > kMaxUpdate ? kMaxUpdate : len;
    int written = 0;
    if (update(ctx, out, &written, in, static_cast<int>(chunk)) != 1) return false;
    if (out != nullptr) out += written;
    in += chunk;
    len -= chunk;
  }
  return true;
}

}  // namespace

// Borrows a context for the duration of one operation.
class AesGcmKey::Lease {
 public:
  explicit Lease(AesGcmKey* key) noexcept : key_(key), ctx_(key->Acquire()) {}
  ~Lease() {
    if (ctx_ != nullptr) key_->Return(ctx_);
  }
  Lease(const Lease&) = delete;
  Lease& operator=(const Lease&) = delete;
  [[nodiscard]] EVP_CIPHER_CTX* get() const noexcept { return ctx_; }

 private:
  AesGcmKey* key_;
  EVP_CIPHER_CTX* ctx_;
};

Status AesGcmKey::Import(const uint8_t* bytes, size_t len, std::shared_ptr<AesGcmKey>* out) {
  if (len != kKeySize) return Status::kValidation;
  if (AesGcmCipher() == nullptr) return Status::kUnsupportedRuntime;
  std::shared_ptr<AesGcmKey> key(new AesGcmKey());
  key->key_ = SecureBytes(kKeySize);
  std::memcpy(key->key_.data(), bytes, kKeySize);
  *out = std::move(key);
  return Status::kOk;
}

Status AesGcmKey::Generate(std::shared_ptr<AesGcmKey>* out) {
  if (AesGcmCipher() == nullptr) return Status::kUnsupportedRuntime;
  std::shared_ptr<AesGcmKey> key(new AesGcmKey());
  key->key_ = SecureBytes(kKeySize);
  const Status status = PrivateRandomBytes(key->key_.data(), kKeySize);
  if (status != Status::kOk) return status;
  *out = std::move(key);
  return Status::kOk;
}

Status AesGcmKey::Adopt(SecureBytes bytes, std::shared_ptr<AesGcmKey>* out) {
  if (bytes.size() != kKeySize || bytes.empty()) return Status::kValidation;
  if (AesGcmCipher() == nullptr) return Status::kUnsupportedRuntime;
  std::shared_ptr<AesGcmKey> key(new AesGcmKey());
  key->key_ = std::move(bytes);
  *out = std::move(key);
  return Status::kOk;
}

Status AesGcmKey::CopyTo(SecureBytes* out) const {
  SecureBytes copy(kKeySize);
  std::lock_guard<std::mutex> lock(mutex_);
  if (destroyed_) return Status::kKeyUnavailable;
  std::memcpy(copy.data(), key_.data(), kKeySize);
  *out = std::move(copy);
  return Status::kOk;
}

AesGcmKey::~AesGcmKey() { Destroy(); }

void AesGcmKey::Destroy() noexcept {
  std::lock_guard<std::mutex> lock(mutex_);
  destroyed_ = true;
  key_.Release();
  // EVP_CIPHER_CTX_free cleanses the expanded key schedule.
  for (EVP_CIPHER_CTX* ctx : idle_) EVP_CIPHER_CTX_free(ctx);
  contexts_ -= idle_.size();
  idle_.clear();
  idle_.shrink_to_fit();
}

bool AesGcmKey::destroyed() const noexcept {
  std::lock_guard<std::mutex> lock(mutex_);
  return destroyed_;
}

EVP_CIPHER_CTX* AesGcmKey::Acquire() noexcept {
  std::lock_guard<std::mutex> lock(mutex_);
  if (destroyed_) return nullptr;
  if (!idle_.empty()) {
    EVP_CIPHER_CTX* ctx = idle_.back();
    idle_.pop_back();
    return ctx;
  }
  // First use on this many threads at once: key a new context. The key is
  // read under the lock so that Destroy cannot wipe it midway.
  EVP_CIPHER_CTX* ctx = EVP_CIPHER_CTX_new();
  if (ctx == nullptr) return nullptr;
  if (EVP_EncryptInit_ex2(ctx, AesGcmCipher(), key_.data(), nullptr, nullptr) != 1) {
    EVP_CIPHER_CTX_free(ctx);
    ERR_clear_error();
    return nullptr;
  }
  try {
    idle_.reserve(contexts_ + 1);  // so that Return() never allocates
  } catch (const std::bad_alloc&) {
    EVP_CIPHER_CTX_free(ctx);
    return nullptr;
  }
  ++contexts_;
  return ctx;
}

void AesGcmKey::Return(EVP_CIPHER_CTX* ctx) noexcept {
  std::lock_guard<std::mutex> lock(mutex_);
  if (destroyed_) {
    EVP_CIPHER_CTX_free(ctx);
    --contexts_;
    return;
  }
  idle_.push_back(ctx);  // capacity reserved in Acquire
}

Status AesGcmKey::Seal(const uint8_t* iv, const uint8_t* in, size_t in_len, const uint8_t* aad,
                       size_t aad_len, uint8_t* out) noexcept {
  Lease lease(this);
  EVP_CIPHER_CTX* ctx = lease.get();
  if (ctx == nullptr) return Status::kKeyUnavailable;
  if (iv != nullptr) {
    std::memmove(out, iv, kIvSize);
  } else if (RandomIv(out) != Status::kOk) {
    return Status::kInternal;
  }
  uint8_t* ciphertext = out + kIvSize;
  int final_len = 0;
  bool ok = EVP_EncryptInit_ex2(ctx, nullptr, nullptr, out, nullptr) == 1 &&
            (aad_len == 0 || UpdateAll(EVP_EncryptUpdate, ctx, nullptr, aad, aad_len)) &&
            UpdateAll(EVP_EncryptUpdate, ctx, ciphertext, in, in_len) &&
            EVP_EncryptFinal_ex(ctx, ciphertext + in_len, &final_len) == 1;
  if (ok) {
    OSSL_PARAM params[] = {
        OSSL_PARAM_construct_octet_string(OSSL_CIPHER_PARAM_AEAD_TAG, ciphertext + in_len,
                                          kTagSize),
        OSSL_PARAM_construct_end()};
    ok = EVP_CIPHER_CTX_get_params(ctx, params) == 1;
  }
  if (!ok) {
    // Keep the calling thread's OpenSSL error queue clean (it may be Node's).
    ERR_clear_error();
    OPENSSL_cleanse(out, in_len + kOverhead);
    return Status::kInternal;
  }
  return Status::kOk;
}

Status AesGcmKey::Open(const uint8_t* sealed, size_t sealed_len, const uint8_t* aad,
                       size_t aad_len, uint8_t* out) noexcept {
  if (sealed_len < kOverhead) return Status::kInvalidCiphertext;
  const size_t len = sealed_len - kOverhead;
  return OpenParts(sealed, sealed + kIvSize, len, sealed + kIvSize + len, aad, aad_len, out);
}

Status AesGcmKey::OpenParts(const uint8_t* iv, const uint8_t* ciphertext, size_t len,
                            const uint8_t* tag, const uint8_t* aad, size_t aad_len,
                            uint8_t* out) noexcept {
  const Piece whole{ciphertext, len};
  return OpenPieces(iv, &whole, 1, tag, aad, aad_len, out);
}

Status AesGcmKey::OpenPieces(const uint8_t* iv, const Piece* pieces, size_t count,
                             const uint8_t* tag, const uint8_t* aad, size_t aad_len,
                             uint8_t* out) noexcept {
  Lease lease(this);
  EVP_CIPHER_CTX* ctx = lease.get();
  if (ctx == nullptr) return Status::kKeyUnavailable;
  // A copy: OSSL_PARAM takes a non-const pointer.
  uint8_t expected[kTagSize];
  std::memcpy(expected, tag, kTagSize);
  OSSL_PARAM params[] = {
      OSSL_PARAM_construct_octet_string(OSSL_CIPHER_PARAM_AEAD_TAG, expected, kTagSize),
      OSSL_PARAM_construct_end()};
  bool ok = EVP_DecryptInit_ex2(ctx, nullptr, nullptr, iv, nullptr) == 1 &&
            (aad_len == 0 || UpdateAll(EVP_DecryptUpdate, ctx, nullptr, aad, aad_len));
  // GCM is a stream mode: each update writes as many bytes as it reads.
  size_t len = 0;
  for (size_t i = 0; i < count; ++i) {
    ok = ok && UpdateAll(EVP_DecryptUpdate, ctx, out + len, pieces[i].data, pieces[i].length);
    len += pieces[i].length;
  }
  int final_len = 0;
  ok = ok && EVP_CIPHER_CTX_set_params(ctx, params) == 1 &&
       EVP_DecryptFinal_ex(ctx, out + len, &final_len) == 1;
  if (!ok) {
    ERR_clear_error();
    OPENSSL_cleanse(out, len);
    return Status::kInvalidCiphertext;
  }
  return Status::kOk;
}

}  // namespace hsmkms::core
