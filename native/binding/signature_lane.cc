#include "signature_lane.h"

#include <new>
#include <utility>

namespace hsmkms::binding {
namespace {

using core::Status;

// Runs a lane's queued jobs until the queue is empty.
class DrainTask final : public core::Task {
 public:
  DrainTask(EnvState* state, std::shared_ptr<Lane> lane) : state_(state), lane_(std::move(lane)) {}

  void Run() noexcept override {
    for (;;) {
      LaneJob* job;
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
      // After a failed job the digest is lost: every later one fails too.
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
      std::deque<LaneJob*> left;
      {
        std::lock_guard<std::mutex> lock(lane_->mutex);
        left.swap(lane_->queue);
        lane_->draining = false;
        lane_->failed = true;
      }
      for (LaneJob* job : left) {
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

}  // namespace

core::WorkerPool& DigestPool() {
  // Leaked on purpose, as WorkerPool::Shared(); StopPoolsAtExit shuts it down.
  static core::WorkerPool* pool =
      new core::WorkerPool(core::DefaultThreadCount(), "hsmkms-digest");
  return *pool;
}

void ReleaseIfIdle(Lane& lane) {
  if (lane.in_flight == 0 && lane.release_when_idle) lane.signature.reset();
}

void LaneJob::Add(napi_env env, napi_value array, ByteView bytes) {
  napi_ref ref = nullptr;
  if (napi_create_reference(env, array, 1, &ref) != napi_ok) {
    unreadable_ = true;
    return;
  }
  refs_.push_back(ref);
  parts_.push_back(bytes);
}

void LaneJob::Run(core::MessageSignature* signature) noexcept {
  if (signature == nullptr) {
    status_ = Status::kKeyUnavailable;
    return;
  }
  if (unreadable_) {
    status_ = Status::kInternal;
    return;
  }
  try {
    switch (kind_) {
      case Kind::kUpdate:
        status_ = Status::kOk;
        for (size_t i = 0; i < parts_.size() && status_ == Status::kOk; ++i) {
          status_ = signature->Update(parts_[i].data, parts_[i].length);
        }
        break;
      case Kind::kSign:
        status_ = signature->Sign(&der_);
        break;
      case Kind::kVerify:
        status_ = signature->Verify(parts_[0].data, parts_[0].length);
        verified_ = status_ == Status::kOk;
        // A signature that does not verify is an answer (false), not a failure.
        if (status_ == Status::kInvalidCiphertext) status_ = Status::kOk;
        break;
    }
  } catch (const std::bad_alloc&) {
    status_ = Status::kInternal;
  }
}

void LaneJob::Complete(napi_env env) noexcept {
  if (env != nullptr) {
    lane_->in_flight--;
    // A finished digest takes no more work: its key goes once nothing is in flight.
    if (kind_ != Kind::kUpdate) lane_->release_when_idle = true;
    napi_value value = nullptr;
    if (status_ == Status::kOk) {
      switch (kind_) {
        case Kind::kUpdate:
          napi_get_undefined(env, &value);
          break;
        case Kind::kSign: {
          void* data = nullptr;
          if (napi_create_buffer_copy(env, der_.size(), der_.data(), &data, &value) != napi_ok) {
            value = nullptr;
          }
          break;
        }
        case Kind::kVerify:
          napi_get_boolean(env, verified_, &value);
          break;
      }
    }
    if (value != nullptr) {
      napi_resolve_deferred(env, deferred_, value);
    } else {
      const Status status = status_ == Status::kOk ? Status::kInternal : status_;
      napi_reject_deferred(env, deferred_,
                           EnvState::Get(env)->MakeError(status, StatusMessage(status)));
    }
    for (napi_ref ref : refs_) napi_delete_reference(env, ref);
    ReleaseIfIdle(*lane_);
  }
  delete this;
}

void Enqueue(EnvState* state, const std::shared_ptr<Lane>& lane, LaneJob* job) {
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
}

}  // namespace hsmkms::binding
