/* TEST DOUBLE, for hsmkms's tests only: a fault-injecting PKCS#11 module.
 *
 * It is a complete PKCS#11 module that forwards every function to a real one
 * (HSMKMS_SHIM_TARGET, default /usr/lib/softhsm/libsofthsm2.so) and, on
 * command, makes chosen calls fail with chosen CKR codes, simulates an HSM
 * restart or a logout, or adds latency. Never ship or load it in production.
 *
 * Commands, one per line or separated by ';':
 *   fail FN CKR [COUNT]    the next COUNT calls (default 1; 0 or "always":
 *                          until cleared) of FN ("C_Encrypt", or "*" for every
 *                          function) return CKR (a name such as
 *                          CKR_DEVICE_REMOVED, or a number such as 0x32)
 *                          without reaching the real module
 *   delay FN MICROS        add MICROS of latency to each call of FN (or "*")
 *   restart                the HSM restarted: C_CloseAllSessions on every
 *                          slot seen, so every session, the login and every
 *                          session object are gone (and the real module then
 *                          answers CKR_SESSION_HANDLE_INVALID etc. by itself)
 *   logout                 C_Logout through an open session: private object
 *                          handles become invalid, sessions stay
 *   token-iv on|off        act as an HSM that picks the AES-GCM IV itself
 *                          (CloudHSM, Luna in FIPS mode): C_EncryptInit
 *                          overwrites the caller's pIv with A0 A1 A2 ...
 *   clear                  drop every fail and delay rule
 *   reset-counts           zero the call counters
 *
 * Channels:
 *   int hsmkms_shim_control(const char* commands)  -- 0, or -1 on a bad command
 *   unsigned long hsmkms_shim_calls(const char* fn) -- calls of FN ("*": all)
 *   unsigned long hsmkms_shim_sessions(void)      -- sessions open in the real module
 *     (find both with dlopen(path, RTLD_NOW | RTLD_NOLOAD) + dlsym)
 *   HSMKMS_SHIM_CONTROL=<file>: re-read whenever its mtime or size changes
 *     (checked on every call; each version of the file is applied once), for
 *     processes that cannot call into the shim (Node without a binding hook).
 */
#define _GNU_SOURCE
#define CRYPTOKI_COMPAT 1
#include "../../native/third_party/p11-kit/pkcs11.h"

#include <dlfcn.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define SHIM_EXPORT __attribute__((visibility("default")))

#define MAX_RULES 64
#define MAX_SLOTS 16
#define MAX_SESSIONS 1024
#define MAX_FUNCTIONS 80

struct rule {
  char fn[48];       /* function name or "*" */
  int is_delay;
  CK_RV rv;          /* fail rules */
  long remaining;    /* fail rules: calls left, -1 = until cleared */
  long delay_us;     /* delay rules */
};

static pthread_mutex_t shim_lock = PTHREAD_MUTEX_INITIALIZER;
/* Every call into the real module holds this for reading; restart and logout
 * take it for writing, so they land between calls, as on a real HSM. Run
 * inside SoftHSM while another thread is in a call, its C_CloseAllSessions
 * frees the session that call is using (a crash in C_Sign, seen under load),
 * and its C_Logout wipes the key that decrypts private objects. Writers
 * first, or a steady load would starve them. Never taken with shim_lock
 * held by a reader: readers release it before locking shim_lock. */
static pthread_rwlock_t real_gate = PTHREAD_RWLOCK_WRITER_NONRECURSIVE_INITIALIZER_NP;
#define REAL_CALL(call)                \
  do {                                 \
    pthread_rwlock_rdlock(&real_gate); \
    rv = (call);                       \
    pthread_rwlock_unlock(&real_gate); \
  } while (0)
static struct rule rules[MAX_RULES];
static int rule_count;
static CK_SLOT_ID slots[MAX_SLOTS];
static int slot_count;
static CK_SESSION_HANDLE sessions[MAX_SESSIONS];
static int session_count;
static struct {
  const char* name;
  unsigned long calls;
} counters[MAX_FUNCTIONS];
static int counter_count;
static unsigned long total_calls;
static int token_iv;
static struct timespec control_mtime;
static off_t control_size = -1;

