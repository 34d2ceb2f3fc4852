// What every JavaScript fuzz target shares: the compiled library (dist/, as
// it ships, instrumented by Jazzer.js) and the rule that bad input may only
// fail with our typed error. Anything else thrown is a finding.
'use strict';
const path = require('node:path');

const dist = path.resolve(__dirname, '../../../dist');
/** A module of the compiled library, e.g. lib('envelope/header-codec'). */
const lib = (name) => require(path.join(dist, `${name}.js`));
const { KmsError, KMS_ERROR_CODES } = lib('errors');
const { IncompleteMessage } = lib('envelope/message-errors');

/** A property of the code under test does not hold: the input is a finding. */
class PropertyViolation extends Error {
  constructor(message) {
    super(message);
    this.name = 'PropertyViolation';
  }
}

function check(condition, message) {
  if (!condition) throw new PropertyViolation(message);
}

/**
 * Rethrows `error` (a finding) unless it is a KmsError with a stable code,
 * one of `codes` when given; `extra` lists other error classes the API
 * documents (e.g. IncompleteMessage from the streaming codecs).
 */
function expectTypedError(error, codes, extra = []) {
  if (extra.some((type) => error instanceof type)) return error;
  if (!(error instanceof KmsError) || !KMS_ERROR_CODES.includes(error.code)) throw error;
  if (codes !== undefined && !codes.includes(error.code)) {
    throw new PropertyViolation(`unexpected code ${error.code}: ${error.message}`);
  }
  return error;
}

/** Runs `fn`; returns { value } or { error } where error passed expectTypedError. */
function attempt(fn, codes, extra) {
  try {
    return { value: fn() };
  } catch (error) {
    return { error: expectTypedError(error, codes, extra) };
  }
}

async function attemptAsync(fn, codes, extra) {
  try {
    return { value: await fn() };
  } catch (error) {
    return { error: expectTypedError(error, codes, extra) };
  }
}

const equalBytes = (a, b) => Buffer.compare(Buffer.from(a.buffer, a.byteOffset, a.byteLength), Buffer.from(b.buffer, b.byteOffset, b.byteLength)) === 0;

/** Same keys, same string values (contexts are string maps). */
function sameContext(a, b) {
  const ka = Object.keys(a).sort();
  const kb = Object.keys(b).sort();
  return ka.length === kb.length && ka.every((k, i) => k === kb[i] && a[k] === b[k]);
}

module.exports = { lib, KmsError, IncompleteMessage, PropertyViolation, check, expectTypedError, attempt, attemptAsync, equalBytes, sameContext };
