// libFuzzer for JavaScript targets: the native half that @jazzer.js/fuzzer
// expects (its NativeAddon interface), written against the libFuzzer that
// Debian's clang ships (libclang_rt.fuzzer_no_main). @jazzer.js's own
// prebuilt addon needs glibc 2.38, newer than this platform's; everything
// else of Jazzer.js (the coverage instrumentation of dist/, the CLI, corpus
// and option handling) is used as it is. test/fuzz/js/use-bridge.cjs makes
// @jazzer.js/fuzzer load this file instead of its prebuild.
//
// Coverage: Jazzer.js counts edges in a Buffer; each slice it grows into is
// registered with libFuzzer as a module of inline 8-bit counters, with a
// table of made-up PCs of the same length (libFuzzer pairs them by index).
// Comparisons reach libFuzzer's value-profile and dictionary hooks.
//
// A finding (the target threw or rejected) ends in abort(): libFuzzer's
// crash handler then writes the input as crash-<sha1> and exits with 77.
// When libFuzzer is done (-runs, -max_total_time) it calls exit(0); an
// on_exit handler turns that into _exit so no static destructor races the
// JavaScript thread.
#include <node_api.h>

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <csignal>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <unistd.h>
#include <vector>

extern "C" {
int LLVMFuzzerRunDriver(int* argc, char*** argv, int (*callback)(const uint8_t*, size_t));
void __sanitizer_cov_8bit_counters_init(uint8_t* start, uint8_t* stop);
void __sanitizer_cov_pcs_init(const uintptr_t* pcs_begin, const uintptr_t* pcs_end);
void __sanitizer_cov_trace_cmp8(uint64_t arg1, uint64_t arg2);
void __sanitizer_cov_trace_pc_indir(uintptr_t callee);
void __sanitizer_weak_hook_strcmp(void* caller_pc, const char* s1, const char* s2, int result);
void __sanitizer_weak_hook_strstr(void* caller_pc, const char* haystack, const char* needle,
                                  char* result);
}

