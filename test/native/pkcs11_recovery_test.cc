// Every recovery path, through the fault-injection shim in front of SoftHSM2:
// stale sessions, stale object handles, a lost login, an HSM restart, device
// errors recovered within the retry budget or ending in KeyUnavailable, and
// the errors that are never retried (bad PIN, bad arguments, bad data).
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <thread>
#include <vector>

#include "pkcs11/hsm.h"
#include "pkcs11/request_start.h"
#include "pkcs11_fixture.h"
#include "test_support.h"

using hsmkms::core::Status;
using namespace hsmkms::pkcs11;
using namespace hsmkms::test;

namespace {

const std::vector<uint8_t> kAad = Bytes("context");
const std::vector<uint8_t> kPlaintext = Bytes("a 32-byte data key, in the HSM!!");

struct Fixture {
  std::shared_ptr<Hsm> hsm;
  WrappedKey key;
};

Fixture OpenOnShim(HsmConfig config = Config(ShimPath())) {
  Fixture f;
  f.hsm = OpenHsm(config);
  Shim("clear; reset-counts");
  f.key = NewAesKey(*f.hsm, 1, "cmk");
  return f;
}

HsmResult Encrypt(Hsm& hsm, const WrappedKey& key, std::vector<uint8_t>* sealed) {
  sealed->assign(Hsm::kGcmIvSize + kPlaintext.size() + Hsm::kGcmTagSize, 0);
  uint8_t* iv = sealed->data();
  HsmResult result = hsm.GenerateRandom(iv, Hsm::kGcmIvSize);
  if (!result.ok()) return result;
  return hsm.Encrypt(key, iv, kAad.data(), kAad.size(), kPlaintext.data(), kPlaintext.size(),
                     sealed->data() + Hsm::kGcmIvSize);
}

HsmResult Decrypt(Hsm& hsm, const WrappedKey& key, const std::vector<uint8_t>& sealed,
                  std::vector<uint8_t>* out) {
  const size_t ct_len = sealed.size() - Hsm::kGcmIvSize;
  out->assign(ct_len, 0);
  size_t len = 0;
  HsmResult result = hsm.Decrypt(key, sealed.data(), kAad.data(), kAad.size(),
                                 sealed.data() + Hsm::kGcmIvSize, ct_len, out->data(), out->size(),
                                 &len);
  if (result.ok()) out->resize(len);
  return result;
}

// Encrypts and decrypts once (REQUIRE-s both).
void RoundTrip(const Fixture& f) {
  std::vector<uint8_t> sealed, out;
  REQUIRE_OK(Encrypt(*f.hsm, f.key, &sealed));
  REQUIRE_OK(Decrypt(*f.hsm, f.key, sealed, &out));
  CHECK(out == kPlaintext);
}

size_t Objects(Hsm& hsm) {
  size_t count = 0;
  REQUIRE_OK(hsm.CountObjects(&count));
  return count;
}

}  // namespace

HSMKMS_TEST(StaleSessionIsReplaced) {
  Fixture f = OpenOnShim();
  RoundTrip(f);
  const unsigned long closes = ShimCalls("C_CloseSession");
  Shim("fail C_EncryptInit CKR_SESSION_HANDLE_INVALID 1");
  RoundTrip(f);
  CHECK_EQ(f.hsm->hsm_stats().retries, 1u);
  CHECK_EQ(ShimCalls("C_CloseSession"), closes + 1);  // the session was dropped
  CHECK_EQ(f.hsm->hsm_stats().unwraps, 1u);                // the key was not
}

HSMKMS_TEST(StaleObjectHandleIsReunwrapped) {
  Fixture f = OpenOnShim();
  RoundTrip(f);
  const size_t objects = Objects(*f.hsm);
  const unsigned long finds = ShimCalls("C_FindObjectsInit");
  Shim("fail C_EncryptInit CKR_KEY_HANDLE_INVALID 1");
  RoundTrip(f);
  CHECK_EQ(f.hsm->hsm_stats().retries, 1u);
  CHECK_EQ(f.hsm->hsm_stats().unwraps, 2u);                         // unwrapped again
  CHECK(ShimCalls("C_FindObjectsInit") >= finds + 1);           // domain key found again
  CHECK_EQ(Objects(*f.hsm), objects);                           // the old copy destroyed
  Shim("fail C_UnwrapKey CKR_UNWRAPPING_KEY_HANDLE_INVALID 1");
  f.hsm->EvictKey("cmk", 1);
  RoundTrip(f);
  CHECK_EQ(f.hsm->hsm_stats().retries, 2u);
}