static void* real_handle;
static CK_FUNCTION_LIST_PTR real;
static CK_FUNCTION_LIST shim_list;

/* --- CKR names the tests use (anything else: a number) --------------------- */

static const struct {
  const char* name;
  CK_RV rv;
} ckr_names[] = {
    {"CKR_OK", CKR_OK},
    {"CKR_GENERAL_ERROR", CKR_GENERAL_ERROR},
    {"CKR_FUNCTION_FAILED", CKR_FUNCTION_FAILED},
    {"CKR_ARGUMENTS_BAD", CKR_ARGUMENTS_BAD},
    {"CKR_DATA_LEN_RANGE", CKR_DATA_LEN_RANGE},
    {"CKR_DEVICE_ERROR", CKR_DEVICE_ERROR},
    {"CKR_DEVICE_MEMORY", CKR_DEVICE_MEMORY},
    {"CKR_DEVICE_REMOVED", CKR_DEVICE_REMOVED},
    {"CKR_ENCRYPTED_DATA_INVALID", CKR_ENCRYPTED_DATA_INVALID},
    {"CKR_KEY_HANDLE_INVALID", CKR_KEY_HANDLE_INVALID},
    {"CKR_MECHANISM_INVALID", CKR_MECHANISM_INVALID},
    {"CKR_OBJECT_HANDLE_INVALID", CKR_OBJECT_HANDLE_INVALID},
    {"CKR_OPERATION_ACTIVE", CKR_OPERATION_ACTIVE},
    {"CKR_PIN_INCORRECT", CKR_PIN_INCORRECT},
    {"CKR_PIN_LOCKED", CKR_PIN_LOCKED},
    {"CKR_SESSION_CLOSED", CKR_SESSION_CLOSED},
    {"CKR_SESSION_COUNT", CKR_SESSION_COUNT},
    {"CKR_SESSION_HANDLE_INVALID", CKR_SESSION_HANDLE_INVALID},
    {"CKR_TOKEN_NOT_PRESENT", CKR_TOKEN_NOT_PRESENT},
    {"CKR_USER_NOT_LOGGED_IN", CKR_USER_NOT_LOGGED_IN},
    {"CKR_WRAPPED_KEY_INVALID", CKR_WRAPPED_KEY_INVALID},
    {"CKR_WRAPPING_KEY_HANDLE_INVALID", CKR_WRAPPING_KEY_HANDLE_INVALID},
    {"CKR_UNWRAPPING_KEY_HANDLE_INVALID", CKR_UNWRAPPING_KEY_HANDLE_INVALID},
};

static int parse_ckr(const char* text, CK_RV* out) {
  size_t i;
  char* end = NULL;
  for (i = 0; i < sizeof(ckr_names) / sizeof(ckr_names[0]); ++i) {
    if (strcmp(text, ckr_names[i].name) == 0) {
      *out = ckr_names[i].rv;
      return 0;
    }
  }
  errno = 0;
  *out = strtoul(text, &end, 0);
  return (errno != 0 || end == text || *end != '\0') ? -1 : 0;
}

/* --- Session bookkeeping (for restart and logout); callers hold shim_lock --- */

static void remember_slot(CK_SLOT_ID slot) {
  int i;
  for (i = 0; i < slot_count; ++i) {
    if (slots[i] == slot) return;
  }
  if (slot_count < MAX_SLOTS) slots[slot_count++] = slot;
}

static void remember_session(CK_SESSION_HANDLE session) {
  if (session_count < MAX_SESSIONS) sessions[session_count++] = session;
}

static void forget_session(CK_SESSION_HANDLE session) {
  int i;
  for (i = 0; i < session_count; ++i) {
    if (sessions[i] == session) {
      sessions[i] = sessions[--session_count];
      return;
    }
  }
}

/* --- Commands ----------------------------------------------------------------------- */

