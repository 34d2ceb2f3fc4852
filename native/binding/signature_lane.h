// A message signature's work queue: the digest updates, then the signature
// or its check, run on the digest threads one at a time in the order
// JavaScript submitted them (at most one DrainTask per lane), each settled
// as a promise on the JS thread.
#pragma once

#include <napi.h>

#include <deque>
#include <memory>
#include <mutex>
#include <vector>

#include "../core/message_signature.h"
#include "../core/worker_pool.h"
#include "byte_view.h"
#include "completion.h"
#include "env_state.h"

namespace hsmkms::binding {

class LaneJob;

struct Lane {
  std::unique_ptr<core::MessageSignature> signature;
  std::mutex mutex;
  std::deque<LaneJob*> queue;  // under mutex
  bool draining = false;       // under mutex: a DrainTask is submitted or running
  bool failed = false;         // under mutex: a job failed, the digest is lost
  size_t in_flight = 0;        // JS thread only: jobs not yet settled
  bool release_when_idle = false;  // JS thread only: free the key once nothing is in flight
};

// The threads that hash signed messages, apart from the AES pool: the hash
// is the slowest step of a signed stream and runs in order, so it must never
// wait in a queue behind AES runs. Created on first use.
core::WorkerPool& DigestPool();

// Frees the lane's key if it was asked to and nothing is in flight (JS thread).
void ReleaseIfIdle(Lane& lane);

class LaneJob final : public Completion {
 public:
  enum class Kind {
    kUpdate,  // hash the parts -> undefined
    kSign,    // finish the digest and sign it -> Buffer (DER); the key is released after
    kVerify,  // finish the digest and check the DER signature in part 0 -> boolean
  };
  LaneJob(std::shared_ptr<Lane> lane, Kind kind, napi_deferred deferred)
      : lane_(std::move(lane)), kind_(kind), deferred_(deferred) {}

  // JS thread: one more array to read, referenced until the job settles. An
  // array that cannot be referenced is never read: the job fails instead.
  void Add(napi_env env, napi_value array, ByteView bytes);
  // Digest thread.
  void Run(core::MessageSignature* signature) noexcept;
  void Abort(core::Status status) noexcept { status_ = status; }
  [[nodiscard]] core::Status status() const noexcept { return status_; }
  void Complete(napi_env env) noexcept override;

 private:
  std::shared_ptr<Lane> lane_;
  Kind kind_;
  napi_deferred deferred_;
  std::vector<ByteView> parts_;
  std::vector<napi_ref> refs_;  // deleted on the JS thread (at teardown, freed with the env)
  bool unreadable_ = false;
  bool verified_ = false;
  std::vector<uint8_t> der_;
  core::Status status_ = core::Status::kInternal;
};

// JS thread: queues `job` behind the lane's others (counted in flight) and
// starts a DrainTask on the digest pool if none is running.
void Enqueue(EnvState* state, const std::shared_ptr<Lane>& lane, LaneJob* job);

}  // namespace hsmkms::binding
