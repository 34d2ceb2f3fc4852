#include "env_state.h"

namespace hsmkms::binding {

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
  for (size_t i = 0; i < count; ++i) tasks[i]->owner = this;
  core::WorkerPool::Shared().SubmitMany(tasks, count);
}

void EnvState::PostCompletion(Completion* completion) noexcept {
  bool was_empty;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    was_empty = completed_.empty();
    completed_.push_back(completion);
    if (closing_) return;  // Teardown drains the queue itself.
  }
  // One hop per burst: later completions ride on the call already queued.
  if (was_empty) napi_call_threadsafe_function(tsfn_, nullptr, napi_tsfn_nonblocking);
}

void EnvState::DeliverCompletions(napi_env env, napi_value, void* context, void*) {
  auto* state = static_cast<EnvState*>(context);
  if (env == nullptr) return;
  std::vector<Completion*> batch;
  {
    std::lock_guard<std::mutex> lock(state->mutex_);
    batch.swap(state->completed_);
  }
  for (Completion* completion : batch) {
    napi_handle_scope scope;
    napi_open_handle_scope(env, &scope);
    completion->Complete(env);
    napi_close_handle_scope(env, scope);
  }
  state->pending_ -= batch.size();
  if (state->pending_ == 0) napi_unref_threadsafe_function(env, state->tsfn_);
}

void EnvState::Teardown(void* arg) {
  auto* state = static_cast<EnvState*>(arg);
  {
    std::lock_guard<std::mutex> lock(state->mutex_);
    state->closing_ = true;
  }
  auto& pool = core::WorkerPool::Shared();
  pool.CancelIf([state](const core::Task& task) { return task.owner == state; });
  pool.WaitIdle(state);
  std::vector<Completion*> batch;
  {
    std::lock_guard<std::mutex> lock(state->mutex_);
    batch.swap(state->completed_);
  }
  for (Completion* completion : batch) completion->Complete(nullptr);
  state->error_factory_.Reset();
  napi_release_threadsafe_function(state->tsfn_, napi_tsfn_abort);
}

Napi::Value EnvState::MakeError(core::Status status, const char* message) const {
  Napi::Env env(env_);
  const char* code = core::StatusCode(status);
  if (!error_factory_.IsEmpty()) {
    return error_factory_.Call({Napi::String::New(env, code), Napi::String::New(env, message)});
  }
  Napi::Error error = Napi::Error::New(env, message);
  error.Set("code", Napi::String::New(env, code));
  return error.Value();
}

void EnvState::SetErrorFactory(Napi::Function factory) {
  error_factory_ = Napi::Persistent(factory);
}

}  // namespace hsmkms::binding
