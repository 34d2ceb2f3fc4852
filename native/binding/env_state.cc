#include "env_state.h"

#include <algorithm>
#include <string>

namespace hsmkms::binding {
namespace {

// How long completions may run in one turn of the event loop before the rest
// waits for the next: far below the event-loop delay an embedding server
// tolerates, far above the cost of one delivery.
constexpr std::chrono::microseconds kTurnBudget{2000};

}  // namespace

const char* StatusMessage(core::Status status) {
  switch (status) {
    case core::Status::kInvalidCiphertext:
      return "The ciphertext could not be authenticated (wrong key, AAD, IV, tag or length)";
    case core::Status::kKeyUnavailable:
      return "The key has been destroyed and can no longer be used";
    case core::Status::kValidation:
      return "Invalid input";
    case core::Status::kAborted:
      return "The operation was aborted";
    case core::Status::kUnsupportedRuntime:
      return "hsmkms needs the OpenSSL 3 that Node.js embeds; this runtime has none";
    case core::Status::kLimitExceeded:
      return "A limit was exceeded";
    case core::Status::kNotFound:
      return "Not found";
    case core::Status::kInvalidState:
      return "Not possible in the current state";
    case core::Status::kInvalidKeyUsage:
      return "The key cannot be used for this operation";
    case core::Status::kAccessDenied:
      return "Access denied";
    case core::Status::kAlreadyExists:
      return "It already exists";
    default:
      return "Internal error in the native core";
  }
}

EnvState::EnvState(napi_env env) : env_(env) {}

EnvState* EnvState::Create(Napi::Env env) {
  auto* state = new EnvState(env);
  napi_value name = Napi::String::New(env, "hsmkms:completions");
  NAPI_THROW_IF_FAILED(env,
                       napi_create_threadsafe_function(env, nullptr, nullptr, name, 0, 1, nullptr,
                                                       nullptr, state, DeliverCompletions,
                                                       &state->tsfn_),
                       nullptr);
  // Idle by default: an addon with nothing in flight must not hold the loop open.
  napi_unref_threadsafe_function(env, state->tsfn_);
  state->queue_microtask_ = Napi::Persistent(env.Global().Get("queueMicrotask").As<Napi::Function>());
  state->flush_submits_ = Napi::Persistent(Napi::Function::New(
      env, [](const Napi::CallbackInfo& info) { static_cast<EnvState*>(info.Data())->FlushSubmissions(); },
      "hsmkmsFlushSubmissions", state));
  state->set_immediate_ = Napi::Persistent(env.Global().Get("setImmediate").As<Napi::Function>());
  state->deliver_later_ = Napi::Persistent(Napi::Function::New(
      env, [](const Napi::CallbackInfo& info) { static_cast<EnvState*>(info.Data())->EndOfTurn(); },
      "hsmkmsEndOfTurn", state));
  napi_set_instance_data(
      env, state, [](napi_env, void* data, void*) { delete static_cast<EnvState*>(data); },
      nullptr);
  napi_add_env_cleanup_hook(env, Teardown, state);
  return state;
}

EnvState* EnvState::Get(napi_env env) {
  void* data = nullptr;
  napi_get_instance_data(env, &data);
  return static_cast<EnvState*>(data);
}

void EnvState::BeginOperation() {
  if (pending_++ == 0) napi_ref_threadsafe_function(env_, tsfn_);
}

void EnvState::Submit(core::Task* const* tasks, size_t count) {
  Submit(core::WorkerPool::Shared(), tasks, count);
}

void EnvState::Submit(core::WorkerPool& pool, core::Task* const* tasks, size_t count,
                      bool batched) {
  for (size_t i = 0; i < count; ++i) tasks[i]->owner = this;
  if (batched) batched_queued_.fetch_add(count, std::memory_order_acq_rel);
  if (&pool != &core::WorkerPool::Shared() &&
      std::find(pools_.begin(), pools_.end(), &pool) == pools_.end()) {
    pools_.push_back(&pool);
  }
  if (!submit_flush_scheduled_ && !closing_js_) {
    Napi::Env env(env_);
    napi_value fn = flush_submits_.Value();
    napi_value result;
    submit_flush_scheduled_ =
        napi_call_function(env_, env.Global(), queue_microtask_.Value(), 1, &fn, &result) == napi_ok;
    if (!submit_flush_scheduled_) {
      bool pending_exception = false;
      napi_is_exception_pending(env_, &pending_exception);
      if (pending_exception) {
        napi_value ignored;
        napi_get_and_clear_last_exception(env_, &ignored);
      }
    }
  }
  if (!submit_flush_scheduled_) {
    pool.SubmitMany(tasks, count);  // no microtask queue (teardown): at once
    return;
  }
  auto it = std::find_if(deferred_submits_.begin(), deferred_submits_.end(),
                         [&](const auto& entry) { return entry.first == &pool; });
  if (it == deferred_submits_.end()) {
    deferred_submits_.emplace_back(&pool, std::vector<core::Task*>());
    it = deferred_submits_.end() - 1;
  }
  it->second.insert(it->second.end(), tasks, tasks + count);
}

void EnvState::FlushSubmissions() {
  submit_flush_scheduled_ = false;
  for (auto& [pool, tasks] : deferred_submits_) {
    if (tasks.empty()) continue;
    pool->SubmitMany(tasks.data(), tasks.size());
    tasks.clear();
  }
}

void EnvState::Track(EnvResource* resource) { resources_.insert(resource); }

void EnvState::Untrack(EnvResource* resource) noexcept { resources_.erase(resource); }

void EnvState::PostCompletion(Completion* completion, Delivery delivery) noexcept {
  bool schedule = false;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    completed_.push_back(completion);
    if (closing_) return;  // Teardown drains the queue itself.
    if (!delivery_scheduled_) {
      // One hop per burst: later completions ride on the delivery already
      // scheduled (DeliverCompletions drains until the queue is empty). A
      // batched completion also waits while more batched tasks of ours are
      // queued than completions are waiting: the next ones finish soon, and
      // waking the JS thread costs more than they take (a cross-CPU wake-up
      // is tens of microseconds on a VM). Waiting for at most half of them
      // keeps the queue fed while JavaScript handles a batch; the last
      // queued one always schedules the delivery.
      schedule = delivery == Delivery::kNow ||
                 completed_.size() >= batched_queued_.load(std::memory_order_acquire);
      delivery_scheduled_ = schedule;
    }
  }
  if (schedule) napi_call_threadsafe_function(tsfn_, nullptr, napi_tsfn_nonblocking);
}

