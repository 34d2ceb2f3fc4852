// AES key wrap with padding (RFC 5649) for the soft root: RFC 5649's own
// examples (192-bit KEK), Wycheproof's vectors (128/192/256-bit KEKs, read
// from ../shared/vectors), and a differential check of the 256-bit path
// against RFC 5649 written out here over raw AES (section 4.1), so the soft
// blob format is the standard one a token's CKM_AES_KEY_WRAP_PAD produces.
#include <openssl/err.h>
#include <openssl/evp.h>

#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "json.h"
#include "secure_memory.h"
#include "soft/aes_kwp.h"
#include "test_support.h"

using hsmkms::core::SecureBytes;
using hsmkms::core::Status;
using hsmkms::soft::AesKwpUnwrap;
using hsmkms::soft::AesKwpWrap;
using hsmkms::soft::AesKwpWrappedSize;
using hsmkms::test::FromHex;
using hsmkms::test::Json;
using hsmkms::test::ToHex;

namespace {

std::vector<uint8_t> Pattern(size_t len, uint8_t seed) {
  std::vector<uint8_t> out(len);
  for (size_t i = 0; i < len; ++i) out[i] = static_cast<uint8_t>(seed + i * 37 + (i >> 7));
  return out;
}

std::vector<uint8_t> Wrap(const std::vector<uint8_t>& kek, const std::vector<uint8_t>& key) {
  std::vector<uint8_t> wrapped;
  REQUIRE_EQ(AesKwpWrap(kek.data(), kek.size(), key.data(), key.size(), &wrapped), Status::kOk);
  return wrapped;
}

Status Unwrap(const std::vector<uint8_t>& kek, const std::vector<uint8_t>& wrapped,
              std::vector<uint8_t>* key) {
  SecureBytes out;
  const Status status = AesKwpUnwrap(kek.data(), kek.size(), wrapped.data(), wrapped.size(), &out);
  if (status == Status::kOk) {
    key->assign(out.data(), out.data() + out.size());
  } else {
    CHECK(out.empty());
  }
  return status;
}

// RFC 5649 section 4.1 over AES-256-ECB, independent of OpenSSL's wrap code.
std::vector<uint8_t> ReferenceWrap(const std::vector<uint8_t>& kek,
                                   const std::vector<uint8_t>& key) {
  struct CtxFree {
    void operator()(EVP_CIPHER_CTX* c) const { EVP_CIPHER_CTX_free(c); }
  };
  std::unique_ptr<EVP_CIPHER_CTX, CtxFree> ctx(EVP_CIPHER_CTX_new());
  REQUIRE(ctx != nullptr);
  REQUIRE(EVP_EncryptInit_ex2(ctx.get(), EVP_aes_256_ecb(), kek.data(), nullptr, nullptr) == 1);
  REQUIRE(EVP_CIPHER_CTX_set_padding(ctx.get(), 0) == 1);
  auto aes = [&](const uint8_t in[16], uint8_t out[16]) {
    int len = 0;
    REQUIRE(EVP_EncryptUpdate(ctx.get(), out, &len, in, 16) == 1 && len == 16);
  };
  // Alternative initial value: A65959A6 || 32-bit big-endian message length.
  uint8_t a[8] = {0xA6, 0x59, 0x59, 0xA6, 0, 0, 0, 0};
  const uint32_t mli = static_cast<uint32_t>(key.size());
  a[4] = static_cast<uint8_t>(mli >> 24);
  a[5] = static_cast<uint8_t>(mli >> 16);
  a[6] = static_cast<uint8_t>(mli >> 8);
  a[7] = static_cast<uint8_t>(mli);
  std::vector<uint8_t> p(key);
  p.resize((key.size() + 7) / 8 * 8, 0);  // zero padding to whole semiblocks
  const size_t n = p.size() / 8;
  uint8_t block[16], out[16];
  if (n == 1) {  // one semiblock: a single AES block, no 6-round wrap
    std::memcpy(block, a, 8);
    std::memcpy(block + 8, p.data(), 8);
    aes(block, out);
    return std::vector<uint8_t>(out, out + 16);
  }
  for (size_t j = 0; j <= 5; ++j) {
    for (size_t i = 1; i <= n; ++i) {
      std::memcpy(block, a, 8);
      std::memcpy(block + 8, &p[(i - 1) * 8], 8);
      aes(block, out);
      uint64_t t = n * j + i;
      std::memcpy(a, out, 8);
      for (int b = 7; b >= 0; --b, t >>= 8) a[b] ^= static_cast<uint8_t>(t & 0xff);
      std::memcpy(&p[(i - 1) * 8], out + 8, 8);
    }
  }
  std::vector<uint8_t> c(a, a + 8);
  c.insert(c.end(), p.begin(), p.end());
  return c;
}

}  // namespace

