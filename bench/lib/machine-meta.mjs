// What every results file records about the run: machine, Node, the commit
// (marked when lib/ or native/ differ from it) and the built addon's hash.
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, readFileSync, statSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ROOT_DIR, cores } from './common.mjs';

function git(...args) {
  try {
    return execFileSync('git', args, { cwd: ROOT_DIR, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
  } catch {
    return null;
  }
}

/** The built addon's path, short hash and build time, or null before a build. */
export function addonFingerprint() {
  const addonPath = path.join(ROOT_DIR, 'build', 'Release', 'hsmkms.node');
  if (!existsSync(addonPath)) return null;
  return {
    path: path.relative(ROOT_DIR, addonPath),
    sha256: createHash('sha256').update(readFileSync(addonPath)).digest('hex').slice(0, 16),
    mtime: statSync(addonPath).mtime.toISOString(),
  };
}

/** The fields shared by every results file; a suite adds its own. */
export function machineMeta(quick) {
  const commit = git('rev-parse', '--short', 'HEAD');
  const dirty = git('status', '--porcelain', '--', 'lib', 'native', 'binding.gyp');
  return {
    date: new Date().toISOString(),
    quick,
    cpu: { model: os.cpus()[0]?.model ?? 'unknown', cores: cores(), arch: process.arch },
    memoryBytes: os.totalmem(),
    kernel: `${os.type()} ${os.release()}`,
    node: process.version,
    git: commit ? `${commit}${dirty ? ' (lib/native modified)' : ''}` : 'unknown',
    loadavg: { start: os.loadavg() },
  };
}
