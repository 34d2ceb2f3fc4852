// The worker sessions: one per HSM thread, leased exclusively for one
// operation (PKCS#11 allows one active operation per session). A lease whose
// operation failed midway is discarded (closed), never returned: PKCS#11 has
// no portable way to cancel an operation left active. A session whose close
// the device did not answer (CKR_DEVICE_ERROR...) may live on in the HSM: it
// is closed again once the device opens a session for us. (A module that
// failed to close a handle still holds it, so cannot have handed it out again.)
#pragma once

#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <mutex>
#include <vector>

#include "cryptoki.h"
#include "hsm_result.h"
#include "session.h"

namespace hsmkms::pkcs11 {

class SessionPool {
 public:
  class Lease {
   public:
    Lease() = default;
    ~Lease() { Return(); }
    Lease(Lease&& other) noexcept;
    Lease& operator=(Lease&& other) noexcept;
    Lease(const Lease&) = delete;
    Lease& operator=(const Lease&) = delete;

    [[nodiscard]] bool active() const noexcept { return pool_ != nullptr; }
    [[nodiscard]] CK_SESSION_HANDLE handle() const noexcept { return session_.handle(); }
    // Gives the session back for reuse.
    void Return() noexcept;
    // Closes the session: its state is unknown.
    void Discard() noexcept;

   private:
    friend class SessionPool;
    SessionPool* pool_ = nullptr;
    Session session_;
  };

  // At most `capacity` sessions exist at once; Acquire waits for one beyond that.
  SessionPool(CK_FUNCTION_LIST* p11, CK_SLOT_ID slot, size_t capacity);
  ~SessionPool();  // every lease must have ended
  SessionPool(const SessionPool&) = delete;
  SessionPool& operator=(const SessionPool&) = delete;

  // An idle session of `generation`, or a new one; idle sessions of older
  // generations (before a recovery) are closed on the way.
  [[nodiscard]] HsmResult Acquire(uint64_t generation, Lease* out);
  // Closes every idle session (recovery after a device error).
  void CloseIdle() noexcept;
  // Leased plus idle sessions.
  [[nodiscard]] size_t open_sessions() const;

 private:
  void Put(Session session) noexcept;
  void Forget() noexcept;
  // Closes `session`, keeping its handle in unclosed_ if the device may still hold it.
  void CloseOrKeep(Session& session) noexcept;
  // Closes the sessions of unclosed_ (the device answers again).
  void CloseUnclosed() noexcept;

  CK_FUNCTION_LIST* const p11_;
  const CK_SLOT_ID slot_;
  const size_t capacity_;
  mutable std::mutex mutex_;
  std::condition_variable available_;
  std::vector<Session> idle_;
  std::vector<CK_SESSION_HANDLE> unclosed_;
  size_t leased_ = 0;
};

}  // namespace hsmkms::pkcs11
