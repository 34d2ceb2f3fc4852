// One blob format on both roots: the soft root's RFC 5649 wrap against a
// SoftHSM2 token's (CKM_AES_KEY_WRAP_PAD / _KWP, whichever Hsm picked) under
// the same KEK, byte for byte for an AES key, and private keys both ways: a
// soft PKCS#8 blob unwraps on the token and signs there; a token-wrapped
// private key unwraps and signs in the soft root's code; an HMAC key's blob
// gives the same MAC on the token, in the soft root and by OpenSSL's HMAC().
// Then one script of calls, good and bad, through RootOfTrust on both roots:
// the same statuses.
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "pkcs11/algorithms.h"
#include "pkcs11/hsm.h"
#include "pkcs11/public_key.h"
#include "pkcs11/session.h"
#include "pkcs11/spki.h"
#include "pkcs11_fixture.h"
#include "soft/aes_kwp.h"
#include "soft/private_key.h"
#include "soft/sealed_domain_key.h"
#include "soft/soft_root.h"
#include "test_support.h"

using hsmkms::core::SecureBytes;
using hsmkms::core::Status;
using hsmkms::soft::AesKwpUnwrap;
using hsmkms::soft::AesKwpWrap;
using hsmkms::soft::PrivateKey;
using namespace hsmkms::pkcs11;
using namespace hsmkms::test;

namespace {

CK_BBOOL kYes = CK_TRUE, kNo = CK_FALSE;

std::vector<uint8_t> Pattern(size_t len, uint8_t seed) {
  std::vector<uint8_t> out(len);
  for (size_t i = 0; i < len; ++i) out[i] = static_cast<uint8_t>(seed + i * 13);
  return out;
}

struct Token {
  std::shared_ptr<Hsm> hsm;
  Session session;
  CK_FUNCTION_LIST* p11 = nullptr;
  CK_MECHANISM kwp{};
};

Token OpenToken() {
  Token token;
  token.hsm = OpenHsm();
  token.p11 = token.hsm->module()->p11();
  REQUIRE_OK(Session::Open(token.p11, token.hsm->slot(), 0, &token.session));
  token.kwp = CK_MECHANISM{token.hsm->kwp_mechanism(), nullptr, 0};
  return token;
}

// An AES session key of known value: the KEK (wrap/unwrap) or a key to wrap.
CK_OBJECT_HANDLE CreateAesKey(Token& token, const std::vector<uint8_t>& value, bool kek) {
  CK_OBJECT_CLASS cls = CKO_SECRET_KEY;
  CK_KEY_TYPE type = CKK_AES;
  CK_ATTRIBUTE attrs[] = {
      {CKA_CLASS, &cls, sizeof(cls)},
      {CKA_KEY_TYPE, &type, sizeof(type)},
      {CKA_TOKEN, &kNo, 1},
      {CKA_VALUE, const_cast<uint8_t*>(value.data()), value.size()},
      {CKA_WRAP, kek ? &kYes : &kNo, 1},
      {CKA_UNWRAP, kek ? &kYes : &kNo, 1},
      {CKA_EXTRACTABLE, kek ? &kNo : &kYes, 1},
      {CKA_SENSITIVE, kek ? &kYes : &kNo, 1},
  };
  CK_OBJECT_HANDLE handle = CK_INVALID_HANDLE;
  REQUIRE_EQ(token.p11->C_CreateObject(token.session.handle(), attrs, 8, &handle), CKR_OK);
  return handle;
}

std::vector<uint8_t> TokenWrap(Token& token, CK_OBJECT_HANDLE kek, CK_OBJECT_HANDLE key) {
  CK_ULONG len = 0;
  REQUIRE_EQ(token.p11->C_WrapKey(token.session.handle(), &token.kwp, kek, key, nullptr, &len),
             CKR_OK);
  std::vector<uint8_t> blob(len);
  REQUIRE_EQ(token.p11->C_WrapKey(token.session.handle(), &token.kwp, kek, key, blob.data(), &len),
             CKR_OK);
  blob.resize(len);
  return blob;
}

}  // namespace

