// When the caller asked for the HSM operation this thread is running: the
// binding sets it around each root call (the call may have waited in the HSM
// threads' queue). Hsm::Execute budgets device-error backoff from it, so that
// in an outage the calls queued behind others fail within the retry budget
// instead of each sleeping a whole budget on an HSM thread in turn.
#pragma once

#include <chrono>

namespace hsmkms::pkcs11 {

class RequestStart {
 public:
  using Clock = std::chrono::steady_clock;

  explicit RequestStart(Clock::time_point start) noexcept : previous_(Slot()) { Slot() = start; }
  ~RequestStart() { Slot() = previous_; }
  RequestStart(const RequestStart&) = delete;
  RequestStart& operator=(const RequestStart&) = delete;

  // The start of the request on this thread, or `fallback` outside any.
  [[nodiscard]] static Clock::time_point Or(Clock::time_point fallback) noexcept {
    const Clock::time_point start = Slot();
    return start == Clock::time_point{} ? fallback : start;
  }

 private:
  static Clock::time_point& Slot() noexcept {
    thread_local Clock::time_point start{};
    return start;
  }

  Clock::time_point previous_;
};

}  // namespace hsmkms::pkcs11