static int apply_command_locked(char* line) {
  char* words[4] = {NULL, NULL, NULL, NULL};
  char* save = NULL;
  int n = 0;
  char* word = strtok_r(line, " \t\r", &save);
  while (word != NULL && n < 4) {
    words[n++] = word;
    word = strtok_r(NULL, " \t\r", &save);
  }
  if (n == 0 || words[0][0] == '#') return 0;
  if (strcmp(words[0], "clear") == 0) {
    rule_count = 0;
    return 0;
  }
  if (strcmp(words[0], "reset-counts") == 0) {
    int i;
    for (i = 0; i < counter_count; ++i) counters[i].calls = 0;
    total_calls = 0;
    return 0;
  }
  if (strcmp(words[0], "restart") == 0) {
    int i;
    if (real == NULL) return -1;
    pthread_rwlock_wrlock(&real_gate);
    for (i = 0; i < slot_count; ++i) real->C_CloseAllSessions(slots[i]);
    pthread_rwlock_unlock(&real_gate);
    session_count = 0;
    return 0;
  }
  if (strcmp(words[0], "token-iv") == 0 && n == 2) {
    token_iv = strcmp(words[1], "on") == 0;
    return 0;
  }
  if (strcmp(words[0], "logout") == 0) {
    if (real == NULL || session_count == 0) return -1;
    pthread_rwlock_wrlock(&real_gate);
    real->C_Logout(sessions[0]);
    pthread_rwlock_unlock(&real_gate);
    return 0;
  }
  if ((strcmp(words[0], "fail") == 0 && n >= 3) || (strcmp(words[0], "delay") == 0 && n == 3)) {
    struct rule* rule;
    if (rule_count == MAX_RULES || strlen(words[1]) >= sizeof(rules[0].fn)) return -1;
    rule = &rules[rule_count];
    memset(rule, 0, sizeof(*rule));
    strcpy(rule->fn, words[1]);
    if (words[0][0] == 'd') {
      rule->is_delay = 1;
      rule->delay_us = strtol(words[2], NULL, 10);
      if (rule->delay_us < 0) return -1;
    } else {
      if (parse_ckr(words[2], &rule->rv) != 0) return -1;
      rule->remaining = 1;
      if (n == 4) {
        rule->remaining = strcmp(words[3], "always") == 0 ? 0 : strtol(words[3], NULL, 10);
        if (rule->remaining < 0) return -1;
        if (rule->remaining == 0) rule->remaining = -1;
      }
    }
    ++rule_count;
    return 0;
  }
  return -1;
}

static int apply_commands_locked(const char* commands) {
  int status = 0;
  char* copy = strdup(commands);
  char* save = NULL;
  char* line;
  if (copy == NULL) return -1;
  for (line = strtok_r(copy, ";\n", &save); line != NULL; line = strtok_r(NULL, ";\n", &save)) {
    if (apply_command_locked(line) != 0) status = -1;
  }
  free(copy);
  return status;
}

static void poll_control_file_locked(void) {
  const char* path = getenv("HSMKMS_SHIM_CONTROL");
  struct stat st;
  FILE* file;
  char buffer[4096];
  size_t len;
  if (path == NULL || stat(path, &st) != 0) return;
  if (st.st_mtim.tv_sec == control_mtime.tv_sec && st.st_mtim.tv_nsec == control_mtime.tv_nsec &&
      st.st_size == control_size) {
    return;
  }
  control_mtime = st.st_mtim;
  control_size = st.st_size;
  file = fopen(path, "r");
  if (file == NULL) return;
  len = fread(buffer, 1, sizeof(buffer) - 1, file);
  fclose(file);
  buffer[len] = '\0';
  apply_commands_locked(buffer);
}

SHIM_EXPORT int hsmkms_shim_control(const char* commands) {
  int status;
  pthread_mutex_lock(&shim_lock);
  status = apply_commands_locked(commands);
  pthread_mutex_unlock(&shim_lock);
  return status;
}

/* Sessions open in the real module (opened through the shim, not closed since). */
SHIM_EXPORT unsigned long hsmkms_shim_sessions(void) {
  unsigned long count;
  pthread_mutex_lock(&shim_lock);
  count = (unsigned long)session_count;
  pthread_mutex_unlock(&shim_lock);
  return count;
}

SHIM_EXPORT unsigned long hsmkms_shim_calls(const char* fn) {
  unsigned long calls = 0;
  int i;
  pthread_mutex_lock(&shim_lock);
  if (strcmp(fn, "*") == 0) {
    calls = total_calls;
  } else {
    for (i = 0; i < counter_count; ++i) {
      if (strcmp(counters[i].name, fn) == 0) calls = counters[i].calls;
    }
  }
  pthread_mutex_unlock(&shim_lock);
  return calls;
}

