// A whole small message of the committing (v2) suites in one call on the
// calling thread: the message keys, the commitment, the header tag and the
// one (final) frame, with no hop to a worker and no key handle per message.
// Layout (AWS Encryption SDK message format v2, framed):
//   header body (ends with the 32-byte commitment key) || header tag (16)
//   || FFFFFFFF || u32 1 || IV (8 zero bytes || u32 1) || u32 length || ciphertext || tag (16)
#pragma once

#include <cstddef>
#include <cstdint>

#include "aes_gcm_key.h"
#include "status.h"

namespace hsmkms::core {

// Bytes a one-frame body adds to its plaintext: marker, seq, IV, length, tag.
constexpr size_t kFinalFrameOverhead = 4 + 4 + AesGcmKey::kIvSize + 4 + AesGcmKey::kTagSize;

// Where a small message failed to open (nothing is decrypted before kFrame).
enum class SmallMessageCheck { kPassed, kCommitment, kHeaderTag, kFrame };

// `message` holds header_body_len bytes of header body whose last 32 bytes
// are the commitment-key slot; this fills that slot, then writes the header
// tag and the frame after it. message_len must be header_body_len +
// kTagSize + kFinalFrameOverhead + plaintext_len. On failure the written
// bytes are wiped.
[[nodiscard]] Status SealSmallMessage(const AesGcmKey& data_key, uint16_t suite_id,
                                      const uint8_t* message_id, uint8_t* message,
                                      size_t message_len, size_t header_body_len,
                                      const uint8_t* plaintext, size_t plaintext_len);

// Checks the commitment (constant time), then the header tag over
// `header_aad` (the header body, plus any authenticated-only context), then
// opens `frame` (kFinalFrameOverhead + out_len bytes) into `out`.
// kInvalidCiphertext with *check saying which failed; `out` is wiped then.
[[nodiscard]] Status OpenSmallMessage(const AesGcmKey& data_key, uint16_t suite_id,
                                      const uint8_t* message_id, const uint8_t* commit_key,
                                      const uint8_t* header_aad, size_t header_aad_len,
                                      const uint8_t* header_tag, const uint8_t* frame,
                                      size_t frame_len, uint8_t* out, size_t out_len,
                                      SmallMessageCheck* check);

}  // namespace hsmkms::core