namespace {

// --- small N-API helpers ----------------------------------------------------

#define BRIDGE_CHECK(env, call)                                         \
  do {                                                                  \
    if ((call) != napi_ok) {                                            \
      napi_throw_error((env), "ERR_FUZZ_BRIDGE", "N-API call failed: " #call); \
      return nullptr;                                                   \
    }                                                                   \
  } while (0)

bool Args(napi_env env, napi_callback_info info, size_t want, napi_value* argv) {
  size_t argc = want;
  if (napi_get_cb_info(env, info, &argc, argv, nullptr, nullptr) != napi_ok || argc < want) {
    napi_throw_type_error(env, "ERR_FUZZ_BRIDGE", "missing arguments");
    return false;
  }
  return true;
}

std::string Utf8(napi_env env, napi_value value) {
  size_t len = 0;
  if (napi_get_value_string_utf8(env, value, nullptr, 0, &len) != napi_ok) return {};
  std::string out(len, '\0');
  napi_get_value_string_utf8(env, value, out.data(), len + 1, &len);
  return out;
}

// --- coverage ---------------------------------------------------------------

struct PcEntry {
  uintptr_t pc;
  uintptr_t flags;
};

// libFuzzer keeps pointers into these for the life of the process.
std::vector<std::unique_ptr<PcEntry[]>> g_pc_tables;
std::vector<napi_ref> g_counter_refs;
uint8_t* g_coverage_map = nullptr;
size_t g_coverage_map_size = 0;
uintptr_t g_next_pc = 1;

void RegisterCounters(uint8_t* start, size_t count) {
  if (count == 0) return;
  auto table = std::make_unique<PcEntry[]>(count);
  for (size_t i = 0; i < count; ++i) table[i] = {g_next_pc++, 0};
  __sanitizer_cov_8bit_counters_init(start, start + count);
  const auto* pcs = reinterpret_cast<const uintptr_t*>(table.get());
  __sanitizer_cov_pcs_init(pcs, pcs + 2 * count);
  g_pc_tables.push_back(std::move(table));
}

bool BufferBytes(napi_env env, napi_value value, uint8_t** data, size_t* len) {
  void* raw = nullptr;
  if (napi_get_buffer_info(env, value, &raw, len) != napi_ok) {
    napi_throw_type_error(env, "ERR_FUZZ_BRIDGE", "expected a Buffer");
    return false;
  }
  *data = static_cast<uint8_t*>(raw);
  return true;
}

void Hold(napi_env env, napi_value value) {
  napi_ref ref = nullptr;
  if (napi_create_reference(env, value, 1, &ref) == napi_ok) g_counter_refs.push_back(ref);
}

napi_value registerCoverageMapFn(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  if (!Args(env, info, 1, argv)) return nullptr;
  if (!BufferBytes(env, argv[0], &g_coverage_map, &g_coverage_map_size)) return nullptr;
  Hold(env, argv[0]);
  return nullptr;
}

napi_value registerNewCountersFn(napi_env env, napi_callback_info info) {
  napi_value argv[2];
  if (!Args(env, info, 2, argv)) return nullptr;
  uint32_t old_count = 0, new_count = 0;
  BRIDGE_CHECK(env, napi_get_value_uint32(env, argv[0], &old_count));
  BRIDGE_CHECK(env, napi_get_value_uint32(env, argv[1], &new_count));
  if (g_coverage_map == nullptr || new_count > g_coverage_map_size || old_count > new_count) {
    napi_throw_range_error(env, "ERR_FUZZ_BRIDGE", "counters outside the coverage map");
    return nullptr;
  }
  RegisterCounters(g_coverage_map + old_count, new_count - old_count);
  return nullptr;
}

napi_value registerModuleCountersFn(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  if (!Args(env, info, 1, argv)) return nullptr;
  uint8_t* data = nullptr;
  size_t len = 0;
  if (!BufferBytes(env, argv[0], &data, &len)) return nullptr;
  Hold(env, argv[0]);
  RegisterCounters(data, len);
  return nullptr;
}

// --- comparison hooks ---------------------------------------------------------

napi_value traceIntegerCompareFn(napi_env env, napi_callback_info info) {
  napi_value argv[3];
  if (!Args(env, info, 3, argv)) return nullptr;
  int64_t current = 0, target = 0;
  if (napi_get_value_int64(env, argv[1], &current) != napi_ok ||
      napi_get_value_int64(env, argv[2], &target) != napi_ok) {
    return nullptr;  // not integers: nothing to learn
  }
  __sanitizer_cov_trace_cmp8(static_cast<uint64_t>(current), static_cast<uint64_t>(target));
  return nullptr;
}

napi_value traceUnequalStringsFn(napi_env env, napi_callback_info info) {
  napi_value argv[3];
  if (!Args(env, info, 3, argv)) return nullptr;
  const std::string current = Utf8(env, argv[1]);
  const std::string target = Utf8(env, argv[2]);
  __sanitizer_weak_hook_strcmp(reinterpret_cast<void*>(&traceUnequalStringsFn), current.c_str(),
                               target.c_str(), 1);
  return nullptr;
}

napi_value traceStringContainmentFn(napi_env env, napi_callback_info info) {
  napi_value argv[3];
  if (!Args(env, info, 3, argv)) return nullptr;
  const std::string needle = Utf8(env, argv[1]);
  const std::string haystack = Utf8(env, argv[2]);
  __sanitizer_weak_hook_strstr(reinterpret_cast<void*>(&traceStringContainmentFn),
                               haystack.c_str(), needle.c_str(), nullptr);
  return nullptr;
}

napi_value tracePcIndirFn(napi_env env, napi_callback_info info) {
  napi_value argv[2];
  if (!Args(env, info, 2, argv)) return nullptr;
  uint32_t state = 0;
  if (napi_get_value_uint32(env, argv[1], &state) != napi_ok) return nullptr;
  __sanitizer_cov_trace_pc_indir(state);
  return nullptr;
}

// --- running libFuzzer ------------------------------------------------------

struct Run {
  napi_env env = nullptr;
  napi_ref target = nullptr;
  std::vector<std::string> args;
  std::vector<char*> argv;
  napi_threadsafe_function tsfn = nullptr;  // async mode only
  // libFuzzer's -timeout, enforced here in async mode: its SIGALRM check only
  // runs on the fuzzing thread, never while that thread waits for a promise.
  int timeout_seconds = 1200;
} g_run;

void ExitNow(int status, void*) {
  std::fflush(nullptr);
  _exit(status);
}

// A finding: libFuzzer's SIGABRT handler saves the input and exits 77.
[[noreturn]] void Finding(const char* why) {
  std::fprintf(stderr, "==libfuzzer-bridge== finding: %s\n", why);
  std::abort();
}

bool IsPromise(napi_env env, napi_value value) {
  bool promise = false;
  return napi_is_promise(env, value, &promise) == napi_ok && promise;
}

napi_value CallTarget(napi_env env, const uint8_t* data, size_t size, bool* threw) {
  napi_value buffer = nullptr, target = nullptr, global = nullptr, result = nullptr;
  void* copy = nullptr;
  *threw = false;
  if (napi_create_buffer_copy(env, size, size ? data : reinterpret_cast<const uint8_t*>(""),
                              &copy, &buffer) != napi_ok ||
      napi_get_reference_value(env, g_run.target, &target) != napi_ok ||
      napi_get_global(env, &global) != napi_ok) {
    Finding("could not call the fuzz target");
  }
  if (napi_call_function(env, global, target, 1, &buffer, &result) != napi_ok) {
    napi_value error = nullptr;
    napi_get_and_clear_last_exception(env, &error);
    *threw = true;
    return nullptr;
  }
  return result;
}

int SyncOneInput(const uint8_t* data, size_t size) {
  napi_env env = g_run.env;
  napi_handle_scope scope = nullptr;
  napi_open_handle_scope(env, &scope);
  bool threw = false;
  napi_value result = CallTarget(env, data, size, &threw);
  if (threw) Finding("the fuzz target threw");
  if (result != nullptr && IsPromise(env, result)) {
    Finding("a --sync fuzz target returned a promise");
  }
  napi_close_handle_scope(env, scope);
  return 0;
}

// Async mode: libFuzzer runs on its own thread; each input is handed to the
// JavaScript thread, which calls the target and, for a promise, waits for it
// to settle before the fuzzing thread goes on.
struct AsyncInput {
  const uint8_t* data;
  size_t size;
  std::mutex mutex;
  std::condition_variable settled_cv;
  bool settled = false;
  bool failed = false;
};

void Settle(AsyncInput* input, bool failed) {
  std::lock_guard<std::mutex> lock(input->mutex);
  input->failed = failed;
  input->settled = true;
  input->settled_cv.notify_one();
}

napi_value OnFulfilled(napi_env env, napi_callback_info info) {
  void* input = nullptr;
  napi_get_cb_info(env, info, nullptr, nullptr, nullptr, &input);
  Settle(static_cast<AsyncInput*>(input), false);
  return nullptr;
}

napi_value OnRejected(napi_env env, napi_callback_info info) {
  void* input = nullptr;
  napi_get_cb_info(env, info, nullptr, nullptr, nullptr, &input);
  Settle(static_cast<AsyncInput*>(input), true);
  return nullptr;
}

void CallTargetOnJsThread(napi_env env, napi_value, void*, void* data) {
  auto* input = static_cast<AsyncInput*>(data);
  if (env == nullptr) return Settle(input, true);
  bool threw = false;
  napi_value result = CallTarget(env, input->data, input->size, &threw);
  if (threw) return Settle(input, true);
  if (result == nullptr || !IsPromise(env, result)) return Settle(input, false);
  napi_value then = nullptr, on_ok = nullptr, on_err = nullptr, args[2], ignored = nullptr;
  if (napi_get_named_property(env, result, "then", &then) != napi_ok ||
      napi_create_function(env, "onFulfilled", NAPI_AUTO_LENGTH, OnFulfilled, input, &on_ok) !=
          napi_ok ||
      napi_create_function(env, "onRejected", NAPI_AUTO_LENGTH, OnRejected, input, &on_err) !=
          napi_ok) {
    return Settle(input, true);
  }
  args[0] = on_ok;
  args[1] = on_err;
  if (napi_call_function(env, result, then, 2, args, &ignored) != napi_ok) Settle(input, true);
}

int AsyncOneInput(const uint8_t* data, size_t size) {
  AsyncInput input{data, size, {}, {}, false, false};
  if (napi_call_threadsafe_function(g_run.tsfn, &input, napi_tsfn_blocking) != napi_ok) {
    Finding("could not reach the JavaScript thread");
  }
  std::unique_lock<std::mutex> lock(input.mutex);
  if (!input.settled_cv.wait_for(lock, std::chrono::seconds(g_run.timeout_seconds),
                                 [&] { return input.settled; })) {
    // The JavaScript side still holds `input`: end here, before it goes away.
    Finding("the fuzz target's promise did not settle within -timeout");
  }
  if (input.failed) Finding("the fuzz target threw or rejected");
  return 0;
}

// startFuzzing(target, libFuzzerArgs, stopCallback) / startFuzzingAsync(target, args).
bool PrepareRun(napi_env env, napi_value target, napi_value args) {
  uint32_t count = 0;
  if (napi_get_array_length(env, args, &count) != napi_ok) {
    napi_throw_type_error(env, "ERR_FUZZ_BRIDGE", "libFuzzer arguments must be an array");
    return false;
  }
  g_run.env = env;
  napi_create_reference(env, target, 1, &g_run.target);
  for (uint32_t i = 0; i < count; ++i) {
    napi_value element = nullptr;
    napi_get_element(env, args, i, &element);
    g_run.args.push_back(Utf8(env, element));
  }
  for (auto& arg : g_run.args) {
    g_run.argv.push_back(arg.data());
    if (arg.rfind("-timeout=", 0) == 0) g_run.timeout_seconds = std::max(1, std::atoi(arg.c_str() + 9));
  }
  g_run.argv.push_back(nullptr);
  on_exit(ExitNow, nullptr);
  // libFuzzer leaves a signal alone when someone already handles it, and
  // packages such as signal-exit have Node watch SIGABRT: take it back, so
  // that a finding's abort() reaches libFuzzer's crash handler.
  std::signal(SIGABRT, SIG_DFL);
  return true;
}

napi_value startFuzzingFn(napi_env env, napi_callback_info info) {
  napi_value argv[2];
  if (!Args(env, info, 2, argv) || !PrepareRun(env, argv[0], argv[1])) return nullptr;
  int argc = static_cast<int>(g_run.args.size());
  char** args = g_run.argv.data();
  exit(LLVMFuzzerRunDriver(&argc, &args, SyncOneInput));
}

napi_value startFuzzingAsyncFn(napi_env env, napi_callback_info info) {
  napi_value argv[2];
  if (!Args(env, info, 2, argv) || !PrepareRun(env, argv[0], argv[1])) return nullptr;
  napi_value name = nullptr;
  BRIDGE_CHECK(env, napi_create_string_utf8(env, "fuzz-target", NAPI_AUTO_LENGTH, &name));
  BRIDGE_CHECK(env, napi_create_threadsafe_function(env, nullptr, nullptr, name, 0, 1, nullptr,
                                                    nullptr, nullptr, CallTargetOnJsThread,
                                                    &g_run.tsfn));
  std::thread([] {
    int argc = static_cast<int>(g_run.args.size());
    char** args = g_run.argv.data();
    exit(LLVMFuzzerRunDriver(&argc, &args, AsyncOneInput));
  }).detach();
  // Never settles: the process ends when libFuzzer does.
  napi_deferred deferred = nullptr;
  napi_value promise = nullptr;
  BRIDGE_CHECK(env, napi_create_promise(env, &deferred, &promise));
  return promise;
}

// libFuzzer itself writes the crashing input (see Finding).
napi_value printAndDumpCrashingInputFn(napi_env, napi_callback_info) { return nullptr; }
napi_value printReturnInfoFn(napi_env, napi_callback_info) { return nullptr; }
napi_value printVersionFn(napi_env, napi_callback_info) {
  std::fprintf(stderr, "libfuzzer-bridge (Debian clang's libFuzzer)\n");
  return nullptr;
}

napi_value Init(napi_env env, napi_value exports) {
#define BRIDGE_FUNCTION(name) \
  { #name, nullptr, name##Fn, nullptr, nullptr, nullptr, napi_enumerable, nullptr }
  const napi_property_descriptor functions[] = {
      BRIDGE_FUNCTION(registerCoverageMap),    BRIDGE_FUNCTION(registerNewCounters),
      BRIDGE_FUNCTION(registerModuleCounters), BRIDGE_FUNCTION(traceIntegerCompare),
      BRIDGE_FUNCTION(traceUnequalStrings),    BRIDGE_FUNCTION(traceStringContainment),
      BRIDGE_FUNCTION(tracePcIndir),           BRIDGE_FUNCTION(startFuzzing),
      BRIDGE_FUNCTION(startFuzzingAsync),      BRIDGE_FUNCTION(printAndDumpCrashingInput),
      BRIDGE_FUNCTION(printReturnInfo),        BRIDGE_FUNCTION(printVersion),
  };
#undef BRIDGE_FUNCTION

  if (napi_define_properties(env, exports, sizeof functions / sizeof functions[0], functions) !=
      napi_ok) {
    return nullptr;
  }
  return exports;
}

}  // namespace

NAPI_MODULE(NODE_GYP_MODULE_NAME, Init)
