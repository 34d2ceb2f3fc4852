// WorkerPool: run, cancel, resize, WaitIdle, Shutdown, and tasks that free
// themselves in Finish() the way the binding's jobs do.
#include "worker_pool.h"

#include <pthread.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdlib>
#include <functional>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include "test_support.h"

using hsmkms::core::DefaultThreadCount;
using hsmkms::core::Task;
using hsmkms::core::WorkerPool;

namespace {

using namespace std::chrono_literals;

// A latch/gate with a timeout so that a broken pool fails instead of hanging.
class Gate {
 public:
  void Open() {
    std::lock_guard<std::mutex> lock(mutex_);
    open_ = true;
    cv_.notify_all();
  }
  [[nodiscard]] bool Wait(std::chrono::milliseconds timeout = 20s) {
    std::unique_lock<std::mutex> lock(mutex_);
    return cv_.wait_for(lock, timeout, [&] { return open_; });
  }
  [[nodiscard]] bool is_open() {
    std::lock_guard<std::mutex> lock(mutex_);
    return open_;
  }

 private:
  std::mutex mutex_;
  std::condition_variable cv_;
  bool open_ = false;
};

// Waits until pred() holds; false after the timeout.
bool Eventually(const std::function<bool()>& pred, std::chrono::milliseconds timeout = 20s) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (!pred()) {
    if (std::chrono::steady_clock::now() > deadline) return false;
    std::this_thread::sleep_for(1ms);
  }
  return true;
}

struct Counters {
  std::atomic<int> runs{0};
  std::atomic<int> finishes{0};
  std::atomic<int> cancelled{0};
  std::atomic<int> running{0};
  std::atomic<int> max_running{0};
};

class CountingTask : public Task {
 public:
  explicit CountingTask(Counters* counters, std::function<void()> body = {})
      : counters_(counters), body_(std::move(body)) {}
  void Run() noexcept override {
    const int now = ++counters_->running;
    int seen = counters_->max_running.load();
    while (now > seen && !counters_->max_running.compare_exchange_weak(seen, now)) {
    }
    ++counters_->runs;
    if (body_) body_();
    --counters_->running;
  }
  void Finish() noexcept override {
    finished_thread = std::this_thread::get_id();
    if (cancelled()) ++counters_->cancelled;
    ++counters_->finishes;  // last: the test may free the task once it counts
  }
  std::thread::id finished_thread;

 private:
  Counters* counters_;
  std::function<void()> body_;
};

std::vector<std::unique_ptr<CountingTask>> MakeTasks(size_t n, Counters* counters,
                                                     const std::function<void()>& body = {}) {
  std::vector<std::unique_ptr<CountingTask>> tasks;
  for (size_t i = 0; i < n; ++i) tasks.push_back(std::make_unique<CountingTask>(counters, body));
  return tasks;
}

std::vector<Task*> Raw(const std::vector<std::unique_ptr<CountingTask>>& tasks) {
  std::vector<Task*> raw;
  for (const auto& t : tasks) raw.push_back(t.get());
  return raw;
}

}  // namespace

HSMKMS_TEST(RunsEveryTaskOnce) {
  Counters counters;
  WorkerPool pool(2);
  auto tasks = MakeTasks(1000, &counters);
  std::vector<Task*> raw = Raw(tasks);
  pool.SubmitMany(raw.data(), 500);
  for (size_t i = 500; i < raw.size(); ++i) pool.Submit(raw[i]);
  REQUIRE(Eventually([&] { return counters.finishes.load() == 1000; }));
  pool.WaitIdle(nullptr);  // the last Finish() has returned
  CHECK_EQ(counters.runs.load(), 1000);
  CHECK_EQ(counters.cancelled.load(), 0);
  for (const auto& task : tasks) CHECK(task->finished_thread != std::this_thread::get_id());
}

HSMKMS_TEST(FinishMayDeleteTheTask) {
  // The binding's jobs are freed once their completion is delivered, which
  // can happen before the worker that ran Finish() has moved on: the pool
  // must not touch a task after Finish(). (ASan reports a use after free.)
  class SelfDeleting : public Task {
   public:
    explicit SelfDeleting(std::atomic<int>* done) : done_(done) {}
    void Run() noexcept override {}
    void Finish() noexcept override {
      std::atomic<int>* done = done_;
      delete this;
      ++*done;
    }

   private:
    std::atomic<int>* done_;
  };
  std::atomic<int> done{0};
  int owner_tag = 0;
  WorkerPool pool(2);
  for (int i = 0; i < 200; ++i) {
    auto* task = new SelfDeleting(&done);
    task->owner = &owner_tag;
    pool.Submit(task);
  }
  REQUIRE(Eventually([&] { return done.load() == 200; }));
  pool.WaitIdle(&owner_tag);
}

