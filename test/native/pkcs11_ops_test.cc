// Every HSM operation of the PKCS#11 layer against a fresh SoftHSM2 token:
// random, domain keys, CMK generation and unwrapping (with the attributes of
// every key object read back and extraction attempts refused), AES-256-GCM,
// RSA-OAEP, RSA PSS / PKCS#1 v1.5 and ECDSA signatures, and the key cache.
#include <openssl/evp.h>

#include <cstring>
#include <string>
#include <vector>

#include "pkcs11/algorithms.h"
#include "pkcs11/hsm.h"
#include "pkcs11/public_key.h"
#include "pkcs11/session.h"
#include "pkcs11_fixture.h"
#include "root_of_trust.h"
#include "test_support.h"

using hsmkms::core::Status;
using namespace hsmkms::pkcs11;
using namespace hsmkms::test;

namespace {

const std::vector<uint8_t> kAad = Bytes("header||context");

// A session of our own next to the Hsm's (the login is per process).
Session RawSession(Hsm& hsm) {
  Session session;
  REQUIRE_OK(Session::Open(hsm.module()->p11(), hsm.slot(), 0, &session));
  return session;
}

CK_BBOOL ReadBool(Hsm& hsm, CK_SESSION_HANDLE session, CK_OBJECT_HANDLE object,
                  CK_ATTRIBUTE_TYPE type) {
  CK_BBOOL value = 0xAA;
  CK_ATTRIBUTE attr{type, &value, sizeof(value)};
  REQUIRE_EQ(hsm.module()->p11()->C_GetAttributeValue(session, object, &attr, 1), CKR_OK);
  return value;
}

CK_RV ReadValue(Hsm& hsm, CK_SESSION_HANDLE session, CK_OBJECT_HANDLE object) {
  uint8_t value[512];
  CK_ATTRIBUTE attr{CKA_VALUE, value, sizeof(value)};
  return hsm.module()->p11()->C_GetAttributeValue(session, object, &attr, 1);
}

CK_OBJECT_HANDLE FindDomainKeyObject(Hsm& hsm, CK_SESSION_HANDLE session, uint32_t version) {
  const std::string label = "hsmkms:domain:" + std::to_string(version);
  CK_ATTRIBUTE query{CKA_LABEL, const_cast<char*>(label.data()), label.size()};
  CK_FUNCTION_LIST* p11 = hsm.module()->p11();
  REQUIRE_EQ(p11->C_FindObjectsInit(session, &query, 1), CKR_OK);
  CK_OBJECT_HANDLE found[2];
  CK_ULONG count = 0;
  REQUIRE_EQ(p11->C_FindObjects(session, found, 2, &count), CKR_OK);
  REQUIRE_EQ(p11->C_FindObjectsFinal(session), CKR_OK);
  REQUIRE_EQ(count, 1UL);
  return found[0];
}

// C_UnwrapKey with the domain key and a caller-chosen template.
CK_RV RawUnwrap(Hsm& hsm, CK_SESSION_HANDLE session, const WrappedKey& key, CK_ATTRIBUTE* attrs,
                CK_ULONG count, CK_OBJECT_HANDLE* out) {
  CK_MECHANISM mechanism{hsm.kwp_mechanism(), nullptr, 0};
  return hsm.module()->p11()->C_UnwrapKey(
      session, &mechanism, FindDomainKeyObject(hsm, session, key.domain_version),
      const_cast<uint8_t*>(key.blob.data()), key.blob.size(), attrs, count, out);
}

struct Sealed {
  uint8_t iv[Hsm::kGcmIvSize];
  std::vector<uint8_t> ct;
};

Sealed Seal(Hsm& hsm, const WrappedKey& key, const std::vector<uint8_t>& plaintext,
            const std::vector<uint8_t>& aad = kAad) {
  Sealed sealed;
  REQUIRE_OK(hsm.GenerateRandom(sealed.iv, sizeof(sealed.iv)));
  sealed.ct.resize(plaintext.size() + Hsm::kGcmTagSize);
  REQUIRE_OK(hsm.Encrypt(key, sealed.iv, aad.data(), aad.size(), plaintext.data(), plaintext.size(),
                      sealed.ct.data()));
  return sealed;
}

HsmResult Open(Hsm& hsm, const WrappedKey& key, const Sealed& sealed, std::vector<uint8_t>* out,
               const std::vector<uint8_t>& aad = kAad) {
  out->assign(sealed.ct.size(), 0xEE);
  size_t len = 0;
  HsmResult result = hsm.Decrypt(key, sealed.iv, aad.data(), aad.size(), sealed.ct.data(),
                                 sealed.ct.size(), out->data(), out->size(), &len);
  if (result.ok()) out->resize(len);
  return result;
}

WrappedKey NewKeyPair(Hsm& hsm, KeySpec spec, KeyUsage usage, std::vector<uint8_t>* spki,
                      const std::string& id) {
  std::vector<uint8_t> dk_id;
  if (hsm.FindDomainKey(1, &dk_id).status == Status::kNotFound) {
    REQUIRE_OK(hsm.CreateDomainKey(1, &dk_id));
  }
  WrappedKey key;
  const HsmResult result = hsm.GenerateKey(spec, usage, 1, &key, spki);
  REQUIRE_OK(result);
  key.id = id;
  key.version = 1;
  return key;
}

bool AllEqual(const std::vector<uint8_t>& bytes, uint8_t value) {
  for (uint8_t b : bytes) {
    if (b != value) return false;
  }
  return true;
}

}  // namespace

HSMKMS_TEST(GenerateRandom) {
  auto hsm = OpenHsm();
  for (size_t len : {size_t{1}, size_t{32}, size_t{44}, size_t{1024}}) {
    std::vector<uint8_t> a(len, 0), b(len, 0);
    REQUIRE_OK(hsm->GenerateRandom(a.data(), len));
    REQUIRE_OK(hsm->GenerateRandom(b.data(), len));
    if (len >= 32) CHECK(a != b);
  }
  CHECK(hsm->GenerateRandom(nullptr, 0).ok());
}

