#include "random.h"

#include <openssl/err.h>
#include <openssl/rand.h>

#include <pthread.h>

#include <atomic>
#include <climits>
#include <cstring>
#include <mutex>

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

constexpr size_t kIvSize = 12;
constexpr size_t kIvsPerRefill = 256;

// Bumped in every forked child; a thread's buffer from an older generation is stale.
std::atomic<unsigned> fork_generation{0};

void OnForkChild() { fork_generation.fetch_add(1, std::memory_order_relaxed); }

struct IvBuffer {
  uint8_t bytes[kIvSize * kIvsPerRefill];
  size_t used = sizeof(bytes);  // empty until the first refill
  unsigned generation = 0;
};

}  // namespace

Status RandomIv(uint8_t* out) noexcept {
  static std::once_flag atfork_once;
  std::call_once(atfork_once, [] { pthread_atfork(nullptr, nullptr, OnForkChild); });
  thread_local IvBuffer buffer;
  const unsigned generation = fork_generation.load(std::memory_order_relaxed);
  if (buffer.used == sizeof(buffer.bytes) || buffer.generation != generation) {
    const Status status = RandomBytes(buffer.bytes, sizeof(buffer.bytes));
    if (status != Status::kOk) return status;
    buffer.used = 0;
    buffer.generation = generation;
  }
  std::memcpy(out, buffer.bytes + buffer.used, kIvSize);
  // Each IV is handed out once: clear it from the buffer.
  std::memset(buffer.bytes + buffer.used, 0, kIvSize);
  buffer.used += kIvSize;
  return Status::kOk;
}

Status RandomBytes(uint8_t* out, size_t len) noexcept { return Generate<RAND_bytes>(out, len); }

Status PrivateRandomBytes(uint8_t* out, size_t len) noexcept {
  return Generate<RAND_priv_bytes>(out, len);
}

}  // namespace hsmkms::core
