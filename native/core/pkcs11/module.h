// A loaded and initialised PKCS#11 module. PKCS#11 modules are process-wide
// singletons, so Acquire() shares one Module per path: the last holder
// finalizes it, and only if hsmkms initialised it (a module some other code in
// the process already initialised is used, never finalized).
#pragma once

#include <memory>
#include <string>

#include "cryptoki.h"
#include "hsm_result.h"

namespace hsmkms::pkcs11 {

struct ModuleOptions {
  // RTLD_DEEPBIND (glibc): the module's own libcrypto calls bind to its own
  // libcrypto, not to the host's (Node exports its embedded OpenSSL).
  // Ignored under AddressSanitizer, which refuses RTLD_DEEPBIND.
  bool deep_bind = true;
};

class Module {
 public:
  // kNotFound (fn "dlopen") when the file cannot be loaded; kInvalidState when
  // it is no PKCS#11 module; the C_Initialize error otherwise.
  [[nodiscard]] static HsmResult Acquire(const std::string& path, const ModuleOptions& options,
                                         std::shared_ptr<Module>* out);

  ~Module();
  Module(const Module&) = delete;
  Module& operator=(const Module&) = delete;

  // The module's function list (never null).
  [[nodiscard]] CK_FUNCTION_LIST* p11() const noexcept { return functions_; }
  [[nodiscard]] const std::string& path() const noexcept { return path_; }
  // False when C_Initialize said CKR_CRYPTOKI_ALREADY_INITIALIZED.
  [[nodiscard]] bool initialized_here() const noexcept { return initialized_here_; }

  // The slot whose token has this label (labels, not slot ids, are stable).
  // kNotFound when no token has it, kInvalidState when several do.
  [[nodiscard]] HsmResult FindTokenSlot(const std::string& label, CK_SLOT_ID* slot) const;

 private:
  Module() = default;
  static void Release(Module* module) noexcept;

  std::string path_;
  void* handle_ = nullptr;
  CK_FUNCTION_LIST* functions_ = nullptr;
  bool initialized_here_ = false;
};

}  // namespace hsmkms::pkcs11