HSMKMS_TEST(AesKeyBlobsAreByteIdentical) {
  Token token = OpenToken();
  const std::vector<uint8_t> kek_value = Pattern(32, 1);
  const CK_OBJECT_HANDLE kek = CreateAesKey(token, kek_value, true);
  for (uint8_t seed : {uint8_t{2}, uint8_t{3}, uint8_t{4}}) {
    const std::vector<uint8_t> value = Pattern(32, seed);
    const CK_OBJECT_HANDLE key = CreateAesKey(token, value, false);
    const std::vector<uint8_t> from_token = TokenWrap(token, kek, key);
    std::vector<uint8_t> from_soft;
    REQUIRE_EQ(AesKwpWrap(kek_value.data(), kek_value.size(), value.data(), value.size(),
                          &from_soft),
               Status::kOk);
    CHECK_EQ(ToHex(from_soft), ToHex(from_token));
    CHECK_EQ(from_soft.size(), 40u);

    // And the soft blob unwraps on the token to the same value.
    CK_OBJECT_CLASS cls = CKO_SECRET_KEY;
    CK_KEY_TYPE type = CKK_AES;
    CK_ATTRIBUTE unwrap_template[] = {{CKA_CLASS, &cls, sizeof(cls)},
                                      {CKA_KEY_TYPE, &type, sizeof(type)},
                                      {CKA_TOKEN, &kNo, 1},
                                      {CKA_SENSITIVE, &kNo, 1},
                                      {CKA_EXTRACTABLE, &kYes, 1}};
    CK_OBJECT_HANDLE unwrapped = CK_INVALID_HANDLE;
    REQUIRE_EQ(token.p11->C_UnwrapKey(token.session.handle(), &token.kwp, kek, from_soft.data(),
                                      from_soft.size(), unwrap_template, 5, &unwrapped),
               CKR_OK);
    uint8_t read[32];
    CK_ATTRIBUTE attr{CKA_VALUE, read, sizeof(read)};
    REQUIRE_EQ(token.p11->C_GetAttributeValue(token.session.handle(), unwrapped, &attr, 1), CKR_OK);
    CHECK(std::vector<uint8_t>(read, read + 32) == value);
    token.p11->C_DestroyObject(token.session.handle(), unwrapped);
    token.p11->C_DestroyObject(token.session.handle(), key);
  }
  token.p11->C_DestroyObject(token.session.handle(), kek);
}