HSMKMS_TEST(LostLoginIsRestored) {
  Fixture f = OpenOnShim();
  std::vector<uint8_t> sealed, out;
  REQUIRE_OK(Encrypt(*f.hsm, f.key, &sealed));
  const unsigned long logins = ShimCalls("C_Login");
  // A real logout: every private handle is gone, sessions stay.
  Shim("logout");
  REQUIRE_OK(Decrypt(*f.hsm, f.key, sealed, &out));
  CHECK(out == kPlaintext);
  CHECK_EQ(ShimCalls("C_Login"), logins + 1);
  CHECK_EQ(f.hsm->hsm_stats().unwraps, 2u);
  // A network HSM's way: CKR_USER_NOT_LOGGED_IN on a live session.
  Shim("fail C_EncryptInit CKR_USER_NOT_LOGGED_IN 1");
  RoundTrip(f);
  CHECK_EQ(ShimCalls("C_Login"), logins + 2);  // answered CKR_USER_ALREADY_LOGGED_IN
}

HSMKMS_TEST(PublicSessionKeysOutliveALostLoginAndAreNotLeaked) {
  // private_session_keys = false: the unwrapped CMK is a CKA_PRIVATE=FALSE
  // session object, so a logout does not destroy it.
  HsmConfig config = Config(ShimPath());
  config.private_session_keys = false;
  Fixture f = OpenOnShim(config);
  RoundTrip(f);
  const size_t objects = Objects(*f.hsm);
  const unsigned long logins = ShimCalls("C_Login");
  Shim("logout");
  RoundTrip(f);  // the cached key still works: nothing to recover
  CHECK_EQ(f.hsm->hsm_stats().unwraps, 1u);
  // A login lost on a live session (network HSMs): log in again, start a new
  // generation, unwrap again, and destroy the old copy, which still exists.
  Shim("fail C_EncryptInit CKR_USER_NOT_LOGGED_IN 1");
  RoundTrip(f);
  CHECK_EQ(ShimCalls("C_Login"), logins + 1);
  CHECK_EQ(f.hsm->hsm_stats().unwraps, 2u);
  CHECK_EQ(Objects(*f.hsm), objects);
  // Evicting it destroys it, in any generation.
  f.hsm->EvictKey("cmk", 1);
  CHECK_EQ(Objects(*f.hsm), objects - 1);
  // A restart closes the keeper session: its objects are gone with it.
  RoundTrip(f);
  Shim("restart");
  RoundTrip(f);
  CHECK_EQ(Objects(*f.hsm), objects);
}

HSMKMS_TEST(HsmRestartIsRecovered) {
  Fixture f = OpenOnShim();
  std::vector<uint8_t> sealed, out;
  REQUIRE_OK(Encrypt(*f.hsm, f.key, &sealed));
  const size_t objects = Objects(*f.hsm);
  const uint64_t generation = f.hsm->hsm_stats().generation;
  const unsigned long logins = ShimCalls("C_Login");
  Shim("restart");  // every session, the login and the unwrapped keys are gone
  REQUIRE_OK(Decrypt(*f.hsm, f.key, sealed, &out));
  CHECK(out == kPlaintext);
  CHECK(f.hsm->hsm_stats().generation > generation);
  CHECK_EQ(ShimCalls("C_Login"), logins + 1);
  CHECK_EQ(f.hsm->hsm_stats().unwraps, 2u);
  RoundTrip(f);
  CHECK_EQ(Objects(*f.hsm), objects);  // one unwrapped copy, as before
  // Random needs no key: recovers the same way.
  Shim("restart");
  uint8_t random[16];
  REQUIRE_OK(f.hsm->GenerateRandom(random, sizeof(random)));
}

HSMKMS_TEST(DeviceErrorsAreRetriedWithBackoff) {
  Fixture f = OpenOnShim();
  RoundTrip(f);
  Shim("fail C_Encrypt CKR_DEVICE_REMOVED 2");
  const auto start = std::chrono::steady_clock::now();
  RoundTrip(f);
  const auto elapsed = std::chrono::steady_clock::now() - start;
  CHECK_EQ(f.hsm->hsm_stats().retries, 2u);
  CHECK(elapsed >= std::chrono::milliseconds(15));  // 5 + 10 ms of backoff
  for (const char* ckr : {"CKR_TOKEN_NOT_PRESENT", "CKR_DEVICE_ERROR", "CKR_GENERAL_ERROR",
                          "CKR_FUNCTION_FAILED", "CKR_SESSION_COUNT"}) {
    Shim(std::string("fail C_EncryptInit ") + ckr + " 1");
    RoundTrip(f);
  }
  CHECK_EQ(f.hsm->hsm_stats().retries, 7u);
}

