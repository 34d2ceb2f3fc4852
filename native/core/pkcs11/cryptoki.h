// The PKCS#11 API as hsmkms uses it: p11-kit's permissive single-file header
// (vendored, standard CK_* names) plus the PKCS#11 3.x constants it lacks.
#pragma once

#ifndef CRYPTOKI_COMPAT
#define CRYPTOKI_COMPAT 1  // the standard CK_* spellings, not p11-kit's GNU style
#endif
#include "../../third_party/p11-kit/pkcs11.h"

// PKCS#11 3.0: RFC 5649 key wrap. Before 3.0 tokens (SoftHSM 2.6.1, nShield)
// implement RFC 5649 as CKM_AES_KEY_WRAP_PAD (0x210A), which 3.x redefines.
#ifndef CKM_AES_KEY_WRAP_KWP
#define CKM_AES_KEY_WRAP_KWP (0x210BUL)
#endif
// PKCS#11 3.0 return values a 3.x module may hand back.
#ifndef CKR_OPERATION_CANCEL_FAILED
#define CKR_OPERATION_CANCEL_FAILED (0x202UL)
#endif
#ifndef CKR_TOKEN_RESOURCE_EXCEEDED
#define CKR_TOKEN_RESOURCE_EXCEEDED (0x201UL)
#endif