HSMKMS_TEST(SoftPrivateKeyBlobsUnwrapOnTheToken) {
  Token token = OpenToken();
  const std::vector<uint8_t> kek_value = Pattern(32, 9);
  const CK_OBJECT_HANDLE kek = CreateAesKey(token, kek_value, true);
  const std::vector<uint8_t> message = {'s', 'o', 'f', 't'};
  for (KeySpec spec : {KeySpec::kEccNistP256, KeySpec::kRsa2048}) {
    SecureBytes pkcs8;
    std::vector<uint8_t> spki, blob;
    REQUIRE_EQ(PrivateKey::Generate(spec, &pkcs8, &spki), Status::kOk);
    REQUIRE_EQ(AesKwpWrap(kek_value.data(), kek_value.size(), pkcs8.data(), pkcs8.size(), &blob),
               Status::kOk);
    CK_OBJECT_CLASS cls = CKO_PRIVATE_KEY;
    CK_KEY_TYPE type = IsRsa(spec) ? CKK_RSA : CKK_EC;
    CK_ATTRIBUTE unwrap_template[] = {{CKA_CLASS, &cls, sizeof(cls)},
                                      {CKA_KEY_TYPE, &type, sizeof(type)},
                                      {CKA_TOKEN, &kNo, 1},
                                      {CKA_SIGN, &kYes, 1}};
    CK_OBJECT_HANDLE key = CK_INVALID_HANDLE;
    REQUIRE_EQ(token.p11->C_UnwrapKey(token.session.handle(), &token.kwp, kek, blob.data(),
                                      blob.size(), unwrap_template, 4, &key),
               CKR_OK);
    // The token signs with it; the soft SPKI verifies.
    const SigningAlgorithm alg =
        IsRsa(spec) ? SigningAlgorithm::kRsaPkcs1Sha256 : SigningAlgorithm::kEcdsaSha256;
    uint8_t input[64];
    size_t prefix_len = 0, digest_len = 0;
    const uint8_t* prefix = DigestInfoPrefix(alg, &prefix_len);
    if (prefix_len > 0) std::memcpy(input, prefix, prefix_len);
    REQUIRE(HostDigest(SigningDigest(alg), message.data(), message.size(), input + prefix_len,
                       &digest_len));
    CK_MECHANISM mechanism{IsRsa(spec) ? CKM_RSA_PKCS : CKM_ECDSA, nullptr, 0};
    REQUIRE_EQ(token.p11->C_SignInit(token.session.handle(), &mechanism, key), CKR_OK);
    std::vector<uint8_t> raw(512);
    CK_ULONG raw_len = raw.size();
    REQUIRE_EQ(token.p11->C_Sign(token.session.handle(), input, prefix_len + digest_len,
                                 raw.data(), &raw_len),
               CKR_OK);
    raw.resize(raw_len);
    std::vector<uint8_t> sig = raw;
    if (!IsRsa(spec)) REQUIRE_EQ(EcdsaRawToDer(raw.data(), raw.size(), &sig), Status::kOk);
    std::unique_ptr<PublicKey> pub;
    REQUIRE_EQ(PublicKey::FromSpki(spki.data(), spki.size(), &pub), Status::kOk);
    bool valid = false;
    REQUIRE_EQ(pub->Verify(alg, MessageType::kRaw, message.data(), message.size(), sig.data(),
                           sig.size(), &valid),
               Status::kOk);
    CHECK(valid);
    token.p11->C_DestroyObject(token.session.handle(), key);
  }
  token.p11->C_DestroyObject(token.session.handle(), kek);
}

HSMKMS_TEST(TokenPrivateKeyBlobsLoadInTheSoftRoot) {
  Token token = OpenToken();
  const std::vector<uint8_t> kek_value = Pattern(32, 5);
  const CK_OBJECT_HANDLE kek = CreateAesKey(token, kek_value, true);
  // A P-384 pair made on the token, the private half extractable for wrapping.
  static constexpr uint8_t kP384Oid[] = {0x06, 0x05, 0x2b, 0x81, 0x04, 0x00, 0x22};
  CK_ATTRIBUTE public_template[] = {
      {CKA_TOKEN, &kNo, 1},
      {CKA_EC_PARAMS, const_cast<uint8_t*>(kP384Oid), sizeof(kP384Oid)},
      {CKA_VERIFY, &kYes, 1}};
  CK_ATTRIBUTE private_template[] = {{CKA_TOKEN, &kNo, 1},
                                     {CKA_SENSITIVE, &kYes, 1},
                                     {CKA_EXTRACTABLE, &kYes, 1},
                                     {CKA_SIGN, &kYes, 1}};
  CK_MECHANISM generate{CKM_EC_KEY_PAIR_GEN, nullptr, 0};
  CK_OBJECT_HANDLE pub_handle = CK_INVALID_HANDLE, priv_handle = CK_INVALID_HANDLE;
  REQUIRE_EQ(token.p11->C_GenerateKeyPair(token.session.handle(), &generate, public_template, 3,
                                          private_template, 4, &pub_handle, &priv_handle),
             CKR_OK);
  const std::vector<uint8_t> blob = TokenWrap(token, kek, priv_handle);
  std::vector<uint8_t> point(256);
  CK_ATTRIBUTE point_attr{CKA_EC_POINT, point.data(), point.size()};
  REQUIRE_EQ(token.p11->C_GetAttributeValue(token.session.handle(), pub_handle, &point_attr, 1),
             CKR_OK);
  point.resize(point_attr.ulValueLen);
  std::vector<uint8_t> spki;
  REQUIRE_EQ(EcSpki(KeySpec::kEccNistP384, point.data(), point.size(), &spki), Status::kOk);

  SecureBytes pkcs8;
  REQUIRE_EQ(AesKwpUnwrap(kek_value.data(), kek_value.size(), blob.data(), blob.size(), &pkcs8),
             Status::kOk);
  std::unique_ptr<PrivateKey> key;
  REQUIRE_EQ(PrivateKey::FromPkcs8(KeySpec::kEccNistP384, pkcs8.data(), pkcs8.size(), &key),
             Status::kOk);
  CHECK_EQ(PrivateKey::FromPkcs8(KeySpec::kEccNistP256, pkcs8.data(), pkcs8.size(), &key),
           Status::kInvalidCiphertext);
  REQUIRE_EQ(PrivateKey::FromPkcs8(KeySpec::kEccNistP384, pkcs8.data(), pkcs8.size(), &key),
             Status::kOk);
  const std::vector<uint8_t> message = {'t', 'o', 'k', 'e', 'n'};
  uint8_t digest[EVP_MAX_MD_SIZE];
  size_t digest_len = 0;
  REQUIRE(HostDigest(EVP_sha384(), message.data(), message.size(), digest, &digest_len));
  std::vector<uint8_t> sig;
  REQUIRE_EQ(key->SignDigest(SigningAlgorithm::kEcdsaSha384, digest, digest_len, &sig),
             Status::kOk);
  std::unique_ptr<PublicKey> pub;
  REQUIRE_EQ(PublicKey::FromSpki(spki.data(), spki.size(), &pub), Status::kOk);
  bool valid = false;
  REQUIRE_EQ(pub->Verify(SigningAlgorithm::kEcdsaSha384, MessageType::kRaw, message.data(),
                         message.size(), sig.data(), sig.size(), &valid),
             Status::kOk);
  CHECK(valid);
  token.p11->C_DestroyObject(token.session.handle(), priv_handle);
  token.p11->C_DestroyObject(token.session.handle(), pub_handle);
  token.p11->C_DestroyObject(token.session.handle(), kek);
}

