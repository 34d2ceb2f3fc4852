// The PKCS#11 layer's set-up and its errors: loading modules, finding the
// token by label, logging in, and the CKR table and its classification.
#include <dlfcn.h>

#include <cstdlib>
#include <cstring>
#include <string>

#include "pkcs11/ckr.h"
#include "pkcs11/hsm.h"
#include "pkcs11/module.h"
#include "pkcs11_fixture.h"
#include "test_support.h"

using hsmkms::core::Status;
using namespace hsmkms::pkcs11;
using namespace hsmkms::test;

HSMKMS_TEST(CkrNamesComeFromTheTable) {
  CHECK_EQ(std::string(CkrName(CKR_OK)), "CKR_OK");
  CHECK_EQ(std::string(CkrName(CKR_PIN_INCORRECT)), "CKR_PIN_INCORRECT");
  CHECK_EQ(std::string(CkrName(CKR_DEVICE_REMOVED)), "CKR_DEVICE_REMOVED");
  CHECK_EQ(std::string(CkrName(CKR_GENERAL_ERROR)), "CKR_GENERAL_ERROR");
  CHECK_EQ(std::string(CkrName(CKR_OPERATION_CANCEL_FAILED)), "CKR_OPERATION_CANCEL_FAILED");
  CHECK_EQ(std::string(CkrName(CKR_VENDOR_DEFINED + 5)), "CKR_VENDOR_DEFINED");
  CHECK_EQ(std::string(CkrName(0x7777)), "CKR_UNKNOWN");
}

HSMKMS_TEST(CkrClassification) {
  CHECK(RecoveryFor(CKR_SESSION_HANDLE_INVALID, "C_Encrypt") == Recovery::kSession);
  CHECK(RecoveryFor(CKR_SESSION_CLOSED, "C_Encrypt") == Recovery::kSession);
  CHECK(RecoveryFor(CKR_OBJECT_HANDLE_INVALID, "C_EncryptInit") == Recovery::kHandle);
  CHECK(RecoveryFor(CKR_KEY_HANDLE_INVALID, "C_EncryptInit") == Recovery::kHandle);
  CHECK(RecoveryFor(CKR_WRAPPING_KEY_HANDLE_INVALID, "C_WrapKey") == Recovery::kHandle);
  CHECK(RecoveryFor(CKR_UNWRAPPING_KEY_HANDLE_INVALID, "C_UnwrapKey") == Recovery::kHandle);
  CHECK(RecoveryFor(CKR_USER_NOT_LOGGED_IN, "C_UnwrapKey") == Recovery::kLogin);
  CHECK(RecoveryFor(CKR_DEVICE_REMOVED, "C_Encrypt") == Recovery::kDevice);
  CHECK(RecoveryFor(CKR_TOKEN_NOT_PRESENT, "C_OpenSession") == Recovery::kDevice);
  CHECK(RecoveryFor(CKR_DEVICE_ERROR, "C_Sign") == Recovery::kDevice);
  CHECK(RecoveryFor(CKR_GENERAL_ERROR, "C_Sign") == Recovery::kDevice);
  // SoftHSM 2.6.1's bad tag / tampered blob: bad data, never retried.
  CHECK(RecoveryFor(CKR_GENERAL_ERROR, "C_Decrypt") == Recovery::kNone);
  CHECK(RecoveryFor(CKR_GENERAL_ERROR, "C_UnwrapKey") == Recovery::kNone);
  CHECK(RecoveryFor(CKR_PIN_INCORRECT, "C_Login") == Recovery::kNone);
  CHECK(RecoveryFor(CKR_ARGUMENTS_BAD, "C_EncryptInit") == Recovery::kNone);
  CHECK(RecoveryFor(CKR_ENCRYPTED_DATA_INVALID, "C_Decrypt") == Recovery::kNone);

  CHECK_EQ(StatusFor(CKR_GENERAL_ERROR, "C_Decrypt"), Status::kInvalidCiphertext);
  CHECK_EQ(StatusFor(CKR_ENCRYPTED_DATA_INVALID, "C_Decrypt"), Status::kInvalidCiphertext);
  CHECK_EQ(StatusFor(CKR_WRAPPED_KEY_LEN_RANGE, "C_UnwrapKey"), Status::kInvalidCiphertext);
  CHECK_EQ(StatusFor(CKR_PIN_INCORRECT, "C_Login"), Status::kAccessDenied);
  CHECK_EQ(StatusFor(CKR_PIN_LOCKED, "C_Login"), Status::kAccessDenied);
  CHECK_EQ(StatusFor(CKR_DEVICE_REMOVED, "C_Encrypt"), Status::kKeyUnavailable);
  CHECK_EQ(StatusFor(CKR_ARGUMENTS_BAD, "C_EncryptInit"), Status::kInternal);
  CHECK_EQ(StatusFor(CKR_KEY_FUNCTION_NOT_PERMITTED, "C_SignInit"), Status::kInvalidKeyUsage);
}

