// Something native that an environment owns besides its queued work (an
// open root of trust): released by the environment's teardown if JavaScript
// never released it.
#pragma once

namespace hsmkms::binding {

class EnvResource {
 public:
  virtual ~EnvResource() = default;
  // On the JS thread, during teardown, after every task of the environment
  // has finished: release native state now, without calling into JavaScript.
  virtual void ReleaseAtTeardown() noexcept = 0;
};

}  // namespace hsmkms::binding