// --- The same misuse, the same status ----------------------------------------------------

namespace {

std::shared_ptr<hsmkms::soft::SoftRoot> OpenSoft() {
  SecureBytes root_key(32);
  std::memset(root_key.data(), 0x42, root_key.size());
  std::shared_ptr<hsmkms::soft::SoftRoot> root;
  REQUIRE_OK(hsmkms::soft::SoftRoot::Open(std::move(root_key), 2, &root));
  return root;
}

// Runs one script of calls, good and bad, through the RootOfTrust interface
// and returns the status codes in order.
std::vector<std::string> Script(hsmkms::core::RootOfTrust& root) {
  std::vector<std::string> codes;
  auto note = [&](const HsmResult& result) { codes.push_back(StatusCode(result.status)); };
  const std::vector<uint8_t> aad = {'a', 'a', 'd'}, message = {'m', 's', 'g'};
  std::vector<uint8_t> reference, spki;
  note(root.CreateDomainKey(1, &reference));
  note(root.CreateDomainKey(1, &reference));
  note(root.OpenDomainKey(1, reference.data(), reference.size()));

  WrappedKey aes, rsa_enc, rsa_sign, ec, scratch;
  note(root.GenerateKey(KeySpec::kAes256, KeyUsage::kSignVerify, 1, &scratch, &spki));
  note(root.GenerateKey(KeySpec::kEccNistP256, KeyUsage::kEncryptDecrypt, 1, &scratch, &spki));
  note(root.GenerateKey(KeySpec::kAes256, KeyUsage::kEncryptDecrypt, 9, &scratch, &spki));
  note(root.GenerateKey(KeySpec::kAes256, KeyUsage::kEncryptDecrypt, 1, &aes, &spki));
  std::vector<uint8_t> rsa_spki, rsa_sign_spki, ec_spki;
  note(root.GenerateKey(KeySpec::kRsa2048, KeyUsage::kEncryptDecrypt, 1, &rsa_enc, &rsa_spki));
  note(root.GenerateKey(KeySpec::kRsa2048, KeyUsage::kSignVerify, 1, &rsa_sign, &rsa_sign_spki));
  note(root.GenerateKey(KeySpec::kEccNistP384, KeyUsage::kSignVerify, 1, &ec, &ec_spki));
  aes.id = "aes";
  rsa_enc.id = "rsa-enc";
  rsa_sign.id = "rsa-sign";
  ec.id = "ec";
  codes.push_back(std::to_string(aes.blob.size()));

  // AES-GCM.
  uint8_t iv[12] = {1, 2, 3};
  std::vector<uint8_t> ct(message.size() + 16), out(64);
  size_t len = 0;
  note(root.Encrypt(aes, iv, aad.data(), aad.size(), message.data(), message.size(), ct.data()));
  note(root.Decrypt(aes, iv, aad.data(), aad.size(), ct.data(), ct.size(), out.data(), out.size(),
                    &len));
  codes.push_back(std::to_string(len));
  note(root.Encrypt(aes, iv, nullptr, 0, message.data(), message.size(), ct.data()));
  note(root.Decrypt(aes, iv, nullptr, 0, ct.data(), ct.size(), out.data(), out.size(), &len));
  note(root.Encrypt(rsa_enc, iv, aad.data(), aad.size(), message.data(), message.size(),
                    ct.data()));
  note(root.Decrypt(aes, iv, aad.data(), aad.size(), ct.data(), 15, out.data(), out.size(), &len));
  note(root.Decrypt(aes, iv, aad.data(), aad.size(), ct.data(), ct.size(), out.data(), 2, &len));
  std::vector<uint8_t> bad_ct = ct;
  bad_ct[0] ^= 1;
  note(root.Decrypt(aes, iv, aad.data(), aad.size(), bad_ct.data(), bad_ct.size(), out.data(),
                    out.size(), &len));
  WrappedKey tampered = aes;
  tampered.id = "tampered";
  tampered.blob[5] ^= 1;
  note(root.Encrypt(tampered, iv, aad.data(), aad.size(), message.data(), message.size(),
                    ct.data()));
  tampered.blob.resize(12);
  note(root.Encrypt(tampered, iv, aad.data(), aad.size(), message.data(), message.size(),
                    ct.data()));
  WrappedKey orphan = aes;
  orphan.id = "orphan";
  orphan.domain_version = 42;
  note(root.Encrypt(orphan, iv, aad.data(), aad.size(), message.data(), message.size(),
                    ct.data()));

  // RSA-OAEP.
  std::unique_ptr<PublicKey> pub;
  REQUIRE_EQ(PublicKey::FromSpki(rsa_spki.data(), rsa_spki.size(), &pub), Status::kOk);
  std::vector<uint8_t> rsa_ct, rsa_out(256);
  REQUIRE_EQ(pub->EncryptOaep(OaepHash::kSha256, message.data(), message.size(), &rsa_ct),
             Status::kOk);
  note(root.RsaDecrypt(rsa_enc, OaepHash::kSha256, rsa_ct.data(), rsa_ct.size(), rsa_out.data(),
                       rsa_out.size(), &len));
  codes.push_back(std::to_string(len));
  note(root.RsaDecrypt(rsa_enc, OaepHash::kSha1, rsa_ct.data(), rsa_ct.size(), rsa_out.data(),
                       rsa_out.size(), &len));
  note(root.RsaDecrypt(rsa_enc, OaepHash::kSha256, rsa_ct.data(), 255, rsa_out.data(),
                       rsa_out.size(), &len));
  note(root.RsaDecrypt(rsa_sign, OaepHash::kSha256, rsa_ct.data(), rsa_ct.size(), rsa_out.data(),
                       rsa_out.size(), &len));
  rsa_ct[77] ^= 2;
  note(root.RsaDecrypt(rsa_enc, OaepHash::kSha256, rsa_ct.data(), rsa_ct.size(), rsa_out.data(),
                       rsa_out.size(), &len));

  // Signatures.
  std::vector<uint8_t> sig;
  note(root.Sign(rsa_sign, SigningAlgorithm::kRsaPssSha256, MessageType::kRaw, message.data(),
                 message.size(), &sig));
  codes.push_back(std::to_string(sig.size()));
  note(root.Sign(ec, SigningAlgorithm::kEcdsaSha384, MessageType::kRaw, message.data(),
                 message.size(), &sig));
  note(root.Sign(ec, SigningAlgorithm::kEcdsaSha256, MessageType::kRaw, message.data(),
                 message.size(), &sig));
  note(root.Sign(rsa_enc, SigningAlgorithm::kRsaPssSha256, MessageType::kRaw, message.data(),
                 message.size(), &sig));
  note(root.Sign(rsa_sign, SigningAlgorithm::kRsaPkcs1Sha512, MessageType::kDigest,
                 message.data(), message.size(), &sig));

  // HMAC.
  WrappedKey hmac;
  note(root.GenerateKey(KeySpec::kHmac224, KeyUsage::kSignVerify, 1, &scratch, &spki));
  note(root.GenerateKey(KeySpec::kAes256, KeyUsage::kGenerateVerifyMac, 1, &scratch, &spki));
  note(root.GenerateKey(KeySpec::kHmac384, KeyUsage::kGenerateVerifyMac, 1, &hmac, &spki));
  hmac.id = "hmac";
  codes.push_back(std::to_string(hmac.blob.size()));
  std::vector<uint8_t> mac;
  bool valid = false;
  note(root.GenerateMac(hmac, MacAlgorithm::kHmacSha384, message.data(), message.size(), &mac));
  codes.push_back(std::to_string(mac.size()));
  note(root.VerifyMac(hmac, MacAlgorithm::kHmacSha384, message.data(), message.size(), mac.data(),
                      mac.size(), &valid));
  codes.push_back(valid ? "valid" : "invalid");
  mac[0] ^= 1;
  note(root.VerifyMac(hmac, MacAlgorithm::kHmacSha384, message.data(), message.size(), mac.data(),
                      mac.size(), &valid));
  codes.push_back(valid ? "valid" : "invalid");
  note(root.GenerateMac(hmac, MacAlgorithm::kHmacSha512, message.data(), message.size(), &mac));
  note(root.GenerateMac(aes, MacAlgorithm::kHmacSha256, message.data(), message.size(), &mac));
  note(root.Encrypt(hmac, iv, aad.data(), aad.size(), message.data(), message.size(), ct.data()));
  note(root.Sign(hmac, SigningAlgorithm::kEcdsaSha384, MessageType::kRaw, message.data(),
                 message.size(), &sig));

  // Rotation to the domain key that already wraps the key: a copy on both.
  WrappedKey same;
  note(root.RewrapKey(aes, 1, &same));
  codes.push_back(same.blob == aes.blob ? "same blob" : "other blob");
  note(root.GenerateRandom(nullptr, 0));
  root.EvictKey("aes", 0);
  codes.push_back(std::to_string(root.stats().retries));
  return codes;
}

}  // namespace