void EnvState::BatchedTaskStarted() noexcept {
  batched_queued_.fetch_sub(1, std::memory_order_acq_rel);
}

void EnvState::Flush() noexcept {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    if (closing_ || delivery_scheduled_ || completed_.empty()) return;
    delivery_scheduled_ = true;
  }
  napi_call_threadsafe_function(tsfn_, nullptr, napi_tsfn_nonblocking);
}

void EnvState::DeliverCompletions(napi_env env, napi_value, void* context, void*) {
  auto* state = static_cast<EnvState*>(context);
  if (env == nullptr) return;
  state->Deliver();
}

void EnvState::Deliver() {
  if (!turn_marked_) MarkTurn();
  std::vector<Completion*> batch;
  for (;;) {
    if (std::chrono::steady_clock::now() - turn_start_ > kTurnBudget) {
      // delivery_scheduled_ stays set: the rest waits for the end of this turn.
      deferred_ = true;
      return;
    }
    {
      std::lock_guard<std::mutex> lock(mutex_);
      batch.clear();
      batch.swap(completed_);
      // Empty: the next completion schedules a new delivery.
      if (batch.empty()) {
        delivery_scheduled_ = false;
        break;
      }
    }
    for (Completion* completion : batch) {
      napi_handle_scope scope;
      napi_open_handle_scope(env_, &scope);
      completion->Complete(env_);
      napi_close_handle_scope(env_, scope);
    }
    pending_ -= batch.size();
  }
  if (pending_ == 0) napi_unref_threadsafe_function(env_, tsfn_);
}

void EnvState::MarkTurn() {
  turn_start_ = std::chrono::steady_clock::now();
  Napi::Env env(env_);
  napi_value fn = deliver_later_.Value();
  napi_value result;
  if (napi_call_function(env_, env.Global(), set_immediate_.Value(), 1, &fn, &result) == napi_ok) {
    turn_marked_ = true;
    return;
  }
  // No setImmediate (the environment is going away): no budget then.
  bool pending_exception = false;
  napi_is_exception_pending(env_, &pending_exception);
  if (pending_exception) {
    napi_value ignored;
    napi_get_and_clear_last_exception(env_, &ignored);
  }
  turn_start_ = std::chrono::steady_clock::time_point::max();
}