HSMKMS_TEST(CancelIfFinishesQueuedTasksAsCancelled) {
  Counters counters;
  WorkerPool pool(1);
  Gate started, release;
  CountingTask blocker(&counters, [&] {
    started.Open();
    (void)release.Wait();
  });
  pool.Submit(&blocker);
  REQUIRE(started.Wait());  // the only thread is busy: what follows stays queued
  auto seven = MakeTasks(10, &counters), eight = MakeTasks(10, &counters);
  for (auto& t : seven) t->cancel_id = 7;
  for (auto& t : eight) t->cancel_id = 8;
  std::vector<Task*> raw = Raw(seven), raw8 = Raw(eight);
  raw.insert(raw.end(), raw8.begin(), raw8.end());
  pool.SubmitMany(raw.data(), raw.size());

  const size_t n = pool.CancelIf([](const Task& t) { return t.cancel_id == 7; });
  CHECK_EQ(n, size_t{10});
  for (const auto& t : seven) {
    CHECK(t->cancelled());
    CHECK(t->finished_thread == std::this_thread::get_id());  // on the cancelling thread
  }
  CHECK_EQ(counters.cancelled.load(), 10);
  CHECK_EQ(counters.runs.load(), 1);  // only the blocker has run
  // A running task is not cancellable.
  CHECK_EQ(pool.CancelIf([&](const Task& t) { return &t == &blocker; }), size_t{0});

  release.Open();
  REQUIRE(Eventually([&] { return counters.finishes.load() == 21; }));
  pool.WaitIdle(nullptr);  // the last Finish() has returned
  CHECK_EQ(counters.runs.load(), 11);
  for (const auto& t : eight) CHECK(!t->cancelled());
  CHECK(!blocker.cancelled());
  CHECK_EQ(pool.CancelIf([](const Task&) { return true; }), size_t{0});
}

HSMKMS_TEST(CancelIfByOwner) {
  Counters counters;
  WorkerPool pool(1);
  Gate started, release;
  CountingTask blocker(&counters, [&] {
    started.Open();
    (void)release.Wait();
  });
  pool.Submit(&blocker);
  REQUIRE(started.Wait());
  int a = 0, b = 0;
  auto tasks = MakeTasks(6, &counters);
  for (size_t i = 0; i < tasks.size(); ++i) tasks[i]->owner = i % 2 == 0 ? &a : &b;
  std::vector<Task*> raw = Raw(tasks);
  pool.SubmitMany(raw.data(), raw.size());
  CHECK_EQ(pool.CancelIf([&](const Task& t) { return t.owner == &a; }), size_t{3});
  release.Open();
  REQUIRE(Eventually([&] { return counters.finishes.load() == 7; }));
  pool.WaitIdle(nullptr);  // the last Finish() has returned
  for (size_t i = 0; i < tasks.size(); ++i) CHECK_EQ(tasks[i]->cancelled(), i % 2 == 0);
}

HSMKMS_TEST(WaitIdleWaitsForTheOwnersRunningTasks) {
  Counters counters;
  WorkerPool pool(2);
  int a = 0, b = 0;
  Gate started, release;
  std::atomic<bool> finished{false};
  class Slow : public Task {
   public:
    Slow(Gate* started, Gate* release, std::atomic<bool>* finished)
        : started_(started), release_(release), finished_(finished) {}
    void Run() noexcept override {
      started_->Open();
      (void)release_->Wait();
    }
    void Finish() noexcept override {
      std::this_thread::sleep_for(20ms);  // WaitIdle must cover Finish() too
      *finished_ = true;
    }

   private:
    Gate *started_, *release_;
    std::atomic<bool>* finished_;
  } slow(&started, &release, &finished);
  slow.owner = &a;
  pool.Submit(&slow);
  REQUIRE(started.Wait());

  pool.WaitIdle(&b);  // nothing of b's runs: returns at once
  std::atomic<bool> waited{false};
  std::thread waiter([&] {
    pool.WaitIdle(&a);
    waited = true;
  });
  std::this_thread::sleep_for(50ms);
  CHECK(!waited.load());
  release.Open();
  waiter.join();
  CHECK(finished.load());
  pool.WaitIdle(nullptr);
}

