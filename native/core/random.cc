#include "random.h"

#include <openssl/err.h>
#include <openssl/rand.h>

#include <climits>

namespace hsmkms::core {
namespace {

template <int (*Fill)(unsigned char*, int)>
Status Generate(uint8_t* out, size_t len) noexcept {
  while (len > 0) {
    const int chunk = len > INT_MAX ? INT_MAX : static_cast<int>(len);
    if (Fill(out, chunk) != 1) {
      ERR_clear_error();
      return Status::kInternal;
    }
    out += chunk;
    len -= static_cast<size_t>(chunk);
  }
  return Status::kOk;
}

}  // namespace

Status RandomBytes(uint8_t* out, size_t len) noexcept { return Generate<RAND_bytes>(out, len); }

Status PrivateRandomBytes(uint8_t* out, size_t len) noexcept {
  return Generate<RAND_priv_bytes>(out, len);
}

}  // namespace hsmkms::core