HSMKMS_TEST(HsmResultCarriesCkrRvAndFn) {
  const HsmResult result = HsmResult::FromRv(CKR_PIN_INCORRECT, "C_Login");
  CHECK_EQ(result.status, Status::kAccessDenied);
  CHECK_EQ(result.rv, CKR_PIN_INCORRECT);
  CHECK_EQ(std::string(result.ckr()), "CKR_PIN_INCORRECT");
  CHECK_EQ(std::string(result.fn), "C_Login");
  CHECK(HsmResult::Ok().ckr() == nullptr);
}

HSMKMS_TEST(OpensAndLogsIn) {
  auto hsm = OpenHsm();
  CHECK(hsm->module()->initialized_here());
  CHECK_EQ(hsm->kwp_mechanism(), CKM_AES_KEY_WRAP_PAD);  // SoftHSM 2.6.1 has no 0x210B
  if (std::getenv("HSMKMS_HSM_THREADS") == nullptr) CHECK_EQ(Hsm::Threads().size(), 2u);
  uint8_t random[32] = {0};
  REQUIRE(hsm->GenerateRandom(random, sizeof(random)).ok());
  size_t zeros = 0;
  for (uint8_t b : random) zeros += b == 0;
  CHECK(zeros < 8);
}

HSMKMS_TEST(UnknownModulePathIsNotFound) {
  std::shared_ptr<Hsm> hsm;
  const HsmResult result =
      Hsm::Open(Config("/nonexistent/libnothing.so"), Pin(kUserPin), &hsm);
  CHECK_EQ(result.status, Status::kNotFound);
  CHECK_EQ(std::string(result.fn), "dlopen");
  CHECK(result.ckr() == nullptr);
  CHECK(hsm == nullptr);
}

HSMKMS_TEST(LibraryWithoutPkcs11IsInvalidState) {
  std::shared_ptr<Hsm> hsm;
  const HsmResult result = Hsm::Open(Config("libz.so.1"), Pin(kUserPin), &hsm);
  CHECK_EQ(result.status, Status::kInvalidState);
  CHECK_EQ(std::string(result.fn), "dlsym");
}

HSMKMS_TEST(MissingTokenLabelIsNotFound) {
  HsmConfig config = Config();
  config.token_label = "no-such-token";
  std::shared_ptr<Hsm> hsm;
  const HsmResult result = Hsm::Open(config, Pin(kUserPin), &hsm);
  CHECK_EQ(result.status, Status::kNotFound);
  CHECK_EQ(std::string(result.fn), "C_GetTokenInfo");
  config.token_label = std::string(33, 'x');
  CHECK_EQ(Hsm::Open(config, Pin(kUserPin), &hsm).status, Status::kValidation);
}

HSMKMS_TEST(WrongPinIsAccessDenied) {
  std::shared_ptr<Hsm> hsm;
  const HsmResult result = Hsm::Open(Config(), Pin("0000"), &hsm);
  CHECK_EQ(result.status, Status::kAccessDenied);
  CHECK_EQ(std::string(result.ckr()), "CKR_PIN_INCORRECT");
  CHECK_EQ(std::string(result.fn), "C_Login");
  CHECK(hsm == nullptr);
  // The right PIN still works afterwards (one wrong try does not lock SoftHSM).
  auto good = OpenHsm();
  uint8_t byte;
  CHECK(good->GenerateRandom(&byte, 1).ok());
}

HSMKMS_TEST(ModuleIsSharedAndFinalizedByTheLastUser) {
  auto a = OpenHsm();
  auto b = OpenHsm();
  CHECK(a->module() == b->module());  // one C_Initialize per process
  a.reset();
  uint8_t byte;
  CHECK(b->GenerateRandom(&byte, 1).ok());
  b.reset();
  // Loaded again after the last one finalized it.
  auto c = OpenHsm();
  CHECK(c->GenerateRandom(&byte, 1).ok());
}

HSMKMS_TEST(AlreadyInitializedModuleIsSharedNotFinalized) {
  EnsureToken();
  void* handle = dlopen(SoftHsmPath().c_str(), RTLD_NOW | RTLD_LOCAL);
  REQUIRE(handle != nullptr);
  auto get_list = reinterpret_cast<CK_C_GetFunctionList>(dlsym(handle, "C_GetFunctionList"));
  CK_FUNCTION_LIST* p11 = nullptr;
  REQUIRE(get_list(&p11) == CKR_OK);
  CK_C_INITIALIZE_ARGS args{};
  args.flags = CKF_OS_LOCKING_OK;
  REQUIRE(p11->C_Initialize(&args) == CKR_OK);  // someone else in the process
  {
    auto hsm = OpenHsm();
    CHECK(!hsm->module()->initialized_here());
  }
  // Still initialised for its first user.
  CK_INFO info{};
  CHECK_EQ(p11->C_GetInfo(&info), CKR_OK);
  CHECK_EQ(p11->C_Finalize(nullptr), CKR_OK);
  dlclose(handle);
}
