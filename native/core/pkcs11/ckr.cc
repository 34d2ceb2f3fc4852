#include "ckr.h"

#include <cstring>

namespace hsmkms::pkcs11 {
namespace {

struct CkrEntry {
  CK_RV rv;
  const char* name;
};

// A table, not a switch: a few modules' headers alias codes to one value.
constexpr CkrEntry kCkrNames[] = {
#define HSMKMS_CKR_ENTRY(name) {name, #name},
    HSMKMS_CKR_TABLE(HSMKMS_CKR_ENTRY)
#undef HSMKMS_CKR_ENTRY
};

bool Is(const char* fn, const char* name) noexcept {
  return fn != nullptr && std::strcmp(fn, name) == 0;
}

// SoftHSM <= 2.6.x: CKR_GENERAL_ERROR from these means the input was bad.
bool GeneralErrorIsBadData(const char* fn) noexcept {
  return Is(fn, "C_Decrypt") || Is(fn, "C_UnwrapKey");
}

}  // namespace

const char* CkrName(CK_RV rv) noexcept {
  for (const CkrEntry& entry : kCkrNames) {
    if (entry.rv == rv) return entry.name;
  }
  return rv >= CKR_VENDOR_DEFINED ? "CKR_VENDOR_DEFINED" : "CKR_UNKNOWN";
}

Recovery RecoveryFor(CK_RV rv, const char* fn) noexcept {
  switch (rv) {
    case CKR_SESSION_HANDLE_INVALID:
    case CKR_SESSION_CLOSED:
      return Recovery::kSession;
    case CKR_OBJECT_HANDLE_INVALID:
    case CKR_KEY_HANDLE_INVALID:
    case CKR_WRAPPING_KEY_HANDLE_INVALID:
    case CKR_UNWRAPPING_KEY_HANDLE_INVALID:
      return Recovery::kHandle;
    case CKR_USER_NOT_LOGGED_IN:
      return Recovery::kLogin;
    case CKR_DEVICE_REMOVED:
    case CKR_TOKEN_NOT_PRESENT:
    case CKR_DEVICE_ERROR:
    case CKR_DEVICE_MEMORY:
    case CKR_FUNCTION_FAILED:
    case CKR_SESSION_COUNT:
    case CKR_TOKEN_NOT_RECOGNIZED:
    case CKR_TOKEN_RESOURCE_EXCEEDED:
      return Recovery::kDevice;
    case CKR_GENERAL_ERROR:
      return GeneralErrorIsBadData(fn) ? Recovery::kNone : Recovery::kDevice;
    default:
      return Recovery::kNone;
  }
}

bool SessionGone(CK_RV rv) noexcept {
  return rv == CKR_SESSION_HANDLE_INVALID || rv == CKR_SESSION_CLOSED ||
         rv == CKR_DEVICE_REMOVED || rv == CKR_TOKEN_NOT_PRESENT ||
         rv == CKR_TOKEN_NOT_RECOGNIZED || rv == CKR_CRYPTOKI_NOT_INITIALIZED;
}

core::Status StatusFor(CK_RV rv, const char* fn) noexcept {
  switch (rv) {
    case CKR_OK:
      return core::Status::kOk;
    case CKR_ENCRYPTED_DATA_INVALID:
    case CKR_ENCRYPTED_DATA_LEN_RANGE:
    case CKR_WRAPPED_KEY_INVALID:
    case CKR_WRAPPED_KEY_LEN_RANGE:
      return core::Status::kInvalidCiphertext;
    case CKR_PIN_INCORRECT:
    case CKR_PIN_INVALID:
    case CKR_PIN_LEN_RANGE:
    case CKR_PIN_EXPIRED:
    case CKR_PIN_LOCKED:
      return core::Status::kAccessDenied;
    case CKR_KEY_FUNCTION_NOT_PERMITTED:
    case CKR_KEY_TYPE_INCONSISTENT:
      return core::Status::kInvalidKeyUsage;
    case CKR_CRYPTOKI_NOT_INITIALIZED:  // someone finalized the shared module
      return core::Status::kKeyUnavailable;
    case CKR_GENERAL_ERROR:
      if (GeneralErrorIsBadData(fn)) return core::Status::kInvalidCiphertext;
      return core::Status::kKeyUnavailable;
    default:
      break;
  }
  return RecoveryFor(rv, fn) == Recovery::kNone ? core::Status::kInternal
                                                : core::Status::kKeyUnavailable;
}

}  // namespace hsmkms::pkcs11
