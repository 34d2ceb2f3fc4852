#include "hsm_result.h"

#include "ckr.h"

namespace hsmkms::pkcs11 {

const char* HsmResult::ckr() const noexcept { return rv == CKR_OK ? nullptr : CkrName(rv); }

HsmResult HsmResult::FromRv(CK_RV rv, const char* fn) noexcept {
  HsmResult result;
  result.status = StatusFor(rv, fn);
  result.rv = rv;
  result.fn = fn;
  return result;
}

HsmResult HsmResult::Error(core::Status status, const char* fn, const char* detail) noexcept {
  HsmResult result;
  result.status = status;
  result.fn = fn;
  result.detail = detail;
  return result;
}

}  // namespace hsmkms::pkcs11