/* Called first by every wrapper: counts, applies the rules; non-zero = inject. */
static CK_RV shim_enter(const char* fn) {
  CK_RV rv = CKR_OK;
  long delay_us = 0;
  int i, found = 0;
  pthread_mutex_lock(&shim_lock);
  poll_control_file_locked();
  ++total_calls;
  for (i = 0; i < counter_count; ++i) {
    if (counters[i].name == fn || strcmp(counters[i].name, fn) == 0) {
      ++counters[i].calls;
      found = 1;
      break;
    }
  }
  if (!found && counter_count < MAX_FUNCTIONS) {
    counters[counter_count].name = fn;
    counters[counter_count].calls = 1;
    ++counter_count;
  }
  for (i = 0; i < rule_count; ++i) {
    struct rule* rule = &rules[i];
    if (strcmp(rule->fn, "*") != 0 && strcmp(rule->fn, fn) != 0) continue;
    if (rule->is_delay) {
      delay_us += rule->delay_us;
    } else if (rv == CKR_OK && rule->remaining != 0) {
      rv = rule->rv;
      if (rule->remaining > 0) --rule->remaining;
    }
  }
  pthread_mutex_unlock(&shim_lock);
  if (delay_us > 0) usleep((useconds_t)delay_us);
  return rv;
}

/* --- Forwarding ---------------------------------------------------------------- */

#define FORWARD(name, params, args)          \
  static CK_RV shim_##name params {          \
    CK_RV rv = shim_enter(#name);            \
    if (rv != CKR_OK) return rv;             \
    if (real == NULL) return CKR_CRYPTOKI_NOT_INITIALIZED; \
    REAL_CALL(real->name args);              \
    return rv;                               \
  }

static int load_real(void) {
  const char* path = getenv("HSMKMS_SHIM_TARGET");
  CK_C_GetFunctionList get_list;
  if (real != NULL) return 0;
  if (path == NULL) path = "/usr/lib/softhsm/libsofthsm2.so";
  real_handle = dlopen(path, RTLD_NOW | RTLD_LOCAL);
  if (real_handle == NULL) return -1;
  get_list = (CK_C_GetFunctionList)dlsym(real_handle, "C_GetFunctionList");
  if (get_list == NULL || get_list(&real) != CKR_OK || real == NULL) {
    real = NULL;
    return -1;
  }
  return 0;
}

FORWARD(C_Initialize, (CK_VOID_PTR args), (args))
FORWARD(C_Finalize, (CK_VOID_PTR reserved), (reserved))
FORWARD(C_GetInfo, (CK_INFO_PTR info), (info))
FORWARD(C_GetSlotList, (CK_BBOOL present, CK_SLOT_ID_PTR list, CK_ULONG_PTR count),
        (present, list, count))
FORWARD(C_GetSlotInfo, (CK_SLOT_ID slot, CK_SLOT_INFO_PTR info), (slot, info))
FORWARD(C_GetTokenInfo, (CK_SLOT_ID slot, CK_TOKEN_INFO_PTR info), (slot, info))
FORWARD(C_GetMechanismList, (CK_SLOT_ID slot, CK_MECHANISM_TYPE_PTR list, CK_ULONG_PTR count),
        (slot, list, count))
FORWARD(C_GetMechanismInfo, (CK_SLOT_ID slot, CK_MECHANISM_TYPE type, CK_MECHANISM_INFO_PTR info),
        (slot, type, info))
FORWARD(C_InitToken, (CK_SLOT_ID slot, CK_UTF8CHAR_PTR pin, CK_ULONG len, CK_UTF8CHAR_PTR label),
        (slot, pin, len, label))
FORWARD(C_InitPIN, (CK_SESSION_HANDLE s, CK_UTF8CHAR_PTR pin, CK_ULONG len), (s, pin, len))
FORWARD(C_SetPIN,
        (CK_SESSION_HANDLE s, CK_UTF8CHAR_PTR old_pin, CK_ULONG old_len, CK_UTF8CHAR_PTR new_pin,
         CK_ULONG new_len),
        (s, old_pin, old_len, new_pin, new_len))
