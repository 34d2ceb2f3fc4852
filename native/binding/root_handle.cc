#include "root_handle.h"

#include <utility>

#include "completion.h"
#include "tagged_object.h"

namespace hsmkms::binding {
namespace {

constexpr napi_type_tag kRootHandleTag = {0x6873'6d6b'6d73'726fULL, 0x6f74'6861'6e64'6c65ULL};

}  // namespace

// Lets the root go on one of its own threads, then settles close().
class RootHandle::CloseTask final : public core::Task, public Completion {
 public:
  CloseTask(RootHandle* handle, std::shared_ptr<core::RootOfTrust> root)
      : handle_(handle), root_(std::move(root)) {}
  void Run() noexcept override { root_.reset(); }  // the last reference: sessions close here
  void Finish() noexcept override {
    root_.reset();  // cancelled at teardown: released on the cancelling thread
    handle_->state_->PostCompletion(this);
  }
  void Complete(napi_env env) noexcept override {
    handle_->Closed(env);
    delete this;
  }

 private:
  RootHandle* handle_;
  std::shared_ptr<core::RootOfTrust> root_;
};

// A handle collected without close(): the root goes on its own threads
// rather than blocking the JS thread in a finalizer. Nothing to report.
class RootHandle::ReleaseTask final : public core::Task {
 public:
  explicit ReleaseTask(std::shared_ptr<core::RootOfTrust> root) : root_(std::move(root)) {}
  void Run() noexcept override { root_.reset(); }
  void Finish() noexcept override { delete this; }

 private:
  std::shared_ptr<core::RootOfTrust> root_;
};

RootHandle::RootHandle(EnvState* state, std::shared_ptr<core::RootOfTrust> root, pkcs11::Hsm* hsm)
    : state_(state), root_(std::move(root)), hsm_(hsm), kind_(root_->kind()) {
  state_->Track(this);
}

RootHandle::~RootHandle() {
  if (state_ == nullptr) return;
  state_->Untrack(this);
  if (root_ != nullptr) {
    core::WorkerPool& pool = root_->threads();
    core::Task* task = new ReleaseTask(std::move(root_));
    state_->Submit(pool, &task, 1);
  }
}

Napi::Object RootHandle::Wrap(Napi::Env env, std::shared_ptr<core::RootOfTrust> root,
                              pkcs11::Hsm* hsm) {
  auto* handle = new RootHandle(EnvState::Get(env), std::move(root), hsm);
  return WrapTagged(env, handle, kRootHandleTag);
}

RootHandle* RootHandle::Unwrap(Napi::Env env, napi_value value) {
  RootHandle* handle = UnwrapTagged<RootHandle>(env, value, kRootHandleTag);
  if (handle == nullptr) throw Napi::TypeError::New(env, "Expected a root of trust handle");
  return handle;
}

std::shared_ptr<core::RootOfTrust> RootHandle::Acquire() {
  if (closing_ || root_ == nullptr) return nullptr;
  ++in_flight_;
  return root_;
}

void RootHandle::Release(napi_env env) noexcept {
  --in_flight_;
  if (env != nullptr && closing_ && in_flight_ == 0 && !close_started_) StartClose(env);
}

napi_value RootHandle::Close(napi_env env, napi_value self) {
  napi_deferred deferred;
  napi_value promise;
  NAPI_THROW_IF_FAILED(env, napi_create_promise(env, &deferred, &promise), nullptr);
  if (closed_ || state_ == nullptr) {
    napi_value undefined;
    napi_get_undefined(env, &undefined);
    napi_resolve_deferred(env, deferred, undefined);
    return promise;
  }
  close_waiters_.push_back(deferred);
  if (!closing_) {
    closing_ = true;
    napi_create_reference(env, self, 1, &close_ref_);
    if (in_flight_ == 0) StartClose(env);
  }
  return promise;
}

void RootHandle::StartClose(napi_env) {
  close_started_ = true;
  core::WorkerPool& pool = root_->threads();
  auto* task = new CloseTask(this, std::move(root_));
  state_->BeginOperation();
  core::Task* tasks[] = {task};
  state_->Submit(pool, tasks, 1);
}

void RootHandle::Closed(napi_env env) noexcept {
  closed_ = true;
  hsm_ = nullptr;
  if (env == nullptr) return;  // teardown: the promises die with the environment
  napi_value undefined;
  napi_get_undefined(env, &undefined);
  for (napi_deferred deferred : close_waiters_) napi_resolve_deferred(env, deferred, undefined);
  close_waiters_.clear();
  if (close_ref_ != nullptr) {
    napi_delete_reference(env, close_ref_);
    close_ref_ = nullptr;
  }
}

void RootHandle::ReleaseAtTeardown() noexcept {
  // Every task of the environment has finished: nothing else holds the root.
  root_.reset();
  hsm_ = nullptr;
  closed_ = true;
  state_ = nullptr;
}

}  // namespace hsmkms::binding
