#include "worker_pool.h"

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <thread>

#include <pthread.h>
#include <sched.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

namespace hsmkms::core {

size_t DefaultThreadCount() noexcept {
  if (const char* env = std::getenv("HSMKMS_THREADS")) {
    const long n = std::strtol(env, nullptr, 10);
    if (n > 0 && n <= 1024) return static_cast<size_t>(n);
  }
  cpu_set_t set;
  if (sched_getaffinity(0, sizeof(set), &set) == 0) {
    const int n = CPU_COUNT(&set);
    if (n > 0) return static_cast<size_t>(n);
  }
  const unsigned n = std::thread::hardware_concurrency();
  return n > 0 ? n : 1;
}

WorkerPool& WorkerPool::Shared() {
  // Leaked on purpose: worker threads may still be finishing while static
  // destructors run at exit; Shutdown() is what stops them.
  static WorkerPool* pool = new WorkerPool(DefaultThreadCount(), "hsmkms-aes");
  return *pool;
}

WorkerPool::WorkerPool(size_t threads, const char* name) : name_(name) { Resize(threads); }

WorkerPool::WorkerPool(size_t threads, int nice, const char* name)
    : nice_(std::clamp(nice, 0, 19)), name_(name) {
  Resize(threads);
}

WorkerPool::~WorkerPool() { Shutdown(); }

void WorkerPool::Resize(size_t threads) {
  threads = std::max<size_t>(threads, 1);
  std::lock_guard<std::mutex> lock(mutex_);
  if (stopping_) return;
  target_threads_ = threads;
  while (threads_ < target_threads_) {
    workers_.emplace_back(&WorkerPool::WorkerLoop, this);
    ++threads_;
  }
  work_ready_.notify_all();  // surplus threads notice and leave
}

size_t WorkerPool::size() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return target_threads_;
}

void WorkerPool::Submit(Task* task) { SubmitMany(&task, 1); }

void WorkerPool::SubmitMany(Task* const* tasks, size_t count) {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    queue_.insert(queue_.end(), tasks, tasks + count);
  }
  if (count == 1) {
    work_ready_.notify_one();
  } else {
    work_ready_.notify_all();
  }
}

size_t WorkerPool::CancelIf(const std::function<bool(const Task&)>& match) {
  std::deque<Task*> cancelled;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    auto keep = std::stable_partition(queue_.begin(), queue_.end(),
                                      [&](const Task* t) { return !match(*t); });
    cancelled.assign(keep, queue_.end());
    queue_.erase(keep, queue_.end());
  }
  for (Task* task : cancelled) {
    task->cancelled_ = true;
    task->Finish();
  }
  return cancelled.size();
}

void WorkerPool::WaitIdle(const void* owner) {
  std::unique_lock<std::mutex> lock(mutex_);
  task_done_.wait(lock, [&] {
    return std::find(running_owners_.begin(), running_owners_.end(), owner) ==
           running_owners_.end();
  });
}

void WorkerPool::Shutdown() {
  std::vector<std::thread> exiting;
  {
    std::unique_lock<std::mutex> lock(mutex_);
    stopping_ = true;
    queue_.clear();  // the process is exiting: nothing may call back into JS
    target_threads_ = 0;
    work_ready_.notify_all();
    task_done_.wait(lock, [&] { return threads_ == 0; });
    exiting.swap(workers_);
  }
  // A thread that has left its loop still runs its thread-local destructors:
  // returning before they end let them race the library cleanup that runs
  // next at exit (a double free in the CLI, about 1 exit in 100 on SoftHSM2).
  for (std::thread& thread : exiting) thread.join();
}

int WorkerNiceness() noexcept {
  if (const char* env = std::getenv("HSMKMS_WORKER_NICE")) {
    const long n = std::strtol(env, nullptr, 10);
    if (n >= 0 && n <= 19) return static_cast<int>(n);
  }
  return kDefaultWorkerNice;
}

void WorkerPool::WorkerLoop() {
  // Linux nice values are per thread. A slightly lower priority lets the
  // event-loop thread preempt the workers as soon as a completion wakes it,
  // even when there are as many workers as cores.
  // A new thread starts with its creator's niceness: add to that.
  if (name_ != nullptr) pthread_setname_np(pthread_self(), name_);
  const int nice = nice_ >= 0 ? nice_ : WorkerNiceness();
  if (nice > 0) {
    const id_t tid = static_cast<id_t>(syscall(SYS_gettid));
    errno = 0;
    const int base = getpriority(PRIO_PROCESS, tid);
    if (errno == 0) setpriority(PRIO_PROCESS, tid, std::min(base + nice, 19));
  }
  std::unique_lock<std::mutex> lock(mutex_);
  for (;;) {
    work_ready_.wait(lock, [&] {
      return stopping_ || threads_ > target_threads_ || !queue_.empty();
    });
    if (stopping_ || threads_ > target_threads_) break;
    Task* task = queue_.front();
    queue_.pop_front();
    // Finish() hands the task to its owner, who may delete it at once: copy
    // what we need afterwards now.
    const void* owner = task->owner;
    running_owners_.push_back(owner);
    lock.unlock();
    task->Run();
    lock.lock();
    // Finish() is called under no lock but before this task counts as done,
    // so WaitIdle/Shutdown never return while a completion is being posted.
    if (!stopping_) {
      lock.unlock();
      task->Finish();
      lock.lock();
    }
    running_owners_.erase(std::find(running_owners_.begin(), running_owners_.end(), owner));
    task_done_.notify_all();
  }
  if (!stopping_) {
    // A surplus thread after a shrink: nobody will join it.
    const auto self = std::find_if(workers_.begin(), workers_.end(), [](const std::thread& t) {
      return t.get_id() == std::this_thread::get_id();
    });
    if (self != workers_.end()) {
      self->detach();
      workers_.erase(self);
    }
  }
  --threads_;
  task_done_.notify_all();
}

}  // namespace hsmkms::core
