#include "algorithms.h"

#include <openssl/err.h>

namespace hsmkms::pkcs11 {
namespace {

template <typename E>
struct Named {
  E value;
  const char* name;
};

constexpr Named<KeySpec> kKeySpecs[] = {
    {KeySpec::kAes256, "SYMMETRIC_DEFAULT"},   {KeySpec::kRsa2048, "RSA_2048"},
    {KeySpec::kRsa3072, "RSA_3072"},           {KeySpec::kRsa4096, "RSA_4096"},
    {KeySpec::kEccNistP256, "ECC_NIST_P256"}, {KeySpec::kEccNistP384, "ECC_NIST_P384"},
    {KeySpec::kHmac224, "HMAC_224"},          {KeySpec::kHmac256, "HMAC_256"},
    {KeySpec::kHmac384, "HMAC_384"},          {KeySpec::kHmac512, "HMAC_512"},
};
constexpr Named<KeyUsage> kKeyUsages[] = {
    {KeyUsage::kEncryptDecrypt, "ENCRYPT_DECRYPT"},
    {KeyUsage::kSignVerify, "SIGN_VERIFY"},
    {KeyUsage::kGenerateVerifyMac, "GENERATE_VERIFY_MAC"},
};
constexpr Named<WrapAlgorithm> kWrapAlgorithms[] = {
    {WrapAlgorithm::kAesKwp, "AES_KWP_RFC5649"},
};
constexpr Named<OaepHash> kOaepHashes[] = {
    {OaepHash::kSha1, "RSAES_OAEP_SHA_1"},
    {OaepHash::kSha256, "RSAES_OAEP_SHA_256"},
};
constexpr Named<SigningAlgorithm> kSigningAlgorithms[] = {
    {SigningAlgorithm::kRsaPssSha256, "RSASSA_PSS_SHA_256"},
    {SigningAlgorithm::kRsaPssSha384, "RSASSA_PSS_SHA_384"},
    {SigningAlgorithm::kRsaPssSha512, "RSASSA_PSS_SHA_512"},
    {SigningAlgorithm::kRsaPkcs1Sha256, "RSASSA_PKCS1_V1_5_SHA_256"},
    {SigningAlgorithm::kRsaPkcs1Sha384, "RSASSA_PKCS1_V1_5_SHA_384"},
    {SigningAlgorithm::kRsaPkcs1Sha512, "RSASSA_PKCS1_V1_5_SHA_512"},
    {SigningAlgorithm::kEcdsaSha256, "ECDSA_SHA_256"},
    {SigningAlgorithm::kEcdsaSha384, "ECDSA_SHA_384"},
};
constexpr Named<MacAlgorithm> kMacAlgorithms[] = {
    {MacAlgorithm::kHmacSha224, "HMAC_SHA_224"},
    {MacAlgorithm::kHmacSha256, "HMAC_SHA_256"},
    {MacAlgorithm::kHmacSha384, "HMAC_SHA_384"},
    {MacAlgorithm::kHmacSha512, "HMAC_SHA_512"},
};
constexpr Named<MessageType> kMessageTypes[] = {
    {MessageType::kRaw, "RAW"},
    {MessageType::kDigest, "DIGEST"},
};

template <typename E, size_t N>
const char* NameOf(const Named<E> (&table)[N], E value) noexcept {
  for (const auto& entry : table) {
    if (entry.value == value) return entry.name;
  }
  return "UNKNOWN";
}

template <typename E, size_t N>
bool Parse(const Named<E> (&table)[N], std::string_view name, E* out) noexcept {
  for (const auto& entry : table) {
    if (name == entry.name) {
      *out = entry.value;
      return true;
    }
  }
  return false;
}

}  // namespace

const char* KeySpecName(KeySpec spec) noexcept { return NameOf(kKeySpecs, spec); }
bool ParseKeySpec(std::string_view name, KeySpec* out) noexcept {
  return Parse(kKeySpecs, name, out);
}
const char* KeyUsageName(KeyUsage usage) noexcept { return NameOf(kKeyUsages, usage); }
bool ParseKeyUsage(std::string_view name, KeyUsage* out) noexcept {
  return Parse(kKeyUsages, name, out);
}
const char* WrapAlgorithmName(WrapAlgorithm algorithm) noexcept {
  return NameOf(kWrapAlgorithms, algorithm);
}
bool ParseWrapAlgorithm(std::string_view name, WrapAlgorithm* out) noexcept {
  return Parse(kWrapAlgorithms, name, out);
}
const char* OaepHashName(OaepHash hash) noexcept { return NameOf(kOaepHashes, hash); }
bool ParseOaepHash(std::string_view name, OaepHash* out) noexcept {
  return Parse(kOaepHashes, name, out);
}
const char* SigningAlgorithmName(SigningAlgorithm algorithm) noexcept {
  return NameOf(kSigningAlgorithms, algorithm);
}
bool ParseSigningAlgorithm(std::string_view name, SigningAlgorithm* out) noexcept {
  return Parse(kSigningAlgorithms, name, out);
}
const char* MacAlgorithmName(MacAlgorithm algorithm) noexcept {
  return NameOf(kMacAlgorithms, algorithm);
}
bool ParseMacAlgorithm(std::string_view name, MacAlgorithm* out) noexcept {
  return Parse(kMacAlgorithms, name, out);
}
bool ParseMessageType(std::string_view name, MessageType* out) noexcept {
  return Parse(kMessageTypes, name, out);
}

bool IsRsa(KeySpec spec) noexcept {
  return spec == KeySpec::kRsa2048 || spec == KeySpec::kRsa3072 || spec == KeySpec::kRsa4096;
}

bool IsEc(KeySpec spec) noexcept {
  return spec == KeySpec::kEccNistP256 || spec == KeySpec::kEccNistP384;
}

bool IsHmac(KeySpec spec) noexcept {
  return spec == KeySpec::kHmac224 || spec == KeySpec::kHmac256 || spec == KeySpec::kHmac384 ||
         spec == KeySpec::kHmac512;
}

const char* KeyUsageRefusal(KeySpec spec, KeyUsage usage) noexcept {
  if (spec == KeySpec::kAes256) {
    return usage == KeyUsage::kEncryptDecrypt ? nullptr : "AES keys are for encryption only";
  }
  if (IsEc(spec)) return usage == KeyUsage::kSignVerify ? nullptr : "EC keys are for signing only";
  if (IsHmac(spec)) {
    return usage == KeyUsage::kGenerateVerifyMac ? nullptr : "HMAC keys are for MACs only";
  }
  return usage == KeyUsage::kGenerateVerifyMac ? "RSA keys cannot make MACs" : nullptr;
}

size_t KeyBits(KeySpec spec) noexcept {
  switch (spec) {
    case KeySpec::kAes256: return 256;
    case KeySpec::kRsa2048: return 2048;
    case KeySpec::kRsa3072: return 3072;
    case KeySpec::kRsa4096: return 4096;
    case KeySpec::kEccNistP256: return 256;
    case KeySpec::kEccNistP384: return 384;
    case KeySpec::kHmac224: return 224;
    case KeySpec::kHmac256: return 256;
    case KeySpec::kHmac384: return 384;
    case KeySpec::kHmac512: return 512;
  }
  return 0;
}

bool IsPss(SigningAlgorithm algorithm) noexcept {
  return algorithm == SigningAlgorithm::kRsaPssSha256 ||
         algorithm == SigningAlgorithm::kRsaPssSha384 ||
         algorithm == SigningAlgorithm::kRsaPssSha512;
}

bool IsPkcs1(SigningAlgorithm algorithm) noexcept {
  return algorithm == SigningAlgorithm::kRsaPkcs1Sha256 ||
         algorithm == SigningAlgorithm::kRsaPkcs1Sha384 ||
         algorithm == SigningAlgorithm::kRsaPkcs1Sha512;
}

bool SigningAlgorithmFits(SigningAlgorithm algorithm, KeySpec spec) noexcept {
  if (IsRsa(spec)) return IsPss(algorithm) || IsPkcs1(algorithm);
  if (spec == KeySpec::kEccNistP256) return algorithm == SigningAlgorithm::kEcdsaSha256;
  if (spec == KeySpec::kEccNistP384) return algorithm == SigningAlgorithm::kEcdsaSha384;
  return false;
}

bool MacAlgorithmFits(MacAlgorithm algorithm, KeySpec spec) noexcept {
  switch (spec) {
    case KeySpec::kHmac224: return algorithm == MacAlgorithm::kHmacSha224;
    case KeySpec::kHmac256: return algorithm == MacAlgorithm::kHmacSha256;
    case KeySpec::kHmac384: return algorithm == MacAlgorithm::kHmacSha384;
    case KeySpec::kHmac512: return algorithm == MacAlgorithm::kHmacSha512;
    default: return false;
  }
}

const EVP_MD* MacDigest(MacAlgorithm algorithm) noexcept {
  switch (algorithm) {
    case MacAlgorithm::kHmacSha224: return EVP_sha224();
    case MacAlgorithm::kHmacSha256: return EVP_sha256();
    case MacAlgorithm::kHmacSha384: return EVP_sha384();
    case MacAlgorithm::kHmacSha512: return EVP_sha512();
  }
  return EVP_sha256();
}

const EVP_MD* SigningDigest(SigningAlgorithm algorithm) noexcept {
  switch (algorithm) {
    case SigningAlgorithm::kRsaPssSha256:
    case SigningAlgorithm::kRsaPkcs1Sha256:
    case SigningAlgorithm::kEcdsaSha256:
      return EVP_sha256();
    case SigningAlgorithm::kRsaPssSha384:
    case SigningAlgorithm::kRsaPkcs1Sha384:
    case SigningAlgorithm::kEcdsaSha384:
      return EVP_sha384();
    case SigningAlgorithm::kRsaPssSha512:
    case SigningAlgorithm::kRsaPkcs1Sha512:
      return EVP_sha512();
  }
  return EVP_sha256();
}

const EVP_MD* OaepDigest(OaepHash hash) noexcept {
  return hash == OaepHash::kSha1 ? EVP_sha1() : EVP_sha256();
}

bool HostDigest(const EVP_MD* md, const uint8_t* data, size_t len, uint8_t* out,
                size_t* out_len) noexcept {
  unsigned int written = 0;
  if (EVP_Digest(data, len, out, &written, md, nullptr) != 1) {
    ERR_clear_error();
    return false;
  }
  *out_len = written;
  return true;
}

const uint8_t* DigestInfoPrefix(SigningAlgorithm algorithm, size_t* len) noexcept {
  // SEQUENCE { SEQUENCE { OID sha-2 variant, NULL }, OCTET STRING (digest) }
  static constexpr uint8_t kSha256[] = {0x30, 0x31, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01,
                                        0x65, 0x03, 0x04, 0x02, 0x01, 0x05, 0x00, 0x04, 0x20};
  static constexpr uint8_t kSha384[] = {0x30, 0x41, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01,
                                        0x65, 0x03, 0x04, 0x02, 0x02, 0x05, 0x00, 0x04, 0x30};
  static constexpr uint8_t kSha512[] = {0x30, 0x51, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01,
                                        0x65, 0x03, 0x04, 0x02, 0x03, 0x05, 0x00, 0x04, 0x40};
  switch (algorithm) {
    case SigningAlgorithm::kRsaPkcs1Sha256:
      *len = sizeof(kSha256);
      return kSha256;
    case SigningAlgorithm::kRsaPkcs1Sha384:
      *len = sizeof(kSha384);
      return kSha384;
    case SigningAlgorithm::kRsaPkcs1Sha512:
      *len = sizeof(kSha512);
      return kSha512;
    default:
      *len = 0;
      return nullptr;
  }
}

}  // namespace hsmkms::pkcs11
