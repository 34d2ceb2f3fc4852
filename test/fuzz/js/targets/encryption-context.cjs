// Fuzz target: encryption-context serialization, both ways.
//   decode: the bytes as a header's context section: InvalidCiphertextException,
//           or a map that serializes and parses back to itself (and to the
//           same bytes when the input was canonical: sorted, non-empty);
//   encode: the bytes as UTF-8 or UTF-16 strings (lone surrogates included) made into
//           a map: ValidationException, or bytes that parse back to the map,
//           in both the UTF-8 and the locale order.
'use strict';
const { lib, attempt, check, equalBytes, sameContext } = require('../support.cjs');
const { parseEncryptionContext } = lib('envelope/context-codec');
const { serializeEncryptionContext, checkEncryptionContext } = lib('encryption-context');

/** The keys' bytes in wire order (the input already parsed, so well-formed). */
function wireKeys(bytes) {
  const keys = [];
  let at = 2;
  for (let i = bytes.readUInt16BE(0); i > 0; i--) {
    const keyLength = bytes.readUInt16BE(at);
    keys.push(bytes.subarray(at + 2, at + 2 + keyLength));
    at += 2 + keyLength;
    at += 2 + bytes.readUInt16BE(at);
  }
  return keys;
}

function decode(bytes) {
  const { value: context } = attempt(() => parseEncryptionContext(bytes), ['InvalidCiphertextException']);
  if (context === undefined) return;
  const again = serializeEncryptionContext(context);
  check(sameContext(parseEncryptionContext(again), context), 'context does not round-trip');
  const keys = bytes.length > 0 ? wireKeys(bytes) : [];
  const canonical = keys.length > 0 && keys.every((key, i) => i === 0 || Buffer.compare(keys[i - 1], key) < 0);
  if (canonical) check(equalBytes(again, bytes), 'a canonical context re-encodes differently');
}

function encode(bytes, utf16) {
  // UTF-16 (two bytes per unit, lone surrogates possible) or UTF-8 text; NULs
  // split it into key, value, key...
  const units = new Uint16Array(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + (bytes.length & ~1)));
  const text = utf16 ? String.fromCharCode(...units.slice(0, 4096)) : bytes.toString('utf8');
  const strings = text.split('\u0000');
  // Own properties for every key, "__proto__" included, as JSON.parse makes them.
  const input = {};
  for (let i = 0; i + 1 < strings.length; i += 2) {
    Object.defineProperty(input, strings[i], { value: strings[i + 1], enumerable: true, writable: true, configurable: true });
  }
  const { value: context } = attempt(() => checkEncryptionContext(input), ['ValidationException']);
  if (context === undefined) return;
  check(sameContext(context, input), 'checkEncryptionContext changed the pairs');
  for (const order of ['utf8', 'locale']) {
    const { value: wire } = attempt(() => serializeEncryptionContext(context, order), ['ValidationException']);
    if (wire === undefined) continue;
    check(sameContext(parseEncryptionContext(wire), context), `context does not survive ${order} serialization`);
  }
}

module.exports.fuzz = function fuzz(data) {
  if (data.length === 0) return;
  const rest = data.subarray(1);
  if (data[0] & 1) encode(rest, (data[0] & 2) !== 0);
  else decode(rest);
};