HSMKMS_TEST(SpentBudgetIsKeyUnavailable) {
  Fixture f = OpenOnShim();
  RoundTrip(f);
  Shim("fail * CKR_DEVICE_REMOVED always");  // the HSM is down
  const unsigned long calls = ShimCalls("*");
  std::vector<uint8_t> sealed;
  const auto start = std::chrono::steady_clock::now();
  HsmResult result = Encrypt(*f.hsm, f.key, &sealed);
  const auto elapsed = std::chrono::steady_clock::now() - start;
  CHECK_EQ(result.status, Status::kKeyUnavailable);
  CHECK_EQ(std::string(result.ckr()), "CKR_DEVICE_REMOVED");
  CHECK(result.fn != nullptr);
  CHECK(elapsed >= std::chrono::milliseconds(5 + 10 + 20 + 40));  // four backoffs
  CHECK(elapsed < std::chrono::milliseconds(1000));
  CHECK(ShimCalls("*") - calls <= 20);  // a handful of calls per try, five tries
  // The HSM comes back: so do we.
  Shim("clear");
  RoundTrip(f);

  // A deadline, not only a count: 30 ms allows one backoff of 20 ms.
  HsmConfig config = Config(ShimPath());
  config.retry.max_attempts = 100;
  config.retry.total = std::chrono::milliseconds(30);
  config.retry.first_backoff = std::chrono::milliseconds(20);
  Fixture g = OpenOnShim(config);
  Shim("fail C_GenerateRandom CKR_DEVICE_ERROR always");
  uint8_t random[8];
  result = g.hsm->GenerateRandom(random, sizeof(random));
  CHECK_EQ(result.status, Status::kKeyUnavailable);
  CHECK_EQ(std::string(result.fn), "C_GenerateRandom");
  CHECK_EQ(ShimCalls("C_GenerateRandom"), 2u);
  Shim("clear");
}

// A request that waited in the queue past its budget gets one try, no
// backoff, when the device fails; immediate recovery (a lost session) is
// still retried. Outside a request the budget counts from the call.
HSMKMS_TEST(DeviceBackoffCountsFromTheRequest) {
  HsmConfig config = Config(ShimPath());
  config.retry.max_attempts = 100;
  config.retry.total = std::chrono::milliseconds(200);
  Fixture f = OpenOnShim(config);
  RoundTrip(f);
  uint8_t random[8];
  {
    const RequestStart queued(std::chrono::steady_clock::now() - config.retry.total);
    Shim("reset-counts; fail C_GenerateRandom CKR_DEVICE_ERROR always");
    const auto start = std::chrono::steady_clock::now();
    const HsmResult result = f.hsm->GenerateRandom(random, sizeof(random));
    CHECK_EQ(result.status, Status::kKeyUnavailable);
    CHECK_EQ(ShimCalls("C_GenerateRandom"), 1u);  // one try, no backoff
    CHECK(std::chrono::steady_clock::now() - start < std::chrono::milliseconds(100));
    Shim("clear; reset-counts; fail C_GenerateRandom CKR_SESSION_HANDLE_INVALID 1");
    REQUIRE_OK(f.hsm->GenerateRandom(random, sizeof(random)));  // a new session, one retry
    CHECK_EQ(ShimCalls("C_GenerateRandom"), 2u);
  }
  Shim("clear; reset-counts; fail C_GenerateRandom CKR_DEVICE_ERROR always");
  const HsmResult result = f.hsm->GenerateRandom(random, sizeof(random));
  CHECK_EQ(result.status, Status::kKeyUnavailable);
  CHECK(ShimCalls("C_GenerateRandom") >= 4u);  // backoffs 5, 10, 20, 40, 80 ms fit in 200
  Shim("clear");
}

// A device that stops answering for a while (CKR_DEVICE_ERROR from every
// call, C_CloseSession too) must not cost the keeper session: closing it
// then fails, and the session and its unwrapped keys stay in the HSM for
// good. Nor may worker sessions closed meanwhile stay open. A keeper session the device calls broken while it answers other
// calls is replaced as before.
HSMKMS_TEST(TransientDeviceErrorsLeakNoKeeperSession) {
  Fixture f = OpenOnShim();
  RoundTrip(f);
  const size_t objects = Objects(*f.hsm);
  const unsigned long sessions = ShimSessions();  // the keeper and a worker session
  for (int i = 0; i < 3; ++i) {
    Shim("fail * CKR_DEVICE_ERROR always");
    std::vector<uint8_t> sealed;
    CHECK_EQ(Encrypt(*f.hsm, f.key, &sealed).status, Status::kKeyUnavailable);
    Shim("clear");
    RoundTrip(f);
    CHECK_EQ(Objects(*f.hsm), objects);
    // Worker sessions that failed to close then were closed once the device answered.
    CHECK_EQ(ShimSessions(), sessions);
  }
  const uint64_t generation = f.hsm->hsm_stats().generation;
  Shim("fail C_GetSessionInfo CKR_DEVICE_ERROR 1; fail C_Encrypt CKR_DEVICE_ERROR 1");
  RoundTrip(f);
  CHECK(f.hsm->hsm_stats().generation > generation);
  CHECK_EQ(Objects(*f.hsm), objects);
}

