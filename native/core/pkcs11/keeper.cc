#include "keeper.h"

#include <utility>

#include "ckr.h"

namespace hsmkms::pkcs11 {
namespace {

bool IsPinError(CK_RV rv) noexcept {
  return rv == CKR_PIN_INCORRECT || rv == CKR_PIN_LOCKED || rv == CKR_PIN_EXPIRED ||
         rv == CKR_PIN_INVALID || rv == CKR_PIN_LEN_RANGE;
}

}  // namespace

Keeper::Keeper(std::shared_ptr<Module> module, CK_SLOT_ID slot, core::SecureBytes pin)
    : module_(std::move(module)), p11_(module_->p11()), slot_(slot), pin_(std::move(pin)) {}

Keeper::~Keeper() {
  std::lock_guard<std::mutex> lock(mutex_);
  session_.Close();
}

HsmResult Keeper::EnsureReady(uint64_t* generation) {
  if (ready_.load(std::memory_order_acquire)) {
    *generation = generation_.load();
    return HsmResult::Ok();
  }
  std::lock_guard<std::mutex> lock(mutex_);
  if (auth_failure_ != CKR_OK) return HsmResult::FromRv(auth_failure_, "C_Login");
  if (!session_.is_open()) {
    HsmResult result = Session::Open(p11_, slot_, generation_.load(), &session_);
    if (!result.ok()) return result;
    session_number_.fetch_add(1);
  }
  if (!logged_in_) {
    const CK_RV rv = p11_->C_Login(session_.handle(), CKU_USER, pin_.data(),
                                   static_cast<CK_ULONG>(pin_.size()));
    if (IsPinError(rv)) {
      auth_failure_ = rv;
      pin_.Release();  // never used again
      return HsmResult::FromRv(rv, "C_Login");
    }
    if (rv != CKR_OK && rv != CKR_USER_ALREADY_LOGGED_IN) return HsmResult::FromRv(rv, "C_Login");
    // A fresh login after a lost one: the private objects of the old login
    // are gone. (CKR_USER_ALREADY_LOGGED_IN: the login held; handles did too.)
    if (rv == CKR_OK && login_lost_) generation_.fetch_add(1);
    login_lost_ = false;
    logged_in_ = true;
  }
  ready_.store(true, std::memory_order_release);
  *generation = generation_.load();
  return HsmResult::Ok();
}

void Keeper::AdvanceLocked() noexcept {
  ready_.store(false, std::memory_order_release);
  generation_.fetch_add(1);
}

void Keeper::LoggedOut(uint64_t observed) noexcept {
  std::lock_guard<std::mutex> lock(mutex_);
  if (observed != generation_.load() || !logged_in_) return;
  // Log in on the next EnsureReady; the generation moves only if that login
  // is a new one.
  logged_in_ = false;
  login_lost_ = true;
  ready_.store(false, std::memory_order_release);
}

bool Keeper::Check(uint64_t observed) noexcept {
  std::lock_guard<std::mutex> lock(mutex_);
  if (observed != generation_.load()) return false;
  if (!session_.is_open()) return false;
  CK_SESSION_INFO info{};
  const CK_RV rv = p11_->C_GetSessionInfo(session_.handle(), &info);
  const bool user = info.state == CKS_RW_USER_FUNCTIONS || info.state == CKS_RO_USER_FUNCTIONS;
  if (rv == CKR_OK && user) return true;
  // A device that fails every call (CKR_DEVICE_ERROR...) may still hold the
  // session: closing it now would fail too and leave it, and the unwrapped
  // keys in it, in the HSM for good. Keep it; once the device answers, the
  // next failure decides. A device that answers says the session is broken.
  if (rv != CKR_OK && !SessionGone(rv)) {
    CK_TOKEN_INFO token{};
    if (p11_->C_GetTokenInfo(slot_, &token) != CKR_OK) return false;
  }
  // Open but logged out: the private objects are gone. Not open (or
  // broken): close it; its objects are gone, or useless, anyway.
  if (rv != CKR_OK) session_.Close();
  logged_in_ = false;
  login_lost_ = false;
  AdvanceLocked();
  return false;
}

void Keeper::DestroyObject(CK_OBJECT_HANDLE object, uint64_t generation, uint64_t session,
                           bool is_private) noexcept {
  std::lock_guard<std::mutex> lock(mutex_);
  if (!session_.is_open() || session != session_number_.load()) return;
  if (is_private && generation != generation_.load()) return;
  p11_->C_DestroyObject(session_.handle(), object);
}

}  // namespace hsmkms::pkcs11
