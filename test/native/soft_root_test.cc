// The soft root of trust: domain keys sealed under the root key, CMK
// generation and RFC 5649 wrapping, AES-256-GCM, RSA-OAEP, RSA PSS / PKCS#1
// v1.5 and ECDSA signatures (verified with pkcs11::PublicKey, as Hsm's are),
// domain-key rotation, the key cache, the statuses Hsm gives for the same
// misuse, many threads on shared keys, and secure memory handed back.
// Some tests follow the documented formats by hand from the root key, so a
// blob or reference the key store keeps is checked byte for byte.
#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <cstring>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "pkcs11/algorithms.h"
#include "pkcs11/public_key.h"
#include "secure_memory.h"
#include "soft/aes_kwp.h"
#include "soft/sealed_domain_key.h"
#include "soft/soft_root.h"
#include "test_support.h"
#include "worker_pool.h"

using hsmkms::core::SecureBytes;
using hsmkms::core::Status;
using hsmkms::soft::SoftRoot;
using namespace hsmkms::pkcs11;
using namespace hsmkms::test;

namespace {

std::string Describe(const HsmResult& result) {
  std::string text = hsmkms::core::StatusCode(result.status);
  if (result.detail != nullptr) text += std::string(" (") + result.detail + ")";
  return text;
}

#define REQUIRE_OK(expr)                                                                    \
  do {                                                                                      \
    const HsmResult soft_result_ = (expr);                                                  \
    if (!soft_result_.ok()) {                                                               \
      RecordFailure(__FILE__, __LINE__, "REQUIRE_OK(" #expr "): " + Describe(soft_result_)); \
      throw FatalFailure{};                                                                 \
    }                                                                                       \
  } while (0)

std::vector<uint8_t> Bytes(const std::string& text) {
  return std::vector<uint8_t>(text.begin(), text.end());
}

const std::vector<uint8_t> kAad = Bytes("header||context");

std::vector<uint8_t> RootKeyBytes(uint8_t seed) {
  std::vector<uint8_t> key(32);
  for (size_t i = 0; i < key.size(); ++i) key[i] = static_cast<uint8_t>(seed * 17 + i * 29);
  return key;
}

SecureBytes RootKey(uint8_t seed) {
  const std::vector<uint8_t> bytes = RootKeyBytes(seed);
  SecureBytes key(bytes.size());
  std::memcpy(key.data(), bytes.data(), bytes.size());
  return key;
}

std::shared_ptr<SoftRoot> OpenRoot(uint8_t seed = 1,
                                   size_t cache = SoftRoot::kDefaultKeyCacheCapacity) {
  std::shared_ptr<SoftRoot> root;
  REQUIRE_OK(SoftRoot::Open(RootKey(seed), 2, &root, cache));
  REQUIRE(root != nullptr);
  return root;
}

void EnsureDomainKey(SoftRoot& root, uint32_t version, std::vector<uint8_t>* reference = nullptr) {
  std::vector<uint8_t> ref;
  const HsmResult result = root.CreateDomainKey(version, &ref);
  if (result.status == Status::kAlreadyExists) return;
  REQUIRE_OK(result);
  if (reference != nullptr) *reference = ref;
}

WrappedKey NewKey(SoftRoot& root, KeySpec spec, KeyUsage usage, const std::string& id,
                  std::vector<uint8_t>* spki = nullptr, uint32_t domain_version = 1) {
  EnsureDomainKey(root, domain_version);
  std::vector<uint8_t> public_der;
  WrappedKey key;
  REQUIRE_OK(root.GenerateKey(spec, usage, domain_version, &key, &public_der));
  key.id = id;
  key.version = 1;
  if (spki != nullptr) *spki = public_der;
  return key;
}

std::unique_ptr<PublicKey> Public(const std::vector<uint8_t>& spki) {
  std::unique_ptr<PublicKey> pub;
  REQUIRE_EQ(PublicKey::FromSpki(spki.data(), spki.size(), &pub), Status::kOk);
  return pub;
}

struct Sealed {
  uint8_t iv[SoftRoot::kGcmIvSize];
  std::vector<uint8_t> ct;
};

Sealed Seal(SoftRoot& root, const WrappedKey& key, const std::vector<uint8_t>& plaintext,
            const std::vector<uint8_t>& aad = kAad) {
  Sealed sealed;
  REQUIRE_OK(root.GenerateRandom(sealed.iv, sizeof(sealed.iv)));
  sealed.ct.resize(plaintext.size() + SoftRoot::kGcmTagSize);
  REQUIRE_OK(root.Encrypt(key, sealed.iv, aad.data(), aad.size(), plaintext.data(),
                          plaintext.size(), sealed.ct.data()));
  return sealed;
}

HsmResult Open(SoftRoot& root, const WrappedKey& key, const Sealed& sealed,
               std::vector<uint8_t>* out, const std::vector<uint8_t>& aad = kAad) {
  out->assign(sealed.ct.size(), 0xEE);
  size_t len = 0;
  HsmResult result = root.Decrypt(key, sealed.iv, aad.data(), aad.size(), sealed.ct.data(),
                                  sealed.ct.size(), out->data(), out->size(), &len);
  if (result.ok()) out->resize(len);
  return result;
}

bool AllEqual(const std::vector<uint8_t>& bytes, uint8_t value) {
  return std::all_of(bytes.begin(), bytes.end(), [&](uint8_t b) { return b == value; });
}

bool Verifies(const PublicKey& pub, SigningAlgorithm alg, MessageType type,
              const std::vector<uint8_t>& data, const std::vector<uint8_t>& sig) {
  bool valid = false;
  REQUIRE_EQ(pub.Verify(alg, type, data.data(), data.size(), sig.data(), sig.size(), &valid),
             Status::kOk);
  return valid;
}

// --- The documented formats, followed by hand from the root key --------------

struct CtxFree {
  void operator()(EVP_CIPHER_CTX* c) const { EVP_CIPHER_CTX_free(c); }
};

// sealed_domain_key.h: u8 1 | IV | ciphertext | tag, AAD = label | 1 | u32 BE version.
std::vector<uint8_t> UnsealByHand(const std::vector<uint8_t>& root_key, uint32_t version,
                                  const std::vector<uint8_t>& reference) {
  REQUIRE_EQ(reference.size(), 61u);
  REQUIRE_EQ(reference[0], 1);
  std::vector<uint8_t> aad = Bytes("hsmkms:soft:domain-key");
  aad.push_back(1);
  for (int shift = 24; shift >= 0; shift -= 8) {
    aad.push_back(static_cast<uint8_t>(version >> shift));
  }
  std::unique_ptr<EVP_CIPHER_CTX, CtxFree> ctx(EVP_CIPHER_CTX_new());
  std::vector<uint8_t> key(32);
  uint8_t tag[16];
  std::memcpy(tag, reference.data() + 45, 16);
  int len = 0;
  REQUIRE(EVP_DecryptInit_ex2(ctx.get(), EVP_aes_256_gcm(), root_key.data(), reference.data() + 1,
                              nullptr) == 1);
  REQUIRE(EVP_DecryptUpdate(ctx.get(), nullptr, &len, aad.data(), static_cast<int>(aad.size())) ==
          1);
  REQUIRE(EVP_DecryptUpdate(ctx.get(), key.data(), &len, reference.data() + 13, 32) == 1);
  REQUIRE(EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_SET_TAG, 16, tag) == 1);
  REQUIRE(EVP_DecryptFinal_ex(ctx.get(), key.data() + len, &len) == 1);
  return key;
}

std::vector<uint8_t> UnwrapByHand(const std::vector<uint8_t>& domain_key,
                                  const std::vector<uint8_t>& blob) {
  SecureBytes material;
  REQUIRE_EQ(hsmkms::soft::AesKwpUnwrap(domain_key.data(), domain_key.size(), blob.data(),
                                        blob.size(), &material),
             Status::kOk);
  return std::vector<uint8_t>(material.data(), material.data() + material.size());
}

std::vector<uint8_t> GcmByHand(const std::vector<uint8_t>& key, const uint8_t* iv,
                               const std::vector<uint8_t>& aad,
                               const std::vector<uint8_t>& plaintext) {
  std::unique_ptr<EVP_CIPHER_CTX, CtxFree> ctx(EVP_CIPHER_CTX_new());
  std::vector<uint8_t> out(plaintext.size() + 16);
  int len = 0;
  REQUIRE(EVP_EncryptInit_ex2(ctx.get(), EVP_aes_256_gcm(), key.data(), iv, nullptr) == 1);
  REQUIRE(EVP_EncryptUpdate(ctx.get(), nullptr, &len, aad.data(), static_cast<int>(aad.size())) ==
          1);
  REQUIRE(EVP_EncryptUpdate(ctx.get(), out.data(), &len, plaintext.data(),
                            static_cast<int>(plaintext.size())) == 1);
  REQUIRE(EVP_EncryptFinal_ex(ctx.get(), out.data() + len, &len) == 1);
  REQUIRE(EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_GET_TAG, 16,
                              out.data() + plaintext.size()) == 1);
  return out;
}

}  // namespace

