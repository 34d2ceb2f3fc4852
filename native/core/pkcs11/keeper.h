// The keeper: one long-lived session per token that holds the login (a
// PKCS#11 login lasts while any session of the process is open) and owns the
// unwrapped keys (session objects die with the session that created them, so
// never with a recycled worker session).
//
// The generation counts lost state: it grows whenever handles obtained
// earlier are gone (keeper session closed, login lost and renewed). Caches tag entries with
// it; recovery actions name the generation they observed, so that several
// threads meeting one failure recover once.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>

#include "../secure_memory.h"
#include "cryptoki.h"
#include "hsm_result.h"
#include "module.h"
#include "session.h"

namespace hsmkms::pkcs11 {

class Keeper {
 public:
  // Keeps `pin` (locked memory) to log in again after a login is lost, and
  // the module loaded while any unwrapped key may still be destroyed.
  Keeper(std::shared_ptr<Module> module, CK_SLOT_ID slot, core::SecureBytes pin);
  ~Keeper();
  Keeper(const Keeper&) = delete;
  Keeper& operator=(const Keeper&) = delete;

  // Opens the keeper session and logs in where needed; gives the current
  // generation. After CKR_PIN_INCORRECT or CKR_PIN_LOCKED it never calls
  // C_Login again (tokens lock, some wipe, after a few wrong PINs).
  [[nodiscard]] HsmResult EnsureReady(uint64_t* generation);

  // Runs fn(CK_SESSION_HANDLE) -> HsmResult on the keeper session, serialised
  // with every other keeper call, if `generation` is still current.
  template <typename Fn>
  [[nodiscard]] HsmResult Run(uint64_t generation, Fn&& fn) {
    std::lock_guard<std::mutex> lock(mutex_);
    if (generation != generation_.load() || !session_.is_open()) {
      // Restarted since the caller looked: it retries with the new session.
      return HsmResult::FromRv(CKR_SESSION_HANDLE_INVALID, "keeper session");
    }
    return fn(session_.handle());
  }

  // Recovery steps; each does nothing when `observed` is no longer current.
  // The token said CKR_USER_NOT_LOGGED_IN: log in before the next call.
  void LoggedOut(uint64_t observed) noexcept;
  // Asks the token whether the keeper is still open and logged in (after a
  // session, handle or device error). If not, closes it: the next
  // EnsureReady opens a new one and logs in, in a new generation. A healthy
  // keeper is never closed, as closing it destroys the unwrapped keys that
  // other threads may be using at that moment; nor is one while the device
  // answers nothing (the close would fail and leak it). Returns true when
  // healthy.
  bool Check(uint64_t observed) noexcept;

  // Destroys a session object that keeper session number `session` made in
  // `generation`. Nothing to do once that session is closed (its objects
  // went with it). A private object also went when its generation passed
  // (a lost login destroys private objects; the handle may be reused). A
  // public one outlives a lost login, so it is destroyed whatever the
  // generation, as long as its session is open.
  void DestroyObject(CK_OBJECT_HANDLE object, uint64_t generation, uint64_t session,
                     bool is_private) noexcept;

  [[nodiscard]] uint64_t generation() const noexcept { return generation_.load(); }
  // Which keeper session is open: grows with every new one. Read it inside
  // Run() to learn the session an object is created in.
  [[nodiscard]] uint64_t session_number() const noexcept { return session_number_.load(); }

 private:
  void AdvanceLocked() noexcept;

  const std::shared_ptr<Module> module_;
  CK_FUNCTION_LIST* const p11_;
  const CK_SLOT_ID slot_;
  core::SecureBytes pin_;
  std::mutex mutex_;
  Session session_;
  bool logged_in_ = false;
  bool login_lost_ = false;      // LoggedOut() since the last login
  CK_RV auth_failure_ = CKR_OK;  // latched PIN error
  std::atomic<bool> ready_{false};
  std::atomic<uint64_t> generation_{1};
  std::atomic<uint64_t> session_number_{0};
};

}  // namespace hsmkms::pkcs11
