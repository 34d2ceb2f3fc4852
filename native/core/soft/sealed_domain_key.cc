#include "sealed_domain_key.h"

#include <cstring>

namespace hsmkms::soft {
namespace {

constexpr char kLabel[] = "hsmkms:soft:domain-key";
constexpr size_t kLabelSize = sizeof(kLabel) - 1;
constexpr size_t kAadSize = kLabelSize + 1 + 4;

void Aad(uint32_t version, uint8_t (&aad)[kAadSize]) noexcept {
  std::memcpy(aad, kLabel, kLabelSize);
  aad[kLabelSize] = kSealFormat;
  aad[kLabelSize + 1] = static_cast<uint8_t>(version >> 24);
  aad[kLabelSize + 2] = static_cast<uint8_t>(version >> 16);
  aad[kLabelSize + 3] = static_cast<uint8_t>(version >> 8);
  aad[kLabelSize + 4] = static_cast<uint8_t>(version);
}

}  // namespace

core::Status SealDomainKey(core::AesGcmKey& root_key, uint32_t version,
                           const core::SecureBytes& domain_key, std::vector<uint8_t>* reference) {
  if (domain_key.size() != kDomainKeySize) return core::Status::kValidation;
  uint8_t aad[kAadSize];
  Aad(version, aad);
  std::vector<uint8_t> sealed(kSealedDomainKeySize);
  sealed[0] = kSealFormat;
  // A random IV (null): at most a handful of domain keys per root key.
  const core::Status status = root_key.Seal(nullptr, domain_key.data(), kDomainKeySize, aad,
                                            sizeof(aad), sealed.data() + 1);
  if (status != core::Status::kOk) return status;
  *reference = std::move(sealed);
  return core::Status::kOk;
}

core::Status UnsealDomainKey(core::AesGcmKey& root_key, uint32_t version,
                             const uint8_t* reference, size_t len,
                             core::SecureBytes* domain_key) {
  domain_key->Release();
  if (reference == nullptr || len != kSealedDomainKeySize || reference[0] != kSealFormat) {
    return core::Status::kInvalidCiphertext;
  }
  uint8_t aad[kAadSize];
  Aad(version, aad);
  core::SecureBytes key(kDomainKeySize);
  const core::Status status = root_key.Open(reference + 1, len - 1, aad, sizeof(aad), key.data());
  if (status != core::Status::kOk) return status;  // Open wiped `key`
  *domain_key = std::move(key);
  return core::Status::kOk;
}

}  // namespace hsmkms::soft