FORWARD(C_GetSessionInfo, (CK_SESSION_HANDLE s, CK_SESSION_INFO_PTR info), (s, info))
FORWARD(C_GetOperationState, (CK_SESSION_HANDLE s, CK_BYTE_PTR state, CK_ULONG_PTR len),
        (s, state, len))
FORWARD(C_SetOperationState,
        (CK_SESSION_HANDLE s, CK_BYTE_PTR state, CK_ULONG len, CK_OBJECT_HANDLE enc,
         CK_OBJECT_HANDLE auth),
        (s, state, len, enc, auth))
FORWARD(C_Login, (CK_SESSION_HANDLE s, CK_USER_TYPE user, CK_UTF8CHAR_PTR pin, CK_ULONG len),
        (s, user, pin, len))
FORWARD(C_Logout, (CK_SESSION_HANDLE s), (s))
FORWARD(C_CreateObject,
        (CK_SESSION_HANDLE s, CK_ATTRIBUTE_PTR t, CK_ULONG n, CK_OBJECT_HANDLE_PTR o),
        (s, t, n, o))
FORWARD(C_CopyObject,
        (CK_SESSION_HANDLE s, CK_OBJECT_HANDLE o, CK_ATTRIBUTE_PTR t, CK_ULONG n,
         CK_OBJECT_HANDLE_PTR out),
        (s, o, t, n, out))
FORWARD(C_DestroyObject, (CK_SESSION_HANDLE s, CK_OBJECT_HANDLE o), (s, o))
FORWARD(C_GetObjectSize, (CK_SESSION_HANDLE s, CK_OBJECT_HANDLE o, CK_ULONG_PTR size), (s, o, size))
FORWARD(C_GetAttributeValue, (CK_SESSION_HANDLE s, CK_OBJECT_HANDLE o, CK_ATTRIBUTE_PTR t, CK_ULONG n),
        (s, o, t, n))
FORWARD(C_SetAttributeValue, (CK_SESSION_HANDLE s, CK_OBJECT_HANDLE o, CK_ATTRIBUTE_PTR t, CK_ULONG n),
        (s, o, t, n))
FORWARD(C_FindObjectsInit, (CK_SESSION_HANDLE s, CK_ATTRIBUTE_PTR t, CK_ULONG n), (s, t, n))
FORWARD(C_FindObjects,
        (CK_SESSION_HANDLE s, CK_OBJECT_HANDLE_PTR o, CK_ULONG max, CK_ULONG_PTR count),
        (s, o, max, count))
FORWARD(C_FindObjectsFinal, (CK_SESSION_HANDLE s), (s))
FORWARD(C_Encrypt,
        (CK_SESSION_HANDLE s, CK_BYTE_PTR in, CK_ULONG in_len, CK_BYTE_PTR out, CK_ULONG_PTR out_len),
        (s, in, in_len, out, out_len))
FORWARD(C_EncryptUpdate,
        (CK_SESSION_HANDLE s, CK_BYTE_PTR in, CK_ULONG in_len, CK_BYTE_PTR out, CK_ULONG_PTR out_len),
        (s, in, in_len, out, out_len))
FORWARD(C_EncryptFinal, (CK_SESSION_HANDLE s, CK_BYTE_PTR out, CK_ULONG_PTR out_len), (s, out, out_len))
FORWARD(C_DecryptInit, (CK_SESSION_HANDLE s, CK_MECHANISM_PTR m, CK_OBJECT_HANDLE k), (s, m, k))
FORWARD(C_Decrypt,
        (CK_SESSION_HANDLE s, CK_BYTE_PTR in, CK_ULONG in_len, CK_BYTE_PTR out, CK_ULONG_PTR out_len),
        (s, in, in_len, out, out_len))
FORWARD(C_DecryptUpdate,
        (CK_SESSION_HANDLE s, CK_BYTE_PTR in, CK_ULONG in_len, CK_BYTE_PTR out, CK_ULONG_PTR out_len),
        (s, in, in_len, out, out_len))
