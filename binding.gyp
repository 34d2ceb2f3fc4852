{
  # What ships: prebuildify drives node-gyp with this file; node-gyp-build
  # loads the result. CMakeLists.txt lists the same sources for developer
  # builds (test/build-files.test.ts keeps the two lists equal).
  "targets": [
    {
      "target_name": "hsmkms",
      "sources": [
        "native/core/aes_gcm_cipher.cc",
        "native/core/aes_gcm_key.cc",
        "native/core/hkdf.cc",
        "native/core/key_transforms.cc",
        "native/core/message_signature.cc",
        "native/core/message_keys.cc",
        "native/core/pkcs11/algorithms.cc",
        "native/core/pkcs11/ckr.cc",
        "native/core/pkcs11/hsm.cc",
        "native/core/pkcs11/hsm_result.cc",
        "native/core/pkcs11/keeper.cc",
        "native/core/pkcs11/module.cc",
        "native/core/pkcs11/oaep.cc",
        "native/core/pkcs11/public_key.cc",
        "native/core/pkcs11/session.cc",
        "native/core/pkcs11/session_pool.cc",
        "native/core/pkcs11/spki.cc",
        "native/core/random.cc",
        "native/core/secure_memory.cc",
        "native/core/small_message.cc",
        "native/core/soft/aes_kwp.cc",
        "native/core/soft/private_key.cc",
        "native/core/soft/root_key_source.cc",
        "native/core/soft/sealed_domain_key.cc",
        "native/core/soft/soft_root.cc",
        "native/core/status.cc",
        "native/core/worker_pool.cc",
        "native/binding/addon.cc",
        "native/binding/aead_batch.cc",
        "native/binding/aead_functions.cc",
        "native/binding/aead_job.cc",
        "native/binding/byte_view.cc",
        "native/binding/env_state.cc",
        "native/binding/key_handle.cc",
        "native/binding/key_transform_functions.cc",
        "native/binding/open_root_job.cc",
        "native/binding/open_soft_root_job.cc",
        "native/binding/packed_items.cc",
        "native/binding/root_functions.cc",
        "native/binding/root_handle.cc",
        "native/binding/root_job.cc",
        "native/binding/signature_functions.cc",
        "native/binding/signature_lane.cc",
        "native/binding/small_message_functions.cc",
        "native/binding/wrapped_key_ref.cc",
        "native/binding/wrapped_key_value.cc"
      ],
      "include_dirs": ["<!(node -p \"require('node-addon-api').include_dir\")"],
      # NODE_API_SWALLOW_UNTHROWABLE_EXCEPTIONS: while a worker terminates, a
      # call's error cannot reach JavaScript; node-addon-api drops it instead
      # of rethrowing out of the callback (std::terminate, the whole process).
      "defines": ["NAPI_VERSION=8", "NAPI_CPP_EXCEPTIONS", "NODE_API_SWALLOW_UNTHROWABLE_EXCEPTIONS", "OPENSSL_API_COMPAT=30000", "OPENSSL_NO_DEPRECATED"],
      "cflags!": ["-fno-exceptions"],
      "cflags_cc!": ["-fno-exceptions", "-std=gnu++17"],
      "cflags_cc": [
        "-std=c++17", "-fexceptions", "-Wall", "-Wextra", "-Wno-unused-parameter",
        "-fvisibility=hidden", "-fstack-protector-strong", "-D_FORTIFY_SOURCE=2",
        "<!(node scripts/werror-flag.js)"
      ],
      # No -z now: OpenSSL symbols bind lazily to the host's, so that a host
      # without OpenSSL 3 gets a coded error at load instead of a dlopen failure.
      "ldflags": ["-Wl,-z,relro", "-Wl,-z,noexecstack", "-Wl,--exclude-libs,ALL"],
      "xcode_settings": {
        "GCC_ENABLE_CPP_EXCEPTIONS": "YES",
        "CLANG_CXX_LANGUAGE_STANDARD": "c++17",
        "OTHER_CPLUSPLUSFLAGS": ["-fvisibility=hidden"]
      }
    }
  ]
}
