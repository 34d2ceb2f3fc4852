#include "signature_functions.h"

#include <cstring>
#include <deque>
#include <memory>
#include <mutex>
#include <utility>
#include <vector>

#include "../core/message_signature.h"
#include "call_args.h"
#include "completion.h"
#include "env_state.h"
#include "tagged_object.h"

namespace hsmkms::binding {
namespace {

using core::MessageSignature;
using core::SignatureCurve;
using core::Status;

constexpr napi_type_tag kSignatureTag = {0x6873'6d6b'6d73'7367ULL, 0x6e61'7475'7265'6c6eULL};

class DigestJob;

// A signer or verifier and the queue of digest updates waiting for the
// worker pool. At most one DrainTask runs per lane, so updates are hashed
// one at a time, in the order JavaScript submitted them.
struct Lane {
  std::unique_ptr<MessageSignature> signature;
  std::mutex mutex;
  std::deque<DigestJob*> queue;  // under mutex
  bool draining = false;         // under mutex: a DrainTask is submitted or running
  bool failed = false;           // under mutex: an update failed, the digest is lost
  size_t in_flight = 0;          // JS thread only: updates not yet settled
  bool release_when_idle = false;  // JS thread only
};

void ThrowStatus(Napi::Env env, Status status) {
  throw Napi::Error(env, EnvState::Get(env)->MakeError(status, StatusMessage(status)));
}

// The lane of a handle; throws a TypeError for anything else.
const std::shared_ptr<Lane>& LaneOf(Napi::Env env, napi_value value) {
  auto* lane = UnwrapTagged<std::shared_ptr<Lane>>(env, value, kSignatureTag);
  if (lane == nullptr) throw Napi::TypeError::New(env, "Expected a message signature handle");
  return *lane;
}

// The lane's signature for a call on the JS thread: none may be in flight.
MessageSignature& Idle(Napi::Env env, const std::shared_ptr<Lane>& lane) {
  Require(env, lane->in_flight == 0, "digest updates are in flight");
  if (lane->signature == nullptr) ThrowStatus(env, Status::kKeyUnavailable);
  return *lane->signature;
}

void ReleaseIfIdle(Lane& lane) {
  if (lane.in_flight == 0 && lane.release_when_idle) lane.signature.reset();
}

// One update (one array, or several in order): hashed on the pool, settled
// as a promise on the JS thread.
class DigestJob final : public Completion {
 public:
  DigestJob(std::shared_ptr<Lane> lane, napi_deferred deferred)
      : lane_(std::move(lane)), deferred_(deferred) {}

  // JS thread: one more array to hash, referenced until the job settles. An
  // array that cannot be referenced is never read: the job fails instead.
  void Add(napi_env env, napi_value array, ByteView bytes) {
    napi_ref ref = nullptr;
    if (napi_create_reference(env, array, 1, &ref) != napi_ok) {
      unreadable_ = true;
      return;
    }
    refs_.push_back(ref);
    parts_.push_back(bytes);
  }
  void Run(MessageSignature* signature) noexcept {
    status_ = signature == nullptr ? Status::kKeyUnavailable
              : unreadable_        ? Status::kInternal
                                   : Status::kOk;
    for (size_t i = 0; i < parts_.size() && status_ == Status::kOk; ++i) {
      status_ = signature->Update(parts_[i].data, parts_[i].length);
    }
  }
  void Abort(Status status) noexcept { status_ = status; }
  [[nodiscard]] Status status() const noexcept { return status_; }

  void Complete(napi_env env) noexcept override {
    if (env != nullptr) {
      lane_->in_flight--;
      if (status_ == Status::kOk) {
        napi_value undefined;
        napi_get_undefined(env, &undefined);
        napi_resolve_deferred(env, deferred_, undefined);
      } else {
        napi_reject_deferred(env, deferred_,
                             EnvState::Get(env)->MakeError(status_, StatusMessage(status_)));
      }
      for (napi_ref ref : refs_) napi_delete_reference(env, ref);
      ReleaseIfIdle(*lane_);
    }
    delete this;
  }

 private:
  std::shared_ptr<Lane> lane_;
  napi_deferred deferred_;
  std::vector<ByteView> parts_;
  // Deleted on the JS thread (skipped at teardown: freed with the env).
  std::vector<napi_ref> refs_;
  bool unreadable_ = false;
  Status status_ = Status::kInternal;
};

// Hashes a lane's queued updates until the queue is empty.
class DrainTask final : public core::Task {
 public:
  DrainTask(EnvState* state, std::shared_ptr<Lane> lane) : state_(state), lane_(std::move(lane)) {}

