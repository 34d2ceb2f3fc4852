// The process-wide pool of threads that runs AES (and later other CPU work),
// separate from libuv's four shared threads so crypto never queues behind fs
// or dns work, and sized to the cores by default.
#pragma once

#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

#include "status.h"

namespace hsmkms::core {

// A unit of work. The pool calls Run() then Finish() on a worker thread, or,
// when the task is cancelled before it starts, Finish() alone with
// cancelled() true (on the cancelling thread).
class Task {
 public:
  virtual ~Task() = default;
  virtual void Run() noexcept = 0;
  virtual void Finish() noexcept = 0;

  [[nodiscard]] bool cancelled() const noexcept { return cancelled_; }
  // Groups tasks for cancellation: the environment that owns them and an
  // optional caller-chosen id (0 = not cancellable by id).
  const void* owner = nullptr;
  uint64_t cancel_id = 0;

 private:
  friend class WorkerPool;
  bool cancelled_ = false;
};

class WorkerPool {
 public:
  // The shared pool, created on first use with one thread per core.
  static WorkerPool& Shared();

  // `name`: its threads' name (at most 15 characters), so profilers and
  // `top -H` tell the pools apart.
  explicit WorkerPool(size_t threads, const char* name = "hsmkms-worker");
  // `nice`: niceness of its threads relative to their creator (0..19);
  // the form without it uses WorkerNiceness().
  WorkerPool(size_t threads, int nice, const char* name);
  ~WorkerPool();
  WorkerPool(const WorkerPool&) = delete;
  WorkerPool& operator=(const WorkerPool&) = delete;

  void Submit(Task* task);
  void SubmitMany(Task* const* tasks, size_t count);
  // Grows or shrinks the pool (at least 1 thread).
  void Resize(size_t threads);
  [[nodiscard]] size_t size() const;

  // Removes queued tasks matching the predicate and finishes them as cancelled.
  size_t CancelIf(const std::function<bool(const Task&)>& match);
  // Blocks until no task of `owner` is running (queued ones must be cancelled first).
  void WaitIdle(const void* owner);
  // At process exit: drops queued tasks, waits for running ones, stops threads
  // and joins them, so their thread-exit handlers (OpenSSL's and a PKCS#11
  // module's thread-local cleanup) have run before the next atexit handler
  // tears those libraries down. After it returns no task is run or finished again.
  void Shutdown();

 private:
  void WorkerLoop();

  mutable std::mutex mutex_;
  std::condition_variable work_ready_;
  std::condition_variable task_done_;
  std::deque<Task*> queue_;
  std::deque<const void*> running_owners_;
  std::vector<std::thread> workers_;  // joined by Shutdown (a thread leaving on a shrink detaches itself)
  size_t threads_ = 0;         // live threads
  size_t target_threads_ = 0;  // wanted threads
  bool stopping_ = false;
  int nice_ = -1;  // < 0: WorkerNiceness()
  const char* name_;
};

// Niceness of worker threads relative to the JS thread (HSMKMS_WORKER_NICE overrides).
constexpr int kDefaultWorkerNice = 0;
[[nodiscard]] int WorkerNiceness() noexcept;

// One thread per available core (at least 1); HSMKMS_THREADS overrides.
[[nodiscard]] size_t DefaultThreadCount() noexcept;

}  // namespace hsmkms::core