// --- Opening ---------------------------------------------------------------------------

HSMKMS_TEST(OpenChecksTheRootKey) {
  auto root = OpenRoot();
  CHECK_EQ(std::string(root->kind()), "soft");
  const hsmkms::core::RootOfTrust& base = *root;
  CHECK_EQ(std::string(base.kind()), "soft");
  std::shared_ptr<SoftRoot> other;
  CHECK_EQ(SoftRoot::Open(SecureBytes(16), 1, &other).status, Status::kValidation);
  CHECK_EQ(SoftRoot::Open(SecureBytes(33), 1, &other).status, Status::kValidation);
  CHECK_EQ(SoftRoot::Open(SecureBytes(), 1, &other).status, Status::kValidation);
  CHECK(other == nullptr);
  CHECK(SoftRoot::Threads().size() >= 2);
  CHECK(&root->threads() == &SoftRoot::Threads());
  CHECK(&root->threads() != &hsmkms::core::WorkerPool::Shared());
  const hsmkms::core::RootStats stats = root->stats();
  CHECK_EQ(stats.cached_keys, 0u);
  CHECK_EQ(stats.retries, 0u);
  CHECK_EQ(stats.unwraps, 0u);
}

HSMKMS_TEST(GenerateRandom) {
  auto root = OpenRoot();
  for (size_t len : {size_t{1}, size_t{32}, size_t{44}, size_t{1024}}) {
    std::vector<uint8_t> a(len, 0), b(len, 0);
    REQUIRE_OK(root->GenerateRandom(a.data(), len));
    REQUIRE_OK(root->GenerateRandom(b.data(), len));
    if (len >= 32) CHECK(a != b);
  }
  CHECK(root->GenerateRandom(nullptr, 0).ok());
}

// --- Domain keys -------------------------------------------------------------------------

HSMKMS_TEST(DomainKeyReferenceFormat) {
  auto root = OpenRoot(3);
  std::vector<uint8_t> reference;
  REQUIRE_OK(root->CreateDomainKey(7, &reference));
  CHECK_EQ(reference.size(), hsmkms::soft::kSealedDomainKeySize);
  CHECK_EQ(reference.size(), 61u);
  CHECK_EQ(reference[0], hsmkms::soft::kSealFormat);
  // The documented layout opens by hand with the root key, and the domain
  // key inside wraps what the root wraps.
  const std::vector<uint8_t> domain_key = UnsealByHand(RootKeyBytes(3), 7, reference);
  const WrappedKey key =
      NewKey(*root, KeySpec::kAes256, KeyUsage::kEncryptDecrypt, "cmk", nullptr, 7);
  CHECK_EQ(key.blob.size(), 40u);  // RFC 5649 of 32 bytes, as on a token
  const std::vector<uint8_t> cmk = UnwrapByHand(domain_key, key.blob);
  CHECK_EQ(cmk.size(), 32u);
  // And the CMK is what encrypts: AES-256-GCM with the caller's IV.
  const std::vector<uint8_t> plaintext = Bytes("a data key, 32 bytes long......!");
  const Sealed sealed = Seal(*root, key, plaintext);
  CHECK(sealed.ct == GcmByHand(cmk, sealed.iv, kAad, plaintext));
  // Two domain keys never share bytes or IVs.
  std::vector<uint8_t> second;
  REQUIRE_OK(root->CreateDomainKey(8, &second));
  CHECK(std::memcmp(second.data() + 1, reference.data() + 1, 12) != 0);
  CHECK(UnsealByHand(RootKeyBytes(3), 8, second) != domain_key);
}

HSMKMS_TEST(DomainKeyVersionsAreUnique) {
  auto root = OpenRoot();
  std::vector<uint8_t> reference, again;
  REQUIRE_OK(root->CreateDomainKey(1, &reference));
  const HsmResult twice = root->CreateDomainKey(1, &again);
  CHECK_EQ(twice.status, Status::kAlreadyExists);
  CHECK(again.empty());
  // Opened (not created) versions count too.
  auto other = OpenRoot();
  REQUIRE_OK(other->OpenDomainKey(1, reference.data(), reference.size()));
  CHECK_EQ(other->CreateDomainKey(1, &again).status, Status::kAlreadyExists);
  CHECK_EQ(root->CreateDomainKey(1, nullptr).status, Status::kValidation);
}

HSMKMS_TEST(OpenDomainKeyIsIdempotentAndRefusesAConflict) {
  auto a = OpenRoot(), b = OpenRoot();
  std::vector<uint8_t> ref_a, ref_b;
  REQUIRE_OK(a->CreateDomainKey(1, &ref_a));
  REQUIRE_OK(a->OpenDomainKey(1, ref_a.data(), ref_a.size()));  // the same key: Ok
  REQUIRE_OK(a->OpenDomainKey(1, ref_a.data(), ref_a.size()));
  // Another root with the same root key made another version-1 key.
  REQUIRE_OK(b->CreateDomainKey(1, &ref_b));
  const HsmResult conflict = a->OpenDomainKey(1, ref_b.data(), ref_b.size());
  CHECK_EQ(conflict.status, Status::kInvalidState);
  // The key already open stays in use.
  const WrappedKey key = NewKey(*a, KeySpec::kAes256, KeyUsage::kEncryptDecrypt, "k");
  std::vector<uint8_t> out;
  REQUIRE_OK(Open(*a, key, Seal(*a, key, Bytes("still works")), &out));
}

HSMKMS_TEST(SealedDomainKeyFailuresAreInvalidCiphertext) {
  auto root = OpenRoot(1);
  std::vector<uint8_t> reference;
  REQUIRE_OK(root->CreateDomainKey(1, &reference));

  auto fresh = [] { return OpenRoot(1); };
  auto open = [&](SoftRoot& r, uint32_t version, const std::vector<uint8_t>& ref) {
    return r.OpenDomainKey(version, ref.data(), ref.size()).status;
  };
  // The right root key opens it.
  CHECK_EQ(open(*fresh(), 1, reference), Status::kOk);
  // A wrong root key does not.
  auto wrong_root = OpenRoot(2);
  const HsmResult wrong = wrong_root->OpenDomainKey(1, reference.data(), reference.size());
  CHECK_EQ(wrong.status, Status::kInvalidCiphertext);
  CHECK(wrong.fn == nullptr);
  CHECK_EQ(wrong.rv, CKR_OK);
  // Nor as another version (the version is authenticated).
  CHECK_EQ(open(*fresh(), 2, reference), Status::kInvalidCiphertext);
  // Every bit of it matters.
  auto target = fresh();
  for (size_t i = 0; i < reference.size(); ++i) {
    std::vector<uint8_t> bad = reference;
    bad[i] ^= static_cast<uint8_t>(1u << (i % 8));
    CHECK_EQ(open(*target, 1, bad), Status::kInvalidCiphertext);
  }
  for (size_t len : {size_t{0}, size_t{1}, size_t{60}, size_t{62}}) {
    std::vector<uint8_t> bad = reference;
    bad.resize(len, 0);
    CHECK_EQ(open(*target, 1, bad), Status::kInvalidCiphertext);
  }
  CHECK_EQ(target->OpenDomainKey(1, nullptr, 61).status, Status::kInvalidCiphertext);
  // Nothing was opened by the failures.
  WrappedKey key;
  std::vector<uint8_t> spki;
  CHECK_EQ(target->GenerateKey(KeySpec::kAes256, KeyUsage::kEncryptDecrypt, 1, &key, &spki).status,
           Status::kNotFound);
  CHECK(ERR_peek_error() == 0);
}

HSMKMS_TEST(KeysOutliveTheRootThatMadeThem) {
  // What the key store keeps (reference, blob) opens in a later process.
  std::vector<uint8_t> reference, spki;
  WrappedKey aes, rsa;
  Sealed sealed;
  std::vector<uint8_t> signature;
  const std::vector<uint8_t> message = Bytes("signed before the restart");
  {
    auto root = OpenRoot(9);
    REQUIRE_OK(root->CreateDomainKey(4, &reference));
    aes = NewKey(*root, KeySpec::kAes256, KeyUsage::kEncryptDecrypt, "aes", nullptr, 4);
    rsa = NewKey(*root, KeySpec::kRsa2048, KeyUsage::kSignVerify, "rsa", &spki, 4);
    sealed = Seal(*root, aes, Bytes("persisted"));
  }
  auto later = OpenRoot(9);
  std::vector<uint8_t> out;
  CHECK_EQ(Open(*later, aes, sealed, &out).status, Status::kNotFound);  // domain key not open yet
  REQUIRE_OK(later->OpenDomainKey(4, reference.data(), reference.size()));
  REQUIRE_OK(Open(*later, aes, sealed, &out));
  CHECK(out == Bytes("persisted"));
  REQUIRE_OK(later->Sign(rsa, SigningAlgorithm::kRsaPssSha256, MessageType::kRaw, message.data(),
                         message.size(), &signature));
  CHECK(Verifies(*Public(spki), SigningAlgorithm::kRsaPssSha256, MessageType::kRaw, message,
                 signature));
}