HSMKMS_TEST(WrongPinIsNeverRetried) {
  Fixture f = OpenOnShim();
  RoundTrip(f);
  // The PIN changed behind our back, then the login was lost.
  Shim("fail C_Login CKR_PIN_INCORRECT always; logout");
  std::vector<uint8_t> sealed;
  HsmResult result = Encrypt(*f.hsm, f.key, &sealed);
  CHECK_EQ(result.status, Status::kAccessDenied);
  CHECK_EQ(std::string(result.ckr()), "CKR_PIN_INCORRECT");
  CHECK_EQ(std::string(result.fn), "C_Login");
  CHECK_EQ(ShimCalls("C_Login"), 1u);
  // Latched: later operations never try the PIN again (tokens lock after a few).
  result = Encrypt(*f.hsm, f.key, &sealed);
  CHECK_EQ(result.status, Status::kAccessDenied);
  CHECK_EQ(ShimCalls("C_Login"), 1u);
  Shim("clear");
  f.hsm.reset();
  // A new Hsm (a corrected PIN) logs in again.
  auto fresh = OpenHsm(Config(ShimPath()));
  uint8_t random[4];
  REQUIRE_OK(fresh->GenerateRandom(random, sizeof(random)));
}

HSMKMS_TEST(BadArgumentsAreNeverRetried) {
  Fixture f = OpenOnShim();
  RoundTrip(f);
  const unsigned long inits = ShimCalls("C_EncryptInit");
  Shim("fail C_EncryptInit CKR_ARGUMENTS_BAD 1");
  std::vector<uint8_t> sealed;
  HsmResult result = Encrypt(*f.hsm, f.key, &sealed);
  CHECK_EQ(result.status, Status::kInternal);
  CHECK_EQ(std::string(result.ckr()), "CKR_ARGUMENTS_BAD");
  CHECK_EQ(std::string(result.fn), "C_EncryptInit");
  CHECK_EQ(ShimCalls("C_EncryptInit"), inits + 1);
  CHECK_EQ(f.hsm->hsm_stats().retries, 0u);
  Shim("fail C_UnwrapKey CKR_WRAPPED_KEY_INVALID 1");
  f.hsm->EvictKey("cmk", 1);
  result = Encrypt(*f.hsm, f.key, &sealed);
  CHECK_EQ(result.status, Status::kInvalidCiphertext);
  CHECK_EQ(f.hsm->hsm_stats().retries, 0u);
  RoundTrip(f);
}

HSMKMS_TEST(SessionFailingMidOperationIsClosed) {
  Fixture f = OpenOnShim();
  RoundTrip(f);
  const unsigned long closes = ShimCalls("C_CloseSession");
  // C_EncryptInit succeeded, so the real session is left with an active
  // operation: reusing it would give CKR_OPERATION_ACTIVE.
  Shim("fail C_Encrypt CKR_DATA_LEN_RANGE 1");
  std::vector<uint8_t> sealed;
  CHECK_EQ(Encrypt(*f.hsm, f.key, &sealed).status, Status::kInternal);
  CHECK_EQ(ShimCalls("C_CloseSession"), closes + 1);
  for (int i = 0; i < 4; ++i) RoundTrip(f);
  CHECK_EQ(f.hsm->hsm_stats().retries, 0u);
}

HSMKMS_TEST(TamperedCiphertextIsNotRetried) {
  Fixture f = OpenOnShim();
  std::vector<uint8_t> sealed, out;
  REQUIRE_OK(Encrypt(*f.hsm, f.key, &sealed));
  sealed.back() ^= 1;
  const unsigned long decrypts = ShimCalls("C_Decrypt");
  const HsmResult result = Decrypt(*f.hsm, f.key, sealed, &out);
  CHECK_EQ(result.status, Status::kInvalidCiphertext);
  CHECK_EQ(ShimCalls("C_Decrypt"), decrypts + 1);
  CHECK_EQ(f.hsm->hsm_stats().retries, 0u);
}

