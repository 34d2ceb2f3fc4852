// RFC 5649 unwrap (soft root: wrapped CMK versions read back from the key
// store). Byte 0 picks the KEK size and the mode:
//   unwrap: the rest is a wrapped blob; either kInvalidCiphertext with the key
//           left empty, or a key that re-wraps to exactly the same bytes
//           (RFC 5649 is deterministic);
//   wrap:   the rest is a key; wrap then unwrap gives it back.
#include <cstring>
#include <vector>

#include "fuzz_support.h"
#include "secure_memory.h"
#include "soft/aes_kwp.h"

using hsmkms::core::SecureBytes;
using hsmkms::core::Status;
namespace soft = hsmkms::soft;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 1) return 0;
  static const size_t kKekSizes[] = {16, 24, 32};
  const size_t kek_len = kKekSizes[(data[0] & 0x7f) % 3];
  const bool wrap_mode = (data[0] & 0x80) != 0;
  uint8_t kek[32];
  hsmkms::fuzz::FillPattern(kek, sizeof kek, 0x5a);
  const uint8_t* in = data + 1;
  const size_t len = size - 1;

  if (wrap_mode) {
    std::vector<uint8_t> wrapped;
    const Status st = soft::AesKwpWrap(kek, kek_len, in, len, &wrapped);
    if (len == 0 || len > soft::kMaxWrapInput) {
      FUZZ_CHECK(st == Status::kValidation);
      return 0;
    }
    FUZZ_CHECK(st == Status::kOk);
    FUZZ_CHECK(wrapped.size() == soft::AesKwpWrappedSize(len));
    SecureBytes back;
    FUZZ_CHECK(soft::AesKwpUnwrap(kek, kek_len, wrapped.data(), wrapped.size(), &back) ==
               Status::kOk);
    FUZZ_CHECK(back.size() == len && std::memcmp(back.data(), in, len) == 0);
    return 0;
  }

  SecureBytes key;
  const Status st = soft::AesKwpUnwrap(kek, kek_len, in, len, &key);
  if (st != Status::kOk) {
    FUZZ_CHECK(st == Status::kInvalidCiphertext);
    FUZZ_CHECK(key.empty());
    return 0;
  }
  FUZZ_CHECK(!key.empty() && soft::AesKwpWrappedSize(key.size()) == len);
  std::vector<uint8_t> again;
  FUZZ_CHECK(soft::AesKwpWrap(kek, kek_len, key.data(), key.size(), &again) == Status::kOk);
  FUZZ_CHECK(again.size() == len && std::memcmp(again.data(), in, len) == 0);
  return 0;
}