// --- Key generation ----------------------------------------------------------------------

HSMKMS_TEST(GenerateKeyChecksSpecAndUsage) {
  auto root = OpenRoot();
  EnsureDomainKey(*root, 1);
  WrappedKey key;
  std::vector<uint8_t> spki = Bytes("untouched");
  CHECK_EQ(root->GenerateKey(KeySpec::kAes256, KeyUsage::kSignVerify, 1, &key, &spki).status,
           Status::kInvalidKeyUsage);
  CHECK_EQ(root->GenerateKey(KeySpec::kEccNistP256, KeyUsage::kEncryptDecrypt, 1, &key, &spki)
               .status,
           Status::kInvalidKeyUsage);
  CHECK_EQ(root->GenerateKey(KeySpec::kEccNistP384, KeyUsage::kEncryptDecrypt, 1, &key, &spki)
               .status,
           Status::kInvalidKeyUsage);
  CHECK_EQ(root->GenerateKey(static_cast<KeySpec>(99), KeyUsage::kSignVerify, 1, &key, &spki)
               .status,
           Status::kValidation);
  CHECK_EQ(root->GenerateKey(KeySpec::kRsa2048, static_cast<KeyUsage>(7), 1, &key, &spki).status,
           Status::kValidation);
  CHECK_EQ(root->GenerateKey(KeySpec::kRsa2048, KeyUsage::kSignVerify, 1, &key, nullptr).status,
           Status::kValidation);
  CHECK_EQ(root->GenerateKey(KeySpec::kAes256, KeyUsage::kEncryptDecrypt, 42, &key, &spki).status,
           Status::kNotFound);
  CHECK(spki == Bytes("untouched"));

  // AES: fields filled as Hsm fills them; the SPKI is not touched (and may be null).
  REQUIRE_OK(root->GenerateKey(KeySpec::kAes256, KeyUsage::kEncryptDecrypt, 1, &key, &spki));
  CHECK(key.spec == KeySpec::kAes256);
  CHECK(key.usage == KeyUsage::kEncryptDecrypt);
  CHECK(key.algorithm == WrapAlgorithm::kAesKwp);
  CHECK_EQ(key.domain_version, 1u);
  CHECK_EQ(key.blob.size(), 40u);
  CHECK(spki == Bytes("untouched"));
  WrappedKey other;
  REQUIRE_OK(root->GenerateKey(KeySpec::kAes256, KeyUsage::kEncryptDecrypt, 1, &other, nullptr));
  CHECK(other.blob != key.blob);

  // RSA takes either usage.
  REQUIRE_OK(root->GenerateKey(KeySpec::kRsa2048, KeyUsage::kEncryptDecrypt, 1, &key, &spki));
  CHECK(key.spec == KeySpec::kRsa2048);
  CHECK(key.usage == KeyUsage::kEncryptDecrypt);
  CHECK(key.blob.size() > 1100);  // PKCS#8 inside RFC 5649
  CHECK(Public(spki)->spec() == KeySpec::kRsa2048);
  CHECK_EQ(root->stats().unwraps, 0u);  // generation does not fill the cache
}

HSMKMS_TEST(PrivateKeyBlobsArePkcs8OfTheSpkiKey) {
  auto root = OpenRoot(5);
  std::vector<uint8_t> reference;
  REQUIRE_OK(root->CreateDomainKey(1, &reference));
  const std::vector<uint8_t> domain_key = UnsealByHand(RootKeyBytes(5), 1, reference);
  const struct {
    KeySpec spec;
    KeyUsage usage;
  } cases[] = {{KeySpec::kRsa2048, KeyUsage::kSignVerify},
               {KeySpec::kEccNistP256, KeyUsage::kSignVerify},
               {KeySpec::kEccNistP384, KeyUsage::kSignVerify}};
  for (const auto& c : cases) {
    std::vector<uint8_t> spki;
    const WrappedKey key = NewKey(*root, c.spec, c.usage, KeySpecName(c.spec), &spki);
    const std::vector<uint8_t> der = UnwrapByHand(domain_key, key.blob);
    const unsigned char* p = der.data();
    PKCS8_PRIV_KEY_INFO* info = d2i_PKCS8_PRIV_KEY_INFO(nullptr, &p, static_cast<long>(der.size()));
    REQUIRE(info != nullptr);
    CHECK(p == der.data() + der.size());
    EVP_PKEY* priv = EVP_PKCS82PKEY(info);
    PKCS8_PRIV_KEY_INFO_free(info);
    REQUIRE(priv != nullptr);
    p = spki.data();
    EVP_PKEY* pub = d2i_PUBKEY(nullptr, &p, static_cast<long>(spki.size()));
    REQUIRE(pub != nullptr);
    CHECK_EQ(EVP_PKEY_eq(priv, pub), 1);  // the blob holds the SPKI's private half
    CHECK_EQ(static_cast<size_t>(EVP_PKEY_get_bits(priv)), KeyBits(c.spec));
    EVP_PKEY_free(priv);
    EVP_PKEY_free(pub);
    CHECK(Public(spki)->spec() == c.spec);
  }
}

// --- AES-256-GCM -------------------------------------------------------------------------

HSMKMS_TEST(GcmRoundTrip) {
  auto root = OpenRoot();
  const WrappedKey key = NewKey(*root, KeySpec::kAes256, KeyUsage::kEncryptDecrypt, "gcm");
  for (size_t len : {size_t{0}, size_t{1}, size_t{32}, size_t{4096}}) {
    std::vector<uint8_t> plaintext(len);
    for (size_t i = 0; i < len; ++i) plaintext[i] = static_cast<uint8_t>(i * 7);
    const Sealed sealed = Seal(*root, key, plaintext);
    CHECK_EQ(sealed.ct.size(), len + 16);
    std::vector<uint8_t> out;
    REQUIRE_OK(Open(*root, key, sealed, &out));
    CHECK(out == plaintext);
  }
  // Soft keeps the caller's IV (as SoftHSM does): same IV, same output.
  const std::vector<uint8_t> plaintext = Bytes("a data key, 32 bytes long......!");
  const Sealed a = Seal(*root, key, plaintext);
  Sealed b;
  std::memcpy(b.iv, a.iv, sizeof(a.iv));
  b.ct.resize(a.ct.size());
  REQUIRE_OK(root->Encrypt(key, b.iv, kAad.data(), kAad.size(), plaintext.data(),
                           plaintext.size(), b.ct.data()));
  CHECK(std::memcmp(a.iv, b.iv, sizeof(a.iv)) == 0);
  CHECK(a.ct == b.ct);
  // Another key gives other output and does not open this one's.
  const WrappedKey other = NewKey(*root, KeySpec::kAes256, KeyUsage::kEncryptDecrypt, "gcm-2");
  Sealed c;
  std::memcpy(c.iv, a.iv, sizeof(a.iv));
  c.ct.resize(a.ct.size());
  REQUIRE_OK(root->Encrypt(other, c.iv, kAad.data(), kAad.size(), plaintext.data(),
                           plaintext.size(), c.ct.data()));
  CHECK(c.ct != a.ct);
  std::vector<uint8_t> out;
  CHECK_EQ(Open(*root, other, a, &out).status, Status::kInvalidCiphertext);
  CHECK_EQ(root->stats().unwraps, 2u);  // one per key, then cached
  CHECK_EQ(root->stats().cached_keys, 2u);
}