HSMKMS_TEST(DomainKeyAttributes) {
  auto hsm = OpenHsm();
  std::vector<uint8_t> id, found_id;
  REQUIRE_OK(hsm->CreateDomainKey(1, &id));
  CHECK_EQ(id.size(), Hsm::kDomainKeyIdSize);
  REQUIRE_OK(hsm->FindDomainKey(1, &found_id));
  CHECK(id == found_id);

  Session session = RawSession(*hsm);
  const CK_OBJECT_HANDLE dk = FindDomainKeyObject(*hsm, session.handle(), 1);
  auto is = [&](CK_ATTRIBUTE_TYPE type) { return ReadBool(*hsm, session.handle(), dk, type); };
  CHECK_EQ(is(CKA_TOKEN), CK_TRUE);
  CHECK_EQ(is(CKA_PRIVATE), CK_TRUE);
  CHECK_EQ(is(CKA_SENSITIVE), CK_TRUE);
  CHECK_EQ(is(CKA_ALWAYS_SENSITIVE), CK_TRUE);
  CHECK_EQ(is(CKA_EXTRACTABLE), CK_FALSE);
  CHECK_EQ(is(CKA_NEVER_EXTRACTABLE), CK_TRUE);
  CHECK_EQ(is(CKA_MODIFIABLE), CK_FALSE);
  CHECK_EQ(is(CKA_COPYABLE), CK_FALSE);
  CHECK_EQ(is(CKA_DESTROYABLE), CK_FALSE);
  CHECK_EQ(is(CKA_WRAP), CK_TRUE);
  CHECK_EQ(is(CKA_UNWRAP), CK_TRUE);
  CHECK_EQ(is(CKA_ENCRYPT), CK_FALSE);
  CHECK_EQ(is(CKA_DECRYPT), CK_FALSE);
  CHECK_EQ(is(CKA_SIGN), CK_FALSE);
  CHECK_EQ(ReadValue(*hsm, session.handle(), dk), CKR_ATTRIBUTE_SENSITIVE);

  CK_FUNCTION_LIST* p11 = hsm->module()->p11();
  // Nobody with the PIN can add DECRYPT later (wrap-then-decrypt), copy or destroy it.
  CK_BBOOL yes = CK_TRUE;
  CK_ATTRIBUTE decrypt{CKA_DECRYPT, &yes, sizeof(yes)};
  CHECK(p11->C_SetAttributeValue(session.handle(), dk, &decrypt, 1) != CKR_OK);
  CK_OBJECT_HANDLE copy = CK_INVALID_HANDLE;
  CHECK(p11->C_CopyObject(session.handle(), dk, nullptr, 0, &copy) != CKR_OK);
  CHECK(p11->C_DestroyObject(session.handle(), dk) != CKR_OK);
  // Not usable for encryption, and wraps only with RFC 5649.
  uint8_t iv[12] = {0}, aad[1] = {0};
  CK_GCM_PARAMS gcm{iv, 12, 96, aad, 1, 128};
  CK_MECHANISM gcm_mechanism{CKM_AES_GCM, &gcm, sizeof(gcm)};
  CHECK(p11->C_EncryptInit(session.handle(), &gcm_mechanism, dk) != CKR_OK);
  uint8_t blob[64];
  CK_ULONG blob_len = sizeof(blob);
  CK_MECHANISM kw{CKM_AES_KEY_WRAP, nullptr, 0};
  CHECK_EQ(p11->C_WrapKey(session.handle(), &kw, dk, dk, blob, &blob_len), CKR_MECHANISM_INVALID);
}

HSMKMS_TEST(DomainKeyVersionsAreUnique) {
  auto hsm = OpenHsm();
  std::vector<uint8_t> id;
  REQUIRE_OK(hsm->CreateDomainKey(7, &id));
  const HsmResult again = hsm->CreateDomainKey(7, &id);
  CHECK_EQ(again.status, Status::kAlreadyExists);
  const HsmResult missing = hsm->FindDomainKey(99, &id);
  CHECK_EQ(missing.status, Status::kNotFound);

  // A second object with the same label (another tool, a bad restore): refused.
  Session session = RawSession(*hsm);
  const std::string label = "hsmkms:domain:7";
  CK_OBJECT_CLASS cls = CKO_SECRET_KEY;
  CK_KEY_TYPE type = CKK_AES;
  CK_ULONG len = 32;
  CK_BBOOL yes = CK_TRUE;
  CK_ATTRIBUTE twin[] = {{CKA_CLASS, &cls, sizeof(cls)},
                         {CKA_KEY_TYPE, &type, sizeof(type)},
                         {CKA_VALUE_LEN, &len, sizeof(len)},
                         {CKA_TOKEN, &yes, sizeof(yes)},
                         {CKA_LABEL, const_cast<char*>(label.data()), label.size()}};
  CK_MECHANISM gen{CKM_AES_KEY_GEN, nullptr, 0};
  CK_OBJECT_HANDLE handle;
  REQUIRE_EQ(hsm->module()->p11()->C_GenerateKey(session.handle(), &gen, twin, 5, &handle), CKR_OK);
  auto fresh = OpenHsm();  // no cached handle
  CHECK_EQ(fresh->FindDomainKey(7, &id).status, Status::kInvalidState);
  CHECK_EQ(hsm->module()->p11()->C_DestroyObject(session.handle(), handle), CKR_OK);
}