  void Run() noexcept override {
    for (;;) {
      DigestJob* job;
      bool failed;
      {
        std::lock_guard<std::mutex> lock(lane_->mutex);
        if (lane_->queue.empty()) {
          lane_->draining = false;
          return;
        }
        job = lane_->queue.front();
        lane_->queue.pop_front();
        failed = lane_->failed;
      }
      // After a failed update the digest is lost: every later one fails too.
      if (failed) {
        job->Abort(Status::kInternal);
      } else {
        job->Run(lane_->signature.get());
        if (job->status() != Status::kOk) {
          std::lock_guard<std::mutex> lock(lane_->mutex);
          lane_->failed = true;
        }
      }
      // Nothing of the lane is touched after this: the JS thread may release it.
      state_->PostCompletion(job);
    }
  }

  void Finish() noexcept override {
    if (cancelled()) {
      std::deque<DigestJob*> left;
      {
        std::lock_guard<std::mutex> lock(lane_->mutex);
        left.swap(lane_->queue);
        lane_->draining = false;
        lane_->failed = true;
      }
      for (DigestJob* job : left) {
        job->Abort(Status::kAborted);
        state_->PostCompletion(job);
      }
    }
    delete this;
  }

 private:
  EnvState* state_;
  std::shared_ptr<Lane> lane_;
};

SignatureCurve ReadCurve(Napi::Env env, napi_value value) {
  const std::string name = Napi::Value(env, value).ToString().Utf8Value();
  if (name == "P-256") return SignatureCurve::kP256Sha256;
  if (name == "P-384") return SignatureCurve::kP384Sha384;
  throw Napi::RangeError::New(env, "curve must be P-256 or P-384");
}

Napi::Object WrapLane(Napi::Env env, std::unique_ptr<MessageSignature> signature) {
  auto lane = std::make_shared<Lane>();
  lane->signature = std::move(signature);
  // Garbage collection drops this reference; updates in flight hold their own.
  return WrapTagged(env, new std::shared_ptr<Lane>(std::move(lane)), kSignatureTag);
}

// newSigner(curve) -> handle, with a fresh key pair
Napi::Value NewSigner(const Napi::CallbackInfo& info) {
  std::unique_ptr<MessageSignature> signature;
  const Status status = MessageSignature::NewSigner(ReadCurve(info.Env(), info[0]), &signature);
  if (status != Status::kOk) ThrowStatus(info.Env(), status);
  return WrapLane(info.Env(), std::move(signature));
}

// newVerifier(curve, compressedPoint) -> handle; InvalidCiphertextException for a bad point
Napi::Value NewVerifier(const Napi::CallbackInfo& info) {
  const SignatureCurve curve = ReadCurve(info.Env(), info[0]);
  const ByteView point = ArgBytes(info, 1);
  std::unique_ptr<MessageSignature> signature;
  const Status status = MessageSignature::NewVerifier(curve, point.data, point.length, &signature);
  if (status != Status::kOk) ThrowStatus(info.Env(), status);
  return WrapLane(info.Env(), std::move(signature));
}

// signaturePublicKey(handle) -> Buffer (compressed point)
Napi::Value PublicKey(const Napi::CallbackInfo& info) {
  MessageSignature& signature = Idle(info.Env(), LaneOf(info.Env(), info[0]));
  std::vector<uint8_t> point;
  const Status status = signature.CompressedPublicKey(&point);
  if (status != Status::kOk) ThrowStatus(info.Env(), status);
  return Napi::Buffer<uint8_t>::Copy(info.Env(), point.data(), point.size());
}

// signatureUpdateSync(handle, bytes): hashed here, on the JS thread
Napi::Value UpdateSync(const Napi::CallbackInfo& info) {
  MessageSignature& signature = Idle(info.Env(), LaneOf(info.Env(), info[0]));
  const ByteView bytes = ArgBytes(info, 1);
  const Status status = signature.Update(bytes.data, bytes.length);
  if (status != Status::kOk) ThrowStatus(info.Env(), status);
  return info.Env().Undefined();
}

// signatureUpdate(handle, bytes | bytes[]) -> Promise<void>, settled once
// hashed on the pool after every update submitted before it (an array's
// parts in order). The bytes must not change until then.
Napi::Value Update(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const std::shared_ptr<Lane>& lane = LaneOf(env, info[0]);
  if (lane->signature == nullptr || lane->release_when_idle) {
    ThrowStatus(env, Status::kKeyUnavailable);
  }
  // Read every argument before anything is created: a bad one throws with nothing to undo.
  std::vector<std::pair<napi_value, ByteView>> parts;
  if (info[1].IsArray()) {
    Napi::Array array = info[1].As<Napi::Array>();
    const uint32_t n = array.Length();
    Require(env, n <= 1u << 16, "too many parts");
    parts.reserve(n);
    for (uint32_t i = 0; i < n; ++i) {
      napi_value part = array.Get(i);
      const ByteView bytes = GetBytes(env, part, false);
      RethrowPending(env);
      parts.emplace_back(part, bytes);
    }
  } else {
    parts.emplace_back(info[1], ArgBytes(info, 1));
  }
  napi_deferred deferred;
  napi_value promise;
  NAPI_THROW_IF_FAILED(env, napi_create_promise(env, &deferred, &promise), Napi::Value());
  auto* job = new DigestJob(lane, deferred);
  for (const auto& [array, bytes] : parts) job->Add(env, array, bytes);
  EnvState* state = EnvState::Get(env);
  state->BeginOperation();
  lane->in_flight++;
  bool start;
  {
    std::lock_guard<std::mutex> lock(lane->mutex);
    lane->queue.push_back(job);
    start = !lane->draining;
    lane->draining = true;
  }
  if (start) {
    core::Task* task = new DrainTask(state, lane);
    state->Submit(DigestPool(), &task, 1);
  }
  return Napi::Value(env, promise);
}

// signatureSign(handle) -> Buffer (DER); the signing key is released after
Napi::Value Sign(const Napi::CallbackInfo& info) {
  const std::shared_ptr<Lane>& lane = LaneOf(info.Env(), info[0]);
  std::vector<uint8_t> der;
  const Status status = Idle(info.Env(), lane).Sign(&der);
  lane->signature.reset();  // one signature per message: the private key goes now
  if (status != Status::kOk) ThrowStatus(info.Env(), status);
  return Napi::Buffer<uint8_t>::Copy(info.Env(), der.data(), der.size());
}

// signatureVerify(handle, der) -> boolean
Napi::Value Verify(const Napi::CallbackInfo& info) {
  MessageSignature& signature = Idle(info.Env(), LaneOf(info.Env(), info[0]));
  const ByteView der = ArgBytes(info, 1);
  const Status status = signature.Verify(der.data, der.length);
  if (status != Status::kOk && status != Status::kInvalidCiphertext) {
    ThrowStatus(info.Env(), status);
  }
  return Napi::Boolean::New(info.Env(), status == Status::kOk);
}

// signatureRelease(handle): frees the key now, or once the updates in flight settle
Napi::Value Release(const Napi::CallbackInfo& info) {
  const std::shared_ptr<Lane>& lane = LaneOf(info.Env(), info[0]);
  lane->release_when_idle = true;
  ReleaseIfIdle(*lane);
  return info.Env().Undefined();
}

}  // namespace

core::WorkerPool& DigestPool() {
  // Leaked on purpose, as WorkerPool::Shared(); StopPoolsAtExit shuts it down.
  static core::WorkerPool* pool = new core::WorkerPool(core::DefaultThreadCount(), "hsmkms-digest");
  return *pool;
}

void ExportSignatureFunctions(Napi::Env env, Napi::Object exports) {
  exports.Set("signatureNewSigner", Napi::Function::New(env, NewSigner, "signatureNewSigner"));
  exports.Set("signatureNewVerifier",
              Napi::Function::New(env, NewVerifier, "signatureNewVerifier"));
  exports.Set("signaturePublicKey", Napi::Function::New(env, PublicKey, "signaturePublicKey"));
  exports.Set("signatureUpdateSync", Napi::Function::New(env, UpdateSync, "signatureUpdateSync"));
  exports.Set("signatureUpdate", Napi::Function::New(env, Update, "signatureUpdate"));
  exports.Set("signatureSign", Napi::Function::New(env, Sign, "signatureSign"));
  exports.Set("signatureVerify", Napi::Function::New(env, Verify, "signatureVerify"));
  exports.Set("signatureRelease", Napi::Function::New(env, Release, "signatureRelease"));
}

}  // namespace hsmkms::binding