HSMKMS_TEST(GcmTamperingIsInvalidCiphertext) {
  auto root = OpenRoot();
  const WrappedKey key = NewKey(*root, KeySpec::kAes256, KeyUsage::kEncryptDecrypt, "gcm");
  const Sealed good = Seal(*root, key, Bytes("secret data key material"));
  std::vector<uint8_t> out;
  auto expect_invalid = [&](const Sealed& sealed, const std::vector<uint8_t>& aad) {
    const HsmResult result = Open(*root, key, sealed, &out, aad);
    CHECK_EQ(result.status, Status::kInvalidCiphertext);
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
  bad.ct.resize(15);  // shorter than the tag
  out.assign(15, 0);
  size_t len = 0;
  CHECK_EQ(root->Decrypt(key, bad.iv, kAad.data(), kAad.size(), bad.ct.data(), bad.ct.size(),
                         out.data(), out.size(), &len)
               .status,
           Status::kInvalidCiphertext);
  bad.ct.resize(16);  // tag only, wrong
  expect_invalid(bad, kAad);
  REQUIRE_OK(Open(*root, key, good, &out));
  CHECK(out == Bytes("secret data key material"));
  CHECK(ERR_peek_error() == 0);
}

HSMKMS_TEST(GcmDecryptIntoExactBuffer) {
  auto root = OpenRoot();
  const WrappedKey key = NewKey(*root, KeySpec::kAes256, KeyUsage::kEncryptDecrypt, "gcm");
  const std::vector<uint8_t> plaintext = Bytes("exactly sized output buffer");
  const Sealed sealed = Seal(*root, key, plaintext);
  std::vector<uint8_t> out(plaintext.size());
  size_t len = 0;
  REQUIRE_OK(root->Decrypt(key, sealed.iv, kAad.data(), kAad.size(), sealed.ct.data(),
                           sealed.ct.size(), out.data(), out.size(), &len));
  CHECK_EQ(len, plaintext.size());
  CHECK(out == plaintext);
  CHECK_EQ(root->Decrypt(key, sealed.iv, kAad.data(), kAad.size(), sealed.ct.data(),
                         sealed.ct.size(), out.data(), out.size() - 1, &len)
               .status,
           Status::kValidation);
}

HSMKMS_TEST(GcmRefusesEmptyAadAndOtherKeysAsHsmDoes) {
  auto root = OpenRoot();
  const WrappedKey key = NewKey(*root, KeySpec::kAes256, KeyUsage::kEncryptDecrypt, "gcm");
  uint8_t iv[12] = {0}, out[64];
  const uint8_t data[16] = {0};
  CHECK_EQ(root->Encrypt(key, iv, nullptr, 0, data, sizeof(data), out).status,
           Status::kValidation);
  size_t len = 0;
  CHECK_EQ(root->Decrypt(key, iv, nullptr, 0, data, sizeof(data), out, sizeof(out), &len).status,
           Status::kValidation);
  WrappedKey rsa = key;
  rsa.spec = KeySpec::kRsa2048;
  CHECK_EQ(root->Encrypt(rsa, iv, kAad.data(), kAad.size(), data, sizeof(data), out).status,
           Status::kInvalidKeyUsage);
  WrappedKey signing = key;
  signing.usage = KeyUsage::kSignVerify;
  CHECK_EQ(root->Decrypt(signing, iv, kAad.data(), kAad.size(), data, sizeof(data), out,
                         sizeof(out), &len)
               .status,
           Status::kInvalidKeyUsage);
  CHECK_EQ(root->stats().unwraps, 0u);  // refused before any unwrap
}

HSMKMS_TEST(TamperedWrappedKeyIsInvalidCiphertext) {
  auto root = OpenRoot();
  uint8_t iv[12] = {0}, out[64];
  const uint8_t data[16] = {0};
  auto encrypt = [&](const WrappedKey& key) {
    return root->Encrypt(key, iv, kAad.data(), kAad.size(), data, sizeof(data), out);
  };
  WrappedKey key = NewKey(*root, KeySpec::kAes256, KeyUsage::kEncryptDecrypt, "t");
  key.blob[5] ^= 1;
  const HsmResult tampered = encrypt(key);
  CHECK_EQ(tampered.status, Status::kInvalidCiphertext);
  CHECK(tampered.fn == nullptr);
  key.blob.resize(12);
  CHECK_EQ(encrypt(key).status, Status::kInvalidCiphertext);
  key.blob.clear();
  CHECK_EQ(encrypt(key).status, Status::kInvalidCiphertext);
  WrappedKey missing_dk = NewKey(*root, KeySpec::kAes256, KeyUsage::kEncryptDecrypt, "u");
  missing_dk.domain_version = 42;
  CHECK_EQ(encrypt(missing_dk).status, Status::kNotFound);
  // Material of another spec than the key store says: refused, not used.
  std::vector<uint8_t> spki;
  WrappedKey ec = NewKey(*root, KeySpec::kEccNistP256, KeyUsage::kSignVerify, "ec", &spki);
  WrappedKey claims_rsa = ec;
  claims_rsa.id = "claims-rsa";
  claims_rsa.spec = KeySpec::kRsa2048;
  std::vector<uint8_t> signature;
  const std::vector<uint8_t> message = Bytes("m");
  CHECK_EQ(root->Sign(claims_rsa, SigningAlgorithm::kRsaPssSha256, MessageType::kRaw,
                      message.data(), message.size(), &signature)
               .status,
           Status::kInvalidCiphertext);
  WrappedKey claims_p384 = ec;
  claims_p384.id = "claims-p384";
  claims_p384.spec = KeySpec::kEccNistP384;
  CHECK_EQ(root->Sign(claims_p384, SigningAlgorithm::kEcdsaSha384, MessageType::kRaw,
                      message.data(), message.size(), &signature)
               .status,
           Status::kInvalidCiphertext);
  WrappedKey claims_aes = ec;  // a PKCS#8 blob is no 32-byte AES key
  claims_aes.id = "claims-aes";
  claims_aes.spec = KeySpec::kAes256;
  claims_aes.usage = KeyUsage::kEncryptDecrypt;
  CHECK_EQ(encrypt(claims_aes).status, Status::kInvalidCiphertext);
  CHECK_EQ(root->stats().cached_keys, 0u);
  CHECK(ERR_peek_error() == 0);
}

// --- RSA-OAEP ----------------------------------------------------------------------------

HSMKMS_TEST(RsaOaepDecryption) {
  auto root = OpenRoot();
  std::vector<uint8_t> spki;
  const WrappedKey key =
      NewKey(*root, KeySpec::kRsa2048, KeyUsage::kEncryptDecrypt, "rsa", &spki);
  auto pub = Public(spki);
  CHECK(pub->spec() == KeySpec::kRsa2048);
  const std::vector<uint8_t> message = Bytes("a 32-byte data key for RSA OAEP!");
  for (OaepHash hash : {OaepHash::kSha1, OaepHash::kSha256}) {
    std::vector<uint8_t> ct;
    REQUIRE_EQ(pub->EncryptOaep(hash, message.data(), message.size(), &ct), Status::kOk);
    CHECK_EQ(ct.size(), 256u);
    std::vector<uint8_t> out(256);
    size_t len = 0;
    REQUIRE_OK(root->RsaDecrypt(key, hash, ct.data(), ct.size(), out.data(), out.size(), &len));
    out.resize(len);
    CHECK(out == message);
    // Exactly sized output works; one byte less is the same failure as bad padding.
    out.assign(message.size(), 0);
    REQUIRE_OK(root->RsaDecrypt(key, hash, ct.data(), ct.size(), out.data(), out.size(), &len));
    CHECK(out == message);
    out.assign(message.size() - 1, 0xAA);
    CHECK_EQ(root->RsaDecrypt(key, hash, ct.data(), ct.size(), out.data(), out.size(), &len)
                 .status,
             Status::kInvalidCiphertext);
    CHECK(AllEqual(out, 0));
    // Tampered: invalid, output wiped.
    ct[100] ^= 4;
    out.assign(256, 0xAA);
    const HsmResult bad =
        root->RsaDecrypt(key, hash, ct.data(), ct.size(), out.data(), out.size(), &len);
    CHECK_EQ(bad.status, Status::kInvalidCiphertext);
    CHECK(AllEqual(out, 0));
    // Wrong hash: the same status.
    ct[100] ^= 4;
    const OaepHash other = hash == OaepHash::kSha1 ? OaepHash::kSha256 : OaepHash::kSha1;
    CHECK_EQ(root->RsaDecrypt(key, other, ct.data(), ct.size(), out.data(), out.size(), &len)
                 .status,
             Status::kInvalidCiphertext);
    // The longest message and the empty one.
    const size_t longest = 256 - 2 * static_cast<size_t>(EVP_MD_get_size(OaepDigest(hash))) - 2;
    for (size_t n : {longest, size_t{0}}) {
      std::vector<uint8_t> m(n, 0x5A);
      REQUIRE_EQ(pub->EncryptOaep(hash, m.data(), m.size(), &ct), Status::kOk);
      out.assign(256, 0);
      REQUIRE_OK(root->RsaDecrypt(key, hash, ct.data(), ct.size(), out.data(), out.size(), &len));
      CHECK_EQ(len, n);
      CHECK(std::equal(m.begin(), m.end(), out.begin()));
    }
  }
  // Not modulus-sized, or not below the modulus: invalid.
  std::vector<uint8_t> out(256);
  size_t len = 0;
  std::vector<uint8_t> short_ct(255, 1), big(256, 0xFF);
  CHECK_EQ(root->RsaDecrypt(key, OaepHash::kSha1, short_ct.data(), short_ct.size(), out.data(),
                            out.size(), &len)
               .status,
           Status::kInvalidCiphertext);
  CHECK_EQ(root->RsaDecrypt(key, OaepHash::kSha256, big.data(), big.size(), out.data(),
                            out.size(), &len)
               .status,
           Status::kInvalidCiphertext);
  // A decryption key does not sign.
  std::vector<uint8_t> sig;
  CHECK_EQ(root->Sign(key, SigningAlgorithm::kRsaPssSha256, MessageType::kRaw, message.data(),
                      message.size(), &sig)
               .status,
           Status::kInvalidKeyUsage);
  CHECK(ERR_peek_error() == 0);
}

// --- Signatures --------------------------------------------------------------------------

HSMKMS_TEST(RsaSignatures) {
  auto root = OpenRoot();
  std::vector<uint8_t> spki;
  const WrappedKey key = NewKey(*root, KeySpec::kRsa2048, KeyUsage::kSignVerify, "rsa-s", &spki);
  auto pub = Public(spki);
  const std::vector<uint8_t> message = Bytes("sign this message");
  for (SigningAlgorithm alg :
       {SigningAlgorithm::kRsaPssSha256, SigningAlgorithm::kRsaPssSha384,
        SigningAlgorithm::kRsaPssSha512, SigningAlgorithm::kRsaPkcs1Sha256,
        SigningAlgorithm::kRsaPkcs1Sha384, SigningAlgorithm::kRsaPkcs1Sha512}) {
    std::vector<uint8_t> sig;
    REQUIRE_OK(root->Sign(key, alg, MessageType::kRaw, message.data(), message.size(), &sig));
    CHECK_EQ(sig.size(), 256u);
    CHECK(Verifies(*pub, alg, MessageType::kRaw, message, sig));
    uint8_t digest[EVP_MAX_MD_SIZE];
    size_t digest_len = 0;
    REQUIRE(HostDigest(SigningDigest(alg), message.data(), message.size(), digest, &digest_len));
    const std::vector<uint8_t> digest_bytes(digest, digest + digest_len);
    std::vector<uint8_t> sig2;
    REQUIRE_OK(root->Sign(key, alg, MessageType::kDigest, digest, digest_len, &sig2));
    CHECK(Verifies(*pub, alg, MessageType::kDigest, digest_bytes, sig2));
    CHECK(Verifies(*pub, alg, MessageType::kRaw, message, sig2));
    if (IsPkcs1(alg)) CHECK(sig == sig2);  // deterministic
    if (IsPss(alg)) CHECK(sig != sig2);    // salted
    sig[10] ^= 1;
    CHECK(!Verifies(*pub, alg, MessageType::kRaw, message, sig));
    CHECK_EQ(root->Sign(key, alg, MessageType::kDigest, digest, digest_len - 1, &sig2).status,
             Status::kValidation);
  }
  // PSS with salt = digest length (AWS KMS): a verifier that insists on it agrees.
  std::vector<uint8_t> sig;
  REQUIRE_OK(root->Sign(key, SigningAlgorithm::kRsaPssSha384, MessageType::kRaw, message.data(),
                        message.size(), &sig));
  {
    const unsigned char* p = spki.data();
    EVP_PKEY* pkey = d2i_PUBKEY(nullptr, &p, static_cast<long>(spki.size()));
    REQUIRE(pkey != nullptr);
    EVP_MD_CTX* md_ctx = EVP_MD_CTX_new();
    EVP_PKEY_CTX* pctx = nullptr;
    REQUIRE(EVP_DigestVerifyInit(md_ctx, &pctx, EVP_sha384(), nullptr, pkey) == 1);
    REQUIRE(EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PSS_PADDING) == 1);
    REQUIRE(EVP_PKEY_CTX_set_rsa_pss_saltlen(pctx, 48) == 1);
    CHECK_EQ(EVP_DigestVerify(md_ctx, sig.data(), sig.size(), message.data(), message.size()), 1);
    EVP_MD_CTX_free(md_ctx);
    EVP_PKEY_free(pkey);
  }
  CHECK_EQ(root->Sign(key, SigningAlgorithm::kEcdsaSha256, MessageType::kRaw, message.data(),
                      message.size(), &sig)
               .status,
           Status::kInvalidKeyUsage);
  std::vector<uint8_t> out(256);
  size_t len = 0;
  CHECK_EQ(root->RsaDecrypt(key, OaepHash::kSha1, out.data(), out.size(), out.data(), out.size(),
                            &len)
               .status,
           Status::kInvalidKeyUsage);
  CHECK(ERR_peek_error() == 0);
}