HSMKMS_TEST(DomainKeyOnlyUnwrapsNonExtractableSessionKeys) {
  auto hsm = OpenHsm();
  const WrappedKey key = NewAesKey(*hsm, 1, "cmk-a");
  CHECK_EQ(key.blob.size(), 40u);  // RFC 5649 of 32 bytes
  Session session = RawSession(*hsm);
  CK_OBJECT_CLASS cls = CKO_SECRET_KEY;
  CK_KEY_TYPE type = CKK_AES;
  CK_BBOOL yes = CK_TRUE, no = CK_FALSE;
  auto attempt = [&](CK_BBOOL token, CK_BBOOL sensitive, CK_BBOOL extractable, bool with_copyable) {
    CK_ATTRIBUTE attrs[] = {{CKA_CLASS, &cls, sizeof(cls)},
                            {CKA_KEY_TYPE, &type, sizeof(type)},
                            {CKA_TOKEN, &token, 1},
                            {CKA_SENSITIVE, &sensitive, 1},
                            {CKA_EXTRACTABLE, &extractable, 1},
                            {CKA_COPYABLE, &no, 1}};
    CK_OBJECT_HANDLE handle = CK_INVALID_HANDLE;
    const CK_RV rv =
        RawUnwrap(*hsm, session.handle(), key, attrs, with_copyable ? 6 : 5, &handle);
    if (rv == CKR_OK) hsm->module()->p11()->C_DestroyObject(session.handle(), handle);
    return rv;
  };
  CHECK_EQ(attempt(no, yes, yes, true), CKR_TEMPLATE_INCONSISTENT);   // extractable
  CHECK_EQ(attempt(yes, yes, no, true), CKR_TEMPLATE_INCONSISTENT);   // token object
  CHECK_EQ(attempt(no, no, no, true), CKR_TEMPLATE_INCONSISTENT);     // not sensitive
  CHECK_EQ(attempt(no, yes, no, false), CKR_TEMPLATE_INCONSISTENT);   // copyable by default
  CHECK_EQ(attempt(no, yes, no, true), CKR_OK);                       // what the DK allows
}

HSMKMS_TEST(UnwrappedCmkAttributes) {
  auto hsm = OpenHsm();
  const WrappedKey key = NewAesKey(*hsm, 1, "cmk-a");
  std::shared_ptr<SessionObject> object;
  REQUIRE_OK(hsm->LoadKey(key, &object));
  Session session = RawSession(*hsm);
  const CK_OBJECT_HANDLE h = object->handle();
  auto is = [&](CK_ATTRIBUTE_TYPE type) { return ReadBool(*hsm, session.handle(), h, type); };
  CHECK_EQ(is(CKA_TOKEN), CK_FALSE);
  CHECK_EQ(is(CKA_PRIVATE), CK_TRUE);
  CHECK_EQ(is(CKA_SENSITIVE), CK_TRUE);
  CHECK_EQ(is(CKA_EXTRACTABLE), CK_FALSE);
  CHECK_EQ(is(CKA_COPYABLE), CK_FALSE);
  CHECK_EQ(is(CKA_MODIFIABLE), CK_FALSE);
  CHECK_EQ(is(CKA_ENCRYPT), CK_TRUE);
  CHECK_EQ(is(CKA_DECRYPT), CK_TRUE);
  CHECK_EQ(is(CKA_WRAP), CK_FALSE);
  CHECK_EQ(is(CKA_UNWRAP), CK_FALSE);
  CHECK_EQ(ReadValue(*hsm, session.handle(), h), CKR_ATTRIBUTE_SENSITIVE);

  CK_FUNCTION_LIST* p11 = hsm->module()->p11();
  // It cannot leave the HSM: not wrappable, not copyable into a token object.
  CK_MECHANISM kwp{hsm->kwp_mechanism(), nullptr, 0};
  uint8_t blob[64];
  CK_ULONG blob_len = sizeof(blob);
  const CK_OBJECT_HANDLE dk = FindDomainKeyObject(*hsm, session.handle(), 1);
  CHECK(p11->C_WrapKey(session.handle(), &kwp, dk, h, blob, &blob_len) != CKR_OK);
  CK_BBOOL yes = CK_TRUE;
  CK_ATTRIBUTE to_token{CKA_TOKEN, &yes, sizeof(yes)};
  CK_OBJECT_HANDLE copy = CK_INVALID_HANDLE;
  CHECK(p11->C_CopyObject(session.handle(), h, &to_token, 1, &copy) != CKR_OK);
  CK_ATTRIBUTE extractable{CKA_EXTRACTABLE, &yes, sizeof(yes)};
  CHECK(p11->C_SetAttributeValue(session.handle(), h, &extractable, 1) != CKR_OK);
}

HSMKMS_TEST(GcmRoundTrip) {
  auto hsm = OpenHsm();
  const WrappedKey key = NewAesKey(*hsm, 1, "cmk-gcm");
  for (size_t len : {size_t{0}, size_t{1}, size_t{32}, size_t{4096}}) {
    std::vector<uint8_t> plaintext(len);
    for (size_t i = 0; i < len; ++i) plaintext[i] = static_cast<uint8_t>(i * 7);
    Sealed sealed = Seal(*hsm, key, plaintext);
    CHECK_EQ(sealed.ct.size(), len + 16);
    std::vector<uint8_t> out;
    REQUIRE_OK(Open(*hsm, key, sealed, &out));
    CHECK(out == plaintext);
  }
  // SoftHSM uses the caller's IV (read back after C_Encrypt): same IV, same output.
  const std::vector<uint8_t> plaintext = Bytes("a data key, 32 bytes long......!");
  Sealed a = Seal(*hsm, key, plaintext);
  Sealed b;
  std::memcpy(b.iv, a.iv, sizeof(a.iv));
  b.ct.resize(a.ct.size());
  REQUIRE_OK(hsm->Encrypt(key, b.iv, kAad.data(), kAad.size(), plaintext.data(), plaintext.size(),
                       b.ct.data()));
  CHECK(std::memcmp(a.iv, b.iv, sizeof(a.iv)) == 0);
  CHECK(a.ct == b.ct);
  // A second key gives other output.
  const WrappedKey other = NewAesKey(*hsm, 1, "cmk-gcm-2");
  Sealed c;
  std::memcpy(c.iv, a.iv, sizeof(a.iv));
  c.ct.resize(a.ct.size());
  REQUIRE_OK(hsm->Encrypt(other, c.iv, kAad.data(), kAad.size(), plaintext.data(), plaintext.size(),
                       c.ct.data()));
  CHECK(c.ct != a.ct);
  std::vector<uint8_t> out;
  CHECK_EQ(Open(*hsm, other, a, &out).status, Status::kInvalidCiphertext);
}

