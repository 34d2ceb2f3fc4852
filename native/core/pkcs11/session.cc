#include "session.h"

#include <utility>

namespace hsmkms::pkcs11 {

Session::Session(Session&& other) noexcept
    : p11_(std::exchange(other.p11_, nullptr)),
      handle_(std::exchange(other.handle_, CK_INVALID_HANDLE)),
      generation_(other.generation_) {}

Session& Session::operator=(Session&& other) noexcept {
  if (this != &other) {
    Close();
    p11_ = std::exchange(other.p11_, nullptr);
    handle_ = std::exchange(other.handle_, CK_INVALID_HANDLE);
    generation_ = other.generation_;
  }
  return *this;
}

HsmResult Session::Open(CK_FUNCTION_LIST* p11, CK_SLOT_ID slot, uint64_t generation,
                        Session* out) {
  CK_SESSION_HANDLE handle = CK_INVALID_HANDLE;
  const CK_RV rv =
      p11->C_OpenSession(slot, CKF_SERIAL_SESSION | CKF_RW_SESSION, nullptr, nullptr, &handle);
  if (rv != CKR_OK) return HsmResult::FromRv(rv, "C_OpenSession");
  out->Close();
  out->p11_ = p11;
  out->handle_ = handle;
  out->generation_ = generation;
  return HsmResult::Ok();
}

CK_RV Session::CloseChecked() noexcept {
  if (p11_ == nullptr) return CKR_OK;
  const CK_RV rv = p11_->C_CloseSession(handle_);
  p11_ = nullptr;
  handle_ = CK_INVALID_HANDLE;
  return rv;
}

}  // namespace hsmkms::pkcs11
