// How the SigV4 target reads its input as an HTTP request, and how the seed
// generator writes one: "METHOD\nURL\nname: value\n...\n\nBODY" (the head
// as latin1, as Node's HTTP parser hands over headers), plus the fixed
// clock, region and test-only credential both sides use.
'use strict';

const REGION = 'us-east-1';
const NOW = Date.UTC(2026, 0, 2, 3, 4, 5);
// A made-up credential for fuzzing only.
const CREDENTIAL = { principal: 'fuzz', accessKeyId: 'AKIDFUZZEXAMPLE', secretAccessKey: 'fuzz-only-not-a-secret' };

function decodeRequest(data) {
  const split = data.indexOf('\n\n');
  const head = (split < 0 ? data : data.subarray(0, split)).toString('latin1').split('\n');
  const body = split < 0 ? Buffer.alloc(0) : data.subarray(split + 2);
  const [method = '', url = '', ...lines] = head;
  const rawHeaders = [];
  for (const line of lines) {
    const colon = line.indexOf(':');
    if (colon > 0) rawHeaders.push(line.slice(0, colon), line.slice(colon + 1));
  }
  return { method, url, rawHeaders, body };
}

function encodeRequest({ method, url, headers, body }) {
  const lines = [method, url, ...Object.entries(headers).map(([name, value]) => `${name}: ${value}`)];
  return Buffer.concat([Buffer.from(`${lines.join('\n')}\n\n`, 'latin1'), Buffer.from(body)]);
}

module.exports = { REGION, NOW, CREDENTIAL, decodeRequest, encodeRequest };
