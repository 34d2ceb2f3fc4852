#include "soft_root.h"

#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>

#include <cstring>
#include <mutex>
#include <new>
#include <utility>

#include "../random.h"
#include "aes_kwp.h"
#include "sealed_domain_key.h"

namespace hsmkms::soft {
namespace {

using core::Status;
using pkcs11::IsEc;
using pkcs11::IsHmac;
using pkcs11::IsRsa;
using pkcs11::WrapAlgorithm;

constexpr size_t kGcmIvSize = core::RootOfTrust::kGcmIvSize;
constexpr size_t kGcmTagSize = core::RootOfTrust::kGcmTagSize;
static_assert(kGcmIvSize == core::AesGcmKey::kIvSize && kGcmTagSize == core::AesGcmKey::kTagSize,
              "AesGcmKey must use the root's IV and tag sizes");

HsmResult Error(Status status, const char* detail) noexcept {
  return HsmResult::Error(status, nullptr, detail);
}

// Secure memory and containers throw std::bad_alloc; nothing is thrown
// across the RootOfTrust interface.
template <typename Op>
HsmResult NoThrow(Op&& op) noexcept {
  try {
    return op();
  } catch (const std::bad_alloc&) {
    return Error(Status::kInternal, "out of memory");
  }
}

bool KnownSpec(KeySpec spec) noexcept {
  return spec == KeySpec::kAes256 || IsRsa(spec) || IsEc(spec) || IsHmac(spec);
}

// Raw key bytes of a secret (not key pair) spec: AES-256 and HMAC keys.
bool IsSecret(KeySpec spec) noexcept { return spec == KeySpec::kAes256 || IsHmac(spec); }

// HMAC of `data` under `key` with `algorithm`'s digest (OpenSSL's EVP_MAC).
Status ComputeMac(const core::SecureBytes& key, MacAlgorithm algorithm, const uint8_t* data,
                  size_t len, uint8_t* out, size_t* out_len) noexcept {
  const char* digest = EVP_MD_get0_name(pkcs11::MacDigest(algorithm));
  static const uint8_t kNone = 0;  // EVP_Q_mac wants a pointer even for zero bytes
  if (EVP_Q_mac(nullptr, "HMAC", nullptr, digest, nullptr, key.data(), key.size(),
                len == 0 ? &kNone : data, len, out, EVP_MAX_MD_SIZE, out_len) == nullptr) {
    ERR_clear_error();
    return Status::kInternal;
  }
  return Status::kOk;
}

}  // namespace

core::WorkerPool& SoftRoot::Threads() {
  // Leaked like the AES pool: tasks may still finish while statics unwind.
  static core::WorkerPool* pool = new core::WorkerPool(1, "hsmkms-soft");
  return *pool;
}

HsmResult SoftRoot::Open(core::SecureBytes root_key, size_t threads,
                         std::shared_ptr<SoftRoot>* out, size_t key_cache_capacity) {
  return NoThrow([&]() -> HsmResult {
    if (out == nullptr) return Error(Status::kValidation, "no output");
    if (root_key.empty() || root_key.size() != kRootKeySize) {
      return Error(Status::kValidation, "the root key must be 32 bytes");
    }
    std::shared_ptr<core::AesGcmKey> key;
    const Status status = core::AesGcmKey::Import(root_key.data(), root_key.size(), &key);
    root_key.Release();  // the AesGcmKey holds its own copy
    if (status != Status::kOk) return Error(status, "cannot load the root key");
    std::shared_ptr<SoftRoot> root(new SoftRoot(std::move(key), key_cache_capacity));
    core::WorkerPool& pool = Threads();
    if (pool.size() < threads) pool.Resize(threads);
    *out = std::move(root);
    return HsmResult::Ok();
  });
}

SoftRoot::SoftRoot(std::shared_ptr<core::AesGcmKey> root_key, size_t key_cache_capacity)
    : root_key_(std::move(root_key)), cache_(key_cache_capacity) {}

SoftRoot::~SoftRoot() {
  // Unwrapped keys still held by running operations go when those end.
  cache_.Clear();
  root_key_->Destroy();
}

// --- Domain keys -------------------------------------------------------------------------

SoftRoot::DomainKey SoftRoot::FindDomainKey(uint32_t version) const {
  std::shared_lock<std::shared_mutex> lock(domain_keys_mutex_);
  const auto it = domain_keys_.find(version);
  return it == domain_keys_.end() ? nullptr : it->second;
}

HsmResult SoftRoot::CreateDomainKey(uint32_t version, std::vector<uint8_t>* reference) {
  return NoThrow([&]() -> HsmResult {
    if (reference == nullptr) return Error(Status::kValidation, "no output");
    // Created under the lock: two callers racing for one version get one key.
    std::unique_lock<std::shared_mutex> lock(domain_keys_mutex_);
    if (domain_keys_.count(version) != 0) {
      return Error(Status::kAlreadyExists, "this domain key version exists");
    }
    auto key = std::make_shared<core::SecureBytes>(kDomainKeySize);
    if (core::PrivateRandomBytes(key->data(), key->size()) != Status::kOk) {
      return Error(Status::kInternal, "the random generator failed");
    }
    std::vector<uint8_t> sealed;
    const Status status = SealDomainKey(*root_key_, version, *key, &sealed);
    if (status != Status::kOk) return Error(status, "cannot seal the domain key");
    domain_keys_.emplace(version, std::move(key));
    *reference = std::move(sealed);
    return HsmResult::Ok();
  });
}

HsmResult SoftRoot::FindDomainKey(uint32_t /*version*/, std::vector<uint8_t>* /*reference*/) {
  return Error(Status::kNotFound, "the soft root keeps no domain key references");
}

HsmResult SoftRoot::OpenDomainKey(uint32_t version, const uint8_t* reference,
                                  size_t reference_len) {
  return NoThrow([&]() -> HsmResult {
    auto key = std::make_shared<core::SecureBytes>();
    const Status status = UnsealDomainKey(*root_key_, version, reference, reference_len, key.get());
    if (status == Status::kInvalidCiphertext) {
      return Error(status, "the sealed domain key does not open under this root key");
    }
    if (status != Status::kOk) return Error(status, "cannot unseal the domain key");
    std::unique_lock<std::shared_mutex> lock(domain_keys_mutex_);
    const auto it = domain_keys_.find(version);
    if (it == domain_keys_.end()) {
      domain_keys_.emplace(version, std::move(key));
      return HsmResult::Ok();
    }
    // Opening twice is harmless (start-up may race a rotation); two
    // different keys for one version are not.
    if (CRYPTO_memcmp(it->second->data(), key->data(), kDomainKeySize) == 0) {
      return HsmResult::Ok();
    }
    return Error(Status::kInvalidState, "another key is open as this domain key version");
  });
}

// --- Randomness --------------------------------------------------------------------------

HsmResult SoftRoot::GenerateRandom(uint8_t* out, size_t len) {
  if (len == 0) return HsmResult::Ok();
  if (out == nullptr) return Error(Status::kValidation, "no output");
  if (core::PrivateRandomBytes(out, len) != Status::kOk) {
    return Error(Status::kInternal, "the random generator failed");
  }
  return HsmResult::Ok();
}

// --- CMK material ------------------------------------------------------------------------

HsmResult SoftRoot::GenerateKey(KeySpec spec, KeyUsage usage, uint32_t domain_version,
                                WrappedKey* out, std::vector<uint8_t>* spki) {
  // Hsm's checks, in Hsm's order.
  if (const char* refusal = pkcs11::KeyUsageRefusal(spec, usage)) {
    return Error(Status::kInvalidKeyUsage, refusal);
  }
  if (!KnownSpec(spec) || (usage != KeyUsage::kEncryptDecrypt && usage != KeyUsage::kSignVerify &&
                           usage != KeyUsage::kGenerateVerifyMac)) {
    return Error(Status::kValidation, "unknown key spec or usage");
  }
  if (out == nullptr || (!IsSecret(spec) && spki == nullptr)) {
    return Error(Status::kValidation, "no output");
  }
  out->spec = spec;
  out->usage = usage;
  out->domain_version = domain_version;
  out->algorithm = WrapAlgorithm::kAesKwp;
  out->blob.clear();
  return NoThrow([&]() -> HsmResult {
    const DomainKey domain_key = FindDomainKey(domain_version);
    if (domain_key == nullptr) return Error(Status::kNotFound, "no such domain key");

    core::SecureBytes material;
    std::vector<uint8_t> public_der;
    if (IsSecret(spec)) {
      material = core::SecureBytes(pkcs11::KeyBits(spec) / 8);
      if (core::PrivateRandomBytes(material.data(), material.size()) != Status::kOk) {
        return Error(Status::kInternal, "the random generator failed");
      }
    } else {
      const Status status = PrivateKey::Generate(spec, &material, &public_der);
      if (status != Status::kOk) return Error(status, "key pair generation failed");
    }
    std::vector<uint8_t> blob;
    const Status status = AesKwpWrap(domain_key->data(), domain_key->size(), material.data(),
                                     material.size(), &blob);
    if (status != Status::kOk) return Error(status, "cannot wrap the key");
    out->blob = std::move(blob);
    if (!IsSecret(spec)) *spki = std::move(public_der);
    return HsmResult::Ok();
  });
}

HsmResult SoftRoot::UnwrapMaterial(const WrappedKey& key, core::SecureBytes* material) {
  if (key.algorithm != WrapAlgorithm::kAesKwp || key.blob.empty()) {
    return Error(Status::kInvalidCiphertext, "not a wrapped key of a known algorithm");
  }
  const DomainKey domain_key = FindDomainKey(key.domain_version);
  if (domain_key == nullptr) return Error(Status::kNotFound, "no such domain key");
  const Status status = AesKwpUnwrap(domain_key->data(), domain_key->size(), key.blob.data(),
                                     key.blob.size(), material);
  if (status == Status::kInvalidCiphertext) {
    return Error(status, "the wrapped key does not unwrap under its domain key");
  }
  if (status != Status::kOk) return Error(status, "cannot unwrap the key");
  return HsmResult::Ok();
}

HsmResult SoftRoot::Resolve(const WrappedKey& key, std::shared_ptr<const UnwrappedKey>* out) {
  *out = cache_.Find(key.id, key.version);
  if (*out != nullptr) {
    // Another key cached under this (id, version): a token would refuse the
    // mechanism for the object's type (CKR_KEY_TYPE_INCONSISTENT).
    if ((*out)->spec != key.spec || (*out)->usage != key.usage) {
      out->reset();
      return Error(Status::kInvalidKeyUsage, "the cached key is of another spec or usage");
    }
    return HsmResult::Ok();
  }
  core::SecureBytes material;
  HsmResult result = UnwrapMaterial(key, &material);
  if (!result.ok()) return result;
  unwraps_.fetch_add(1, std::memory_order_relaxed);

  auto unwrapped = std::make_shared<UnwrappedKey>();
  unwrapped->spec = key.spec;
  unwrapped->usage = key.usage;
  Status status;
  if (key.spec == KeySpec::kAes256) {
    // Import checks the length: anything but 32 bytes is not this key.
    status = core::AesGcmKey::Import(material.data(), material.size(), &unwrapped->aes);
    if (status == Status::kValidation) status = Status::kInvalidCiphertext;
  } else if (IsHmac(key.spec)) {
    // Anything but the spec's length is not this key.
    status = material.size() == pkcs11::KeyBits(key.spec) / 8 ? Status::kOk
                                                              : Status::kInvalidCiphertext;
    if (status == Status::kOk) unwrapped->mac_key = std::move(material);
  } else {
    status = PrivateKey::FromPkcs8(key.spec, material.data(), material.size(),
                                   &unwrapped->private_key);
  }
  material.Release();  // wiped now, whatever happens next
  if (status == Status::kInvalidCiphertext) {
    return Error(status, "the unwrapped material is not a key of this spec");
  }
  if (status != Status::kOk) return Error(status, "cannot load the unwrapped key");
  *out = cache_.Insert(key.id, key.version, std::move(unwrapped));
  return HsmResult::Ok();
}

HsmResult SoftRoot::RewrapKey(const WrappedKey& key, uint32_t domain_version, WrappedKey* out) {
  if (out == nullptr) return Error(Status::kValidation, "no output");
  if (!KnownSpec(key.spec)) return Error(Status::kValidation, "unknown key spec");
  return NoThrow([&]() -> HsmResult {
    const DomainKey target = FindDomainKey(domain_version);
    if (target == nullptr) return Error(Status::kNotFound, "no such domain key");
    core::SecureBytes material;
    HsmResult result = UnwrapMaterial(key, &material);
    if (!result.ok()) return result;
    // Never carry garbage forward under a new domain key.
    Status status = Status::kOk;
    if (IsSecret(key.spec)) {
      if (material.size() != pkcs11::KeyBits(key.spec) / 8) status = Status::kInvalidCiphertext;
    } else {
      std::unique_ptr<PrivateKey> parsed;
      status = PrivateKey::FromPkcs8(key.spec, material.data(), material.size(), &parsed);
    }
    if (status == Status::kInvalidCiphertext) {
      return Error(status, "the unwrapped material is not a key of this spec");
    }
    if (status != Status::kOk) return Error(status, "cannot load the unwrapped key");
    std::vector<uint8_t> blob;
    status = AesKwpWrap(target->data(), target->size(), material.data(), material.size(), &blob);
    if (status != Status::kOk) return Error(status, "cannot wrap the key");
    WrappedKey rewrapped = key;  // `out` may be `key`
    rewrapped.domain_version = domain_version;
    rewrapped.algorithm = WrapAlgorithm::kAesKwp;
    rewrapped.blob = std::move(blob);
    *out = std::move(rewrapped);
    return HsmResult::Ok();
  });
}

// --- AES-256-GCM -------------------------------------------------------------------------

HsmResult SoftRoot::Encrypt(const WrappedKey& key, uint8_t* iv, const uint8_t* aad,
                            size_t aad_len, const uint8_t* plaintext, size_t len, uint8_t* out) {
  if (key.spec != KeySpec::kAes256 || key.usage != KeyUsage::kEncryptDecrypt) {
    return Error(Status::kInvalidKeyUsage, "not a symmetric key");
  }
  if (aad_len == 0) return Error(Status::kValidation, "AES-GCM in the HSM needs AAD");
  if (iv == nullptr || out == nullptr) return Error(Status::kValidation, "no IV or output");
  return NoThrow([&]() -> HsmResult {
    std::shared_ptr<const UnwrappedKey> unwrapped;
    HsmResult result = Resolve(key, &unwrapped);
    if (!result.ok()) return result;
    // AesGcmKey writes IV || ciphertext || tag; the interface wants the
    // ciphertext and tag alone. Only public bytes pass through this buffer.
    std::vector<uint8_t> sealed(kGcmIvSize + len + kGcmTagSize);
    const Status status =
        unwrapped->aes->Seal(iv, plaintext, len, aad, aad_len, sealed.data());
    if (status != Status::kOk) return Error(status, "AES-GCM encryption failed");
    std::memcpy(out, sealed.data() + kGcmIvSize, len + kGcmTagSize);
    return HsmResult::Ok();
  });
}

HsmResult SoftRoot::Decrypt(const WrappedKey& key, const uint8_t* iv, const uint8_t* aad,
                            size_t aad_len, const uint8_t* ciphertext, size_t len, uint8_t* out,
                            size_t out_capacity, size_t* out_len) {
  if (key.spec != KeySpec::kAes256 || key.usage != KeyUsage::kEncryptDecrypt) {
    return Error(Status::kInvalidKeyUsage, "not a symmetric key");
  }
  if (aad_len == 0) return Error(Status::kValidation, "AES-GCM in the HSM needs AAD");
  if (len < kGcmTagSize) return Error(Status::kInvalidCiphertext, "shorter than the tag");
  const size_t expected = len - kGcmTagSize;
  if (out_capacity < expected) return Error(Status::kValidation, "output buffer too small");
  if (iv == nullptr || out == nullptr || out_len == nullptr) {
    return Error(Status::kValidation, "no IV or output");
  }
  return NoThrow([&]() -> HsmResult {
    std::shared_ptr<const UnwrappedKey> unwrapped;
    HsmResult result = Resolve(key, &unwrapped);
    if (!result.ok()) return result;
    // AesGcmKey reads IV || ciphertext || tag in one piece (public bytes).
    std::vector<uint8_t> sealed(kGcmIvSize + len);
    std::memcpy(sealed.data(), iv, kGcmIvSize);
    std::memcpy(sealed.data() + kGcmIvSize, ciphertext, len);
    const Status status = unwrapped->aes->Open(sealed.data(), sealed.size(), aad, aad_len, out);
    if (status != Status::kOk) {
      OPENSSL_cleanse(out, out_capacity);
      return Error(status, status == Status::kInvalidCiphertext ? "AES-GCM authentication failed"
                                                                 : "AES-GCM decryption failed");
    }
    *out_len = expected;
    return HsmResult::Ok();
  });
}

// --- Asymmetric --------------------------------------------------------------------------

HsmResult SoftRoot::RsaDecrypt(const WrappedKey& key, OaepHash hash, const uint8_t* ciphertext,
                               size_t len, uint8_t* out, size_t out_capacity, size_t* out_len) {
  if (!IsRsa(key.spec) || key.usage != KeyUsage::kEncryptDecrypt) {
    return Error(Status::kInvalidKeyUsage, "not an RSA decryption key");
  }
  if (len != pkcs11::KeyBits(key.spec) / 8) {
    return Error(Status::kInvalidCiphertext, "not modulus-sized");
  }
  if (hash != OaepHash::kSha1 && hash != OaepHash::kSha256) {
    return Error(Status::kValidation, "unknown OAEP hash");
  }
  return NoThrow([&]() -> HsmResult {
    std::shared_ptr<const UnwrappedKey> unwrapped;
    HsmResult result = Resolve(key, &unwrapped);
    if (!result.ok()) return result;
    const Status status =
        unwrapped->private_key->DecryptOaep(hash, ciphertext, len, out, out_capacity, out_len);
    if (status != Status::kOk) return Error(status, "OAEP decryption failed");
    return HsmResult::Ok();
  });
}

HsmResult SoftRoot::Sign(const WrappedKey& key, SigningAlgorithm algorithm, MessageType type,
                         const uint8_t* data, size_t len, std::vector<uint8_t>* signature) {
  if (key.usage != KeyUsage::kSignVerify || !pkcs11::SigningAlgorithmFits(algorithm, key.spec)) {
    return Error(Status::kInvalidKeyUsage, "the key cannot sign with this algorithm");
  }
  const EVP_MD* md = pkcs11::SigningDigest(algorithm);
  const size_t digest_size = static_cast<size_t>(EVP_MD_get_size(md));
  uint8_t digest[EVP_MAX_MD_SIZE];
  size_t digest_len = 0;
  if (type == MessageType::kDigest) {
    if (len != digest_size) return Error(Status::kValidation, "digest of the wrong length");
    std::memcpy(digest, data, len);
    digest_len = len;
  } else if (!pkcs11::HostDigest(md, data, len, digest, &digest_len)) {
    return Error(Status::kInternal, "host digest failed");
  }
  if (signature == nullptr) return Error(Status::kValidation, "no output");
  return NoThrow([&]() -> HsmResult {
    std::shared_ptr<const UnwrappedKey> unwrapped;
    HsmResult result = Resolve(key, &unwrapped);
    if (!result.ok()) return result;
    const Status status =
        unwrapped->private_key->SignDigest(algorithm, digest, digest_len, signature);
    if (status != Status::kOk) return Error(status, "signing failed");
    return HsmResult::Ok();
  });
}

// --- HMAC --------------------------------------------------------------------------------

HsmResult SoftRoot::GenerateMac(const WrappedKey& key, MacAlgorithm algorithm, const uint8_t* data,
                                size_t len, std::vector<uint8_t>* mac) {
  if (key.usage != KeyUsage::kGenerateVerifyMac || !pkcs11::MacAlgorithmFits(algorithm, key.spec)) {
    return Error(Status::kInvalidKeyUsage, "the key cannot make a MAC with this algorithm");
  }
  if (mac == nullptr) return Error(Status::kValidation, "no output");
  return NoThrow([&]() -> HsmResult {
    std::shared_ptr<const UnwrappedKey> unwrapped;
    HsmResult result = Resolve(key, &unwrapped);
    if (!result.ok()) return result;
    mac->resize(EVP_MAX_MD_SIZE);
    size_t mac_len = 0;
    if (ComputeMac(unwrapped->mac_key, algorithm, data, len, mac->data(), &mac_len) != Status::kOk) {
      return Error(Status::kInternal, "HMAC failed");
    }
    mac->resize(mac_len);
    return HsmResult::Ok();
  });
}

HsmResult SoftRoot::VerifyMac(const WrappedKey& key, MacAlgorithm algorithm, const uint8_t* data,
                              size_t len, const uint8_t* mac, size_t mac_len, bool* valid) {
  if (key.usage != KeyUsage::kGenerateVerifyMac || !pkcs11::MacAlgorithmFits(algorithm, key.spec)) {
    return Error(Status::kInvalidKeyUsage, "the key cannot verify a MAC with this algorithm");
  }
  if (valid == nullptr) return Error(Status::kValidation, "no output");
  *valid = false;
  return NoThrow([&]() -> HsmResult {
    std::shared_ptr<const UnwrappedKey> unwrapped;
    HsmResult result = Resolve(key, &unwrapped);
    if (!result.ok()) return result;
    uint8_t expected[EVP_MAX_MD_SIZE];
    size_t expected_len = 0;
    if (ComputeMac(unwrapped->mac_key, algorithm, data, len, expected, &expected_len) !=
        Status::kOk) {
      return Error(Status::kInternal, "HMAC failed");
    }
    // Lengths are public; the bytes are compared in constant time.
    *valid = mac_len == expected_len && CRYPTO_memcmp(expected, mac, expected_len) == 0;
    OPENSSL_cleanse(expected, sizeof(expected));
    return HsmResult::Ok();
  });
}

// --- Cache and diagnostics ---------------------------------------------------------------

void SoftRoot::EvictKey(const std::string& id, uint32_t version) { cache_.Erase(id, version); }

core::RootStats SoftRoot::stats() const {
  core::RootStats stats;
  stats.cached_keys = cache_.size();
  stats.retries = 0;
  stats.unwraps = unwraps_.load(std::memory_order_relaxed);
  return stats;
}

}  // namespace hsmkms::soft
