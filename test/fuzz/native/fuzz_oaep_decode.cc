// OAEP decoding of a raw RSA result (tokens without OAEP-SHA-256: the token
// does the raw private operation on a caller's ciphertext, the host removes
// the padding). Byte 0 picks the hash and the output capacity; the rest is
// the k-byte encoded message. kOk with a message that fits, or
// kInvalidCiphertext.
#include <vector>

#include "fuzz_support.h"
#include "pkcs11/algorithms.h"
#include "pkcs11/oaep.h"

using hsmkms::core::Status;
using hsmkms::pkcs11::OaepHash;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 1) return 0;
  const OaepHash hash = (data[0] & 1) ? OaepHash::kSha256 : OaepHash::kSha1;
  const size_t k = size - 1;
  const size_t capacity = (data[0] & 2) ? k : k / 4;
  std::vector<uint8_t> out(capacity + 1);
  size_t out_len = 0;
  const Status st = hsmkms::pkcs11::OaepDecode(hash, data + 1, k, out.data(), capacity, &out_len);
  if (st == Status::kOk) {
    FUZZ_CHECK(out_len <= capacity);
  } else {
    FUZZ_CHECK(st == Status::kInvalidCiphertext);
  }
  return 0;
}