HSMKMS_TEST(ConcurrentRecovery) {
  HsmConfig config = Config(ShimPath());
  config.threads = 2;
  // The injected faults all land on whichever operations come first: one
  // operation may meet many in a row. This test is about concurrent
  // recovery, not about the budget.
  config.retry.max_attempts = 40;
  config.retry.total = std::chrono::seconds(10);
  Fixture f = OpenOnShim(config);
  RoundTrip(f);
  const size_t objects = Objects(*f.hsm);
  Shim("fail C_EncryptInit CKR_SESSION_HANDLE_INVALID 6;"
       "fail C_DecryptInit CKR_KEY_HANDLE_INVALID 6;"
       "fail C_Encrypt CKR_DEVICE_ERROR 3;"
       "fail C_UnwrapKey CKR_USER_NOT_LOGGED_IN 2");
  std::vector<std::thread> callers;
  std::atomic<int> failures{0};
  for (int t = 0; t < 4; ++t) {
    callers.emplace_back([&] {
      for (int i = 0; i < 50; ++i) {
        OnHsmThread([&] {
          std::vector<uint8_t> sealed, out;
          HsmResult result = Encrypt(*f.hsm, f.key, &sealed);
          if (result.ok()) result = Decrypt(*f.hsm, f.key, sealed, &out);
          if (!result.ok() || out != kPlaintext) {
            RecordFailure(__FILE__, __LINE__, Describe(result));
            ++failures;
          }
        });
      }
    });
  }
  for (auto& caller : callers) caller.join();
  CHECK_EQ(failures.load(), 0);
  CHECK(f.hsm->hsm_stats().retries >= 6u);
  CHECK_EQ(Objects(*f.hsm), objects);
  CHECK(f.hsm->hsm_stats().worker_sessions <= 2u);
}

HSMKMS_TEST(TokenChosenIvIsReadBack) {
  // CloudHSM and Luna (FIPS) ignore the caller's IV and write theirs into pIv.
  Fixture f = OpenOnShim();
  Shim("token-iv on");
  uint8_t iv[Hsm::kGcmIvSize] = {0};
  std::vector<uint8_t> ct(kPlaintext.size() + Hsm::kGcmTagSize), out(ct.size());
  REQUIRE_OK(f.hsm->Encrypt(f.key, iv, kAad.data(), kAad.size(), kPlaintext.data(),
                            kPlaintext.size(), ct.data()));
  for (size_t i = 0; i < sizeof(iv); ++i) CHECK_EQ(iv[i], static_cast<uint8_t>(0xA0 + i));
  Shim("token-iv off");
  size_t len = 0;
  REQUIRE_OK(f.hsm->Decrypt(f.key, iv, kAad.data(), kAad.size(), ct.data(), ct.size(), out.data(),
                            out.size(), &len));
  out.resize(len);
  CHECK(out == kPlaintext);
  const uint8_t zeros[Hsm::kGcmIvSize] = {0};
  CHECK_EQ(f.hsm->Decrypt(f.key, zeros, kAad.data(), kAad.size(), ct.data(), ct.size(), out.data(),
                          ct.size(), &len)
               .status,
           Status::kInvalidCiphertext);
}

HSMKMS_TEST(ControlFileAndDelay) {
  // The shim's file channel, for processes that cannot call into it (Node).
  Fixture f = OpenOnShim();
  const std::string path = std::string(std::getenv("SOFTHSM2_CONF")) + ".shim";
  REQUIRE(setenv("HSMKMS_SHIM_CONTROL", path.c_str(), 1) == 0);
  FILE* file = std::fopen(path.c_str(), "w");
  REQUIRE(file != nullptr);
  std::fputs("fail C_GenerateRandom CKR_DEVICE_ERROR 1\ndelay C_Encrypt 3000\n", file);
  std::fclose(file);
  uint8_t random[8];
  REQUIRE_OK(f.hsm->GenerateRandom(random, sizeof(random)));
  CHECK_EQ(f.hsm->hsm_stats().retries, 1u);
  std::vector<uint8_t> sealed;
  const auto start = std::chrono::steady_clock::now();
  REQUIRE_OK(Encrypt(*f.hsm, f.key, &sealed));
  CHECK(std::chrono::steady_clock::now() - start >= std::chrono::milliseconds(3));
  // Applied once per version of the file: no second failure.
  REQUIRE_OK(f.hsm->GenerateRandom(random, sizeof(random)));
  CHECK_EQ(f.hsm->hsm_stats().retries, 1u);
  Shim("clear");
  unsetenv("HSMKMS_SHIM_CONTROL");
}
