/*
 * Test-only Node-API module for the sanitizer runs (never shipped): lets a
 * vitest fork ask LeakSanitizer for a leak check while it is still alive
 * (test/sanitize/check-leaks-after-file.ts). vitest ends its forks with a
 * signal, so LeakSanitizer's own exit-time check never runs in them.
 * The report goes to log_path like every other one; the process goes on.
 */
#include <node_api.h>
#include <sanitizer/lsan_interface.h>

static napi_value LeakCheck(napi_env env, napi_callback_info info) {
  (void)info;
  napi_value leaked;
  napi_get_boolean(env, __lsan_do_recoverable_leak_check() != 0, &leaked);
  return leaked;
}

static napi_value Init(napi_env env, napi_value exports) {
  napi_value fn;
  napi_create_function(env, "leakCheck", NAPI_AUTO_LENGTH, LeakCheck, NULL, &fn);
  napi_set_named_property(env, exports, "leakCheck", fn);
  return exports;
}

NAPI_MODULE(NODE_GYP_MODULE_NAME, Init)