HSMKMS_TEST(Rsa3072And4096) {
  // Key generation dominates (4096 bits: seconds): one key per size.
  auto root = OpenRoot();
  const std::vector<uint8_t> message = Bytes("bigger keys");
  std::vector<uint8_t> spki;
  const WrappedKey signer =
      NewKey(*root, KeySpec::kRsa4096, KeyUsage::kSignVerify, "rsa4096", &spki);
  auto pub = Public(spki);
  CHECK(pub->spec() == KeySpec::kRsa4096);
  std::vector<uint8_t> sig;
  REQUIRE_OK(root->Sign(signer, SigningAlgorithm::kRsaPssSha384, MessageType::kRaw,
                        message.data(), message.size(), &sig));
  CHECK_EQ(sig.size(), 512u);
  CHECK(Verifies(*pub, SigningAlgorithm::kRsaPssSha384, MessageType::kRaw, message, sig));

  const WrappedKey decrypter =
      NewKey(*root, KeySpec::kRsa3072, KeyUsage::kEncryptDecrypt, "rsa3072", &spki);
  pub = Public(spki);
  CHECK(pub->spec() == KeySpec::kRsa3072);
  for (OaepHash hash : {OaepHash::kSha1, OaepHash::kSha256}) {
    std::vector<uint8_t> ct, out(384);
    REQUIRE_EQ(pub->EncryptOaep(hash, message.data(), message.size(), &ct), Status::kOk);
    CHECK_EQ(ct.size(), 384u);
    size_t len = 0;
    REQUIRE_OK(
        root->RsaDecrypt(decrypter, hash, ct.data(), ct.size(), out.data(), out.size(), &len));
    out.resize(len);
    CHECK(out == message);
  }
  // 256 bytes is not modulus-sized for RSA-3072.
  std::vector<uint8_t> wrong(256, 1), out(384);
  size_t len = 0;
  CHECK_EQ(root->RsaDecrypt(decrypter, OaepHash::kSha256, wrong.data(), wrong.size(), out.data(),
                            out.size(), &len)
               .status,
           Status::kInvalidCiphertext);
}

HSMKMS_TEST(EcdsaSignatures) {
  auto root = OpenRoot();
  const std::vector<uint8_t> message = Bytes("ecdsa message");
  const struct {
    KeySpec spec;
    SigningAlgorithm alg;
  } cases[] = {{KeySpec::kEccNistP256, SigningAlgorithm::kEcdsaSha256},
               {KeySpec::kEccNistP384, SigningAlgorithm::kEcdsaSha384}};
  for (const auto& c : cases) {
    std::vector<uint8_t> spki;
    const WrappedKey key = NewKey(*root, c.spec, KeyUsage::kSignVerify, KeySpecName(c.spec), &spki);
    auto pub = Public(spki);
    CHECK(pub->spec() == c.spec);
    for (MessageType type : {MessageType::kRaw, MessageType::kDigest}) {
      uint8_t digest[EVP_MAX_MD_SIZE];
      size_t digest_len = 0;
      REQUIRE(
          HostDigest(SigningDigest(c.alg), message.data(), message.size(), digest, &digest_len));
      const std::vector<uint8_t> data =
          type == MessageType::kRaw ? message : std::vector<uint8_t>(digest, digest + digest_len);
      std::vector<uint8_t> sig;
      REQUIRE_OK(root->Sign(key, c.alg, type, data.data(), data.size(), &sig));
      CHECK_EQ(sig[0], 0x30);  // DER SEQUENCE { r, s }
      CHECK(sig.size() <= 2 * KeyBits(c.spec) / 8 + 9);
      CHECK(Verifies(*pub, c.alg, type, data, sig));
      CHECK(!Verifies(*pub, c.alg, MessageType::kRaw, Bytes("other"), sig));
    }
    const SigningAlgorithm wrong = c.alg == SigningAlgorithm::kEcdsaSha256
                                       ? SigningAlgorithm::kEcdsaSha384
                                       : SigningAlgorithm::kEcdsaSha256;
    std::vector<uint8_t> sig;
    CHECK_EQ(root->Sign(key, wrong, MessageType::kRaw, message.data(), message.size(), &sig).status,
             Status::kInvalidKeyUsage);
    CHECK_EQ(root->Sign(key, SigningAlgorithm::kRsaPssSha256, MessageType::kRaw, message.data(),
                        message.size(), &sig)
                 .status,
             Status::kInvalidKeyUsage);
  }
  CHECK(ERR_peek_error() == 0);
}

// --- Domain-key rotation -----------------------------------------------------------------

// --- HMAC ------------------------------------------------------------------------

