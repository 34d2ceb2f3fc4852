// The keys of one message in the committing (v2) suites of the AWS
// Encryption SDK format, both from one HKDF-SHA512 extract of the data key:
//   commitKey = HKDF-SHA512(salt = message ID, ikm = DEK, info = "COMMITKEY", 32)
//   encKey    = HKDF-SHA512(salt = message ID, ikm = DEK, info = suite id || "DERIVEKEY", 32)
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>

#include "aes_gcm_key.h"
#include "status.h"

namespace hsmkms::core {

constexpr size_t kCommitKeySize = 32;
constexpr size_t kMessageIdSize = 32;

// Writes the (public) commitment key to `commit_key` (kCommitKeySize bytes)
// and makes the content key; its bytes stay in secure memory.
[[nodiscard]] Status DeriveMessageKeys(const AesGcmKey& data_key, uint16_t suite_id,
                                       const uint8_t* message_id, uint8_t* commit_key,
                                       std::shared_ptr<AesGcmKey>* content_key);

}  // namespace hsmkms::core
