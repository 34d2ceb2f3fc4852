// Fuzz target: the KMS ciphertext blob (Encrypt/GenerateDataKey output, read
// back by Decrypt/ReEncrypt). Either InvalidCiphertextException, or a parse
// whose parts re-assemble into exactly the input.
'use strict';
const { lib, attempt, check, equalBytes } = require('../support.cjs');
const blob = lib('kms/ciphertext-blob');

module.exports.fuzz = function fuzz(data) {
  const { value: parsed } = attempt(() => blob.parseBlob(data), ['InvalidCiphertextException']);
  if (parsed === undefined) return;
  check(parsed.keyVersion >= 1 && parsed.iv.length === blob.GCM_IV_LENGTH, 'bad version or IV');
  check(parsed.body.length >= blob.GCM_TAG_LENGTH, 'body shorter than a tag');
  const header = blob.blobHeader(parsed.keyId, parsed.keyVersion, parsed.iv);
  check(equalBytes(header, parsed.header), 'header does not re-encode');
  check(equalBytes(blob.assembleBlob(header, parsed.body), data), 'blob does not re-assemble');
};