// The MAC a spec's algorithm gives with `key`, by OpenSSL's one-shot HMAC().
std::vector<uint8_t> HmacByHand(MacAlgorithm algorithm, const std::vector<uint8_t>& key,
                                const std::vector<uint8_t>& message) {
  std::vector<uint8_t> out(EVP_MAX_MD_SIZE);
  unsigned int len = 0;
  REQUIRE(HMAC(MacDigest(algorithm), key.data(), static_cast<int>(key.size()), message.data(),
               message.size(), out.data(), &len) != nullptr);
  out.resize(len);
  return out;
}

HSMKMS_TEST(HmacKeysMacWithTheirWrappedMaterial) {
  auto root = OpenRoot(9);
  std::vector<uint8_t> ref;
  REQUIRE_OK(root->CreateDomainKey(1, &ref));
  const std::vector<uint8_t> domain_key = UnsealByHand(RootKeyBytes(9), 1, ref);
  const struct {
    KeySpec spec;
    MacAlgorithm algorithm;
    size_t key_bytes, mac_bytes;
  } cases[] = {{KeySpec::kHmac224, MacAlgorithm::kHmacSha224, 28, 28},
               {KeySpec::kHmac256, MacAlgorithm::kHmacSha256, 32, 32},
               {KeySpec::kHmac384, MacAlgorithm::kHmacSha384, 48, 48},
               {KeySpec::kHmac512, MacAlgorithm::kHmacSha512, 64, 64}};
  const std::vector<uint8_t> message = Bytes("what do ya want for nothing?");
  for (const auto& c : cases) {
    const WrappedKey key = NewKey(*root, c.spec, KeyUsage::kGenerateVerifyMac, KeySpecName(c.spec));
    CHECK(key.usage == KeyUsage::kGenerateVerifyMac);
    // The material is the spec's length, and the MAC is HMAC with it.
    const std::vector<uint8_t> material = UnwrapByHand(domain_key, key.blob);
    CHECK_EQ(material.size(), c.key_bytes);
    std::vector<uint8_t> mac;
    REQUIRE_OK(root->GenerateMac(key, c.algorithm, message.data(), message.size(), &mac));
    CHECK_EQ(mac.size(), c.mac_bytes);
    CHECK(mac == HmacByHand(c.algorithm, material, message));

    bool valid = false;
    REQUIRE_OK(root->VerifyMac(key, c.algorithm, message.data(), message.size(), mac.data(),
                               mac.size(), &valid));
    CHECK(valid);
    for (size_t bit : {size_t{0}, mac.size() * 8 - 1}) {
      std::vector<uint8_t> flipped = mac;
      flipped[bit / 8] ^= static_cast<uint8_t>(1u << (bit % 8));
      valid = true;
      REQUIRE_OK(root->VerifyMac(key, c.algorithm, message.data(), message.size(), flipped.data(),
                                 flipped.size(), &valid));
      CHECK(!valid);
    }
    valid = true;  // a truncated MAC is wrong too, not an error
    REQUIRE_OK(root->VerifyMac(key, c.algorithm, message.data(), message.size(), mac.data(),
                               mac.size() - 1, &valid));
    CHECK(!valid);
  }
}

HSMKMS_TEST(HmacKeysRefuseOtherUsesAsHsmDoes) {
  auto root = OpenRoot(10);
  EnsureDomainKey(*root, 1);
  WrappedKey key;
  std::vector<uint8_t> spki;
  // An HMAC spec makes MACs only; no other spec makes MACs.
  CHECK_EQ(root->GenerateKey(KeySpec::kHmac256, KeyUsage::kEncryptDecrypt, 1, &key, &spki).status,
           Status::kInvalidKeyUsage);
  CHECK_EQ(root->GenerateKey(KeySpec::kAes256, KeyUsage::kGenerateVerifyMac, 1, &key, &spki).status,
           Status::kInvalidKeyUsage);
  CHECK_EQ(root->GenerateKey(KeySpec::kRsa2048, KeyUsage::kGenerateVerifyMac, 1, &key, &spki).status,
           Status::kInvalidKeyUsage);
  // Secret keys need no SPKI output.
  REQUIRE_OK(root->GenerateKey(KeySpec::kHmac384, KeyUsage::kGenerateVerifyMac, 1, &key, nullptr));
  key.id = "hmac";
  key.version = 1;

  const std::vector<uint8_t> message = Bytes("m");
  std::vector<uint8_t> mac;
  bool valid = true;
  // Another algorithm than the spec's one.
  CHECK_EQ(root->GenerateMac(key, MacAlgorithm::kHmacSha256, message.data(), message.size(), &mac)
               .status,
           Status::kInvalidKeyUsage);
  CHECK_EQ(root->VerifyMac(key, MacAlgorithm::kHmacSha512, message.data(), message.size(),
                           message.data(), message.size(), &valid)
               .status,
           Status::kInvalidKeyUsage);
  // Not an encryption or signing key.
  uint8_t iv[SoftRoot::kGcmIvSize] = {};
  std::vector<uint8_t> out(message.size() + SoftRoot::kGcmTagSize);
  CHECK_EQ(root->Encrypt(key, iv, kAad.data(), kAad.size(), message.data(), message.size(),
                         out.data())
               .status,
           Status::kInvalidKeyUsage);
  std::vector<uint8_t> signature;
  CHECK_EQ(root->Sign(key, SigningAlgorithm::kEcdsaSha384, MessageType::kRaw, message.data(),
                      message.size(), &signature)
               .status,
           Status::kInvalidKeyUsage);
  // An AES key cannot make MACs.
  const WrappedKey aes = NewKey(*root, KeySpec::kAes256, KeyUsage::kEncryptDecrypt, "aes");
  CHECK_EQ(root->GenerateMac(aes, MacAlgorithm::kHmacSha256, message.data(), message.size(), &mac)
               .status,
           Status::kInvalidKeyUsage);
  // A wrapped blob of the wrong length for the spec is not this key.
  WrappedKey claims_512 = key;
  claims_512.id = "claims-512";
  claims_512.spec = KeySpec::kHmac512;
  CHECK_EQ(root->GenerateMac(claims_512, MacAlgorithm::kHmacSha512, message.data(), message.size(),
                             &mac)
               .status,
           Status::kInvalidCiphertext);
}

HSMKMS_TEST(HmacKeysMoveToANewDomainKey) {
  auto root = OpenRoot(11);
  std::vector<uint8_t> ref2;
  const WrappedKey key = NewKey(*root, KeySpec::kHmac256, KeyUsage::kGenerateVerifyMac, "hmac");
  const std::vector<uint8_t> message = Bytes("moved");
  std::vector<uint8_t> before, after;
  REQUIRE_OK(root->GenerateMac(key, MacAlgorithm::kHmacSha256, message.data(), message.size(),
                               &before));
  REQUIRE_OK(root->CreateDomainKey(2, &ref2));
  WrappedKey moved;
  REQUIRE_OK(root->RewrapKey(key, 2, &moved));
  CHECK_EQ(moved.domain_version, 2u);
  CHECK(moved.blob != key.blob);
  // Another root that only knows domain key 2 makes the same MAC.
  auto other = OpenRoot(11);
  REQUIRE_OK(other->OpenDomainKey(2, ref2.data(), ref2.size()));
  REQUIRE_OK(other->GenerateMac(moved, MacAlgorithm::kHmacSha256, message.data(), message.size(),
                                &after));
  CHECK(before == after);
}