FORWARD(C_DecryptFinal, (CK_SESSION_HANDLE s, CK_BYTE_PTR out, CK_ULONG_PTR out_len), (s, out, out_len))
FORWARD(C_DigestInit, (CK_SESSION_HANDLE s, CK_MECHANISM_PTR m), (s, m))
FORWARD(C_Digest,
        (CK_SESSION_HANDLE s, CK_BYTE_PTR in, CK_ULONG in_len, CK_BYTE_PTR out, CK_ULONG_PTR out_len),
        (s, in, in_len, out, out_len))
FORWARD(C_DigestUpdate, (CK_SESSION_HANDLE s, CK_BYTE_PTR in, CK_ULONG in_len), (s, in, in_len))
FORWARD(C_DigestKey, (CK_SESSION_HANDLE s, CK_OBJECT_HANDLE k), (s, k))
FORWARD(C_DigestFinal, (CK_SESSION_HANDLE s, CK_BYTE_PTR out, CK_ULONG_PTR out_len), (s, out, out_len))
FORWARD(C_SignInit, (CK_SESSION_HANDLE s, CK_MECHANISM_PTR m, CK_OBJECT_HANDLE k), (s, m, k))
FORWARD(C_Sign,
        (CK_SESSION_HANDLE s, CK_BYTE_PTR in, CK_ULONG in_len, CK_BYTE_PTR out, CK_ULONG_PTR out_len),
        (s, in, in_len, out, out_len))
FORWARD(C_SignUpdate, (CK_SESSION_HANDLE s, CK_BYTE_PTR in, CK_ULONG in_len), (s, in, in_len))
FORWARD(C_SignFinal, (CK_SESSION_HANDLE s, CK_BYTE_PTR out, CK_ULONG_PTR out_len), (s, out, out_len))
FORWARD(C_SignRecoverInit, (CK_SESSION_HANDLE s, CK_MECHANISM_PTR m, CK_OBJECT_HANDLE k), (s, m, k))
FORWARD(C_SignRecover,
        (CK_SESSION_HANDLE s, CK_BYTE_PTR in, CK_ULONG in_len, CK_BYTE_PTR out, CK_ULONG_PTR out_len),
        (s, in, in_len, out, out_len))
FORWARD(C_VerifyInit, (CK_SESSION_HANDLE s, CK_MECHANISM_PTR m, CK_OBJECT_HANDLE k), (s, m, k))
FORWARD(C_Verify,
        (CK_SESSION_HANDLE s, CK_BYTE_PTR in, CK_ULONG in_len, CK_BYTE_PTR sig, CK_ULONG sig_len),
        (s, in, in_len, sig, sig_len))
FORWARD(C_VerifyUpdate, (CK_SESSION_HANDLE s, CK_BYTE_PTR in, CK_ULONG in_len), (s, in, in_len))
FORWARD(C_VerifyFinal, (CK_SESSION_HANDLE s, CK_BYTE_PTR sig, CK_ULONG sig_len), (s, sig, sig_len))
FORWARD(C_VerifyRecoverInit, (CK_SESSION_HANDLE s, CK_MECHANISM_PTR m, CK_OBJECT_HANDLE k), (s, m, k))
FORWARD(C_VerifyRecover,
        (CK_SESSION_HANDLE s, CK_BYTE_PTR sig, CK_ULONG sig_len, CK_BYTE_PTR out, CK_ULONG_PTR out_len),
        (s, sig, sig_len, out, out_len))
FORWARD(C_DigestEncryptUpdate,
        (CK_SESSION_HANDLE s, CK_BYTE_PTR in, CK_ULONG in_len, CK_BYTE_PTR out, CK_ULONG_PTR out_len),
        (s, in, in_len, out, out_len))
FORWARD(C_DecryptDigestUpdate,
        (CK_SESSION_HANDLE s, CK_BYTE_PTR in, CK_ULONG in_len, CK_BYTE_PTR out, CK_ULONG_PTR out_len),
        (s, in, in_len, out, out_len))
FORWARD(C_SignEncryptUpdate,
        (CK_SESSION_HANDLE s, CK_BYTE_PTR in, CK_ULONG in_len, CK_BYTE_PTR out, CK_ULONG_PTR out_len),
        (s, in, in_len, out, out_len))
FORWARD(C_DecryptVerifyUpdate,
        (CK_SESSION_HANDLE s, CK_BYTE_PTR in, CK_ULONG in_len, CK_BYTE_PTR out, CK_ULONG_PTR out_len),
        (s, in, in_len, out, out_len))