HSMKMS_TEST(GcmTamperingIsInvalidCiphertext) {
  auto hsm = OpenHsm();
  const WrappedKey key = NewAesKey(*hsm, 1, "cmk-gcm");
  const Sealed good = Seal(*hsm, key, Bytes("secret data key material"));
  std::vector<uint8_t> out;
  auto expect_invalid = [&](const Sealed& sealed, const std::vector<uint8_t>& aad) {
    const HsmResult result = Open(*hsm, key, sealed, &out, aad);
    CHECK_EQ(result.status, Status::kInvalidCiphertext);
    if (result.rv != CKR_OK) {  // SoftHSM 2.6.1 reports a bad tag this way
      CHECK_EQ(std::string(result.ckr()), "CKR_GENERAL_ERROR");
      CHECK_EQ(std::string(result.fn), "C_Decrypt");
    }
    CHECK(AllEqual(out, 0));  // wiped
  };
  Sealed bad = good;
  bad.ct[0] ^= 1;
  expect_invalid(bad, kAad);
  bad = good;
  bad.ct.back() ^= 0x80;  // the tag
  expect_invalid(bad, kAad);
  bad = good;
  bad.iv[11] ^= 1;
  expect_invalid(bad, kAad);
  expect_invalid(good, Bytes("other context"));
  bad = good;
  bad.ct.resize(15);  // shorter than the tag: refused before the HSM
  out.assign(15, 0);
  size_t len = 0;
  CHECK_EQ(hsm->Decrypt(key, bad.iv, kAad.data(), kAad.size(), bad.ct.data(), bad.ct.size(),
                        out.data(), out.size(), &len)
               .status,
           Status::kInvalidCiphertext);
  bad.ct.resize(16);  // tag only, wrong
  expect_invalid(bad, kAad);
  CHECK_EQ(hsm->hsm_stats().retries, 0u);  // bad data is never retried
  REQUIRE_OK(Open(*hsm, key, good, &out));
  CHECK(out == Bytes("secret data key material"));
}

HSMKMS_TEST(GcmDecryptIntoExactBuffer) {
  auto hsm = OpenHsm();
  const WrappedKey key = NewAesKey(*hsm, 1, "cmk-gcm");
  const std::vector<uint8_t> plaintext = Bytes("exactly sized output buffer");
  const Sealed sealed = Seal(*hsm, key, plaintext);
  std::vector<uint8_t> out(plaintext.size());  // SoftHSM asks for more: scratch path
  size_t len = 0;
  REQUIRE_OK(hsm->Decrypt(key, sealed.iv, kAad.data(), kAad.size(), sealed.ct.data(),
                         sealed.ct.size(),
                       out.data(), out.size(), &len));
  CHECK_EQ(len, plaintext.size());
  CHECK(out == plaintext);
  CHECK_EQ(hsm->Decrypt(key, sealed.iv, kAad.data(), kAad.size(), sealed.ct.data(),
                        sealed.ct.size(), out.data(), out.size() - 1, &len)
               .status,
           Status::kValidation);
}

HSMKMS_TEST(GcmRefusesEmptyAadAndOtherKeys) {
  auto hsm = OpenHsm();
  const WrappedKey key = NewAesKey(*hsm, 1, "cmk-gcm");
  uint8_t iv[12] = {0}, out[64];
  const uint8_t data[16] = {0};
  CHECK_EQ(hsm->Encrypt(key, iv, nullptr, 0, data, sizeof(data), out).status, Status::kValidation);
  size_t len = 0;
  CHECK_EQ(hsm->Decrypt(key, iv, nullptr, 0, data, sizeof(data), out, sizeof(out), &len).status,
           Status::kValidation);
  WrappedKey rsa = key;
  rsa.spec = KeySpec::kRsa2048;
  CHECK_EQ(hsm->Encrypt(rsa, iv, kAad.data(), kAad.size(), data, sizeof(data), out).status,
           Status::kInvalidKeyUsage);
}

HSMKMS_TEST(TamperedWrappedKeyIsInvalidCiphertext) {
  auto hsm = OpenHsm();
  WrappedKey key = NewAesKey(*hsm, 1, "cmk-t");
  key.blob[5] ^= 1;
  std::shared_ptr<SessionObject> object;
  HsmResult result = hsm->LoadKey(key, &object);
  CHECK_EQ(result.status, Status::kInvalidCiphertext);
  CHECK_EQ(std::string(result.fn), "C_UnwrapKey");
  key.blob.resize(12);
  result = hsm->LoadKey(key, &object);
  CHECK_EQ(result.status, Status::kInvalidCiphertext);
  CHECK_EQ(std::string(result.ckr()), "CKR_WRAPPED_KEY_LEN_RANGE");
  WrappedKey missing_dk = NewAesKey(*hsm, 1, "cmk-u");
  missing_dk.domain_version = 42;
  CHECK_EQ(hsm->LoadKey(missing_dk, &object).status, Status::kNotFound);
  CHECK_EQ(hsm->hsm_stats().retries, 0u);
}

HSMKMS_TEST(KeyCacheIsBoundedAndDestroysEvictedKeys) {
  HsmConfig config = Config();
  config.key_cache_capacity = 2;
  auto hsm = OpenHsm(config);
  const WrappedKey a = NewAesKey(*hsm, 1, "a"), b = NewAesKey(*hsm, 1, "b"),
                   c = NewAesKey(*hsm, 1, "c");
  size_t base = 0, count = 0;
  REQUIRE_OK(hsm->CountObjects(&base));
  const std::vector<uint8_t> plaintext = Bytes("x");
  Seal(*hsm, a, plaintext);
  Seal(*hsm, a, plaintext);
  Seal(*hsm, b, plaintext);
  CHECK_EQ(hsm->hsm_stats().unwraps, 2u);
  REQUIRE_OK(hsm->CountObjects(&count));
  CHECK_EQ(count, base + 2);
  Seal(*hsm, c, plaintext);  // evicts a (least recently used)
  CHECK_EQ(hsm->hsm_stats().cached_keys, 2u);
  REQUIRE_OK(hsm->CountObjects(&count));
  CHECK_EQ(count, base + 2);
  Seal(*hsm, b, plaintext);
  CHECK_EQ(hsm->hsm_stats().unwraps, 3u);
  Seal(*hsm, a, plaintext);
  CHECK_EQ(hsm->hsm_stats().unwraps, 4u);
  // An evicted key in use by an operation stays alive until it ends.
  std::shared_ptr<SessionObject> held;
  REQUIRE_OK(hsm->LoadKey(a, &held));
  hsm->EvictKey("a", 1);
  REQUIRE_OK(hsm->CountObjects(&count));
  CHECK_EQ(count, base + 2);
  held.reset();
  REQUIRE_OK(hsm->CountObjects(&count));
  CHECK_EQ(count, base + 1);
  hsm.reset();  // everything unwrapped goes with the Hsm
  auto again = OpenHsm();
  REQUIRE_OK(again->CountObjects(&count));
  CHECK_EQ(count, base);
}

