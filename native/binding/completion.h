// Work whose result is delivered on the JavaScript thread of one environment.
#pragma once

#include <napi.h>

namespace hsmkms::binding {

class Completion {
 public:
  virtual ~Completion() = default;
  // On the JS thread. `env` is null while the environment is being torn
  // down: release resources without calling into JavaScript. Deletes `this`.
  virtual void Complete(napi_env env) noexcept = 0;
};

}  // namespace hsmkms::binding