HSMKMS_TEST(Rfc5649Section6Examples) {
  // RFC 5649 section 6: a 192-bit KEK wrapping 20 and 7 octets.
  const std::vector<uint8_t> kek = FromHex("5840df6e29b02af1ab493b705bf16ea1ae8338f4dcc176a8");
  const struct {
    const char* key;
    const char* wrapped;
  } examples[] = {
      {"c37b7e6492584340bed12207808941155068f738",
       "138bdeaa9b8fa7fc61f97742e72248ee5ae6ae5360d1ae6a5f54f373fa543b6a"},
      {"466f7250617369", "afbeb0f07dfbf5419200f2ccb50bb24f"},
  };
  for (const auto& example : examples) {
    const std::vector<uint8_t> key = FromHex(example.key);
    const std::vector<uint8_t> wrapped = Wrap(kek, key);
    CHECK_EQ(ToHex(wrapped), std::string(example.wrapped));
    CHECK_EQ(wrapped.size(), AesKwpWrappedSize(key.size()));
    std::vector<uint8_t> unwrapped;
    CHECK_EQ(Unwrap(kek, FromHex(example.wrapped), &unwrapped), Status::kOk);
    CHECK(unwrapped == key);
  }
  CHECK(ERR_peek_error() == 0);
}

HSMKMS_TEST(WycheproofVectors) {
  const std::string path = std::string(HSMKMS_VECTORS_DIR) + "/wycheproof/aes_kwp_test.json";
  const Json root = Json::Parse(hsmkms::test::ReadFile(path));
  size_t valid = 0, invalid = 0, aes256 = 0;
  for (const Json& group : root["testGroups"].items()) {
    const bool is256 = group["keySize"].number() == 256;
    for (const Json& t : group["tests"].items()) {
      const std::string id = "tcId " + std::to_string(static_cast<int>(t["tcId"].number()));
      const std::vector<uint8_t> kek = FromHex(t["key"].str()), msg = FromHex(t["msg"].str()),
                                 ct = FromHex(t["ct"].str());
      std::vector<uint8_t> unwrapped;
      const Status status = Unwrap(kek, ct, &unwrapped);
      if (t["result"].str() == "valid") {
        ++valid;
        if (is256) ++aes256;
        if (status != Status::kOk || unwrapped != msg) {
          hsmkms::test::RecordFailure(__FILE__, __LINE__, id + ": valid vector did not unwrap");
        }
        if (ToHex(Wrap(kek, msg)) != ToHex(ct)) {
          hsmkms::test::RecordFailure(__FILE__, __LINE__, id + ": wrap differs");
        }
      } else {
        ++invalid;
        if (status != Status::kInvalidCiphertext) {
          hsmkms::test::RecordFailure(__FILE__, __LINE__, id + ": invalid vector accepted");
        }
      }
    }
  }
  // Guards against a vacuous pass if the file or its layout changes.
  CHECK(valid >= 70);
  CHECK(invalid >= 150);
  CHECK(aes256 >= 20);
  CHECK(ERR_peek_error() == 0);
}