HSMKMS_TEST(RsaOaepDecryption) {
  auto hsm = OpenHsm();
  std::vector<uint8_t> spki;
  const WrappedKey key =
      NewKeyPair(*hsm, KeySpec::kRsa2048, KeyUsage::kEncryptDecrypt, &spki, "rsa");
  CHECK(key.blob.size() > 1100);  // PKCS#8 inside RFC 5649
  std::unique_ptr<PublicKey> pub;
  REQUIRE_EQ(PublicKey::FromSpki(spki.data(), spki.size(), &pub), Status::kOk);
  CHECK(pub->spec() == KeySpec::kRsa2048);
  const std::vector<uint8_t> message = Bytes("a 32-byte data key for RSA OAEP!");
  for (OaepHash hash : {OaepHash::kSha1, OaepHash::kSha256, OaepHash::kSha256}) {
    std::vector<uint8_t> ct;
    REQUIRE_EQ(pub->EncryptOaep(hash, message.data(), message.size(), &ct), Status::kOk);
    CHECK_EQ(ct.size(), 256u);
    std::vector<uint8_t> out(256);
    size_t len = 0;
    REQUIRE_OK(hsm->RsaDecrypt(key, hash, ct.data(), ct.size(), out.data(), out.size(), &len));
    out.resize(len);
    CHECK(out == message);
    // Tampered: invalid, whichever path decoded it (SoftHSM SHA-1 natively,
    // SHA-256 through raw RSA + host OAEP decoding).
    ct[100] ^= 4;
    out.assign(256, 0);
    const HsmResult bad =
        hsm->RsaDecrypt(key, hash, ct.data(), ct.size(), out.data(), out.size(), &len);
    CHECK_EQ(bad.status, Status::kInvalidCiphertext);
    CHECK(AllEqual(out, 0));
    // Wrong hash: invalid too.
    ct[100] ^= 4;
    const OaepHash other = hash == OaepHash::kSha1 ? OaepHash::kSha256 : OaepHash::kSha1;
    CHECK_EQ(hsm->RsaDecrypt(key, other, ct.data(), ct.size(), out.data(), out.size(), &len).status,
             Status::kInvalidCiphertext);
  }
  std::vector<uint8_t> short_ct(255, 1), out(256);
  size_t len = 0;
  CHECK_EQ(hsm->RsaDecrypt(key, OaepHash::kSha1, short_ct.data(), short_ct.size(), out.data(),
                           out.size(), &len)
               .status,
           Status::kInvalidCiphertext);
  // A decryption key does not sign, and the key in the HSM refuses it too.
  std::vector<uint8_t> sig;
  CHECK_EQ(hsm->Sign(key, SigningAlgorithm::kRsaPssSha256, MessageType::kRaw, message.data(),
                     message.size(), &sig)
               .status,
           Status::kInvalidKeyUsage);
  std::shared_ptr<SessionObject> object;
  REQUIRE_OK(hsm->LoadKey(key, &object));
  Session session = RawSession(*hsm);
  CHECK_EQ(ReadBool(*hsm, session.handle(), object->handle(), CKA_SIGN), CK_FALSE);
  CHECK_EQ(ReadBool(*hsm, session.handle(), object->handle(), CKA_DECRYPT), CK_TRUE);
  CHECK_EQ(ReadBool(*hsm, session.handle(), object->handle(), CKA_SENSITIVE), CK_TRUE);
  CHECK_EQ(ReadBool(*hsm, session.handle(), object->handle(), CKA_EXTRACTABLE), CK_FALSE);
  CK_MECHANISM pss{CKM_RSA_PKCS_PSS, nullptr, 0};
  CHECK(hsm->module()->p11()->C_SignInit(session.handle(), &pss, object->handle()) != CKR_OK);
}

HSMKMS_TEST(RsaSignatures) {
  auto hsm = OpenHsm();
  std::vector<uint8_t> spki;
  const WrappedKey key = NewKeyPair(*hsm, KeySpec::kRsa2048, KeyUsage::kSignVerify, &spki, "rsa-s");
  std::unique_ptr<PublicKey> pub;
  REQUIRE_EQ(PublicKey::FromSpki(spki.data(), spki.size(), &pub), Status::kOk);
  const std::vector<uint8_t> message = Bytes("sign this message");
  for (SigningAlgorithm alg :
       {SigningAlgorithm::kRsaPssSha256, SigningAlgorithm::kRsaPssSha384,
        SigningAlgorithm::kRsaPssSha512, SigningAlgorithm::kRsaPkcs1Sha256,
        SigningAlgorithm::kRsaPkcs1Sha384, SigningAlgorithm::kRsaPkcs1Sha512}) {
    std::vector<uint8_t> sig;
    REQUIRE_OK(hsm->Sign(key, alg, MessageType::kRaw, message.data(), message.size(), &sig));
    CHECK_EQ(sig.size(), 256u);
    bool valid = false;
    REQUIRE_EQ(pub->Verify(alg, MessageType::kRaw, message.data(), message.size(), sig.data(),
                           sig.size(), &valid),
               Status::kOk);
    CHECK(valid);
    // The same from the digest.
    uint8_t digest[EVP_MAX_MD_SIZE];
    size_t digest_len = 0;
    REQUIRE(HostDigest(SigningDigest(alg), message.data(), message.size(), digest, &digest_len));
    std::vector<uint8_t> sig2;
    REQUIRE_OK(hsm->Sign(key, alg, MessageType::kDigest, digest, digest_len, &sig2));
    REQUIRE_EQ(pub->Verify(alg, MessageType::kDigest, digest, digest_len, sig2.data(), sig2.size(),
                           &valid),
               Status::kOk);
    CHECK(valid);
    if (IsPkcs1(alg)) CHECK(sig == sig2);  // deterministic
    sig[10] ^= 1;
    REQUIRE_EQ(pub->Verify(alg, MessageType::kRaw, message.data(), message.size(), sig.data(),
                           sig.size(), &valid),
               Status::kOk);
    CHECK(!valid);
    CHECK_EQ(hsm->Sign(key, alg, MessageType::kDigest, digest, digest_len - 1, &sig2).status,
             Status::kValidation);
  }
  std::vector<uint8_t> sig;
  CHECK_EQ(hsm->Sign(key, SigningAlgorithm::kEcdsaSha256, MessageType::kRaw, message.data(),
                     message.size(), &sig)
               .status,
           Status::kInvalidKeyUsage);
  std::vector<uint8_t> out(256);
  size_t len = 0;
  CHECK_EQ(hsm->RsaDecrypt(key, OaepHash::kSha1, out.data(), out.size(), out.data(), out.size(),
                           &len)
               .status,
           Status::kInvalidKeyUsage);
}