HSMKMS_TEST(ResizeGrowsAndShrinks) {
  WorkerPool pool(1);
  CHECK_EQ(pool.size(), size_t{1});
  pool.Resize(4);
  CHECK_EQ(pool.size(), size_t{4});
  {
    // Four tasks that only finish together prove four threads.
    Counters counters;
    std::atomic<int> arrived{0};
    auto tasks = MakeTasks(4, &counters, [&] {
      ++arrived;
      (void)Eventually([&] { return arrived.load() == 4; }, 10s);
    });
    std::vector<Task*> raw = Raw(tasks);
    pool.SubmitMany(raw.data(), raw.size());
    REQUIRE(Eventually([&] { return counters.finishes.load() == 4; }));
    pool.WaitIdle(nullptr);  // the last Finish() has returned
    CHECK_EQ(counters.max_running.load(), 4);
  }
  pool.Resize(1);
  CHECK_EQ(pool.size(), size_t{1});
  {
    // Idle surplus threads leave before taking new work.
    Counters counters;
    auto tasks = MakeTasks(20, &counters, [] { std::this_thread::sleep_for(2ms); });
    std::vector<Task*> raw = Raw(tasks);
    pool.SubmitMany(raw.data(), raw.size());
    REQUIRE(Eventually([&] { return counters.finishes.load() == 20; }));
    pool.WaitIdle(nullptr);  // the last Finish() has returned
    CHECK_EQ(counters.max_running.load(), 1);
  }
  pool.Resize(0);  // at least one thread
  CHECK_EQ(pool.size(), size_t{1});
  Counters counters;
  auto tasks = MakeTasks(3, &counters);
  std::vector<Task*> raw = Raw(tasks);
  pool.SubmitMany(raw.data(), raw.size());
  REQUIRE(Eventually([&] { return counters.finishes.load() == 3; }));
  pool.WaitIdle(nullptr);  // the last Finish() has returned
}

HSMKMS_TEST(ShutdownWaitsForRunningAndDropsQueued) {
  Counters counters;
  WorkerPool pool(1);
  Gate started, release;
  CountingTask blocker(&counters, [&] {
    started.Open();
    (void)release.Wait();
  });
  pool.Submit(&blocker);
  REQUIRE(started.Wait());
  auto queued = MakeTasks(5, &counters);
  std::vector<Task*> raw = Raw(queued);
  pool.SubmitMany(raw.data(), raw.size());

  std::atomic<bool> returned{false};
  std::thread stopper([&] {
    pool.Shutdown();
    returned = true;
  });
  std::this_thread::sleep_for(50ms);
  CHECK(!returned.load());  // the running task still runs
  release.Open();
  stopper.join();
  CHECK_EQ(counters.runs.load(), 1);
  CHECK_EQ(counters.finishes.load(), 0);  // nothing is finished during shutdown
  CHECK_EQ(pool.size(), size_t{0});

  // After Shutdown nothing runs or finishes again.
  pool.Resize(3);
  CHECK_EQ(pool.size(), size_t{0});
  auto late = MakeTasks(2, &counters);
  raw = Raw(late);
  pool.SubmitMany(raw.data(), raw.size());
  std::this_thread::sleep_for(20ms);
  CHECK_EQ(counters.runs.load(), 1);
  CHECK_EQ(counters.finishes.load(), 0);
  pool.Shutdown();  // idempotent
}

// The exit-time race the CLI hit (a double free, about 1 exit in 100 on
// SoftHSM2): Shutdown returned while a worker still ran its thread-exit
// handlers (OpenSSL's and the PKCS#11 module's thread-local cleanup), and the
// next atexit handler tore those libraries down under it. Shutdown must
// return only once every worker has exited, its handlers included.
std::atomic<int> exit_handlers_done{0};

void SlowExitHandler(void*) {
  std::this_thread::sleep_for(100ms);
  ++exit_handlers_done;
}