FORWARD(C_GenerateKey,
        (CK_SESSION_HANDLE s, CK_MECHANISM_PTR m, CK_ATTRIBUTE_PTR t, CK_ULONG n, CK_OBJECT_HANDLE_PTR k),
        (s, m, t, n, k))
FORWARD(C_GenerateKeyPair,
        (CK_SESSION_HANDLE s, CK_MECHANISM_PTR m, CK_ATTRIBUTE_PTR pub, CK_ULONG pub_n,
         CK_ATTRIBUTE_PTR priv, CK_ULONG priv_n, CK_OBJECT_HANDLE_PTR pub_k,
         CK_OBJECT_HANDLE_PTR priv_k),
        (s, m, pub, pub_n, priv, priv_n, pub_k, priv_k))
FORWARD(C_WrapKey,
        (CK_SESSION_HANDLE s, CK_MECHANISM_PTR m, CK_OBJECT_HANDLE wrapping, CK_OBJECT_HANDLE key,
         CK_BYTE_PTR out, CK_ULONG_PTR out_len),
        (s, m, wrapping, key, out, out_len))
FORWARD(C_UnwrapKey,
        (CK_SESSION_HANDLE s, CK_MECHANISM_PTR m, CK_OBJECT_HANDLE unwrapping, CK_BYTE_PTR in,
         CK_ULONG in_len, CK_ATTRIBUTE_PTR t, CK_ULONG n, CK_OBJECT_HANDLE_PTR k),
        (s, m, unwrapping, in, in_len, t, n, k))
FORWARD(C_DeriveKey,
        (CK_SESSION_HANDLE s, CK_MECHANISM_PTR m, CK_OBJECT_HANDLE base, CK_ATTRIBUTE_PTR t, CK_ULONG n,
         CK_OBJECT_HANDLE_PTR k),
        (s, m, base, t, n, k))
FORWARD(C_SeedRandom, (CK_SESSION_HANDLE s, CK_BYTE_PTR seed, CK_ULONG len), (s, seed, len))
FORWARD(C_GenerateRandom, (CK_SESSION_HANDLE s, CK_BYTE_PTR out, CK_ULONG len), (s, out, len))
FORWARD(C_GetFunctionStatus, (CK_SESSION_HANDLE s), (s))
FORWARD(C_CancelFunction, (CK_SESSION_HANDLE s), (s))
FORWARD(C_WaitForSlotEvent, (CK_FLAGS flags, CK_SLOT_ID_PTR slot, CK_VOID_PTR reserved),
        (flags, slot, reserved))

/* An HSM that chooses the GCM IV writes it into the caller's pIv. */
static CK_RV shim_C_EncryptInit(CK_SESSION_HANDLE s, CK_MECHANISM_PTR m, CK_OBJECT_HANDLE k) {
  int choose_iv;
  CK_RV rv = shim_enter("C_EncryptInit");
  if (rv != CKR_OK) return rv;
  if (real == NULL) return CKR_CRYPTOKI_NOT_INITIALIZED;
  pthread_mutex_lock(&shim_lock);
  choose_iv = token_iv;
  pthread_mutex_unlock(&shim_lock);
  if (choose_iv && m != NULL && m->mechanism == CKM_AES_GCM && m->pParameter != NULL &&
      m->ulParameterLen == sizeof(CK_GCM_PARAMS)) {
    CK_GCM_PARAMS* params = (CK_GCM_PARAMS*)m->pParameter;
    CK_ULONG i;
    for (i = 0; i < params->ulIvLen; ++i) params->pIv[i] = (CK_BYTE)(0xA0 + i);
  }
  REAL_CALL(real->C_EncryptInit(s, m, k));
  return rv;
}

/* Session-tracking wrappers: what restart and logout act on. */
static CK_RV shim_C_OpenSession(CK_SLOT_ID slot, CK_FLAGS flags, CK_VOID_PTR app, CK_NOTIFY notify,
                                CK_SESSION_HANDLE_PTR session) {
  CK_RV rv = shim_enter("C_OpenSession");
  if (rv != CKR_OK) return rv;
  if (real == NULL) return CKR_CRYPTOKI_NOT_INITIALIZED;
  REAL_CALL(real->C_OpenSession(slot, flags, app, notify, session));
  if (rv == CKR_OK) {
    pthread_mutex_lock(&shim_lock);
    remember_slot(slot);
    remember_session(*session);
    pthread_mutex_unlock(&shim_lock);
  }
  return rv;
}