HSMKMS_TEST(RewrapKeyMovesKeysToTheNewDomainKey) {
  auto root = OpenRoot(6);
  std::vector<uint8_t> ref1, ref2;
  REQUIRE_OK(root->CreateDomainKey(1, &ref1));
  const WrappedKey aes = NewKey(*root, KeySpec::kAes256, KeyUsage::kEncryptDecrypt, "aes");
  std::vector<uint8_t> rsa_spki, ec_spki;
  const WrappedKey rsa = NewKey(*root, KeySpec::kRsa2048, KeyUsage::kEncryptDecrypt, "rsa",
                                &rsa_spki);
  const WrappedKey ec = NewKey(*root, KeySpec::kEccNistP384, KeyUsage::kSignVerify, "ec", &ec_spki);
  const std::vector<uint8_t> plaintext = Bytes("written under domain key 1");
  const Sealed sealed = Seal(*root, aes, plaintext);

  WrappedKey moved;
  CHECK_EQ(root->RewrapKey(aes, 2, &moved).status, Status::kNotFound);  // v2 not there yet
  REQUIRE_OK(root->CreateDomainKey(2, &ref2));
  REQUIRE_OK(root->RewrapKey(aes, 2, &moved));
  CHECK_EQ(moved.domain_version, 2u);
  CHECK_EQ(moved.id, aes.id);
  CHECK_EQ(moved.version, aes.version);
  CHECK(moved.spec == aes.spec && moved.usage == aes.usage);
  CHECK(moved.algorithm == WrapAlgorithm::kAesKwp);
  CHECK_EQ(moved.blob.size(), 40u);
  CHECK(moved.blob != aes.blob);
  // The same material under the new domain key, by hand.
  const std::vector<uint8_t> dk1 = UnsealByHand(RootKeyBytes(6), 1, ref1);
  const std::vector<uint8_t> dk2 = UnsealByHand(RootKeyBytes(6), 2, ref2);
  CHECK(UnwrapByHand(dk1, aes.blob) == UnwrapByHand(dk2, moved.blob));

  // Decrypt with the moved key, unwrapped afresh in another root that only
  // knows domain key 2.
  auto other = OpenRoot(6);
  REQUIRE_OK(other->OpenDomainKey(2, ref2.data(), ref2.size()));
  std::vector<uint8_t> out;
  CHECK_EQ(Open(*other, aes, sealed, &out).status, Status::kNotFound);
  REQUIRE_OK(Open(*other, moved, sealed, &out));
  CHECK(out == plaintext);
  // Here too after an eviction forces an unwrap of the new blob.
  root->EvictKey("aes", 1);
  const uint64_t unwraps = root->stats().unwraps;
  REQUIRE_OK(Open(*root, moved, sealed, &out));
  CHECK(out == plaintext);
  CHECK_EQ(root->stats().unwraps, unwraps + 1);

  // Private keys move too (in place: out may be the key).
  WrappedKey rsa_moved = rsa;
  REQUIRE_OK(root->RewrapKey(rsa_moved, 2, &rsa_moved));
  CHECK_EQ(rsa_moved.domain_version, 2u);
  WrappedKey ec_moved;
  REQUIRE_OK(root->RewrapKey(ec, 2, &ec_moved));
  const std::vector<uint8_t> message = Bytes("after rotation");
  std::vector<uint8_t> ct, sig;
  REQUIRE_EQ(Public(rsa_spki)->EncryptOaep(OaepHash::kSha256, message.data(), message.size(), &ct),
             Status::kOk);
  std::vector<uint8_t> decrypted(256);
  size_t len = 0;
  REQUIRE_OK(other->RsaDecrypt(rsa_moved, OaepHash::kSha256, ct.data(), ct.size(),
                               decrypted.data(), decrypted.size(), &len));
  decrypted.resize(len);
  CHECK(decrypted == message);
  REQUIRE_OK(other->Sign(ec_moved, SigningAlgorithm::kEcdsaSha384, MessageType::kRaw,
                         message.data(), message.size(), &sig));
  CHECK(Verifies(*Public(ec_spki), SigningAlgorithm::kEcdsaSha384, MessageType::kRaw, message,
                 sig));
  // And back again.
  WrappedKey back;
  REQUIRE_OK(root->RewrapKey(moved, 1, &back));
  CHECK(back.blob == aes.blob);  // RFC 5649 is deterministic
}

HSMKMS_TEST(RewrapKeyRefusesBadBlobs) {
  auto root = OpenRoot();
  EnsureDomainKey(*root, 1);
  EnsureDomainKey(*root, 2);
  const WrappedKey key = NewKey(*root, KeySpec::kAes256, KeyUsage::kEncryptDecrypt, "k");
  WrappedKey out;
  WrappedKey bad = key;
  bad.blob[3] ^= 0x10;
  CHECK_EQ(root->RewrapKey(bad, 2, &out).status, Status::kInvalidCiphertext);
  bad = key;
  bad.domain_version = 9;
  CHECK_EQ(root->RewrapKey(bad, 2, &out).status, Status::kNotFound);
  bad = key;
  bad.blob.clear();
  CHECK_EQ(root->RewrapKey(bad, 2, &out).status, Status::kInvalidCiphertext);
  bad = key;
  bad.spec = KeySpec::kEccNistP256;  // not a PKCS#8 key inside
  bad.usage = KeyUsage::kSignVerify;
  CHECK_EQ(root->RewrapKey(bad, 2, &out).status, Status::kInvalidCiphertext);
  CHECK_EQ(root->RewrapKey(key, 2, nullptr).status, Status::kValidation);
  CHECK(out.blob.empty());
  CHECK(ERR_peek_error() == 0);
}

// --- The key cache -----------------------------------------------------------------------

HSMKMS_TEST(KeyCacheIsBoundedAndEvicts) {
  auto root = OpenRoot(1, 2);
  const WrappedKey a = NewKey(*root, KeySpec::kAes256, KeyUsage::kEncryptDecrypt, "a"),
                   b = NewKey(*root, KeySpec::kAes256, KeyUsage::kEncryptDecrypt, "b"),
                   c = NewKey(*root, KeySpec::kAes256, KeyUsage::kEncryptDecrypt, "c");
  const std::vector<uint8_t> plaintext = Bytes("x");
  Seal(*root, a, plaintext);
  Seal(*root, a, plaintext);
  Seal(*root, b, plaintext);
  CHECK_EQ(root->stats().unwraps, 2u);
  CHECK_EQ(root->stats().cached_keys, 2u);
  Seal(*root, c, plaintext);  // evicts a (least recently used)
  CHECK_EQ(root->stats().cached_keys, 2u);
  Seal(*root, b, plaintext);
  CHECK_EQ(root->stats().unwraps, 3u);
  Seal(*root, a, plaintext);
  CHECK_EQ(root->stats().unwraps, 4u);
  // EvictKey, then use again: unwrapped again.
  root->EvictKey("a", 1);
  CHECK_EQ(root->stats().cached_keys, 1u);
  root->EvictKey("a", 1);  // absent: nothing happens
  root->EvictKey("nope", 3);
  const Sealed sealed = Seal(*root, a, plaintext);
  CHECK_EQ(root->stats().unwraps, 5u);
  std::vector<uint8_t> out;
  REQUIRE_OK(Open(*root, a, sealed, &out));
  CHECK(out == plaintext);
  CHECK_EQ(root->stats().unwraps, 5u);
}

HSMKMS_TEST(KeyCacheCapacityZeroUnwrapsEveryTime) {
  auto root = OpenRoot(1, 0);
  std::vector<uint8_t> spki;
  const WrappedKey key = NewKey(*root, KeySpec::kEccNistP256, KeyUsage::kSignVerify, "ec", &spki);
  const std::vector<uint8_t> message = Bytes("m");
  for (int i = 0; i < 3; ++i) {
    std::vector<uint8_t> sig;
    REQUIRE_OK(root->Sign(key, SigningAlgorithm::kEcdsaSha256, MessageType::kRaw, message.data(),
                          message.size(), &sig));
    CHECK(Verifies(*Public(spki), SigningAlgorithm::kEcdsaSha256, MessageType::kRaw, message,
                   sig));
  }
  CHECK_EQ(root->stats().unwraps, 3u);
  CHECK_EQ(root->stats().cached_keys, 0u);
}

HSMKMS_TEST(CachedKeyIsNotUsedForAnotherSpec) {
  auto root = OpenRoot();
  const WrappedKey aes = NewKey(*root, KeySpec::kAes256, KeyUsage::kEncryptDecrypt, "same");
  Seal(*root, aes, Bytes("cache it"));
  std::vector<uint8_t> spki;
  WrappedKey ec = NewKey(*root, KeySpec::kEccNistP256, KeyUsage::kSignVerify, "same", &spki);
  std::vector<uint8_t> sig;
  const std::vector<uint8_t> message = Bytes("m");
  // (id, version) names one key: an EC key under the AES key's name is refused.
  CHECK_EQ(root->Sign(ec, SigningAlgorithm::kEcdsaSha256, MessageType::kRaw, message.data(),
                      message.size(), &sig)
               .status,
           Status::kInvalidKeyUsage);
  root->EvictKey("same", 1);
  REQUIRE_OK(root->Sign(ec, SigningAlgorithm::kEcdsaSha256, MessageType::kRaw, message.data(),
                        message.size(), &sig));
}

// --- Threads -----------------------------------------------------------------------------