HSMKMS_TEST(Rsa3072And4096) {
  // Key generation dominates (4096 bits: seconds): one key per size.
  auto hsm = OpenHsm();
  const std::vector<uint8_t> message = Bytes("bigger keys");
  std::vector<uint8_t> spki;
  const WrappedKey signer =
      NewKeyPair(*hsm, KeySpec::kRsa4096, KeyUsage::kSignVerify, &spki, "rsa4096");
  std::unique_ptr<PublicKey> pub;
  REQUIRE_EQ(PublicKey::FromSpki(spki.data(), spki.size(), &pub), Status::kOk);
  CHECK(pub->spec() == KeySpec::kRsa4096);
  std::vector<uint8_t> sig;
  REQUIRE_OK(hsm->Sign(signer, SigningAlgorithm::kRsaPssSha384, MessageType::kRaw, message.data(),
                       message.size(), &sig));
  CHECK_EQ(sig.size(), 512u);
  bool valid = false;
  REQUIRE_EQ(pub->Verify(SigningAlgorithm::kRsaPssSha384, MessageType::kRaw, message.data(),
                         message.size(), sig.data(), sig.size(), &valid),
             Status::kOk);
  CHECK(valid);

  const WrappedKey decrypter =
      NewKeyPair(*hsm, KeySpec::kRsa3072, KeyUsage::kEncryptDecrypt, &spki, "rsa3072");
  REQUIRE_EQ(PublicKey::FromSpki(spki.data(), spki.size(), &pub), Status::kOk);
  CHECK(pub->spec() == KeySpec::kRsa3072);
  for (OaepHash hash : {OaepHash::kSha1, OaepHash::kSha256}) {
    std::vector<uint8_t> ct, out(384);
    REQUIRE_EQ(pub->EncryptOaep(hash, message.data(), message.size(), &ct), Status::kOk);
    CHECK_EQ(ct.size(), 384u);
    size_t len = 0;
    REQUIRE_OK(
        hsm->RsaDecrypt(decrypter, hash, ct.data(), ct.size(), out.data(), out.size(), &len));
    out.resize(len);
    CHECK(out == message);
  }
}

HSMKMS_TEST(EcdsaSignatures) {
  auto hsm = OpenHsm();
  const std::vector<uint8_t> message = Bytes("ecdsa message");
  const struct {
    KeySpec spec;
    SigningAlgorithm alg;
  } cases[] = {{KeySpec::kEccNistP256, SigningAlgorithm::kEcdsaSha256},
               {KeySpec::kEccNistP384, SigningAlgorithm::kEcdsaSha384}};
  for (const auto& c : cases) {
    std::vector<uint8_t> spki;
    const WrappedKey key =
        NewKeyPair(*hsm, c.spec, KeyUsage::kSignVerify, &spki, KeySpecName(c.spec));
    std::unique_ptr<PublicKey> pub;
    REQUIRE_EQ(PublicKey::FromSpki(spki.data(), spki.size(), &pub), Status::kOk);
    CHECK(pub->spec() == c.spec);
    for (MessageType type : {MessageType::kRaw, MessageType::kDigest}) {
      uint8_t digest[EVP_MAX_MD_SIZE];
      size_t digest_len = 0;
      REQUIRE(
          HostDigest(SigningDigest(c.alg), message.data(), message.size(), digest, &digest_len));
      const uint8_t* data = type == MessageType::kRaw ? message.data() : digest;
      const size_t len = type == MessageType::kRaw ? message.size() : digest_len;
      std::vector<uint8_t> sig;
      REQUIRE_OK(hsm->Sign(key, c.alg, type, data, len, &sig));
      CHECK_EQ(sig[0], 0x30);  // DER SEQUENCE { r, s }
      bool valid = false;
      REQUIRE_EQ(pub->Verify(c.alg, type, data, len, sig.data(), sig.size(), &valid), Status::kOk);
      CHECK(valid);
      REQUIRE_EQ(pub->Verify(c.alg, MessageType::kRaw, Bytes("other").data(), 5, sig.data(),
                             sig.size(), &valid),
                 Status::kOk);
      CHECK(!valid);
    }
    const SigningAlgorithm wrong = c.alg == SigningAlgorithm::kEcdsaSha256
                                       ? SigningAlgorithm::kEcdsaSha384
                                       : SigningAlgorithm::kEcdsaSha256;
    std::vector<uint8_t> sig;
    CHECK_EQ(hsm->Sign(key, wrong, MessageType::kRaw, message.data(), message.size(), &sig).status,
             Status::kInvalidKeyUsage);
    std::shared_ptr<SessionObject> object;
    REQUIRE_OK(hsm->LoadKey(key, &object));
    Session session = RawSession(*hsm);
    CHECK_EQ(ReadBool(*hsm, session.handle(), object->handle(), CKA_SENSITIVE), CK_TRUE);
    CHECK_EQ(ReadBool(*hsm, session.handle(), object->handle(), CKA_EXTRACTABLE), CK_FALSE);
    CHECK_EQ(ReadBool(*hsm, session.handle(), object->handle(), CKA_TOKEN), CK_FALSE);
    CHECK_EQ(ReadValue(*hsm, session.handle(), object->handle()), CKR_ATTRIBUTE_SENSITIVE);
    // The wrapped private key cannot be unwrapped as extractable either.
    CK_OBJECT_CLASS cls = CKO_PRIVATE_KEY;
    CK_KEY_TYPE type = CKK_EC;
    CK_BBOOL yes = CK_TRUE, no = CK_FALSE;
    CK_ATTRIBUTE attrs[] = {{CKA_CLASS, &cls, sizeof(cls)}, {CKA_KEY_TYPE, &type, sizeof(type)},
                            {CKA_TOKEN, &no, 1},           {CKA_SENSITIVE, &yes, 1},
                            {CKA_EXTRACTABLE, &yes, 1},    {CKA_COPYABLE, &no, 1}};
    CK_OBJECT_HANDLE handle = CK_INVALID_HANDLE;
    CHECK_EQ(RawUnwrap(*hsm, session.handle(), key, attrs, 6, &handle), CKR_TEMPLATE_INCONSISTENT);
  }
  std::vector<uint8_t> spki;
  WrappedKey key;
  CHECK_EQ(
      hsm->GenerateKey(KeySpec::kEccNistP256, KeyUsage::kEncryptDecrypt, 1, &key, &spki).status,
      Status::kInvalidKeyUsage);
}

