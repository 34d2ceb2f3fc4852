#include "session_pool.h"

#include <algorithm>
#include <utility>

#include "ckr.h"

namespace hsmkms::pkcs11 {

SessionPool::Lease::Lease(Lease&& other) noexcept
    : pool_(std::exchange(other.pool_, nullptr)), session_(std::move(other.session_)) {}

SessionPool::Lease& SessionPool::Lease::operator=(Lease&& other) noexcept {
  if (this != &other) {
    Return();
    pool_ = std::exchange(other.pool_, nullptr);
    session_ = std::move(other.session_);
  }
  return *this;
}

void SessionPool::Lease::Return() noexcept {
  if (pool_ == nullptr) return;
  std::exchange(pool_, nullptr)->Put(std::move(session_));
}

void SessionPool::Lease::Discard() noexcept {
  if (pool_ == nullptr) return;
  SessionPool* pool = std::exchange(pool_, nullptr);
  pool->CloseOrKeep(session_);
  pool->Forget();
}

SessionPool::SessionPool(CK_FUNCTION_LIST* p11, CK_SLOT_ID slot, size_t capacity)
    : p11_(p11), slot_(slot), capacity_(std::max<size_t>(capacity, 1)) {
  idle_.reserve(capacity_);  // idle + leased <= capacity_: Put never allocates
  unclosed_.reserve(capacity_);  // an outage leaves at most the sessions that existed
}

SessionPool::~SessionPool() {
  CloseIdle();
  CloseUnclosed();
}

HsmResult SessionPool::Acquire(uint64_t generation, Lease* out) {
  out->Return();
  std::vector<Session> stale;
  Session reused;
  {
    std::unique_lock<std::mutex> lock(mutex_);
    available_.wait(lock, [&] { return leased_ < capacity_; });
    while (!idle_.empty() && !reused.is_open()) {
      Session candidate = std::move(idle_.back());
      idle_.pop_back();
      if (candidate.generation() == generation) {
        reused = std::move(candidate);
      } else {
        stale.push_back(std::move(candidate));
      }
    }
    ++leased_;
  }
  for (Session& session : stale) CloseOrKeep(session);  // outside the lock (network calls on real HSMs)
  if (!reused.is_open()) {
    const HsmResult result = Session::Open(p11_, slot_, generation, &reused);
    if (!result.ok()) {
      Forget();
      return result;
    }
    CloseUnclosed();
  }
  out->pool_ = this;
  out->session_ = std::move(reused);
  return HsmResult::Ok();
}

void SessionPool::Put(Session session) noexcept {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    --leased_;
    idle_.push_back(std::move(session));
  }
  available_.notify_one();
}

void SessionPool::Forget() noexcept {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    --leased_;
  }
  available_.notify_one();
}

void SessionPool::CloseIdle() noexcept {
  std::vector<Session> idle;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    idle.swap(idle_);
  }
  for (Session& session : idle) CloseOrKeep(session);
}

void SessionPool::CloseOrKeep(Session& session) noexcept {
  const CK_SESSION_HANDLE handle = session.handle();
  const CK_RV rv = session.CloseChecked();
  if (rv == CKR_OK || SessionGone(rv)) return;
  std::lock_guard<std::mutex> lock(mutex_);
  try {
    unclosed_.push_back(handle);
  } catch (...) {
    // Out of memory: that session stays open in the HSM until the process ends.
  }
}

void SessionPool::CloseUnclosed() noexcept {
  std::vector<CK_SESSION_HANDLE> unclosed;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    if (unclosed_.empty()) return;
    unclosed.swap(unclosed_);
  }
  for (const CK_SESSION_HANDLE handle : unclosed) {
    const CK_RV rv = p11_->C_CloseSession(handle);
    if (rv == CKR_OK || SessionGone(rv)) continue;
    std::lock_guard<std::mutex> lock(mutex_);
    try {
      unclosed_.push_back(handle);  // still failing: next time
    } catch (...) {
      // Out of memory: as in CloseOrKeep.
    }
  }
}

size_t SessionPool::open_sessions() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return leased_ + idle_.size();
}

}  // namespace hsmkms::pkcs11
