#include "message_keys.h"

#include <utility>

#include "hkdf.h"
#include "secure_memory.h"

namespace hsmkms::core {

Status DeriveMessageKeys(const AesGcmKey& data_key, uint16_t suite_id, const uint8_t* message_id,
                         uint8_t* commit_key, std::shared_ptr<AesGcmKey>* content_key) {
  constexpr HkdfDigest kDigest = HkdfDigest::kSha512;
  SecureBytes ikm;
  Status status = data_key.CopyTo(&ikm);
  if (status != Status::kOk) return status;
  // Both outputs share salt and ikm: extract once, expand twice (RFC 5869).
  SecureBytes prk(HkdfDigestSize(kDigest));
  status = HkdfExtract(kDigest, ikm.data(), ikm.size(), message_id, kMessageIdSize, prk.data());
  if (status != Status::kOk) return status;
  static constexpr uint8_t kCommitLabel[] = {'C', 'O', 'M', 'M', 'I', 'T', 'K', 'E', 'Y'};
  status = HkdfExpand(kDigest, prk.data(), prk.size(), kCommitLabel, sizeof kCommitLabel,
                      commit_key, kCommitKeySize);
  if (status != Status::kOk) return status;
  const uint8_t info[] = {static_cast<uint8_t>(suite_id >> 8), static_cast<uint8_t>(suite_id),
                          'D', 'E', 'R', 'I', 'V', 'E', 'K', 'E', 'Y'};
  SecureBytes derived(AesGcmKey::kKeySize);
  status = HkdfExpand(kDigest, prk.data(), prk.size(), info, sizeof info, derived.data(),
                      derived.size());
  if (status != Status::kOk) return status;
  return AesGcmKey::Adopt(std::move(derived), content_key);
}

}  // namespace hsmkms::core