HSMKMS_TEST(ManyThreadsShareKeys) {
  auto root = OpenRoot(1, 8);
  const WrappedKey aes1 = NewKey(*root, KeySpec::kAes256, KeyUsage::kEncryptDecrypt, "aes1");
  const WrappedKey aes2 = NewKey(*root, KeySpec::kAes256, KeyUsage::kEncryptDecrypt, "aes2");
  std::vector<uint8_t> rsa_spki, ec_spki, oaep_spki;
  const WrappedKey rsa = NewKey(*root, KeySpec::kRsa2048, KeyUsage::kSignVerify, "rsa", &rsa_spki);
  const WrappedKey oaep =
      NewKey(*root, KeySpec::kRsa2048, KeyUsage::kEncryptDecrypt, "oaep", &oaep_spki);
  const WrappedKey ec = NewKey(*root, KeySpec::kEccNistP256, KeyUsage::kSignVerify, "ec", &ec_spki);
  auto rsa_pub = Public(rsa_spki), ec_pub = Public(ec_spki), oaep_pub = Public(oaep_spki);
  const std::vector<uint8_t> secret = Bytes("a 32-byte data key for RSA OAEP!");
  std::vector<uint8_t> oaep_ct;
  REQUIRE_EQ(oaep_pub->EncryptOaep(OaepHash::kSha256, secret.data(), secret.size(), &oaep_ct),
             Status::kOk);

  constexpr int kThreads = 8, kIterations = 240;
  std::atomic<int> failures{0}, done{0};
  auto work = [&](int t) {
    for (int i = 0; i < kIterations; ++i) {
      bool ok = true;
      const std::vector<uint8_t> message =
          Bytes("thread " + std::to_string(t) + " op " + std::to_string(i));
      switch ((t + i) % 6) {
        case 0:
        case 1: {
          const WrappedKey& key = i % 2 == 0 ? aes1 : aes2;
          Sealed sealed;
          sealed.ct.resize(message.size() + 16);
          ok = root->GenerateRandom(sealed.iv, sizeof(sealed.iv)).ok() &&
               root->Encrypt(key, sealed.iv, kAad.data(), kAad.size(), message.data(),
                             message.size(), sealed.ct.data())
                   .ok();
          std::vector<uint8_t> out;
          ok = ok && Open(*root, key, sealed, &out).ok() && out == message;
          break;
        }
        case 2: {
          std::vector<uint8_t> sig;
          ok = root->Sign(ec, SigningAlgorithm::kEcdsaSha256, MessageType::kRaw, message.data(),
                          message.size(), &sig)
                   .ok() &&
               Verifies(*ec_pub, SigningAlgorithm::kEcdsaSha256, MessageType::kRaw, message, sig);
          break;
        }
        case 3: {
          if (i % 4 != 3) break;  // RSA signing is the slow one
          std::vector<uint8_t> sig;
          ok = root->Sign(rsa, SigningAlgorithm::kRsaPssSha256, MessageType::kRaw,
                          message.data(), message.size(), &sig)
                   .ok() &&
               Verifies(*rsa_pub, SigningAlgorithm::kRsaPssSha256, MessageType::kRaw, message,
                        sig);
          break;
        }
        case 4: {
          if (i % 4 != 0) break;
          std::vector<uint8_t> out(256);
          size_t len = 0;
          ok = root->RsaDecrypt(oaep, OaepHash::kSha256, oaep_ct.data(), oaep_ct.size(),
                                out.data(), out.size(), &len)
                   .ok() &&
               len == secret.size() && std::equal(secret.begin(), secret.end(), out.begin());
          break;
        }
        case 5:
          // Evictions race the operations: in-flight users keep their key.
          root->EvictKey(i % 3 == 0 ? "aes1" : (i % 3 == 1 ? "ec" : "rsa"), 1);
          break;
      }
      if (!ok) failures.fetch_add(1);
      done.fetch_add(1);
    }
    if (ERR_peek_error() != 0) failures.fetch_add(1);  // no thread's error queue is left dirty
  };
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) threads.emplace_back(work, t);
  for (auto& thread : threads) thread.join();
  CHECK_EQ(failures.load(), 0);
  CHECK_EQ(done.load(), kThreads * kIterations);
  CHECK(root->stats().cached_keys <= 8u);
}

namespace {

// A task on the root's threads, as the binding will run operations.
class SignTask : public hsmkms::core::Task {
 public:
  SignTask(SoftRoot& root, const WrappedKey& key, std::vector<uint8_t> message, std::mutex& mutex,
           std::condition_variable& cv, int& pending)
      : root_(root), key_(key), message_(std::move(message)), mutex_(mutex), cv_(cv),
        pending_(pending) {}
  void Run() noexcept override {
    ran_on_ = std::this_thread::get_id();
    result_ = root_.Sign(key_, SigningAlgorithm::kEcdsaSha384, MessageType::kRaw,
                         message_.data(), message_.size(), &signature_);
  }
  void Finish() noexcept override {
    std::lock_guard<std::mutex> lock(mutex_);
    --pending_;
    cv_.notify_all();
  }
  HsmResult result_;
  std::vector<uint8_t> signature_;
  std::vector<uint8_t> message_copy() const { return message_; }
  std::thread::id ran_on_;

 private:
  SoftRoot& root_;
  const WrappedKey& key_;
  std::vector<uint8_t> message_;
  std::mutex& mutex_;
  std::condition_variable& cv_;
  int& pending_;
};

}  // namespace

HSMKMS_TEST(OperationsRunOnTheRootThreads) {
  auto root = OpenRoot();
  std::vector<uint8_t> spki;
  const WrappedKey key = NewKey(*root, KeySpec::kEccNistP384, KeyUsage::kSignVerify, "p384", &spki);
  auto pub = Public(spki);
  std::mutex mutex;
  std::condition_variable cv;
  constexpr int kTasks = 32;
  int pending = kTasks;
  std::vector<std::unique_ptr<SignTask>> tasks;
  std::vector<hsmkms::core::Task*> raw;
  for (int i = 0; i < kTasks; ++i) {
    tasks.push_back(std::make_unique<SignTask>(*root, key, Bytes("task " + std::to_string(i)),
                                               mutex, cv, pending));
    raw.push_back(tasks.back().get());
  }
  root->threads().SubmitMany(raw.data(), raw.size());
  {
    std::unique_lock<std::mutex> lock(mutex);
    REQUIRE(cv.wait_for(lock, std::chrono::seconds(60), [&] { return pending == 0; }));
  }
  for (const auto& task : tasks) {
    CHECK(task->result_.ok());
    CHECK(task->ran_on_ != std::this_thread::get_id());
    CHECK(Verifies(*pub, SigningAlgorithm::kEcdsaSha384, MessageType::kRaw, task->message_copy(),
                   task->signature_));
  }
}

// --- Secure memory -----------------------------------------------------------------------

HSMKMS_TEST(SecureMemoryIsReturnedWithTheRoot) {
  const size_t before = hsmkms::core::GetSecureMemoryStats().live_blocks;
  {
    auto root = OpenRoot(4);
    std::vector<uint8_t> reference;
    REQUIRE_OK(root->CreateDomainKey(1, &reference));
    REQUIRE_OK(root->CreateDomainKey(2, &reference));
    // Root key + two domain keys.
    CHECK_EQ(hsmkms::core::GetSecureMemoryStats().live_blocks, before + 3);
    const WrappedKey a = NewKey(*root, KeySpec::kAes256, KeyUsage::kEncryptDecrypt, "a");
    const WrappedKey b = NewKey(*root, KeySpec::kAes256, KeyUsage::kEncryptDecrypt, "b");
    std::vector<uint8_t> spki;
    const WrappedKey rsa = NewKey(*root, KeySpec::kRsa2048, KeyUsage::kEncryptDecrypt, "r", &spki);
    // Generation leaves nothing behind: key material is wiped once wrapped.
    CHECK_EQ(hsmkms::core::GetSecureMemoryStats().live_blocks, before + 3);
    Seal(*root, a, Bytes("one"));
    Seal(*root, b, Bytes("two"));
    CHECK_EQ(hsmkms::core::GetSecureMemoryStats().live_blocks, before + 5);  // two cached AES keys
    std::vector<uint8_t> ct, out(256);
    REQUIRE_EQ(Public(spki)->EncryptOaep(OaepHash::kSha1, spki.data(), 16, &ct), Status::kOk);
    size_t len = 0;
    REQUIRE_OK(root->RsaDecrypt(rsa, OaepHash::kSha1, ct.data(), ct.size(), out.data(),
                                out.size(), &len));
    // The cached RSA key is in OpenSSL's heap; the scratch is returned.
    CHECK_EQ(hsmkms::core::GetSecureMemoryStats().live_blocks, before + 5);
    WrappedKey moved;
    REQUIRE_OK(root->RewrapKey(rsa, 2, &moved));
    CHECK_EQ(hsmkms::core::GetSecureMemoryStats().live_blocks, before + 5);
    root->EvictKey("a", 1);
    CHECK_EQ(hsmkms::core::GetSecureMemoryStats().live_blocks, before + 4);
  }
  CHECK_EQ(hsmkms::core::GetSecureMemoryStats().live_blocks, before);
}

HSMKMS_TEST(FailuresNameNoPkcs11Call) {
  // Soft failures carry a status and a static detail, never a CKR or function.
  auto root = OpenRoot();
  WrappedKey key;
  std::vector<uint8_t> spki;
  const HsmResult results[] = {
      root->GenerateKey(KeySpec::kAes256, KeyUsage::kSignVerify, 1, &key, &spki),
      root->GenerateKey(KeySpec::kAes256, KeyUsage::kEncryptDecrypt, 1, &key, &spki),
      root->OpenDomainKey(1, spki.data(), 0),
  };
  for (const HsmResult& result : results) {
    CHECK(!result.ok());
    CHECK_EQ(result.rv, CKR_OK);
    CHECK(result.ckr() == nullptr);
    CHECK(result.fn == nullptr);
    CHECK(result.detail != nullptr);
  }
}
