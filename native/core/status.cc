#include "status.h"

namespace hsmkms::core {

const char* StatusCode(Status status) noexcept {
  switch (status) {
#define HSMKMS_STATUS_CASE(name, code) \
  case Status::name:                   \
    return code;
    HSMKMS_STATUS_TABLE(HSMKMS_STATUS_CASE)
#undef HSMKMS_STATUS_CASE
  }
  return "KMSInternalException";
}

}  // namespace hsmkms::core
