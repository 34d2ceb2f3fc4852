// Fuzz target: the envelope message header, encrypted-data-key list included
// (v1 and v2, as parseHeader reads a prefix of a message). Either
// IncompleteMessage (a prefix), InvalidCiphertextException or
// LimitExceededException (more data keys than allowed), or a header whose
// v2 framed body re-serializes to the same fields (and to the same bytes
// when its context section was canonical and its provider ids UTF-8).
'use strict';
const { lib, attempt, check, equalBytes, sameContext, IncompleteMessage } = require('../support.cjs');
const { parseHeader, serializeHeaderBody, ContentType } = lib('envelope/header-codec');
const { parseEncryptionContext } = lib('envelope/context-codec');
const { serializeEncryptionContext } = lib('encryption-context');

const LIMIT = 5;

function sameEdks(a, b) {
  return a.length === b.length && a.every((edk, i) =>
    edk.providerId === b[i].providerId && equalBytes(edk.rawInfo, b[i].rawInfo) && equalBytes(edk.encryptedDataKey, b[i].encryptedDataKey));
}

module.exports.fuzz = function fuzz(data) {
  const { value: parsed } = attempt(() => parseHeader(data, { maxEncryptedDataKeys: LIMIT }),
    ['InvalidCiphertextException', 'LimitExceededException'], [IncompleteMessage]);
  if (parsed === undefined) return;
  const { header, suite, headerBody } = parsed;
  check(header.headerLength <= data.length, 'header longer than the input');
  check(header.encryptedDataKeys.length >= 1 && header.encryptedDataKeys.length <= LIMIT, 'data-key count outside the limit');
  check(header.messageId.length === suite.messageIdLength, 'message id length');
  if (header.version !== 2 || header.contentType !== ContentType.FRAMED_DATA) return;
  const body = serializeHeaderBody({
    suite,
    messageId: header.messageId,
    encryptionContext: header.encryptionContext,
    encryptedDataKeys: header.encryptedDataKeys,
    frameLength: header.frameLength,
    commitKey: header.suiteData,
  });
  // The body re-serialized, with the original tag, parses to the same header.
  const again = parseHeader(Buffer.concat([body, parsed.authTag]), { maxEncryptedDataKeys: LIMIT }).header;
  check(again.suiteId === header.suiteId && equalBytes(again.messageId, header.messageId), 'suite or message id');
  check(sameContext(again.encryptionContext, header.encryptionContext), 'encryption context');
  check(sameEdks(again.encryptedDataKeys, header.encryptedDataKeys), 'encrypted data keys');
  check(again.frameLength === header.frameLength && equalBytes(again.suiteData, header.suiteData), 'frame length or commitment');
  // Byte-identical when the stored context section is what we would write
  // and no provider id needed U+FFFD (ids are decoded leniently, as
  // @aws-crypto does; the tag still covers the bytes as received).
  if (header.encryptedDataKeys.some((edk) => edk.providerId.includes('\uFFFD'))) return;
  const contextStart = 1 + 2 + header.messageId.length;
  const contextBytes = headerBody.subarray(contextStart + 2, contextStart + 2 + headerBody.readUInt16BE(contextStart));
  const canonical = equalBytes(serializeEncryptionContext(parseEncryptionContext(contextBytes)), contextBytes);
  if (canonical) check(equalBytes(body, headerBody), 'header body does not re-serialize to the same bytes');
};
