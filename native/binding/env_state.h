// Per-environment state (main thread or a worker_thread): the one
// thread-safe function through which every completion reaches JavaScript,
// the queue that batches completions into one hop, and the teardown that
// cancels and drains this environment's work.
#pragma once

#include <napi.h>

#include <atomic>
#include <chrono>
#include <mutex>
#include <unordered_set>
#include <vector>

#include "../core/pkcs11/hsm_result.h"
#include "../core/status.h"
#include "../core/worker_pool.h"
#include "completion.h"
#include "env_resource.h"

namespace hsmkms::binding {

class EnvState {
 public:
  static EnvState* Create(Napi::Env env);
  static EnvState* Get(napi_env env);

  // JS thread: an operation starts; keeps the event loop alive until done.
  void BeginOperation();
  // How a completion reaches JavaScript.
  enum class Delivery {
    kNow,      // wake the JS thread (unless a wake-up is on its way)
    kBatched,  // may wait for more completions of this environment's queued
               // batched tasks, so several ride on one wake-up
  };
  // Any thread: queue a finished operation for delivery.
  void PostCompletion(Completion* completion, Delivery delivery = Delivery::kNow) noexcept;
  // Worker thread, for batched tasks: one has started (or was cancelled).
  void BatchedTaskStarted() noexcept;
  // Worker thread: deliver what is waiting now (before work that may take
  // long, so that no finished operation waits behind it).
  void Flush() noexcept;

  // JS thread: submit tasks to the shared pool on behalf of this environment.
  void Submit(core::Task* const* tasks, size_t count);
  // JS thread: the same on another pool (a root of trust's own threads);
  // teardown cancels and waits for this environment's tasks on it too.
  // `batched`: tasks that post with Delivery::kBatched and call
  // BatchedTaskStarted() when they start.
  void Submit(core::WorkerPool& pool, core::Task* const* tasks, size_t count,
              bool batched = false);
  // Hands every task submitted so far to its pool now (before a cancel, at teardown).
  void FlushSubmissions();

  // A KmsError (through the factory lib/ registers) for a status.
  // Completions call these from noexcept code: while a worker terminates,
  // JavaScript cannot run and making the error fails; they return an empty
  // value then (napi_reject_deferred refuses it), never a C++ exception.
  [[nodiscard]] Napi::Value MakeError(core::Status status, const char* message) const;
  // The error for a failed HSM result: a Pkcs11Error keeping ckr, rv and fn
  // when a PKCS#11 call failed, else a KmsError with the status's code.
  [[nodiscard]] Napi::Value MakeError(const pkcs11::HsmResult& result) const;
  void SetErrorFactory(Napi::Function factory);

  // JS thread: resources released at teardown if still held then.
  void Track(EnvResource* resource);
  void Untrack(EnvResource* resource) noexcept;
  // True once teardown has begun (JS thread).
  [[nodiscard]] bool closing() const noexcept { return closing_js_; }

 private:
  explicit EnvState(napi_env env);
  static void DeliverCompletions(napi_env env, napi_value, void* context, void*);
  // MakeError's work; these throw Napi::Error when JavaScript cannot run.
  [[nodiscard]] Napi::Value NewError(core::Status status, const char* message) const;
  [[nodiscard]] Napi::Value NewError(const pkcs11::HsmResult& result) const;
  static void Teardown(void* arg);
  // Runs completions until the queue is empty or this turn of the event loop
  // has spent its budget; then the rest waits for the turn's setImmediate.
  void Deliver();
  void MarkTurn();
  void EndOfTurn();

  napi_env env_;
  napi_threadsafe_function tsfn_ = nullptr;
  std::mutex mutex_;
  std::vector<Completion*> completed_;
  std::atomic<size_t> batched_queued_{0};  // batched tasks submitted, not started
  size_t pending_ = 0;  // JS thread only
  bool closing_ = false;
  bool delivery_scheduled_ = false;  // under mutex_: a DeliverCompletions call is queued or running
  bool closing_js_ = false;                  // JS thread only
  std::vector<core::WorkerPool*> pools_;     // JS thread only: pools with our tasks
  std::unordered_set<EnvResource*> resources_;  // JS thread only
  Napi::FunctionReference error_factory_;
  // Turn budget (JS thread only). Node's threadsafe function dispatches up to
  // 1000 calls per wake-up with promise continuations in between, so work
  // that completes as fast as JavaScript submits it could hold one turn for
  // hundreds of milliseconds: no timers, no I/O. A turn is marked by a
  // setImmediate queued at its first delivery (it runs once the turn's I/O
  // phase is over); completions past the budget wait for it.
  // Submissions wait for the end of the current JavaScript job (a microtask):
  // work started by many promise continuations then reaches each pool in one
  // SubmitMany, one wake-up of its threads instead of one per task (on a
  // small machine every wake-up also takes the CPU from this thread).
  std::vector<std::pair<core::WorkerPool*, std::vector<core::Task*>>> deferred_submits_;
  bool submit_flush_scheduled_ = false;
  Napi::FunctionReference queue_microtask_;
  Napi::FunctionReference flush_submits_;
  bool turn_marked_ = false;  // a setImmediate marks the end of this turn
  bool deferred_ = false;     // completions wait for that setImmediate
  std::chrono::steady_clock::time_point turn_start_{};
  Napi::FunctionReference set_immediate_;
  Napi::FunctionReference deliver_later_;
};

// Builds the Error thrown or rejected for a failed status.
[[nodiscard]] const char* StatusMessage(core::Status status);

}  // namespace hsmkms::binding
