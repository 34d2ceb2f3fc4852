// Preloaded (node --require) into a Jazzer.js run: @jazzer.js/fuzzer's
// prebuilt addon needs glibc 2.38, so its require of that prebuild loads our
// libFuzzer bridge instead (test/fuzz/js/bridge, built by the fuzz preset).
'use strict';
const Module = require('node:module');
const path = require('node:path');

const bridge = process.env.HSMKMS_FUZZ_BRIDGE ||
  path.resolve(__dirname, '../../../build-fuzz/fuzzers/libfuzzer_bridge.node');
const prebuilds = `${path.sep}@jazzer.js${path.sep}fuzzer${path.sep}prebuilds${path.sep}`;
const loadNative = Module._extensions['.node'];
Module._extensions['.node'] = function (module, filename) {
  return loadNative.call(this, module, filename.includes(prebuilds) ? bridge : filename);
};
