#include "key_transforms.h"

#include <utility>

#include "secure_memory.h"

namespace hsmkms::core {

Status DeriveKey(const AesGcmKey& key, HkdfDigest digest, const uint8_t* salt, size_t salt_len,
                 const uint8_t* info, size_t info_len, std::shared_ptr<AesGcmKey>* out) {
  SecureBytes ikm;
  Status status = key.CopyTo(&ikm);
  if (status != Status::kOk) return status;
  SecureBytes derived(AesGcmKey::kKeySize);
  status = Hkdf(digest, ikm.data(), ikm.size(), salt, salt_len, info, info_len, derived.data(),
                derived.size());
  if (status != Status::kOk) return status;
  return AesGcmKey::Adopt(std::move(derived), out);
}

Status DeriveBytes(const AesGcmKey& key, HkdfDigest digest, const uint8_t* salt, size_t salt_len,
                   const uint8_t* info, size_t info_len, uint8_t* out, size_t out_len) {
  SecureBytes ikm;
  const Status status = key.CopyTo(&ikm);
  if (status != Status::kOk) return status;
  return Hkdf(digest, ikm.data(), ikm.size(), salt, salt_len, info, info_len, out, out_len);
}

Status SealKey(AesGcmKey& wrapping, const AesGcmKey& key, const uint8_t* aad, size_t aad_len,
               uint8_t* out) {
  SecureBytes plaintext;
  const Status status = key.CopyTo(&plaintext);
  if (status != Status::kOk) return status;
  return wrapping.Seal(nullptr, plaintext.data(), plaintext.size(), aad, aad_len, out);
}

Status OpenKey(AesGcmKey& wrapping, const uint8_t* sealed, size_t sealed_len, const uint8_t* aad,
               size_t aad_len, std::shared_ptr<AesGcmKey>* out) {
  if (sealed_len != AesGcmKey::kKeySize + AesGcmKey::kOverhead) return Status::kInvalidCiphertext;
  SecureBytes plaintext(AesGcmKey::kKeySize);
  // Open wipes its output on a failed tag; SecureBytes wipes it on return.
  const Status status = wrapping.Open(sealed, sealed_len, aad, aad_len, plaintext.data());
  if (status != Status::kOk) return status;
  return AesGcmKey::Adopt(std::move(plaintext), out);
}

}  // namespace hsmkms::core