static CK_RV shim_C_CloseSession(CK_SESSION_HANDLE session) {
  CK_RV rv = shim_enter("C_CloseSession");
  if (rv != CKR_OK) return rv;
  if (real == NULL) return CKR_CRYPTOKI_NOT_INITIALIZED;
  pthread_mutex_lock(&shim_lock);
  forget_session(session);
  pthread_mutex_unlock(&shim_lock);
  REAL_CALL(real->C_CloseSession(session));
  return rv;
}

static CK_RV shim_C_CloseAllSessions(CK_SLOT_ID slot) {
  CK_RV rv = shim_enter("C_CloseAllSessions");
  if (rv != CKR_OK) return rv;
  if (real == NULL) return CKR_CRYPTOKI_NOT_INITIALIZED;
  pthread_mutex_lock(&shim_lock);
  session_count = 0; /* tests use one slot */
  pthread_mutex_unlock(&shim_lock);
  REAL_CALL(real->C_CloseAllSessions(slot));
  return rv;
}

SHIM_EXPORT CK_RV C_GetFunctionList(CK_FUNCTION_LIST_PTR_PTR list) {
  if (list == NULL) return CKR_ARGUMENTS_BAD;
  pthread_mutex_lock(&shim_lock);
  if (load_real() != 0) {
    pthread_mutex_unlock(&shim_lock);
    return CKR_GENERAL_ERROR;
  }
  shim_list = *real; /* same version; every entry replaced below */
#define SET(name) shim_list.name = shim_##name
  SET(C_Initialize); SET(C_Finalize); SET(C_GetInfo); SET(C_GetSlotList); SET(C_GetSlotInfo);
  SET(C_GetTokenInfo); SET(C_GetMechanismList); SET(C_GetMechanismInfo); SET(C_InitToken);
  SET(C_InitPIN); SET(C_SetPIN); SET(C_OpenSession); SET(C_CloseSession); SET(C_CloseAllSessions);
  SET(C_GetSessionInfo); SET(C_GetOperationState); SET(C_SetOperationState); SET(C_Login);
  SET(C_Logout); SET(C_CreateObject); SET(C_CopyObject); SET(C_DestroyObject); SET(C_GetObjectSize);
  SET(C_GetAttributeValue); SET(C_SetAttributeValue); SET(C_FindObjectsInit); SET(C_FindObjects);
  SET(C_FindObjectsFinal); SET(C_EncryptInit); SET(C_Encrypt); SET(C_EncryptUpdate);
  SET(C_EncryptFinal); SET(C_DecryptInit); SET(C_Decrypt); SET(C_DecryptUpdate); SET(C_DecryptFinal);
  SET(C_DigestInit); SET(C_Digest); SET(C_DigestUpdate); SET(C_DigestKey); SET(C_DigestFinal);
  SET(C_SignInit); SET(C_Sign); SET(C_SignUpdate); SET(C_SignFinal); SET(C_SignRecoverInit);
  SET(C_SignRecover); SET(C_VerifyInit); SET(C_Verify); SET(C_VerifyUpdate); SET(C_VerifyFinal);
  SET(C_VerifyRecoverInit); SET(C_VerifyRecover); SET(C_DigestEncryptUpdate);
  SET(C_DecryptDigestUpdate); SET(C_SignEncryptUpdate); SET(C_DecryptVerifyUpdate);
  SET(C_GenerateKey); SET(C_GenerateKeyPair); SET(C_WrapKey); SET(C_UnwrapKey); SET(C_DeriveKey);
  SET(C_SeedRandom); SET(C_GenerateRandom); SET(C_GetFunctionStatus); SET(C_CancelFunction);
  SET(C_WaitForSlotEvent);
#undef SET
  shim_list.C_GetFunctionList = C_GetFunctionList;
  *list = &shim_list;
  pthread_mutex_unlock(&shim_lock);
  return CKR_OK;
}
