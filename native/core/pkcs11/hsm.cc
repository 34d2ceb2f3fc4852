#include "hsm.h"

#include <openssl/crypto.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <string>
#include <thread>
#include <utility>

#include "oaep.h"
#include "request_start.h"
#include "spki.h"

namespace hsmkms::pkcs11 {
namespace {

constexpr CK_BBOOL kTrue = CK_TRUE;
constexpr CK_BBOOL kFalse = CK_FALSE;

// Tokens only read templates, but CK_ATTRIBUTE holds a non-const pointer.
template <typename T>
CK_ATTRIBUTE Attr(CK_ATTRIBUTE_TYPE type, const T& value) noexcept {
  return {type, const_cast<T*>(&value), sizeof(T)};
}
CK_ATTRIBUTE Bytes(CK_ATTRIBUTE_TYPE type, const void* data, size_t len) noexcept {
  return {type, const_cast<void*>(data), static_cast<CK_ULONG>(len)};
}
template <size_t N>
CK_ATTRIBUTE Array(CK_ATTRIBUTE_TYPE type, const CK_ATTRIBUTE (&attrs)[N]) noexcept {
  return {type, const_cast<CK_ATTRIBUTE*>(attrs), static_cast<CK_ULONG>(sizeof(attrs))};
}
template <size_t N>
CK_ATTRIBUTE Mechanisms(const CK_MECHANISM_TYPE (&mechanisms)[N]) noexcept {
  return {CKA_ALLOWED_MECHANISMS, const_cast<CK_MECHANISM_TYPE*>(mechanisms),
          static_cast<CK_ULONG>(sizeof(mechanisms))};
}

// The token mechanism of an HMAC key spec's one MAC algorithm.
CK_MECHANISM_TYPE HmacMechanism(KeySpec spec) noexcept {
  switch (spec) {
    case KeySpec::kHmac224: return CKM_SHA224_HMAC;
    case KeySpec::kHmac384: return CKM_SHA384_HMAC;
    case KeySpec::kHmac512: return CKM_SHA512_HMAC;
    default: return CKM_SHA256_HMAC;
  }
}

template <size_t N>
constexpr CK_ULONG Count(const CK_ATTRIBUTE (&)[N]) noexcept {
  return N;
}

std::string DomainKeyLabel(uint32_t version) { return "hsmkms:domain:" + std::to_string(version); }

// A temporary object in a worker session (freshly generated material on its
// way to being wrapped), destroyed on every path.
class ScopedObject {
 public:
  ScopedObject(CK_FUNCTION_LIST* p11, CK_SESSION_HANDLE session) : p11_(p11), session_(session) {}
  ~ScopedObject() {
    if (handle_ != CK_INVALID_HANDLE) p11_->C_DestroyObject(session_, handle_);
  }
  ScopedObject(const ScopedObject&) = delete;
  ScopedObject& operator=(const ScopedObject&) = delete;
  CK_OBJECT_HANDLE* out() noexcept { return &handle_; }
  CK_OBJECT_HANDLE get() const noexcept { return handle_; }