HSMKMS_TEST(SameCallsGiveTheSameStatusesOnBothRoots) {
  std::shared_ptr<Hsm> hsm = OpenHsm();
  auto soft = OpenSoft();
  const std::vector<std::string> on_token = Script(*hsm);
  const std::vector<std::string> on_soft = Script(*soft);
  REQUIRE_EQ(on_token.size(), on_soft.size());
  for (size_t i = 0; i < on_token.size(); ++i) {
    if (on_token[i] != on_soft[i]) {
      RecordFailure(__FILE__, __LINE__,
                    "call " + std::to_string(i) + ": token " + on_token[i] + ", soft " +
                        on_soft[i]);
    }
  }
  CHECK_EQ(std::string(hsm->kind()), "pkcs11");
  CHECK_EQ(std::string(soft->kind()), "soft");
}

// The same HMAC material as a soft-root blob: unwrapped on the token under the
// same key-encryption key, MACed there (SoftHSM's HMAC), in the soft root
// (its domain key the same KEK) and by OpenSSL's HMAC() by hand: one MAC.
HSMKMS_TEST(HmacBlobsMacTheSameOnTheTokenAndInTheSoftRoot) {
  Token token = OpenToken();
  const std::vector<uint8_t> kek_value = Pattern(32, 7);
  const CK_OBJECT_HANDLE kek = CreateAesKey(token, kek_value, true);
  auto soft = OpenSoft();
  std::shared_ptr<hsmkms::core::AesGcmKey> root_key;
  const std::vector<uint8_t> root_bytes(32, 0x42);  // OpenSoft's root key
  REQUIRE_EQ(hsmkms::core::AesGcmKey::Import(root_bytes.data(), root_bytes.size(), &root_key),
             Status::kOk);
  SecureBytes domain_key(kek_value.size());
  std::memcpy(domain_key.data(), kek_value.data(), kek_value.size());
  std::vector<uint8_t> sealed;
  REQUIRE_EQ(hsmkms::soft::SealDomainKey(*root_key, 1, domain_key, &sealed), Status::kOk);
  REQUIRE_OK(soft->OpenDomainKey(1, sealed.data(), sealed.size()));

  const std::vector<uint8_t> message = {'b', 'l', 'i', 'n', 'd', ' ', 'i', 'n', 'd', 'e', 'x'};
  const struct {
    KeySpec spec;
    MacAlgorithm algorithm;
    CK_MECHANISM_TYPE mechanism;
  } cases[] = {{KeySpec::kHmac224, MacAlgorithm::kHmacSha224, CKM_SHA224_HMAC},
               {KeySpec::kHmac256, MacAlgorithm::kHmacSha256, CKM_SHA256_HMAC},
               {KeySpec::kHmac384, MacAlgorithm::kHmacSha384, CKM_SHA384_HMAC},
               {KeySpec::kHmac512, MacAlgorithm::kHmacSha512, CKM_SHA512_HMAC}};
  for (const auto& c : cases) {
    const std::vector<uint8_t> material = Pattern(KeyBits(c.spec) / 8, 3);
    WrappedKey key;
    key.id = KeySpecName(c.spec);
    key.version = 1;
    key.domain_version = 1;
    key.spec = c.spec;
    key.usage = KeyUsage::kGenerateVerifyMac;
    key.algorithm = WrapAlgorithm::kAesKwp;
    REQUIRE_EQ(AesKwpWrap(kek_value.data(), kek_value.size(), material.data(), material.size(),
                          &key.blob),
               Status::kOk);

    std::vector<uint8_t> from_soft;
    REQUIRE_OK(soft->GenerateMac(key, c.algorithm, message.data(), message.size(), &from_soft));

    CK_OBJECT_CLASS cls = CKO_SECRET_KEY;
    CK_KEY_TYPE type = CKK_GENERIC_SECRET;
    CK_ATTRIBUTE unwrap_template[] = {{CKA_CLASS, &cls, sizeof(cls)},
                                      {CKA_KEY_TYPE, &type, sizeof(type)},
                                      {CKA_TOKEN, &kNo, 1},
                                      {CKA_SIGN, &kYes, 1}};
    CK_OBJECT_HANDLE handle = CK_INVALID_HANDLE;
    REQUIRE_EQ(token.p11->C_UnwrapKey(token.session.handle(), &token.kwp, kek, key.blob.data(),
                                      key.blob.size(), unwrap_template, 4, &handle),
               CKR_OK);
    CK_MECHANISM mechanism{c.mechanism, nullptr, 0};
    REQUIRE_EQ(token.p11->C_SignInit(token.session.handle(), &mechanism, handle), CKR_OK);
    std::vector<uint8_t> from_token(64);
    CK_ULONG len = from_token.size();
    REQUIRE_EQ(token.p11->C_Sign(token.session.handle(), const_cast<uint8_t*>(message.data()),
                                 message.size(), from_token.data(), &len),
               CKR_OK);
    from_token.resize(len);

    std::vector<uint8_t> by_hand(EVP_MAX_MD_SIZE);
    unsigned int hand_len = 0;
    REQUIRE(HMAC(MacDigest(c.algorithm), material.data(), static_cast<int>(material.size()),
                 message.data(), message.size(), by_hand.data(), &hand_len) != nullptr);
    by_hand.resize(hand_len);
    CHECK(from_soft == by_hand);
    CHECK(from_token == by_hand);
    token.p11->C_DestroyObject(token.session.handle(), handle);
  }
  token.p11->C_DestroyObject(token.session.handle(), kek);
}
