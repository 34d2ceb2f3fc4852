// Per-environment state (main thread or a worker_thread): the one
// thread-safe function through which every completion reaches JavaScript,
// the queue that batches completions into one hop, and the teardown that
// cancels and drains this environment's work.
#pragma once

#include <napi.h>

#include <mutex>
#include <vector>

#include "../core/status.h"
#include "../core/worker_pool.h"
#include "completion.h"

namespace hsmkms::binding {

class EnvState {
 public:
  static EnvState* Create(Napi::Env env);
  static EnvState* Get(napi_env env);

  // JS thread: an operation starts; keeps the event loop alive until done.
  void BeginOperation();
  // Any thread: queue a finished operation for delivery.
  void PostCompletion(Completion* completion) noexcept;

  // JS thread: submit tasks to the shared pool on behalf of this environment.
  void Submit(core::Task* const* tasks, size_t count);

  // A KmsError (through the factory lib/ registers) for a status.
  [[nodiscard]] Napi::Value MakeError(core::Status status, const char* message) const;
  void SetErrorFactory(Napi::Function factory);

 private:
  explicit EnvState(napi_env env);
  static void DeliverCompletions(napi_env env, napi_value, void* context, void*);
  static void Teardown(void* arg);

  napi_env env_;
  napi_threadsafe_function tsfn_ = nullptr;
  std::mutex mutex_;
  std::vector<Completion*> completed_;
  size_t pending_ = 0;  // JS thread only
  bool closing_ = false;
  Napi::FunctionReference error_factory_;
};

// Builds the Error thrown or rejected for a failed status.
[[nodiscard]] const char* StatusMessage(core::Status status);

}  // namespace hsmkms::binding
