// The status table: one code per status, stable strings, mirrored in lib/errors.ts.
#include "status.h"

#include <set>
#include <string>
#include <utility>
#include <vector>

#include "test_support.h"

using hsmkms::core::Status;
using hsmkms::core::StatusCode;

namespace {

// Codes callers already branch on, written out by hand: changing one is a
// breaking change. New statuses may be added to the table freely.
const std::vector<std::pair<Status, std::string>> kStable = {
    {Status::kOk, "Ok"},
    {Status::kInvalidCiphertext, "InvalidCiphertextException"},
    {Status::kKeyUnavailable, "KeyUnavailableException"},
    {Status::kValidation, "ValidationException"},
    {Status::kAborted, "AbortError"},
    {Status::kLimitExceeded, "LimitExceededException"},
    {Status::kInternal, "KMSInternalException"},
    {Status::kUnsupportedRuntime, "UnsupportedRuntimeException"},
};

std::vector<std::string> TableCodes() {
  std::vector<std::string> codes;
#define HSMKMS_COLLECT(name, code) codes.emplace_back(code);
  HSMKMS_STATUS_TABLE(HSMKMS_COLLECT)
#undef HSMKMS_COLLECT
  return codes;
}

std::vector<Status> TableStatuses() {
  std::vector<Status> statuses;
#define HSMKMS_COLLECT(name, code) statuses.push_back(Status::name);
  HSMKMS_STATUS_TABLE(HSMKMS_COLLECT)
#undef HSMKMS_COLLECT
  return statuses;
}

}  // namespace

HSMKMS_TEST(StableCodesKeepTheirNames) {
  for (const auto& [status, code] : kStable) CHECK_EQ(std::string(StatusCode(status)), code);
}

HSMKMS_TEST(StatusCodeFollowsTheTable) {
  const std::vector<std::string> codes = TableCodes();
  const std::vector<Status> statuses = TableStatuses();
  REQUIRE_EQ(codes.size(), statuses.size());
  CHECK(codes.size() >= kStable.size());
  // Enumerators are numbered in table order from 0 (kOk), and StatusCode
  // returns each one's own code.
  for (size_t i = 0; i < codes.size(); ++i) {
    CHECK_EQ(static_cast<size_t>(statuses[i]), i);
    CHECK_EQ(std::string(StatusCode(statuses[i])), codes[i]);
  }
  CHECK_EQ(statuses.front(), Status::kOk);
}

HSMKMS_TEST(CodesAreUnique) {
  const std::vector<std::string> codes = TableCodes();
  CHECK_EQ(std::set<std::string>(codes.begin(), codes.end()).size(), codes.size());
}

HSMKMS_TEST(UnknownStatusIsInternal) {
  CHECK_EQ(std::string(StatusCode(static_cast<Status>(TableCodes().size()))),
           "KMSInternalException");
  CHECK_EQ(std::string(StatusCode(static_cast<Status>(999))), "KMSInternalException");
  CHECK_EQ(std::string(StatusCode(static_cast<Status>(-1))), "KMSInternalException");
}

HSMKMS_TEST(CodesMirroredInLibErrors) {
  // lib/errors.ts lists every KmsError code; "Ok" is never an error and
  // "AbortError" becomes an AbortError, not a KmsError.
  const std::string errors_ts =
      hsmkms::test::ReadFile(std::string(HSMKMS_SOURCE_DIR) + "/lib/errors.ts");
  for (const std::string& code : TableCodes()) {
    if (code == "Ok" || code == "AbortError") continue;
    if (errors_ts.find("'" + code + "'") == std::string::npos) {
      hsmkms::test::RecordFailure(__FILE__, __LINE__, code + " is missing from lib/errors.ts");
    }
  }
  CHECK(errors_ts.find("'AbortError'") != std::string::npos);
}