HSMKMS_TEST(Aes256MatchesRfc5649Reference) {
  const std::vector<uint8_t> kek = Pattern(32, 11);
  // One semiblock, 32 (an AES CMK), odd sizes, and a PKCS#8 RSA-4096-sized input.
  for (size_t len : {size_t{1}, size_t{7}, size_t{8}, size_t{9}, size_t{20}, size_t{32},
                     size_t{33}, size_t{121}, size_t{1217}, size_t{2375}}) {
    const std::vector<uint8_t> key = Pattern(len, static_cast<uint8_t>(len));
    const std::vector<uint8_t> wrapped = Wrap(kek, key);
    CHECK_EQ(wrapped.size(), AesKwpWrappedSize(len));
    CHECK_EQ(ToHex(wrapped), ToHex(ReferenceWrap(kek, key)));
    std::vector<uint8_t> unwrapped;
    CHECK_EQ(Unwrap(kek, wrapped, &unwrapped), Status::kOk);
    CHECK(unwrapped == key);
  }
  CHECK_EQ(Wrap(kek, Pattern(32, 1)).size(), 40u);  // what pkcs11 tests expect of an AES CMK
}

HSMKMS_TEST(UnwrapRejectsBadBlobs) {
  const std::vector<uint8_t> kek = Pattern(32, 5), other = Pattern(32, 6);
  const std::vector<uint8_t> key = Pattern(32, 9);
  const std::vector<uint8_t> wrapped = Wrap(kek, key);
  std::vector<uint8_t> out;
  CHECK_EQ(Unwrap(other, wrapped, &out), Status::kInvalidCiphertext);
  for (size_t i = 0; i < wrapped.size(); ++i) {
    std::vector<uint8_t> bad = wrapped;
    bad[i] ^= static_cast<uint8_t>(1u << (i % 8));
    CHECK_EQ(Unwrap(kek, bad, &out), Status::kInvalidCiphertext);
  }
  for (size_t len : {size_t{0}, size_t{8}, size_t{15}, size_t{32}, size_t{39}, size_t{41}}) {
    std::vector<uint8_t> bad(wrapped);
    bad.resize(len, 0);
    CHECK_EQ(Unwrap(kek, bad, &out), Status::kInvalidCiphertext);
  }
  CHECK(ERR_peek_error() == 0);  // failures leave the error queue clean
}

HSMKMS_TEST(BadSizesAreValidationErrors) {
  const std::vector<uint8_t> key = Pattern(32, 1);
  std::vector<uint8_t> wrapped;
  const std::vector<uint8_t> kek20 = Pattern(20, 1);
  CHECK_EQ(AesKwpWrap(kek20.data(), kek20.size(), key.data(), key.size(), &wrapped),
           Status::kValidation);
  const std::vector<uint8_t> kek = Pattern(32, 1);
  CHECK_EQ(AesKwpWrap(kek.data(), kek.size(), key.data(), 0, &wrapped), Status::kValidation);
  const std::vector<uint8_t> huge(hsmkms::soft::kMaxWrapInput + 1, 0);
  CHECK_EQ(AesKwpWrap(kek.data(), kek.size(), huge.data(), huge.size(), &wrapped),
           Status::kValidation);
  SecureBytes out;
  const std::vector<uint8_t> blob = Wrap(kek, key);
  CHECK_EQ(AesKwpUnwrap(kek20.data(), kek20.size(), blob.data(), blob.size(), &out),
           Status::kValidation);
  CHECK(out.empty());
}

HSMKMS_TEST(UnwrappedKeyIsInSecureMemory) {
  const std::vector<uint8_t> kek = Pattern(32, 3), key = Pattern(32, 4);
  const std::vector<uint8_t> wrapped = Wrap(kek, key);
  const size_t before = hsmkms::core::GetSecureMemoryStats().live_blocks;
  {
    SecureBytes out;
    REQUIRE_EQ(AesKwpUnwrap(kek.data(), kek.size(), wrapped.data(), wrapped.size(), &out),
               Status::kOk);
    CHECK_EQ(out.size(), 32u);
    CHECK_EQ(hsmkms::core::GetSecureMemoryStats().live_blocks, before + 1);  // scratch released
  }
  CHECK_EQ(hsmkms::core::GetSecureMemoryStats().live_blocks, before);
}
