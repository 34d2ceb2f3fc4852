#include "hkdf.h"

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/kdf.h>
#include <openssl/params.h>

#include <memory>

namespace hsmkms::core {
namespace {

struct KdfCtxFree {
  void operator()(EVP_KDF_CTX* ctx) const noexcept { EVP_KDF_CTX_free(ctx); }
};
using KdfCtx = std::unique_ptr<EVP_KDF_CTX, KdfCtxFree>;

const char* DigestName(HkdfDigest digest) noexcept {
  switch (digest) {
    case HkdfDigest::kSha256:
      return "SHA256";
    case HkdfDigest::kSha384:
      return "SHA384";
    case HkdfDigest::kSha512:
      return "SHA512";
  }
  return "SHA512";
}

EVP_KDF* HkdfKdf() noexcept {
  // Thread-safe one-time fetch, never freed (like AesGcmCipher).
  static EVP_KDF* kdf = EVP_KDF_fetch(nullptr, "HKDF", nullptr);
  return kdf;
}

EVP_KDF_CTX* NewContext(HkdfDigest digest) noexcept {
  if (HkdfKdf() == nullptr) return nullptr;
  KdfCtx ctx(EVP_KDF_CTX_new(HkdfKdf()));
  if (ctx == nullptr) return nullptr;
  const OSSL_PARAM params[] = {
      OSSL_PARAM_construct_utf8_string(OSSL_KDF_PARAM_DIGEST,
                                       const_cast<char*>(DigestName(digest)), 0),
      OSSL_PARAM_construct_end()};
  if (EVP_KDF_CTX_set_params(ctx.get(), params) != 1) return nullptr;
  return ctx.release();
}

// One context per (thread, digest), its digest set once: setting it by name
// on every derive fetches it each time, a fifth of a small message's HKDF.
// (OpenSSL 3.0's HKDF cannot duplicate a template context.)
EVP_KDF_CTX* ThreadContext(HkdfDigest digest) noexcept {
  thread_local KdfCtx contexts[3];
  KdfCtx& ctx = contexts[static_cast<int>(digest)];
  if (ctx == nullptr) ctx.reset(NewContext(digest));
  return ctx.get();
}

// Overwrites the secret a reused context holds (OpenSSL clear-frees it).
void ScrubKey(EVP_KDF_CTX* ctx) noexcept {
  static uint8_t zero = 0;
  const OSSL_PARAM params[] = {OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_KEY, &zero, 1),
                               OSSL_PARAM_construct_end()};
  if (EVP_KDF_CTX_set_params(ctx, params) != 1) ERR_clear_error();
}

// One EVP_KDF_derive in `mode` (EVP_KDF_HKDF_MODE_*). A reused context
// keeps its last salt when given an empty one, and OpenSSL 3.0 mishandles
// an empty info after a non-empty one: derives that use an empty salt or
// info get a fresh context, where those are simply left out (an empty salt
// then means HashLen zero bytes).
Status Derive(HkdfDigest digest, int mode, const uint8_t* key, size_t key_len,
              const uint8_t* salt, size_t salt_len, const uint8_t* info, size_t info_len,
              uint8_t* out, size_t out_len) noexcept {
  const bool uses_salt = mode != EVP_KDF_HKDF_MODE_EXPAND_ONLY;
  const bool uses_info = mode != EVP_KDF_HKDF_MODE_EXTRACT_ONLY;
  KdfCtx fresh;
  EVP_KDF_CTX* ctx = nullptr;
  if ((uses_salt && salt_len == 0) || (uses_info && info_len == 0)) {
    fresh.reset(NewContext(digest));
    ctx = fresh.get();
  } else {
    ctx = ThreadContext(digest);
  }
  if (ctx == nullptr) {
    ERR_clear_error();
    return HkdfKdf() == nullptr ? Status::kUnsupportedRuntime : Status::kInternal;
  }
  // OSSL_PARAM takes non-const pointers; nothing below is written through them.
  OSSL_PARAM params[5];
  size_t n = 0;
  params[n++] = OSSL_PARAM_construct_int(OSSL_KDF_PARAM_MODE, &mode);
  static uint8_t empty = 0;
  params[n++] = OSSL_PARAM_construct_octet_string(
      OSSL_KDF_PARAM_KEY, key_len > 0 ? const_cast<uint8_t*>(key) : &empty, key_len);
  if (uses_salt && salt_len > 0) {
    params[n++] = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_SALT,
                                                    const_cast<uint8_t*>(salt), salt_len);
  }
  if (uses_info && info_len > 0) {
    params[n++] = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_INFO,
                                                    const_cast<uint8_t*>(info), info_len);
  }
  params[n] = OSSL_PARAM_construct_end();
  const bool ok = EVP_KDF_derive(ctx, out, out_len, params) == 1;
  if (fresh == nullptr) ScrubKey(ctx);
  if (!ok) {
    ERR_clear_error();  // keep the calling thread's queue clean (it may be Node's)
    OPENSSL_cleanse(out, out_len);
    return Status::kInternal;
  }
  return Status::kOk;
}

}  // namespace

size_t HkdfDigestSize(HkdfDigest digest) noexcept {
  switch (digest) {
    case HkdfDigest::kSha256:
      return 32;
    case HkdfDigest::kSha384:
      return 48;
    case HkdfDigest::kSha512:
      return 64;
  }
  return 64;
}

Status Hkdf(HkdfDigest digest, const uint8_t* ikm, size_t ikm_len, const uint8_t* salt,
            size_t salt_len, const uint8_t* info, size_t info_len, uint8_t* out,
            size_t out_len) noexcept {
  if (out_len == 0 || out_len > 255 * HkdfDigestSize(digest)) return Status::kValidation;
  return Derive(digest, EVP_KDF_HKDF_MODE_EXTRACT_AND_EXPAND, ikm, ikm_len, salt, salt_len, info,
                info_len, out, out_len);
}

Status HkdfExtract(HkdfDigest digest, const uint8_t* ikm, size_t ikm_len, const uint8_t* salt,
                   size_t salt_len, uint8_t* prk) noexcept {
  return Derive(digest, EVP_KDF_HKDF_MODE_EXTRACT_ONLY, ikm, ikm_len, salt, salt_len, nullptr, 0,
                prk, HkdfDigestSize(digest));
}

Status HkdfExpand(HkdfDigest digest, const uint8_t* prk, size_t prk_len, const uint8_t* info,
                  size_t info_len, uint8_t* out, size_t out_len) noexcept {
  if (out_len == 0 || out_len > 255 * HkdfDigestSize(digest)) return Status::kValidation;
  if (prk_len < HkdfDigestSize(digest)) return Status::kValidation;
  return Derive(digest, EVP_KDF_HKDF_MODE_EXPAND_ONLY, prk, prk_len, nullptr, 0, info, info_len,
                out, out_len);
}

}  // namespace hsmkms::core
