/*
 * Test double for the sanitizer run, never shipped nor built into the addon:
 * a tiny Node-API module that commits, on request, each kind of fault the
 * sanitizer report must catch, so test/sanitize/leak-detection.test.ts can
 * prove that scripts/sanitizer-report.mjs fails on them. It is compiled to a
 * file named hsmkms-sanitizer-probe.node, so the report counts its frames as
 * the addon's.
 *
 *   leak(bytes)   mallocs and drops the pointer (LeakSanitizer at exit)
 *   overflow()    reads one byte past a heap block (ASan)
 *   shift(n)      1 << n on an int (UBSan, for n >= 32)
 */
#include <node_api.h>
#include <stdlib.h>
#include <string.h>

static void* volatile g_sink;  /* keeps the optimiser from removing calls */

static int32_t IntArg(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  int32_t value = 0;
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) == napi_ok && argc == 1) {
    napi_get_value_int32(env, argv[0], &value);
  }
  return value;
}

static napi_value Leak(napi_env env, napi_callback_info info) {
  size_t bytes = (size_t)IntArg(env, info);
  char* block = malloc(bytes);
  memset(block, 1, bytes);
  g_sink = block;
  g_sink = NULL;  /* the only reference is gone: a direct leak */
  return NULL;
}

static napi_value Overflow(napi_env env, napi_callback_info info) {
  (void)env;
  (void)info;
  char* volatile block = calloc(8, 1);
  volatile size_t index = 8;
  g_sink = (void*)(size_t)block[index];  /* heap-buffer-overflow */
  free(block);
  return NULL;
}

static napi_value Shift(napi_env env, napi_callback_info info) {
  volatile int n = IntArg(env, info);
  napi_value result;
  napi_create_int32(env, 1 << n, &result);  /* shift exponent too large */
  return result;
}

static napi_value Init(napi_env env, napi_value exports) {
  napi_property_descriptor props[] = {
      {"leak", NULL, Leak, NULL, NULL, NULL, napi_default, NULL},
      {"overflow", NULL, Overflow, NULL, NULL, NULL, napi_default, NULL},
      {"shift", NULL, Shift, NULL, NULL, NULL, napi_default, NULL},
  };
  napi_define_properties(env, exports, sizeof props / sizeof props[0], props);
  return exports;
}

NAPI_MODULE(NODE_GYP_MODULE_NAME, Init)
