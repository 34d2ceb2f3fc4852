// Fuzz target: the server's request parsing before any operation runs:
// SigV4 verification (Authorization header, scope, X-Amz-Date, signed
// headers, canonical path and query) and the JSON 1.1 body decoding. Each
// fails with a KmsError (ServerError) or succeeds; a verified request names
// the one credential there is and a time within the allowed skew.
'use strict';
const { lib, attempt, check } = require('../support.cjs');
const { REGION, NOW, CREDENTIAL, decodeRequest } = require('../sigv4-request.cjs');
const { SigV4Verifier } = lib('server/sigv4');
const protocol = lib('server/protocol');

const verifier = new SigV4Verifier({ region: REGION, now: () => NOW });
const lookup = (id) => (id === CREDENTIAL.accessKeyId ? CREDENTIAL : undefined);

/** Every object in a decoded request is a plain object: the wire cannot set prototypes. */
function plainObjects(value) {
  if (typeof value !== 'object' || value === null || value instanceof Uint8Array) return true;
  if (!Array.isArray(value) && Object.getPrototypeOf(value) !== Object.prototype) return false;
  return Object.values(value).every(plainObjects);
}

module.exports.fuzz = function fuzz(data) {
  const request = decodeRequest(data);
  const { value: verified } = attempt(() => verifier.verify(request, lookup));
  if (verified !== undefined) {
    check(verified.accessKeyId === CREDENTIAL.accessKeyId && verified.principal === CREDENTIAL.principal, 'wrong principal');
    check(Math.abs(verified.time - NOW) <= 300_000, 'time outside the skew');
  }
  const { value: decoded } = attempt(() => protocol.decodeRequest(request.body), ['ValidationException']);
  if (decoded !== undefined) {
    check(typeof decoded.request === 'object' && decoded.request !== null, 'decoded request is not an object');
    check(plainObjects(decoded.request), 'a decoded request object has another prototype than Object.prototype');
    // The response encoder must take whatever a request decodes to.
    attempt(() => protocol.encodeResponse(decoded.request));
  }
};
