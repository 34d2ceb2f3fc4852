// Fuzz target: frame decoding (readFrame, what decrypt, decryptStream and
// decryptRange use to walk the body). Bytes 0..3 are the frame length (as the
// header gives it), byte 4 the expected sequence number and the v1/v2 rule;
// the rest is the body. Each frame read is IncompleteMessage,
// InvalidCiphertextException, or a frame that lies inside the input with
// the size the format gives; reading goes on to the final frame.
'use strict';
const { lib, attempt, check, IncompleteMessage } = require('../support.cjs');
const { readFrame, frameSize, frameIv } = lib('envelope/frame-codec');
const { IV_LENGTH } = lib('envelope/suites');

module.exports.fuzz = function fuzz(data) {
  if (data.length < 5) return;
  const frameLength = (data.readUInt32BE(0) % 4096) + 1;
  const rules = { frameLength, requireFrameIv: (data[4] & 0x80) === 0 };
  let seq = (data[4] & 0x7f) + 1;
  const body = data.subarray(5);
  let offset = 0;
  for (let frames = 0; frames < 64; frames++) {
    const { value: frame } = attempt(() => readFrame(body, offset, seq, rules), ['InvalidCiphertextException'], [IncompleteMessage]);
    if (frame === undefined) return;
    check(frame.start === offset && frame.end <= body.length, 'frame outside the input');
    check(frame.end - frame.start === frameSize(frame.final, frame.contentLength), 'frame size');
    check(frame.contentLength <= frameLength && (frame.final || frame.contentLength === frameLength), 'content length');
    check(frame.seq === seq, 'sequence number');
    if (rules.requireFrameIv) {
      const ivAt = frame.start + (frame.final ? 8 : 4);
      check(Buffer.compare(body.subarray(ivAt, ivAt + IV_LENGTH), Buffer.from(frameIv(seq))) === 0, 'frame IV');
    }
    if (frame.final) return;
    offset = frame.end;
    seq++;
  }
};
