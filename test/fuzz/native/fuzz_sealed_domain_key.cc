// The soft root's sealed domain keys (61-byte references kept in the key
// store). Byte 0 picks the mode, bytes 1..4 the domain version:
//   unseal: the rest is a reference: kOk with a 32-byte key, or
//           kInvalidCiphertext with the key left empty;
//   seal:   the rest (first 32 bytes) is a key: seal, then unseal under the
//           same version gives it back and under another version fails.
#include <cstring>
#include <vector>

#include "fuzz_support.h"
#include "secure_memory.h"
#include "soft/sealed_domain_key.h"

using hsmkms::core::SecureBytes;
using hsmkms::core::Status;
namespace soft = hsmkms::soft;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 5) return 0;
  auto& root = hsmkms::fuzz::FixedGcmKey(0x21);
  const uint32_t version = static_cast<uint32_t>(data[1]) << 24 |
                           static_cast<uint32_t>(data[2]) << 16 |
                           static_cast<uint32_t>(data[3]) << 8 | data[4];
  const uint8_t* in = data + 5;
  const size_t len = size - 5;

  if (data[0] & 1) {
    if (len < soft::kDomainKeySize) return 0;
    SecureBytes key(soft::kDomainKeySize);
    std::memcpy(key.data(), in, soft::kDomainKeySize);
    std::vector<uint8_t> reference;
    FUZZ_CHECK(soft::SealDomainKey(root, version, key, &reference) == Status::kOk);
    FUZZ_CHECK(reference.size() == soft::kSealedDomainKeySize);
    SecureBytes back;
    FUZZ_CHECK(soft::UnsealDomainKey(root, version, reference.data(), reference.size(), &back) ==
               Status::kOk);
    FUZZ_CHECK(back.size() == soft::kDomainKeySize &&
               std::memcmp(back.data(), key.data(), soft::kDomainKeySize) == 0);
    SecureBytes other;
    FUZZ_CHECK(soft::UnsealDomainKey(root, version ^ 1, reference.data(), reference.size(),
                                     &other) == Status::kInvalidCiphertext);
    FUZZ_CHECK(other.empty());
    return 0;
  }

  SecureBytes key;
  const Status st = soft::UnsealDomainKey(root, version, in, len, &key);
  if (st == Status::kOk) {
    FUZZ_CHECK(len == soft::kSealedDomainKeySize && key.size() == soft::kDomainKeySize);
  } else {
    FUZZ_CHECK(st == Status::kInvalidCiphertext);
    FUZZ_CHECK(key.empty());
  }
  return 0;
}
