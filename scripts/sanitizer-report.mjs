// Reads every sanitizer report a run left in LOG_DIR (one file per process,
// written through log_path: scripts/sanitizer-env.mjs) and decides:
//   - any AddressSanitizer or UndefinedBehaviorSanitizer error   -> fail
//   - a leak of ours -> fail, unless a suppression in
//     scripts/sanitizer-suppressions.mjs matches it (each one says why)
//   - any other leak (Node, V8, bash, openssl, softhsm2-util...) -> ignored
// A leak is ours when a frame of its stack runs in our addon (a module
// named hsmkms*.node) and no JavaScript-engine frame (v8::, napi_, node::,
// Builtins_) lies between the allocation and that frame: memory the engine
// allocates while our code creates JavaScript values (heap pages, slot sets)
// is the engine's, and Node does not free its heap at exit. Our own memory
// (new/malloc in our code, OpenSSL objects and PKCS#11 module state we
// create) reaches our frame through plain C/C++ libraries only.
//
//   node scripts/sanitizer-report.mjs LOG_DIR   prints the counts and every
//                                               finding; exits 1 on any
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { SUPPRESSIONS } from './sanitizer-suppressions.mjs';

/** A frame's module, from the "(module+0xoffset)" the stack_trace_format ends with. */
const MODULE = /\(([^()\s]+)\+0x[0-9a-f]+\)\s*$/;
const OUR_MODULE = /^hsmkms[^/]*\.node$/;
const LEAK_HEADER = /^(Direct|Indirect) leak of (\d+) byte\(s\) in (\d+) object\(s\) allocated from:/;
const ERROR_HEADER = /^==\d+==ERROR: (AddressSanitizer|LeakSanitizer)(?::|\s)\s*(.*)$/;
const UB_ERROR = /: runtime error: /;
const FRAME = /^\s+#\d+ /;

const ENGINE_FRAME = /^\s+#\d+ 0x[0-9a-f]+ in (v8::|v8impl::|napi_|node::|Builtins_)/;

/** True when the frame runs in our addon. */
function inOurAddon(frame) {
  const module = MODULE.exec(frame)?.[1];
  return module !== undefined && OUR_MODULE.test(path.basename(module));
}

/** True when our addon allocated through these frames (innermost first) without the JavaScript engine in between. */
export function isOurs(frames) {
  for (const frame of frames) {
    if (inOurAddon(frame)) return true;
    if (ENGINE_FRAME.test(frame)) return false;
  }
  return false;
}

/** Splits one report file into findings: { kind: 'error' | 'leak', text, frames, ... }. */
export function parseReport(text) {
  const lines = text.split('\n');
  const findings = [];
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i];
    const takeFrames = () => {
      const frames = [];
      while (i + 1 < lines.length && (FRAME.test(lines[i + 1]) || lines[i + 1].trim() === '' && frames.length === 0)) {
        i++;
        if (lines[i].trim() !== '') frames.push(lines[i]);
      }
      return frames;
    };
    const leak = LEAK_HEADER.exec(line);
    if (leak) {
      findings.push({ kind: 'leak', direct: leak[1] === 'Direct', bytes: Number(leak[2]), text: line, frames: takeFrames() });
      continue;
    }
    const error = ERROR_HEADER.exec(line);
    // "detected memory leaks" only introduces the leak blocks that follow.
    if (error && !(error[1] === 'LeakSanitizer' && /^detected memory leaks/.test(error[2]))) {
      findings.push({ kind: 'error', text: line.replace(/^==\d+==/, ''), frames: takeFrames() });
      continue;
    }
    if (UB_ERROR.test(line)) findings.push({ kind: 'error', text: line, frames: takeFrames() });
  }
  return findings;
}

/** The suppression that covers a leak of ours, if any. */
export function suppressionFor(leak, suppressions = SUPPRESSIONS) {
  return suppressions.find((s) => s.frames.every((pattern) => leak.frames.some((frame) => pattern.test(frame))));
}

/** Classifies every report file under `logDir`. */
export function summarize(logDir, suppressions = SUPPRESSIONS) {
  const summary = { files: 0, errors: [], ours: [], suppressed: new Map(), foreign: 0 };
  for (const name of readdirSync(logDir).sort()) {
    summary.files++;
    for (const finding of parseReport(readFileSync(path.join(logDir, name), 'utf8'))) {
      finding.file = name;
      if (finding.kind === 'error') summary.errors.push(finding);
      else if (!isOurs(finding.frames)) summary.foreign++;
      else {
        const suppression = suppressionFor(finding, suppressions);
        if (suppression) summary.suppressed.set(suppression.id, (summary.suppressed.get(suppression.id) ?? 0) + 1);
        else summary.ours.push(finding);
      }
    }
  }
  return summary;
}

/** The summary as printed lines; the last one is the one-line verdict. */
export function describe(summary) {
  const out = [];
  for (const f of [...summary.errors, ...summary.ours]) {
    out.push(`sanitizer: ${f.kind === 'error' ? 'ERROR' : 'LEAK in our addon'} (${f.file}): ${f.text}`);
    out.push(...f.frames.slice(0, 16));
  }
  const suppressed = [...summary.suppressed].map(([id, n]) => `${id} x${n}`).join(', ');
  const total = [...summary.suppressed.values()].reduce((a, b) => a + b, 0);
  out.push(
    `sanitizer findings: ${summary.files} report files; ${summary.errors.length} errors; ` +
      `${summary.ours.length} leaks in our addon; ${total} suppressed${suppressed ? ` (${suppressed})` : ''}; ` +
      `${summary.foreign} foreign leaks ignored`,
  );
  return out;
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const logDir = process.argv[2];
  if (!logDir) {
    console.error('usage: node scripts/sanitizer-report.mjs LOG_DIR');
    process.exit(2);
  }
  const summary = summarize(logDir);
  for (const line of describe(summary)) console.log(line);
  process.exit(summary.errors.length + summary.ours.length > 0 ? 1 : 0);
}
