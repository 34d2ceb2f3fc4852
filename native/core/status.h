// One table of every status the native core can return. The binding turns a
// non-Ok status into a KmsError whose `code` is the second column; lib/errors.ts
// mirrors the same table.
#pragma once

namespace hsmkms::core {

#define HSMKMS_STATUS_TABLE(X)                                          \
  X(kOk, "Ok")                                                          \
  X(kInvalidCiphertext, "InvalidCiphertextException")                   \
  X(kKeyUnavailable, "KeyUnavailableException")                         \
  X(kValidation, "ValidationException")                                 \
  X(kAborted, "AbortError")                                             \
  X(kLimitExceeded, "LimitExceededException")                           \
  X(kInternal, "KMSInternalException")                                  \
  X(kUnsupportedRuntime, "UnsupportedRuntimeException")                 \
  X(kNotFound, "NotFoundException")                                     \
  X(kInvalidState, "KMSInvalidStateException")                          \
  X(kInvalidKeyUsage, "InvalidKeyUsageException")                       \
  X(kAccessDenied, "AccessDeniedException")                             \
  X(kAlreadyExists, "AlreadyExistsException")

enum class Status : int {
#define HSMKMS_STATUS_ENUM(name, code) name,
  HSMKMS_STATUS_TABLE(HSMKMS_STATUS_ENUM)
#undef HSMKMS_STATUS_ENUM
};

// The stable, AWS-style error code for a status (never null).
const char* StatusCode(Status status) noexcept;

}  // namespace hsmkms::core