HSMKMS_TEST(HmacMacsInTheToken) {
  auto hsm = OpenHsm();
  const struct {
    KeySpec spec;
    MacAlgorithm algorithm;
    size_t mac_bytes;
  } cases[] = {{KeySpec::kHmac224, MacAlgorithm::kHmacSha224, 28},
               {KeySpec::kHmac256, MacAlgorithm::kHmacSha256, 32},
               {KeySpec::kHmac384, MacAlgorithm::kHmacSha384, 48},
               {KeySpec::kHmac512, MacAlgorithm::kHmacSha512, 64}};
  const std::vector<uint8_t> message = Bytes("what do ya want for nothing?");
  for (const auto& c : cases) {
    const WrappedKey key =
        NewKeyPair(*hsm, c.spec, KeyUsage::kGenerateVerifyMac, nullptr, KeySpecName(c.spec));
    std::vector<uint8_t> mac, again;
    REQUIRE_OK(hsm->GenerateMac(key, c.algorithm, message.data(), message.size(), &mac));
    CHECK_EQ(mac.size(), c.mac_bytes);
    REQUIRE_OK(hsm->GenerateMac(key, c.algorithm, message.data(), message.size(), &again));
    CHECK(mac == again);
    bool valid = false;
    REQUIRE_OK(hsm->VerifyMac(key, c.algorithm, message.data(), message.size(), mac.data(),
                              mac.size(), &valid));
    CHECK(valid);
    std::vector<uint8_t> flipped = mac;
    flipped.back() ^= 0x80;
    valid = true;
    REQUIRE_OK(hsm->VerifyMac(key, c.algorithm, message.data(), message.size(), flipped.data(),
                              flipped.size(), &valid));
    CHECK(!valid);
    valid = true;
    REQUIRE_OK(hsm->VerifyMac(key, c.algorithm, message.data(), message.size(), mac.data(),
                              mac.size() - 1, &valid));
    CHECK(!valid);
    const std::vector<uint8_t> other = Bytes("what do ya want for nothing!");
    valid = true;
    REQUIRE_OK(hsm->VerifyMac(key, c.algorithm, other.data(), other.size(), mac.data(), mac.size(),
                              &valid));
    CHECK(!valid);
  }

  // The unwrapped key: a non-extractable generic secret that signs and verifies only.
  const WrappedKey key = NewKeyPair(*hsm, KeySpec::kHmac256, KeyUsage::kGenerateVerifyMac, nullptr,
                                    "hmac-attributes");
  std::shared_ptr<SessionObject> object;
  REQUIRE_OK(hsm->LoadKey(key, &object));
  Session session = RawSession(*hsm);
  const CK_OBJECT_HANDLE h = object->handle();
  auto is = [&](CK_ATTRIBUTE_TYPE type) { return ReadBool(*hsm, session.handle(), h, type); };
  CHECK_EQ(is(CKA_SIGN), CK_TRUE);
  CHECK_EQ(is(CKA_VERIFY), CK_TRUE);
  CHECK_EQ(is(CKA_ENCRYPT), CK_FALSE);
  CHECK_EQ(is(CKA_DECRYPT), CK_FALSE);
  CHECK_EQ(is(CKA_SENSITIVE), CK_TRUE);
  CHECK_EQ(is(CKA_EXTRACTABLE), CK_FALSE);
  CHECK_EQ(ReadValue(*hsm, session.handle(), h), CKR_ATTRIBUTE_SENSITIVE);

  // Refusals, with the statuses of the soft root.
  std::vector<uint8_t> mac;
  bool valid = true;
  CHECK_EQ(hsm->GenerateMac(key, MacAlgorithm::kHmacSha512, message.data(), message.size(), &mac)
               .status,
           Status::kInvalidKeyUsage);
  CHECK_EQ(hsm->VerifyMac(key, MacAlgorithm::kHmacSha224, message.data(), message.size(),
                          message.data(), 28, &valid)
               .status,
           Status::kInvalidKeyUsage);
  const WrappedKey aes = NewAesKey(*hsm, 1, "aes-no-mac");
  CHECK_EQ(hsm->GenerateMac(aes, MacAlgorithm::kHmacSha256, message.data(), message.size(), &mac)
               .status,
           Status::kInvalidKeyUsage);
  WrappedKey out;
  CHECK_EQ(hsm->GenerateKey(KeySpec::kHmac256, KeyUsage::kSignVerify, 1, &out, nullptr).status,
           Status::kInvalidKeyUsage);
  CHECK_EQ(hsm->GenerateKey(KeySpec::kRsa2048, KeyUsage::kGenerateVerifyMac, 1, &out, nullptr)
               .status,
           Status::kInvalidKeyUsage);
}