 private:
  CK_FUNCTION_LIST* p11_;
  CK_SESSION_HANDLE session_;
  CK_OBJECT_HANDLE handle_ = CK_INVALID_HANDLE;
};

HsmResult ReadAttribute(CK_FUNCTION_LIST* p11, CK_SESSION_HANDLE session, CK_OBJECT_HANDLE object,
                        CK_ATTRIBUTE_TYPE type, std::vector<uint8_t>* out) {
  CK_ATTRIBUTE attr{type, nullptr, 0};
  CK_RV rv = p11->C_GetAttributeValue(session, object, &attr, 1);
  if (rv != CKR_OK) return HsmResult::FromRv(rv, "C_GetAttributeValue");
  out->resize(attr.ulValueLen);
  attr.pValue = out->data();
  rv = p11->C_GetAttributeValue(session, object, &attr, 1);
  if (rv != CKR_OK) return HsmResult::FromRv(rv, "C_GetAttributeValue");
  out->resize(attr.ulValueLen);
  return HsmResult::Ok();
}

HsmResult Unavailable(const HsmResult& last) noexcept {
  HsmResult result = last;
  result.status = core::Status::kKeyUnavailable;
  result.detail = "the HSM did not recover within the retry budget";
  return result;
}

// DER OIDs of the curves (CKA_EC_PARAMS).
constexpr uint8_t kP256Oid[] = {0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07};
constexpr uint8_t kP384Oid[] = {0x06, 0x05, 0x2b, 0x81, 0x04, 0x00, 0x22};

CK_MECHANISM_TYPE HashMechanism(const EVP_MD* md) noexcept {
  switch (EVP_MD_get_type(md)) {
    case NID_sha1: return CKM_SHA_1;
    case NID_sha384: return CKM_SHA384;
    case NID_sha512: return CKM_SHA512;
    default: return CKM_SHA256;
  }
}

CK_RSA_PKCS_MGF_TYPE Mgf1(const EVP_MD* md) noexcept {
  switch (EVP_MD_get_type(md)) {
    case NID_sha1: return CKG_MGF1_SHA1;
    case NID_sha384: return CKG_MGF1_SHA384;
    case NID_sha512: return CKG_MGF1_SHA512;
    default: return CKG_MGF1_SHA256;
  }
}

size_t DefaultHsmThreads() noexcept {
  if (const char* env = std::getenv("HSMKMS_HSM_THREADS")) {
    const long n = std::strtol(env, nullptr, 10);
    if (n > 0 && n <= 256) return static_cast<size_t>(n);
  }
  return 2;
}

// HSM threads run below the JS thread (niceness 5 by default,
// HSMKMS_HSM_NICE overrides): with a software token they are CPU-bound, and
// on a machine with few cores the event loop must still get a core the
// moment a timer or a completion is due (bench/pkcs11: the event loop's p99
// went past 5 ms with two busy HSM threads at the same priority).
int HsmThreadNiceness() noexcept {
  if (const char* env = std::getenv("HSMKMS_HSM_NICE")) {
    const long n = std::strtol(env, nullptr, 10);
    if (n >= 0 && n <= 19) return static_cast<int>(n);
  }
  return 5;
}

bool HasWrapMechanism(CK_FUNCTION_LIST* p11, CK_SLOT_ID slot, CK_MECHANISM_TYPE mechanism) {
  // Zeroed first: SoftHSM 2.6.1 ORs its flags into the caller's struct.
  CK_MECHANISM_INFO info{};
  std::memset(&info, 0, sizeof(info));
  if (p11->C_GetMechanismInfo(slot, mechanism, &info) != CKR_OK) return false;
  return (info.flags & CKF_WRAP) != 0 && (info.flags & CKF_UNWRAP) != 0;
}

}  // namespace

// What one try of an operation holds: the generation it runs in and, once
// leased, a worker session (discarded when the try fails).
struct Hsm::Attempt {
  uint64_t generation = 0;
  SessionPool::Lease session;
};

core::WorkerPool& Hsm::Threads() {
  // Leaked like the AES pool: tasks may still finish while statics unwind.
  static core::WorkerPool* pool = new core::WorkerPool(DefaultHsmThreads(), HsmThreadNiceness(), "hsmkms-hsm");
  return *pool;
}

HsmResult Hsm::Open(const HsmConfig& config, core::SecureBytes pin, std::shared_ptr<Hsm>* out) {
  std::shared_ptr<Module> module;
  HsmResult result = Module::Acquire(config.module_path, config.module, &module);
  if (!result.ok()) return result;
  CK_SLOT_ID slot = 0;
  result = module->FindTokenSlot(config.token_label, &slot);
  if (!result.ok()) return result;

  CK_MECHANISM_TYPE kwp = config.kwp_mechanism;
  if (kwp == 0) {
    if (HasWrapMechanism(module->p11(), slot, CKM_AES_KEY_WRAP_KWP)) {
      kwp = CKM_AES_KEY_WRAP_KWP;
    } else if (HasWrapMechanism(module->p11(), slot, CKM_AES_KEY_WRAP_PAD)) {
      kwp = CKM_AES_KEY_WRAP_PAD;
    } else {
      return HsmResult::Error(core::Status::kInvalidState, "C_GetMechanismInfo",
                              "the token has no RFC 5649 AES key wrap");
    }
  }

  auto keeper = std::make_shared<Keeper>(module, slot, std::move(pin));
  uint64_t generation = 0;
  result = keeper->EnsureReady(&generation);
  if (!result.ok()) return result;

  std::shared_ptr<Hsm> hsm(new Hsm(config, std::move(module), slot, kwp, std::move(keeper)));
  core::WorkerPool& threads = Threads();
  if (threads.size() < config.threads) threads.Resize(config.threads);
  *out = std::move(hsm);
  return HsmResult::Ok();
}

Hsm::Hsm(const HsmConfig& config, std::shared_ptr<Module> module, CK_SLOT_ID slot,
         CK_MECHANISM_TYPE kwp_mechanism, std::shared_ptr<Keeper> keeper)
    : config_(config),
      module_(std::move(module)),
      p11_(module_->p11()),
      slot_(slot),
      kwp_mechanism_(kwp_mechanism),
      keeper_(std::move(keeper)),
      pool_(p11_, slot_, config.threads),
      cache_(config.key_cache_capacity) {}

Hsm::~Hsm() {
  // Unwrapped keys first (destroyed through the keeper), then the worker
  // sessions; the keeper and the module go with the last reference.
  cache_.Clear();
  pool_.CloseIdle();
}

// --- Retry and recovery ------------------------------------------------------------------

template <typename Op>
HsmResult Hsm::Execute(Op&& op) {
  using Clock = std::chrono::steady_clock;
  const Clock::time_point started = Clock::now();
  // Immediate recovery (a new session, a new login) gets its tries from
  // now; waiting out a sick device counts from the request (see RequestStart).
  const Clock::time_point deadline = started + config_.retry.total;
  const Clock::time_point device_deadline =
      std::min(deadline, RequestStart::Or(started) + config_.retry.total);
  std::chrono::milliseconds backoff = config_.retry.first_backoff;
  for (uint32_t tries = 1;; ++tries) {
    Attempt attempt;
    attempt.generation = keeper_->generation();
    HsmResult result = keeper_->EnsureReady(&attempt.generation);
    if (result.ok()) result = op(attempt);
    if (result.ok()) return result;
    // Whatever the session was doing is in an unknown state now.
    attempt.session.Discard();

    const Recovery recovery = RecoveryFor(result.rv, result.fn);
    if (recovery == Recovery::kNone) return result;
    Recover(recovery, attempt.generation);
    if (tries >= config_.retry.max_attempts) return Unavailable(result);
    if (recovery == Recovery::kDevice) {
      if (Clock::now() + backoff > device_deadline) return Unavailable(result);
      std::this_thread::sleep_for(backoff);
      backoff *= 2;
    } else if (Clock::now() > deadline) {
      return Unavailable(result);
    }
    retries_.fetch_add(1, std::memory_order_relaxed);
  }
}

void Hsm::Recover(Recovery recovery, uint64_t generation) {
  switch (recovery) {
    case Recovery::kNone:
      return;
    case Recovery::kSession:
      // The worker session is gone; if the keeper went too, it was a restart.
      keeper_->Check(generation);
      return;
    case Recovery::kHandle:
      // A healthy keeper means only handles went stale: drop and re-find them.
      // Otherwise Check() started a new generation, which stales them all.
      if (keeper_->Check(generation)) ClearHandles();
      return;
    case Recovery::kLogin:
      keeper_->LoggedOut(generation);
      return;
    case Recovery::kDevice:
      // Start the worker sessions afresh; the keeper too if it failed.
      keeper_->Check(generation);
      pool_.CloseIdle();
      return;
  }
}

void Hsm::ClearHandles() {
  {
    std::lock_guard<std::mutex> lock(domain_keys_mutex_);
    domain_keys_.clear();
  }
  cache_.Clear();
}

HsmResult Hsm::Lease(Attempt& attempt) {
  return pool_.Acquire(attempt.generation, &attempt.session);
}

// --- Domain keys -------------------------------------------------------------------------

HsmResult Hsm::FindDomainKeyLocked(CK_SESSION_HANDLE keeper, uint32_t version, CK_ULONG* matches,
                                   CK_OBJECT_HANDLE* handle) {
  const std::string label = DomainKeyLabel(version);
  const CK_OBJECT_CLASS cls = CKO_SECRET_KEY;
  const CK_KEY_TYPE type = CKK_AES;
  const CK_ATTRIBUTE query[] = {
      Attr(CKA_CLASS, cls),
      Attr(CKA_KEY_TYPE, type),
      Attr(CKA_TOKEN, kTrue),
      Bytes(CKA_LABEL, label.data(), label.size()),
  };
  CK_RV rv = p11_->C_FindObjectsInit(keeper, const_cast<CK_ATTRIBUTE*>(query), Count(query));
  if (rv != CKR_OK) return HsmResult::FromRv(rv, "C_FindObjectsInit");
  // Two slots: a duplicate label must be seen, not silently picked.
  CK_OBJECT_HANDLE found[2] = {CK_INVALID_HANDLE, CK_INVALID_HANDLE};
  *matches = 0;
  rv = p11_->C_FindObjects(keeper, found, 2, matches);
  const CK_RV final_rv = p11_->C_FindObjectsFinal(keeper);
  if (rv != CKR_OK) return HsmResult::FromRv(rv, "C_FindObjects");
  if (final_rv != CKR_OK) return HsmResult::FromRv(final_rv, "C_FindObjectsFinal");
  if (*matches == 0) {
    // A private object is invisible without a login: absent only if logged in.
    CK_SESSION_INFO info{};
    rv = p11_->C_GetSessionInfo(keeper, &info);
    if (rv != CKR_OK) return HsmResult::FromRv(rv, "C_GetSessionInfo");
    if (info.state != CKS_RW_USER_FUNCTIONS && info.state != CKS_RO_USER_FUNCTIONS) {
      return HsmResult::FromRv(CKR_USER_NOT_LOGGED_IN, "C_FindObjects");
    }
  }
  *handle = found[0];
  return HsmResult::Ok();
}

HsmResult Hsm::DomainKeyHandle(Attempt& attempt, uint32_t version, CK_OBJECT_HANDLE* handle) {
  {
    std::lock_guard<std::mutex> lock(domain_keys_mutex_);
    auto it = domain_keys_.find(version);
    if (it != domain_keys_.end() && it->second.generation == attempt.generation) {
      *handle = it->second.handle;
      return HsmResult::Ok();
    }
  }
  CK_ULONG matches = 0;
  HsmResult result = keeper_->Run(attempt.generation, [&](CK_SESSION_HANDLE keeper) {
    return FindDomainKeyLocked(keeper, version, &matches, handle);
  });
  if (!result.ok()) return result;
  if (matches == 0) {
    return HsmResult::Error(core::Status::kNotFound, "C_FindObjects", "no such domain key");
  }
  if (matches > 1) {
    return HsmResult::Error(core::Status::kInvalidState, "C_FindObjects",
                            "several objects carry this domain key label");
  }
  std::lock_guard<std::mutex> lock(domain_keys_mutex_);
  domain_keys_[version] = DomainKeyEntry{*handle, attempt.generation};
  return HsmResult::Ok();
}

HsmResult Hsm::CreateDomainKey(uint32_t version, std::vector<uint8_t>* id) {
  return Execute([&](Attempt& attempt) -> HsmResult {
    CK_ULONG matches = 0;
    CK_OBJECT_HANDLE existing = CK_INVALID_HANDLE;
    HsmResult result = keeper_->Run(attempt.generation, [&](CK_SESSION_HANDLE keeper) {
      return FindDomainKeyLocked(keeper, version, &matches, &existing);
    });
    if (!result.ok()) return result;
    if (matches != 0) {
      return HsmResult::Error(core::Status::kAlreadyExists, "C_FindObjects",
                              "this domain key version exists");
    }
    result = Lease(attempt);
    if (!result.ok()) return result;
    const CK_SESSION_HANDLE session = attempt.session.handle();

    uint8_t key_id[kDomainKeyIdSize];
    CK_RV rv = p11_->C_GenerateRandom(session, key_id, sizeof(key_id));
    if (rv != CKR_OK) return HsmResult::FromRv(rv, "C_GenerateRandom");

    const std::string label = DomainKeyLabel(version);
    const CK_OBJECT_CLASS cls = CKO_SECRET_KEY;
    const CK_KEY_TYPE type = CKK_AES;
    const CK_ULONG value_len = 32;
    const CK_MECHANISM_TYPE allowed[] = {kwp_mechanism_};
    // What the domain key unwraps can only be a sensitive, non-extractable,
    // non-copyable session object: the token enforces it for every caller
    // holding the PIN, whatever template they pass.
    const CK_ATTRIBUTE unwrap_template[] = {
        Attr(CKA_TOKEN, kFalse),
        Attr(CKA_SENSITIVE, kTrue),
        Attr(CKA_EXTRACTABLE, kFalse),
        Attr(CKA_COPYABLE, kFalse),
    };
    // Only keys generated sensitive in the HSM can be wrapped: a key whose
    // value someone knows cannot be substituted for a CMK.
    const CK_ATTRIBUTE wrap_template[] = {
        Attr(CKA_ALWAYS_SENSITIVE, kTrue),
    };
    const CK_ATTRIBUTE key_template[] = {
        Attr(CKA_CLASS, cls),
        Attr(CKA_KEY_TYPE, type),
        Attr(CKA_VALUE_LEN, value_len),
        Attr(CKA_TOKEN, kTrue),
        Attr(CKA_PRIVATE, kTrue),
        Attr(CKA_SENSITIVE, kTrue),
        Attr(CKA_EXTRACTABLE, kFalse),
        Attr(CKA_COPYABLE, kFalse),
        Attr(CKA_DESTROYABLE, kFalse),
        // Wrap and decrypt never on one key: wrap-then-decrypt would extract.
        Attr(CKA_WRAP, kTrue),
        Attr(CKA_UNWRAP, kTrue),
        Attr(CKA_ENCRYPT, kFalse),
        Attr(CKA_DECRYPT, kFalse),
        Attr(CKA_SIGN, kFalse),
        Attr(CKA_VERIFY, kFalse),
        Attr(CKA_DERIVE, kFalse),
        Bytes(CKA_LABEL, label.data(), label.size()),
        Bytes(CKA_ID, key_id, sizeof(key_id)),
        Mechanisms(allowed),
        Array(CKA_UNWRAP_TEMPLATE, unwrap_template),
        Array(CKA_WRAP_TEMPLATE, wrap_template),
        // Nobody holding the PIN can add DECRYPT (or anything) later. Last,
        // as in ResolveKey: SoftHSM applies templates in order.
        Attr(CKA_MODIFIABLE, kFalse),
    };
    CK_MECHANISM mechanism{CKM_AES_KEY_GEN, nullptr, 0};
    CK_OBJECT_HANDLE handle = CK_INVALID_HANDLE;
    rv = p11_->C_GenerateKey(session, &mechanism, const_cast<CK_ATTRIBUTE*>(key_template),
                             Count(key_template), &handle);
    if (rv != CKR_OK) return HsmResult::FromRv(rv, "C_GenerateKey");
    id->assign(key_id, key_id + sizeof(key_id));
    return HsmResult::Ok();
  });
}

HsmResult Hsm::FindDomainKey(uint32_t version, std::vector<uint8_t>* id) {
  return Execute([&](Attempt& attempt) -> HsmResult {
    CK_OBJECT_HANDLE handle = CK_INVALID_HANDLE;
    HsmResult result = DomainKeyHandle(attempt, version, &handle);
    if (!result.ok()) return result;
    return keeper_->Run(attempt.generation, [&](CK_SESSION_HANDLE keeper) {
      return ReadAttribute(p11_, keeper, handle, CKA_ID, id);
    });
  });
}

HsmResult Hsm::OpenDomainKey(uint32_t version, const uint8_t* reference, size_t reference_len) {
  std::vector<uint8_t> id;
  HsmResult result = FindDomainKey(version, &id);
  if (!result.ok()) return result;
  // Not secret (a CKA_ID): a plain comparison.
  if (reference == nullptr || id.size() != reference_len ||
      std::memcmp(id.data(), reference, reference_len) != 0) {
    return HsmResult::Error(core::Status::kNotFound, nullptr,
                            "the domain key on the token is not the one the reference names");
  }
  return HsmResult::Ok();
}

// --- Randomness --------------------------------------------------------------------------

HsmResult Hsm::GenerateRandom(uint8_t* out, size_t len) {
  if (len == 0) return HsmResult::Ok();
  return Execute([&](Attempt& attempt) -> HsmResult {
    HsmResult result = Lease(attempt);
    if (!result.ok()) return result;
    const CK_RV rv =
        p11_->C_GenerateRandom(attempt.session.handle(), out, static_cast<CK_ULONG>(len));
    if (rv != CKR_OK) return HsmResult::FromRv(rv, "C_GenerateRandom");
    return HsmResult::Ok();
  });
}

// --- Unwrapping and the cache ------------------------------------------------------------

HsmResult Hsm::ResolveKey(Attempt& attempt, const WrappedKey& key,
                          std::shared_ptr<SessionObject>* out) {
  *out = cache_.Find(key.id, key.version, attempt.generation);
  if (*out != nullptr) return HsmResult::Ok();
  if (key.algorithm != WrapAlgorithm::kAesKwp || key.blob.empty()) {
    return HsmResult::Error(core::Status::kInvalidCiphertext, "C_UnwrapKey",
                            "not a wrapped key of a known algorithm");
  }

  CK_OBJECT_HANDLE domain_key = CK_INVALID_HANDLE;
  HsmResult result = DomainKeyHandle(attempt, key.domain_version, &domain_key);
  if (!result.ok()) return result;

  // Each template must repeat the domain key's CKA_UNWRAP_TEMPLATE values
  // explicitly (TOKEN, SENSITIVE, EXTRACTABLE, COPYABLE), or the token
  // refuses it; usage and allowed mechanisms narrow what the key can do.
  const CK_OBJECT_CLASS secret = CKO_SECRET_KEY, private_key = CKO_PRIVATE_KEY;
  const CK_KEY_TYPE aes = CKK_AES, rsa = CKK_RSA, ec = CKK_EC, generic = CKK_GENERIC_SECRET;
  const bool is_rsa = IsRsa(key.spec), is_ec = IsEc(key.spec), is_hmac = IsHmac(key.spec);
  const bool decrypt = key.usage == KeyUsage::kEncryptDecrypt;
  static constexpr CK_MECHANISM_TYPE kAesMechanisms[] = {CKM_AES_GCM};
  static constexpr CK_MECHANISM_TYPE kRsaDecryptMechanisms[] = {CKM_RSA_PKCS_OAEP, CKM_RSA_X_509};
  static constexpr CK_MECHANISM_TYPE kRsaSignMechanisms[] = {CKM_RSA_PKCS_PSS, CKM_RSA_PKCS};
  static constexpr CK_MECHANISM_TYPE kEcMechanisms[] = {CKM_ECDSA};
  CK_ATTRIBUTE allowed = Mechanisms(kAesMechanisms);
  if (is_rsa) {
    allowed = decrypt ? Mechanisms(kRsaDecryptMechanisms) : Mechanisms(kRsaSignMechanisms);
  }
  if (is_ec) allowed = Mechanisms(kEcMechanisms);
  // One HMAC mechanism per key spec, as one MAC algorithm per AWS key spec.
  CK_MECHANISM_TYPE hmac_mechanism[] = {CKM_SHA256_HMAC};
  if (is_hmac) {
    hmac_mechanism[0] = HmacMechanism(key.spec);
    allowed = Mechanisms(hmac_mechanism);
  }
  const bool symmetric = !is_rsa && !is_ec;
  CK_ATTRIBUTE unwrap_template[16];
  CK_ULONG attribute_count = 0;
  auto add = [&](CK_ATTRIBUTE attr) { unwrap_template[attribute_count++] = attr; };
  add(Attr(CKA_CLASS, symmetric ? secret : private_key));
  add(Attr(CKA_KEY_TYPE, is_hmac ? generic : symmetric ? aes : (is_rsa ? rsa : ec)));
  add(Attr(CKA_TOKEN, kFalse));
  add(Attr(CKA_PRIVATE, config_.private_session_keys ? kTrue : kFalse));
  add(Attr(CKA_SENSITIVE, kTrue));
  add(Attr(CKA_EXTRACTABLE, kFalse));
  add(Attr(CKA_COPYABLE, kFalse));
  add(Attr(CKA_DECRYPT, decrypt ? kTrue : kFalse));
  add(Attr(CKA_SIGN, decrypt ? kFalse : kTrue));
  add(Attr(CKA_UNWRAP, kFalse));
  add(Attr(CKA_DERIVE, kFalse));
  add(allowed);
  if (symmetric) {  // private keys have neither
    add(Attr(CKA_ENCRYPT, is_hmac ? kFalse : kTrue));
    add(Attr(CKA_WRAP, kFalse));
  }
  if (is_hmac) add(Attr(CKA_VERIFY, kTrue));  // the MAC is checked inside the token
  // Last: SoftHSM applies a template in order and refuses any attribute
  // after MODIFIABLE=FALSE (CKR_ATTRIBUTE_READ_ONLY).
  add(Attr(CKA_MODIFIABLE, kFalse));
  CK_MECHANISM mechanism{kwp_mechanism_, nullptr, 0};
  CK_OBJECT_HANDLE handle = CK_INVALID_HANDLE;
  uint64_t session_number = 0;
  result = keeper_->Run(attempt.generation, [&](CK_SESSION_HANDLE keeper) {
    session_number = keeper_->session_number();
    unwraps_.fetch_add(1, std::memory_order_relaxed);
    const CK_RV rv = p11_->C_UnwrapKey(
        keeper, &mechanism, domain_key, const_cast<uint8_t*>(key.blob.data()),
        static_cast<CK_ULONG>(key.blob.size()), unwrap_template, attribute_count, &handle);
    return rv == CKR_OK ? HsmResult::Ok() : HsmResult::FromRv(rv, "C_UnwrapKey");
  });
  if (!result.ok()) return result;
  *out = cache_.Insert(key.id, key.version,
                       std::make_shared<SessionObject>(keeper_, handle, attempt.generation,
                                                       session_number,
                                                       config_.private_session_keys));
  return HsmResult::Ok();
}

HsmResult Hsm::LoadKey(const WrappedKey& key, std::shared_ptr<SessionObject>* out) {
  return Execute([&](Attempt& attempt) { return ResolveKey(attempt, key, out); });
}

void Hsm::EvictKey(const std::string& id, uint32_t version) { cache_.Erase(id, version); }

// --- Key generation ----------------------------------------------------------------------

HsmResult Hsm::WrapWithDomainKey(Attempt& attempt, uint32_t domain_version, CK_OBJECT_HANDLE key,
                                 std::vector<uint8_t>* blob) {
  CK_OBJECT_HANDLE domain_key = CK_INVALID_HANDLE;
  HsmResult result = DomainKeyHandle(attempt, domain_version, &domain_key);
  if (!result.ok()) return result;
  CK_MECHANISM mechanism{kwp_mechanism_, nullptr, 0};
  const CK_SESSION_HANDLE session = attempt.session.handle();
  // Sized first: PKCS#8 private keys vary in length.
  CK_ULONG len = 0;
  CK_RV rv = p11_->C_WrapKey(session, &mechanism, domain_key, key, nullptr, &len);
  if (rv != CKR_OK) return HsmResult::FromRv(rv, "C_WrapKey");
  blob->resize(len);
  rv = p11_->C_WrapKey(session, &mechanism, domain_key, key, blob->data(), &len);
  if (rv != CKR_OK) return HsmResult::FromRv(rv, "C_WrapKey");
  blob->resize(len);
  return HsmResult::Ok();
}

HsmResult Hsm::GenerateSecretKey(Attempt& attempt, KeySpec spec, WrappedKey* out) {
  const CK_SESSION_HANDLE session = attempt.session.handle();
  const bool hmac = IsHmac(spec);
  const CK_OBJECT_CLASS cls = CKO_SECRET_KEY;
  const CK_KEY_TYPE type = hmac ? CKK_GENERIC_SECRET : CKK_AES;
  const CK_ULONG value_len = static_cast<CK_ULONG>(KeyBits(spec) / 8);
  // A transient session object: extractable only so that the domain key can
  // wrap it, destroyed right after.
  const CK_ATTRIBUTE key_template[] = {
      Attr(CKA_CLASS, cls),         Attr(CKA_KEY_TYPE, type),       Attr(CKA_VALUE_LEN, value_len),
      Attr(CKA_TOKEN, kFalse),      Attr(CKA_PRIVATE, kTrue),       Attr(CKA_SENSITIVE, kTrue),
      Attr(CKA_EXTRACTABLE, kTrue), Attr(CKA_ENCRYPT, hmac ? kFalse : kTrue),
      Attr(CKA_DECRYPT, hmac ? kFalse : kTrue), Attr(CKA_SIGN, hmac ? kTrue : kFalse),
      Attr(CKA_VERIFY, hmac ? kTrue : kFalse), Attr(CKA_WRAP, kFalse), Attr(CKA_UNWRAP, kFalse),
  };
  CK_MECHANISM mechanism{hmac ? CKM_GENERIC_SECRET_KEY_GEN : CKM_AES_KEY_GEN, nullptr, 0};
  ScopedObject key(p11_, session);
  const CK_RV rv = p11_->C_GenerateKey(session, &mechanism, const_cast<CK_ATTRIBUTE*>(key_template),
                                       Count(key_template), key.out());
  if (rv != CKR_OK) return HsmResult::FromRv(rv, "C_GenerateKey");
  return WrapWithDomainKey(attempt, out->domain_version, key.get(), &out->blob);
}

HsmResult Hsm::GenerateKeyPairOnce(Attempt& attempt, KeySpec spec, KeyUsage usage,
                                   WrappedKey* out, std::vector<uint8_t>* spki) {
  const CK_SESSION_HANDLE session = attempt.session.handle();
  const bool decrypt = usage == KeyUsage::kEncryptDecrypt;
  const CK_ULONG modulus_bits = static_cast<CK_ULONG>(KeyBits(spec));
  static constexpr uint8_t kF4[] = {0x01, 0x00, 0x01};
  const bool is_rsa = IsRsa(spec);
  const uint8_t* oid = spec == KeySpec::kEccNistP256 ? kP256Oid : kP384Oid;
  const size_t oid_len = spec == KeySpec::kEccNistP256 ? sizeof(kP256Oid) : sizeof(kP384Oid);

  const CK_ATTRIBUTE rsa_public[] = {
      Attr(CKA_TOKEN, kFalse),
      Attr(CKA_MODULUS_BITS, modulus_bits),
      Bytes(CKA_PUBLIC_EXPONENT, kF4, sizeof(kF4)),
      Attr(CKA_ENCRYPT, decrypt ? kTrue : kFalse),
      Attr(CKA_VERIFY, decrypt ? kFalse : kTrue),
  };
  const CK_ATTRIBUTE ec_public[] = {
      Attr(CKA_TOKEN, kFalse),
      Bytes(CKA_EC_PARAMS, oid, oid_len),
      Attr(CKA_VERIFY, kTrue),
  };
  // Extractable only so that the domain key can wrap it (PKCS#8 inside
  // RFC 5649); the transient object is destroyed right after.
  const CK_ATTRIBUTE private_template[] = {
      Attr(CKA_TOKEN, kFalse),       Attr(CKA_PRIVATE, kTrue),
      Attr(CKA_SENSITIVE, kTrue),    Attr(CKA_EXTRACTABLE, kTrue),
      Attr(CKA_DECRYPT, decrypt ? kTrue : kFalse), Attr(CKA_SIGN, decrypt ? kFalse : kTrue),
  };
  CK_MECHANISM mechanism{is_rsa ? CKM_RSA_PKCS_KEY_PAIR_GEN : CKM_EC_KEY_PAIR_GEN, nullptr, 0};
  ScopedObject public_key(p11_, session);
  ScopedObject private_key(p11_, session);
  const CK_RV rv = p11_->C_GenerateKeyPair(
      session, &mechanism, const_cast<CK_ATTRIBUTE*>(is_rsa ? rsa_public : ec_public),
      is_rsa ? Count(rsa_public) : Count(ec_public), const_cast<CK_ATTRIBUTE*>(private_template),
      Count(private_template), public_key.out(), private_key.out());
  if (rv != CKR_OK) return HsmResult::FromRv(rv, "C_GenerateKeyPair");

  core::Status status;
  if (is_rsa) {
    std::vector<uint8_t> modulus, exponent;
    HsmResult result = ReadAttribute(p11_, session, public_key.get(), CKA_MODULUS, &modulus);
    if (!result.ok()) return result;
    result = ReadAttribute(p11_, session, public_key.get(), CKA_PUBLIC_EXPONENT, &exponent);
    if (!result.ok()) return result;
    status = RsaSpki(modulus.data(), modulus.size(), exponent.data(), exponent.size(), spki);
  } else {
    std::vector<uint8_t> point;
    HsmResult result = ReadAttribute(p11_, session, public_key.get(), CKA_EC_POINT, &point);
    if (!result.ok()) return result;
    status = EcSpki(spec, point.data(), point.size(), spki);
  }
  if (status != core::Status::kOk) {
    return HsmResult::Error(status, "C_GetAttributeValue", "cannot encode the public key");
  }
  return WrapWithDomainKey(attempt, out->domain_version, private_key.get(), &out->blob);
}

HsmResult Hsm::GenerateKey(KeySpec spec, KeyUsage usage, uint32_t domain_version,
                           WrappedKey* out, std::vector<uint8_t>* spki) {
  if (const char* refusal = KeyUsageRefusal(spec, usage)) {
    return HsmResult::Error(core::Status::kInvalidKeyUsage, nullptr, refusal);
  }
  out->spec = spec;
  out->usage = usage;
  out->domain_version = domain_version;
  out->algorithm = WrapAlgorithm::kAesKwp;
  return Execute([&](Attempt& attempt) -> HsmResult {
    HsmResult result = Lease(attempt);
    if (!result.ok()) return result;
    if (spec == KeySpec::kAes256 || IsHmac(spec)) return GenerateSecretKey(attempt, spec, out);
    return GenerateKeyPairOnce(attempt, spec, usage, out, spki);
  });
}

// --- Re-wrapping (domain-key rotation) -----------------------------------------------------

namespace {

// Why RewrapKey cannot work on a PKCS#11 token with our domain keys
// (measured on SoftHSM 2.6.1; the PKCS#11 rules are the same everywhere):
// - C_WrapKey needs an extractable key, and every domain key's
//   CKA_UNWRAP_TEMPLATE forces what it unwraps to CKA_EXTRACTABLE=FALSE
//   (CKR_TEMPLATE_INCONSISTENT otherwise); that cannot be undone
//   (C_SetAttributeValue: CKR_ATTRIBUTE_READ_ONLY, C_CopyObject:
//   CKR_ACTION_PROHIBITED) and the CMK material exists nowhere else.
// - The one standard way to let a key leave only towards chosen keys is
//   CKA_WRAP_WITH_TRUSTED + a CKA_TRUSTED wrapping key. Only the security
//   officer may set CKA_TRUSTED, and SoftHSM lets the SO create public
//   objects only: a trusted domain key would be usable without a login and
//   stored in clear in the token directory. Worse than keeping old keys.
// - The domain keys' CKA_WRAP_TEMPLATE {CKA_ALWAYS_SENSITIVE=TRUE} refuses
//   any unwrapped key (C_UnwrapKey sets ALWAYS_SENSITIVE=FALSE), so no
//   unwrap-then-wrap path exists even through a trusted key.
// So on PKCS#11 a CMK version stays wrapped by the domain key version that
// made it: older domain key versions are kept (never destroyed) to unwrap
// them, and CMK rotation (a new CMK version) moves keys to the newest one.
constexpr const char* kRewrapImpossible =
    "a PKCS#11 domain key unwraps CMKs as non-extractable, so they cannot be wrapped again; "
    "keep the older domain key version (or rotate the CMK)";

}  // namespace

HsmResult Hsm::RewrapKey(const WrappedKey& key, uint32_t domain_version, WrappedKey* out) {
  if (domain_version == key.domain_version) {
    // Already wrapped by that version: nothing to do, nothing leaves the HSM.
    *out = key;
    return HsmResult::Ok();
  }
  return HsmResult::Error(core::Status::kInvalidState, nullptr, kRewrapImpossible);
}

// --- AES-256-GCM -------------------------------------------------------------------------

HsmResult Hsm::Encrypt(const WrappedKey& key, uint8_t* iv, const uint8_t* aad, size_t aad_len,
                       const uint8_t* plaintext, size_t len, uint8_t* out) {
  if (key.spec != KeySpec::kAes256 || key.usage != KeyUsage::kEncryptDecrypt) {
    return HsmResult::Error(core::Status::kInvalidKeyUsage, nullptr, "not a symmetric key");
  }
  // SoftHSM 2.6.1 reads an empty AAD through &vector[0] (undefined behaviour).
  if (aad_len == 0) {
    return HsmResult::Error(core::Status::kValidation, nullptr, "AES-GCM in the HSM needs AAD");
  }
  return Execute([&](Attempt& attempt) -> HsmResult {
    std::shared_ptr<SessionObject> object;
    HsmResult result = ResolveKey(attempt, key, &object);
    if (!result.ok()) return result;
    result = Lease(attempt);
    if (!result.ok()) return result;
    const CK_SESSION_HANDLE session = attempt.session.handle();
    // The full 2.40 struct with ulIvBits (some tokens need it); the tag
    // length is ours, never the token's default or the ciphertext's choice.
    CK_GCM_PARAMS params{iv, kGcmIvSize, kGcmIvSize * 8, const_cast<uint8_t*>(aad),
                         static_cast<CK_ULONG>(aad_len), kGcmTagSize * 8};
    CK_MECHANISM mechanism{CKM_AES_GCM, &params, sizeof(params)};
    CK_RV rv = p11_->C_EncryptInit(session, &mechanism, object->handle());
    if (rv != CKR_OK) return HsmResult::FromRv(rv, "C_EncryptInit");
    CK_ULONG out_len = static_cast<CK_ULONG>(len + kGcmTagSize);
    uint8_t none = 0;  // tokens reject a null pointer even for zero bytes
    rv = p11_->C_Encrypt(session, len == 0 ? &none : const_cast<uint8_t*>(plaintext),
                         static_cast<CK_ULONG>(len), out, &out_len);
    if (rv != CKR_OK) return HsmResult::FromRv(rv, "C_Encrypt");
    if (out_len != len + kGcmTagSize) {
      OPENSSL_cleanse(out, len + kGcmTagSize);
      return HsmResult::Error(core::Status::kInternal, "C_Encrypt", "unexpected GCM output length");
    }
    // `iv` now holds what the token used (CloudHSM and Luna in FIPS mode
    // write their own IV there).
    return HsmResult::Ok();
  });
}

HsmResult Hsm::Decrypt(const WrappedKey& key, const uint8_t* iv, const uint8_t* aad,
                       size_t aad_len, const uint8_t* ciphertext, size_t len, uint8_t* out,
                       size_t out_capacity, size_t* out_len) {
  if (key.spec != KeySpec::kAes256 || key.usage != KeyUsage::kEncryptDecrypt) {
    return HsmResult::Error(core::Status::kInvalidKeyUsage, nullptr, "not a symmetric key");
  }
  if (aad_len == 0) {
    return HsmResult::Error(core::Status::kValidation, nullptr, "AES-GCM in the HSM needs AAD");
  }
  if (len < kGcmTagSize) {
    return HsmResult::Error(core::Status::kInvalidCiphertext, nullptr, "shorter than the tag");
  }
  const size_t expected = len - kGcmTagSize;
  if (out_capacity < expected) {
    return HsmResult::Error(core::Status::kValidation, nullptr, "output buffer too small");
  }
  return Execute([&](Attempt& attempt) -> HsmResult {
    std::shared_ptr<SessionObject> object;
    HsmResult result = ResolveKey(attempt, key, &object);
    if (!result.ok()) return result;
    result = Lease(attempt);
    if (!result.ok()) return result;
    const CK_SESSION_HANDLE session = attempt.session.handle();
    uint8_t iv_copy[kGcmIvSize];
    std::memcpy(iv_copy, iv, kGcmIvSize);
    CK_GCM_PARAMS params{iv_copy, kGcmIvSize, kGcmIvSize * 8, const_cast<uint8_t*>(aad),
                         static_cast<CK_ULONG>(aad_len), kGcmTagSize * 8};
    CK_MECHANISM mechanism{CKM_AES_GCM, &params, sizeof(params)};
    CK_RV rv = p11_->C_DecryptInit(session, &mechanism, object->handle());
    if (rv != CKR_OK) return HsmResult::FromRv(rv, "C_DecryptInit");
    CK_ULONG written = static_cast<CK_ULONG>(out_capacity);
    rv = p11_->C_Decrypt(session, const_cast<uint8_t*>(ciphertext), static_cast<CK_ULONG>(len),
                         out, &written);
    if (rv == CKR_BUFFER_TOO_SMALL && written > out_capacity) {
      // The operation is still active: finish it into a scratch buffer.
      core::SecureBytes scratch(written);
      rv = p11_->C_Decrypt(session, const_cast<uint8_t*>(ciphertext), static_cast<CK_ULONG>(len),
                           scratch.data(), &written);
      if (rv == CKR_OK && written <= out_capacity) std::memcpy(out, scratch.data(), written);
    }
    if (rv != CKR_OK || written != expected) {
      OPENSSL_cleanse(out, out_capacity);
      if (rv != CKR_OK) return HsmResult::FromRv(rv, "C_Decrypt");
      return HsmResult::Error(core::Status::kInternal, "C_Decrypt", "unexpected GCM output length");
    }
    *out_len = written;
    return HsmResult::Ok();
  });
}

// --- RSA decryption ----------------------------------------------------------------------

HsmResult Hsm::RsaDecrypt(const WrappedKey& key, OaepHash hash, const uint8_t* ciphertext,
                          size_t len, uint8_t* out, size_t out_capacity, size_t* out_len) {
  if (!IsRsa(key.spec) || key.usage != KeyUsage::kEncryptDecrypt) {
    return HsmResult::Error(core::Status::kInvalidKeyUsage, nullptr, "not an RSA decryption key");
  }
  const size_t k = KeyBits(key.spec) / 8;
  if (len != k) {
    return HsmResult::Error(core::Status::kInvalidCiphertext, nullptr, "not modulus-sized");
  }
  return Execute([&](Attempt& attempt) -> HsmResult {
    std::shared_ptr<SessionObject> object;
    HsmResult result = ResolveKey(attempt, key, &object);
    if (!result.ok()) return result;
    result = Lease(attempt);
    if (!result.ok()) return result;
    const CK_SESSION_HANDLE session = attempt.session.handle();
    // The token writes up to k bytes whatever the message length.
    core::SecureBytes scratch(k);
    CK_ULONG written = static_cast<CK_ULONG>(k);

    const EVP_MD* md = OaepDigest(hash);
    bool native = hash == OaepHash::kSha1 || native_oaep_sha256_.load() != Support::kNo;
    if (native) {
      CK_RSA_PKCS_OAEP_PARAMS params{HashMechanism(md), Mgf1(md), CKZ_DATA_SPECIFIED, nullptr, 0};
      CK_MECHANISM mechanism{CKM_RSA_PKCS_OAEP, &params, sizeof(params)};
      CK_RV rv = p11_->C_DecryptInit(session, &mechanism, object->handle());
      if (hash == OaepHash::kSha256 &&
          (rv == CKR_ARGUMENTS_BAD || rv == CKR_MECHANISM_PARAM_INVALID)) {
        native_oaep_sha256_.store(Support::kNo);  // SoftHSM 2.6.1: SHA-1 only
        native = false;
      } else if (rv != CKR_OK) {
        return HsmResult::FromRv(rv, "C_DecryptInit");
      } else {
        rv = p11_->C_Decrypt(session, const_cast<uint8_t*>(ciphertext), static_cast<CK_ULONG>(len),
                             scratch.data(), &written);
        if (rv != CKR_OK) return HsmResult::FromRv(rv, "C_Decrypt");
        if (hash == OaepHash::kSha256) native_oaep_sha256_.store(Support::kYes);
        if (written > out_capacity) {
          return HsmResult::Error(core::Status::kValidation, nullptr, "output buffer too small");
        }
        std::memcpy(out, scratch.data(), written);
        *out_len = written;
        return HsmResult::Ok();
      }
    }
    // Raw RSA in the HSM, OAEP decoding on the host (constant time).
    CK_MECHANISM mechanism{CKM_RSA_X_509, nullptr, 0};
    CK_RV rv = p11_->C_DecryptInit(session, &mechanism, object->handle());
    if (rv != CKR_OK) return HsmResult::FromRv(rv, "C_DecryptInit");
    rv = p11_->C_Decrypt(session, const_cast<uint8_t*>(ciphertext), static_cast<CK_ULONG>(len),
                         scratch.data(), &written);
    if (rv != CKR_OK) return HsmResult::FromRv(rv, "C_Decrypt");
    if (written > k) {
      return HsmResult::Error(core::Status::kInternal, "C_Decrypt", "raw RSA output too long");
    }
    if (written < k) {  // some tokens drop leading zero bytes
      std::memmove(scratch.data() + (k - written), scratch.data(), written);
      std::memset(scratch.data(), 0, k - written);
    }
    const core::Status status = OaepDecode(hash, scratch.data(), k, out, out_capacity, out_len);
    if (status != core::Status::kOk) {
      return HsmResult::Error(status, "C_Decrypt", "OAEP decoding failed");
    }
    return HsmResult::Ok();
  });
}

// --- Signatures --------------------------------------------------------------------------

HsmResult Hsm::Sign(const WrappedKey& key, SigningAlgorithm algorithm, MessageType type,
                    const uint8_t* data, size_t len, std::vector<uint8_t>* signature) {
  if (key.usage != KeyUsage::kSignVerify || !SigningAlgorithmFits(algorithm, key.spec)) {
    return HsmResult::Error(core::Status::kInvalidKeyUsage, nullptr,
                            "the key cannot sign with this algorithm");
  }
  const EVP_MD* md = SigningDigest(algorithm);
  const size_t digest_size = static_cast<size_t>(EVP_MD_get_size(md));
  // Input to the token: the digest, prefixed with its DigestInfo for PKCS#1 v1.5.
  uint8_t input[32 + EVP_MAX_MD_SIZE];
  size_t prefix_len = 0;
  const uint8_t* prefix = DigestInfoPrefix(algorithm, &prefix_len);
  if (prefix_len > 0) std::memcpy(input, prefix, prefix_len);
  size_t digest_len = 0;
  if (type == MessageType::kDigest) {
    if (len != digest_size) {
      return HsmResult::Error(core::Status::kValidation, nullptr, "digest of the wrong length");
    }
    std::memcpy(input + prefix_len, data, len);
    digest_len = len;
  } else if (!HostDigest(md, data, len, input + prefix_len, &digest_len)) {
    return HsmResult::Error(core::Status::kInternal, nullptr, "host digest failed");
  }
  const size_t input_len = prefix_len + digest_len;

  const bool is_rsa = IsRsa(key.spec);
  const size_t max_signature = is_rsa ? KeyBits(key.spec) / 8 : 2 * (KeyBits(key.spec) / 8);
  return Execute([&](Attempt& attempt) -> HsmResult {
    std::shared_ptr<SessionObject> object;
    HsmResult result = ResolveKey(attempt, key, &object);
    if (!result.ok()) return result;
    result = Lease(attempt);
    if (!result.ok()) return result;
    const CK_SESSION_HANDLE session = attempt.session.handle();
    // PSS as AWS KMS signs: MGF1 with the same digest, salt = digest length.
    CK_RSA_PKCS_PSS_PARAMS pss{HashMechanism(md), Mgf1(md), static_cast<CK_ULONG>(digest_size)};
    CK_MECHANISM mechanism{CKM_ECDSA, nullptr, 0};
    if (IsPss(algorithm)) mechanism = CK_MECHANISM{CKM_RSA_PKCS_PSS, &pss, sizeof(pss)};
    if (IsPkcs1(algorithm)) mechanism = CK_MECHANISM{CKM_RSA_PKCS, nullptr, 0};
    CK_RV rv = p11_->C_SignInit(session, &mechanism, object->handle());
    if (rv != CKR_OK) return HsmResult::FromRv(rv, "C_SignInit");
    std::vector<uint8_t> raw(max_signature);
    CK_ULONG raw_len = static_cast<CK_ULONG>(raw.size());
    rv = p11_->C_Sign(session, input, static_cast<CK_ULONG>(input_len), raw.data(), &raw_len);
    if (rv == CKR_BUFFER_TOO_SMALL) {  // still active: give it what it asks
      raw.resize(raw_len);
      rv = p11_->C_Sign(session, input, static_cast<CK_ULONG>(input_len), raw.data(), &raw_len);
    }
    if (rv != CKR_OK) return HsmResult::FromRv(rv, "C_Sign");
    raw.resize(raw_len);
    if (is_rsa) {
      *signature = std::move(raw);
      return HsmResult::Ok();
    }
    const core::Status status = EcdsaRawToDer(raw.data(), raw.size(), signature);
    if (status != core::Status::kOk) {
      return HsmResult::Error(status, "C_Sign", "cannot encode the ECDSA signature");
    }
    return HsmResult::Ok();
  });
}

// --- HMAC ------------------------------------------------------------------------------------

HsmResult Hsm::StartMac(Attempt& attempt, const WrappedKey& key, bool verify) {
  std::shared_ptr<SessionObject> object;
  HsmResult result = ResolveKey(attempt, key, &object);
  if (!result.ok()) return result;
  result = Lease(attempt);
  if (!result.ok()) return result;
  CK_MECHANISM mechanism{HmacMechanism(key.spec), nullptr, 0};
  const CK_SESSION_HANDLE session = attempt.session.handle();
  const CK_RV rv = verify ? p11_->C_VerifyInit(session, &mechanism, object->handle())
                          : p11_->C_SignInit(session, &mechanism, object->handle());
  if (rv != CKR_OK) return HsmResult::FromRv(rv, verify ? "C_VerifyInit" : "C_SignInit");
  return HsmResult::Ok();
}

HsmResult Hsm::GenerateMac(const WrappedKey& key, MacAlgorithm algorithm, const uint8_t* data,
                           size_t len, std::vector<uint8_t>* mac) {
  if (key.usage != KeyUsage::kGenerateVerifyMac || !MacAlgorithmFits(algorithm, key.spec)) {
    return HsmResult::Error(core::Status::kInvalidKeyUsage, nullptr,
                            "the key cannot make a MAC with this algorithm");
  }
  if (mac == nullptr) return HsmResult::Error(core::Status::kValidation, nullptr, "no output");
  const size_t mac_size = static_cast<size_t>(EVP_MD_get_size(MacDigest(algorithm)));
  uint8_t none = 0;  // tokens reject a null pointer even for zero bytes
  return Execute([&](Attempt& attempt) -> HsmResult {
    HsmResult result = StartMac(attempt, key, false);
    if (!result.ok()) return result;
    mac->resize(mac_size);
    CK_ULONG mac_len = static_cast<CK_ULONG>(mac->size());
    const uint8_t* input = len == 0 ? &none : data;
    const CK_RV rv = p11_->C_Sign(attempt.session.handle(), const_cast<uint8_t*>(input),
                                  static_cast<CK_ULONG>(len), mac->data(), &mac_len);
    if (rv != CKR_OK) return HsmResult::FromRv(rv, "C_Sign");
    if (mac_len != mac_size) {
      return HsmResult::Error(core::Status::kInternal, "C_Sign", "unexpected MAC length");
    }
    return HsmResult::Ok();
  });
}

HsmResult Hsm::VerifyMac(const WrappedKey& key, MacAlgorithm algorithm, const uint8_t* data,
                         size_t len, const uint8_t* mac, size_t mac_len, bool* valid) {
  if (key.usage != KeyUsage::kGenerateVerifyMac || !MacAlgorithmFits(algorithm, key.spec)) {
    return HsmResult::Error(core::Status::kInvalidKeyUsage, nullptr,
                            "the key cannot verify a MAC with this algorithm");
  }
  if (valid == nullptr) return HsmResult::Error(core::Status::kValidation, nullptr, "no output");
  *valid = false;
  // A MAC of another length is wrong whatever its bytes (lengths are public).
  const size_t mac_size = static_cast<size_t>(EVP_MD_get_size(MacDigest(algorithm)));
  if (mac_len != mac_size) return HsmResult::Ok();
  uint8_t none = 0;
  return Execute([&](Attempt& attempt) -> HsmResult {
    HsmResult result = StartMac(attempt, key, true);
    if (!result.ok()) return result;
    // The token compares: the MAC never leaves it.
    const uint8_t* input = len == 0 ? &none : data;
    const CK_RV rv = p11_->C_Verify(attempt.session.handle(), const_cast<uint8_t*>(input),
                                    static_cast<CK_ULONG>(len), const_cast<uint8_t*>(mac),
                                    static_cast<CK_ULONG>(mac_len));
    if (rv == CKR_SIGNATURE_INVALID || rv == CKR_SIGNATURE_LEN_RANGE) return HsmResult::Ok();
    if (rv != CKR_OK) return HsmResult::FromRv(rv, "C_Verify");
    *valid = true;
    return HsmResult::Ok();
  });
}

// --- Diagnostics -------------------------------------------------------------------------

HsmResult Hsm::CountObjects(size_t* count) {
  return Execute([&](Attempt& attempt) -> HsmResult {
    HsmResult result = Lease(attempt);
    if (!result.ok()) return result;
    const CK_SESSION_HANDLE session = attempt.session.handle();
    CK_RV rv = p11_->C_FindObjectsInit(session, nullptr, 0);
    if (rv != CKR_OK) return HsmResult::FromRv(rv, "C_FindObjectsInit");
    size_t total = 0;
    for (;;) {
      CK_OBJECT_HANDLE batch[64];
      CK_ULONG found = 0;
      rv = p11_->C_FindObjects(session, batch, 64, &found);
      if (rv != CKR_OK) return HsmResult::FromRv(rv, "C_FindObjects");
      if (found == 0) break;
      total += found;
    }
    rv = p11_->C_FindObjectsFinal(session);
    if (rv != CKR_OK) return HsmResult::FromRv(rv, "C_FindObjectsFinal");
    *count = total;
    return HsmResult::Ok();
  });
}

HsmStats Hsm::hsm_stats() const {
  return HsmStats{pool_.open_sessions(), cache_.size(), keeper_->generation(),
                  retries_.load(std::memory_order_relaxed),
                  unwraps_.load(std::memory_order_relaxed)};
}

core::RootStats Hsm::stats() const {
  core::RootStats stats;
  stats.cached_keys = cache_.size();
  stats.retries = retries_.load(std::memory_order_relaxed);
  stats.unwraps = unwraps_.load(std::memory_order_relaxed);
  return stats;
}

}  // namespace hsmkms::pkcs11