void EnvState::EndOfTurn() {
  turn_marked_ = false;
  if (closing_js_ || !deferred_) return;
  deferred_ = false;
  Deliver();
}

void EnvState::Teardown(void* arg) {
  auto* state = static_cast<EnvState*>(arg);
  {
    std::lock_guard<std::mutex> lock(state->mutex_);
    state->closing_ = true;
  }
  state->closing_js_ = true;
  state->FlushSubmissions();  // so that the cancel below finds them
  std::vector<core::WorkerPool*> pools = state->pools_;
  pools.push_back(&core::WorkerPool::Shared());
  // Cancel everywhere first, then wait: nothing queued starts meanwhile.
  for (core::WorkerPool* pool : pools) {
    pool->CancelIf([state](const core::Task& task) { return task.owner == state; });
  }
  for (core::WorkerPool* pool : pools) pool->WaitIdle(state);
  std::vector<Completion*> batch;
  {
    std::lock_guard<std::mutex> lock(state->mutex_);
    batch.swap(state->completed_);
  }
  for (Completion* completion : batch) completion->Complete(nullptr);
  // Roots nobody closed: released here (closing sessions, finalizing the
  // module) while the process can still do it properly.
  std::unordered_set<EnvResource*> resources;
  resources.swap(state->resources_);
  for (EnvResource* resource : resources) resource->ReleaseAtTeardown();
  state->error_factory_.Reset();
  state->set_immediate_.Reset();
  state->deliver_later_.Reset();
  state->queue_microtask_.Reset();
  state->flush_submits_.Reset();
  napi_release_threadsafe_function(state->tsfn_, napi_tsfn_abort);
}

Napi::Value EnvState::MakeError(core::Status status, const char* message) const {
  try {
    return NewError(status, message);
  } catch (const Napi::Error&) {
    return Napi::Value();
  }
}

Napi::Value EnvState::MakeError(const pkcs11::HsmResult& result) const {
  try {
    return NewError(result);
  } catch (const Napi::Error&) {
    return Napi::Value();
  }
}

Napi::Value EnvState::NewError(core::Status status, const char* message) const {
  Napi::Env env(env_);
  const char* code = core::StatusCode(status);
  if (!error_factory_.IsEmpty()) {
    return error_factory_.Call({Napi::String::New(env, code), Napi::String::New(env, message)});
  }
  Napi::Error error = Napi::Error::New(env, message);
  error.Set("code", Napi::String::New(env, code));
  return error.Value();
}

Napi::Value EnvState::NewError(const pkcs11::HsmResult& result) const {
  Napi::Env env(env_);
  const char* code = core::StatusCode(result.status);
  // "<what happened> (<function>: <CKR name>)": static text only, never
  // key material, PINs or data.
  // kKeyUnavailable from the HSM means the device failed, not that a key
  // handle was destroyed (StatusMessage's wording for AEAD keys).
  std::string message = result.detail != nullptr                        ? result.detail
                        : result.status == core::Status::kKeyUnavailable ? "The HSM could not be used"
                                                                         : StatusMessage(result.status);
  const char* ckr = result.ckr();
  if (result.fn != nullptr || ckr != nullptr) {
    message += " (";
    if (result.fn != nullptr) message += result.fn;
    if (result.fn != nullptr && ckr != nullptr) message += ": ";
    if (ckr != nullptr) message += ckr;
    message += ")";
  }
  if (ckr == nullptr) return NewError(result.status, message.c_str());
  Napi::Object extra = Napi::Object::New(env);
  extra.Set("ckr", Napi::String::New(env, ckr));
  extra.Set("rv", Napi::Number::New(env, static_cast<double>(result.rv)));
  extra.Set("fn", result.fn != nullptr ? Napi::Value(Napi::String::New(env, result.fn))
                                       : Napi::Value(env.Undefined()));
  if (!error_factory_.IsEmpty()) {
    return error_factory_.Call({Napi::String::New(env, code), Napi::String::New(env, message), extra});
  }
  Napi::Error error = Napi::Error::New(env, message);
  error.Set("code", Napi::String::New(env, code));
  error.Set("ckr", extra.Get("ckr"));
  error.Set("rv", extra.Get("rv"));
  error.Set("fn", extra.Get("fn"));
  return error.Value();
}

void EnvState::SetErrorFactory(Napi::Function factory) {
  error_factory_ = Napi::Persistent(factory);
}

}  // namespace hsmkms::binding
