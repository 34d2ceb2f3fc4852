#include "module.h"

#include <dlfcn.h>

#include <cstring>
#include <map>
#include <mutex>
#include <vector>

namespace hsmkms::pkcs11 {
namespace {

// Shared modules by path; the lock also orders one module's C_Finalize
// before the next C_Initialize of the same file.
struct Registry {
  std::mutex mutex;
  std::map<std::string, std::weak_ptr<Module>> modules;
};

Registry& GetRegistry() {
  static Registry* registry = new Registry();  // leaked: modules may outlive statics
  return *registry;
}

// AddressSanitizer aborts on RTLD_DEEPBIND (it would bypass its interceptors).
#if defined(__SANITIZE_ADDRESS__)
#define HSMKMS_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define HSMKMS_ASAN 1
#endif
#endif

int DlopenFlags(const ModuleOptions& options) noexcept {
  int flags = RTLD_NOW | RTLD_LOCAL;
#if defined(RTLD_DEEPBIND) && !defined(HSMKMS_ASAN)
  if (options.deep_bind) flags |= RTLD_DEEPBIND;
#else
  (void)options;
#endif
  return flags;
}

constexpr size_t kLabelSize = sizeof(CK_TOKEN_INFO{}.label);

// CK_TOKEN_INFO labels are 32 bytes, blank-padded, not NUL-terminated.
bool LabelEquals(const CK_UTF8CHAR (&padded)[kLabelSize], const std::string& label) noexcept {
  size_t len = kLabelSize;
  while (len > 0 && (padded[len - 1] == ' ' || padded[len - 1] == '\0')) --len;
  return len == label.size() && std::memcmp(padded, label.data(), len) == 0;
}

}  // namespace

HsmResult Module::Acquire(const std::string& path, const ModuleOptions& options,
                          std::shared_ptr<Module>* out) {
  Registry& registry = GetRegistry();
  std::lock_guard<std::mutex> lock(registry.mutex);
  auto known = registry.modules.find(path);
  if (known != registry.modules.end()) {
    if (auto existing = known->second.lock()) {
      *out = std::move(existing);
      return HsmResult::Ok();
    }
  }

  std::unique_ptr<Module> module(new Module());
  module->path_ = path;
  module->handle_ = dlopen(path.c_str(), DlopenFlags(options));
  if (module->handle_ == nullptr) {
    return HsmResult::Error(core::Status::kNotFound, "dlopen",
                            "the PKCS#11 module cannot be loaded");
  }
  auto get_function_list =
      reinterpret_cast<CK_C_GetFunctionList>(dlsym(module->handle_, "C_GetFunctionList"));
  if (get_function_list == nullptr) {
    return HsmResult::Error(core::Status::kInvalidState, "dlsym",
                            "the library has no C_GetFunctionList");
  }
  CK_RV rv = get_function_list(&module->functions_);
  if (rv != CKR_OK) return HsmResult::FromRv(rv, "C_GetFunctionList");
  if (module->functions_ == nullptr) {
    return HsmResult::Error(core::Status::kInvalidState, "C_GetFunctionList",
                            "the module returned no function list");
  }

  // Without CKF_OS_LOCKING_OK SoftHSM turns its own locks off (and crashes
  // under concurrent sessions).
  CK_C_INITIALIZE_ARGS args{};
  args.flags = CKF_OS_LOCKING_OK;
  rv = module->functions_->C_Initialize(&args);
  if (rv == CKR_OK) {
    module->initialized_here_ = true;
  } else if (rv != CKR_CRYPTOKI_ALREADY_INITIALIZED) {
    return HsmResult::FromRv(rv, "C_Initialize");
  }

  std::shared_ptr<Module> shared(module.release(), &Module::Release);
  registry.modules[path] = shared;
  *out = std::move(shared);
  return HsmResult::Ok();
}

void Module::Release(Module* module) noexcept {
  Registry& registry = GetRegistry();
  std::lock_guard<std::mutex> lock(registry.mutex);
  auto it = registry.modules.find(module->path_);
  if (it != registry.modules.end() && it->second.expired()) registry.modules.erase(it);
  delete module;
}

Module::~Module() {
  if (initialized_here_) functions_->C_Finalize(nullptr);
  if (handle_ != nullptr) dlclose(handle_);
}

HsmResult Module::FindTokenSlot(const std::string& label, CK_SLOT_ID* slot) const {
  if (label.empty() || label.size() > kLabelSize) {
    return HsmResult::Error(core::Status::kValidation, "C_GetTokenInfo",
                            "a token label is 1 to 32 bytes");
  }
  std::vector<CK_SLOT_ID> slots;
  CK_RV rv;
  do {  // the slot count can change between the two calls
    CK_ULONG count = 0;
    rv = functions_->C_GetSlotList(CK_TRUE, nullptr, &count);
    if (rv != CKR_OK) return HsmResult::FromRv(rv, "C_GetSlotList");
    slots.resize(count);
    rv = functions_->C_GetSlotList(CK_TRUE, slots.data(), &count);
    if (rv == CKR_OK) slots.resize(count);
  } while (rv == CKR_BUFFER_TOO_SMALL);
  if (rv != CKR_OK) return HsmResult::FromRv(rv, "C_GetSlotList");

  size_t matches = 0;
  for (CK_SLOT_ID id : slots) {
    CK_TOKEN_INFO info{};
    rv = functions_->C_GetTokenInfo(id, &info);
    if (rv == CKR_TOKEN_NOT_PRESENT || rv == CKR_TOKEN_NOT_RECOGNIZED) continue;
    if (rv != CKR_OK) return HsmResult::FromRv(rv, "C_GetTokenInfo");
    if (!LabelEquals(info.label, label)) continue;
    if (++matches == 1) *slot = id;
  }
  if (matches == 0) {
    return HsmResult::Error(core::Status::kNotFound, "C_GetTokenInfo",
                            "no token has this label");
  }
  if (matches > 1) {
    return HsmResult::Error(core::Status::kInvalidState, "C_GetTokenInfo",
                            "several tokens have this label");
  }
  return HsmResult::Ok();
}

}  // namespace hsmkms::pkcs11