HSMKMS_TEST(AlgorithmNames) {
  KeySpec spec;
  CHECK(ParseKeySpec("RSA_3072", &spec) && spec == KeySpec::kRsa3072);
  CHECK(!ParseKeySpec("RSA_1024", &spec));
  CHECK_EQ(std::string(KeySpecName(KeySpec::kAes256)), "SYMMETRIC_DEFAULT");
  SigningAlgorithm alg;
  CHECK(ParseSigningAlgorithm("RSASSA_PKCS1_V1_5_SHA_384", &alg) &&
        alg == SigningAlgorithm::kRsaPkcs1Sha384);
  CHECK_EQ(std::string(SigningAlgorithmName(SigningAlgorithm::kEcdsaSha384)), "ECDSA_SHA_384");
  OaepHash hash;
  CHECK(ParseOaepHash("RSAES_OAEP_SHA_256", &hash) && hash == OaepHash::kSha256);
  WrapAlgorithm wrap;
  CHECK(ParseWrapAlgorithm("AES_KWP_RFC5649", &wrap) && wrap == WrapAlgorithm::kAesKwp);
  KeyUsage usage;
  CHECK(ParseKeyUsage("SIGN_VERIFY", &usage) && usage == KeyUsage::kSignVerify);
  MessageType type;
  CHECK(ParseMessageType("DIGEST", &type) && type == MessageType::kDigest);
}

HSMKMS_TEST(HsmIsTheRootOfTrust) {
  auto hsm = OpenHsm();
  hsmkms::core::RootOfTrust& root = *hsm;
  CHECK_EQ(std::string(root.kind()), "pkcs11");
  CHECK(&root.threads() == &Hsm::Threads());

  // A domain key is opened by version and the CKA_ID given at creation.
  std::vector<uint8_t> reference;
  REQUIRE_OK(root.CreateDomainKey(3, &reference));
  REQUIRE_OK(root.OpenDomainKey(3, reference.data(), reference.size()));
  std::vector<uint8_t> other = reference;
  other[0] ^= 1;
  CHECK_EQ(root.OpenDomainKey(3, other.data(), other.size()).status, Status::kNotFound);
  CHECK_EQ(root.OpenDomainKey(3, reference.data(), reference.size() - 1).status, Status::kNotFound);
  CHECK_EQ(root.OpenDomainKey(3, nullptr, 0).status, Status::kNotFound);
  CHECK_EQ(root.OpenDomainKey(4, reference.data(), reference.size()).status, Status::kNotFound);

  // Stats are the token's, in the root's terms.
  WrappedKey key;
  REQUIRE_OK(root.GenerateKey(KeySpec::kAes256, KeyUsage::kEncryptDecrypt, 3, &key, nullptr));
  key.id = "cmk-root";
  key.version = 1;
  const Sealed sealed = Seal(*hsm, key, Bytes("through the interface"));
  const hsmkms::core::RootStats stats = root.stats();
  CHECK_EQ(stats.cached_keys, hsm->hsm_stats().cached_keys);
  CHECK_EQ(stats.cached_keys, 1u);
  CHECK_EQ(stats.unwraps, 1u);
  CHECK_EQ(stats.retries, 0u);
  root.EvictKey("cmk-root", 1);
  CHECK_EQ(root.stats().cached_keys, 0u);

  // Re-wrapping under the version that already wraps it is a copy.
  WrappedKey same;
  REQUIRE_OK(root.RewrapKey(key, 3, &same));
  CHECK(same.blob == key.blob);
  CHECK_EQ(same.domain_version, 3u);
  // Under another version it cannot work: the unwrapped CMK is not extractable.
  std::vector<uint8_t> reference4;
  REQUIRE_OK(root.CreateDomainKey(4, &reference4));
  WrappedKey moved;
  const HsmResult rewrap = root.RewrapKey(key, 4, &moved);
  CHECK_EQ(rewrap.status, Status::kInvalidState);
  CHECK(rewrap.detail != nullptr);
  CHECK(moved.blob.empty());

  // ...which is the token's rule, not only ours: the DK's own unwrap
  // template refuses an extractable copy even with CKA_WRAP_WITH_TRUSTED.
  Session session = RawSession(*hsm);
  CK_OBJECT_CLASS cls = CKO_SECRET_KEY;
  CK_KEY_TYPE type = CKK_AES;
  CK_BBOOL yes = CK_TRUE, no = CK_FALSE;
  CK_ATTRIBUTE extractable[] = {{CKA_CLASS, &cls, sizeof(cls)}, {CKA_KEY_TYPE, &type, sizeof(type)},
                                {CKA_TOKEN, &no, 1},           {CKA_SENSITIVE, &yes, 1},
                                {CKA_EXTRACTABLE, &yes, 1},    {CKA_COPYABLE, &no, 1},
                                {CKA_WRAP_WITH_TRUSTED, &yes, 1}};
  CK_OBJECT_HANDLE handle = CK_INVALID_HANDLE;
  CHECK_EQ(RawUnwrap(*hsm, session.handle(), key, extractable, 7, &handle),
           CKR_TEMPLATE_INCONSISTENT);
  // And a user cannot make a trusted wrapping key (only the SO can).
  CK_ULONG len = 32;
  CK_ATTRIBUTE trusted[] = {{CKA_CLASS, &cls, sizeof(cls)}, {CKA_KEY_TYPE, &type, sizeof(type)},
                            {CKA_VALUE_LEN, &len, sizeof(len)}, {CKA_TOKEN, &no, 1},
                            {CKA_WRAP, &yes, 1},               {CKA_TRUSTED, &yes, 1}};
  CK_MECHANISM gen{CKM_AES_KEY_GEN, nullptr, 0};
  CHECK_EQ(hsm->module()->p11()->C_GenerateKey(session.handle(), &gen, trusted, 6, &handle),
           CKR_ATTRIBUTE_READ_ONLY);
}