HSMKMS_TEST(ShutdownWaitsForThreadExitHandlers) {
  pthread_key_t key;
  REQUIRE_EQ(pthread_key_create(&key, SlowExitHandler), 0);
  Counters counters;
  WorkerPool pool(2);
  std::atomic<int> arrived{0};
  // Both tasks wait for each other, so each worker thread runs one and gets the handler.
  auto tasks = MakeTasks(2, &counters, [&] {
    pthread_setspecific(key, &arrived);
    ++arrived;
    (void)Eventually([&] { return arrived.load() == 2; });
  });
  std::vector<Task*> raw = Raw(tasks);
  pool.SubmitMany(raw.data(), raw.size());
  REQUIRE(Eventually([&] { return counters.finishes.load() == 2; }));
  pool.Shutdown();
  CHECK_EQ(exit_handlers_done.load(), 2);
  pthread_key_delete(key);
}

HSMKMS_TEST(DestructorStopsThreads) {
  Counters counters;
  for (int round = 0; round < 20; ++round) {
    WorkerPool pool(3);
    auto tasks = MakeTasks(10, &counters);
    std::vector<Task*> raw = Raw(tasks);
    pool.SubmitMany(raw.data(), raw.size());
    REQUIRE(Eventually([&] { return counters.finishes.load() == (round + 1) * 10; }));
    pool.WaitIdle(nullptr);  // the last Finish() has returned
  }
}

HSMKMS_TEST(DefaultThreadCountHonoursEnvironment) {
  unsetenv("HSMKMS_THREADS");
  const size_t cores = DefaultThreadCount();
  CHECK(cores >= 1);
  setenv("HSMKMS_THREADS", "3", 1);
  CHECK_EQ(DefaultThreadCount(), size_t{3});
  for (const char* bad : {"0", "-2", "abc", "100000"}) {
    setenv("HSMKMS_THREADS", bad, 1);
    CHECK_EQ(DefaultThreadCount(), cores);
  }
  unsetenv("HSMKMS_THREADS");
}

HSMKMS_TEST(SharedPoolIsOneProcessWidePool) {
  WorkerPool& shared = WorkerPool::Shared();
  CHECK(&shared == &WorkerPool::Shared());
  CHECK_EQ(shared.size(), DefaultThreadCount());
  Counters counters;
  auto tasks = MakeTasks(50, &counters);
  std::vector<Task*> raw = Raw(tasks);
  shared.SubmitMany(raw.data(), raw.size());
  REQUIRE(Eventually([&] { return counters.finishes.load() == 50; }));
  shared.WaitIdle(nullptr);  // the last Finish() has returned
  shared.Shutdown();  // as the addon does at exit
}

HSMKMS_TEST(WorkerNicenessHonoursEnvironment) {
  unsetenv("HSMKMS_WORKER_NICE");
  CHECK_EQ(hsmkms::core::WorkerNiceness(), hsmkms::core::kDefaultWorkerNice);
  setenv("HSMKMS_WORKER_NICE", "5", 1);
  CHECK_EQ(hsmkms::core::WorkerNiceness(), 5);
  for (const char* bad : {"-1", "20", "abc"}) {
    setenv("HSMKMS_WORKER_NICE", bad, 1);
    CHECK_EQ(hsmkms::core::WorkerNiceness(), hsmkms::core::kDefaultWorkerNice);
  }
  // Workers run that much nicer than the thread that started them (which
  // keeps its own niceness), also when that thread is itself niced.
  const id_t tid = static_cast<id_t>(syscall(SYS_gettid));
  REQUIRE(setpriority(PRIO_PROCESS, tid, std::min(getpriority(PRIO_PROCESS, tid) + 2, 16)) == 0);
  const int mine = getpriority(PRIO_PROCESS, tid);
  setenv("HSMKMS_WORKER_NICE", "3", 1);
  std::atomic<int> seen{-100};
  {
    WorkerPool pool(1);
    Counters counters;
    CountingTask task(&counters, [&] {
      seen = getpriority(PRIO_PROCESS, static_cast<id_t>(syscall(SYS_gettid)));
    });
    pool.Submit(&task);
    REQUIRE(Eventually([&] { return counters.finishes.load() == 1; }));
    pool.WaitIdle(nullptr);
  }
  unsetenv("HSMKMS_WORKER_NICE");
  CHECK_EQ(seen.load(), std::min(mine + 3, 19));
  CHECK_EQ(getpriority(PRIO_PROCESS, tid), mine);
}
