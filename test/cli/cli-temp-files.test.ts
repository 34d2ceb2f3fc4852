// Temporary output files after a SIGKILL (which no handler can catch): the
// killed run leaves its hidden `.<target>.hsmkms-<host>-<pid>-<random>.tmp`
// and never the target; the next run writing into that directory removes
// it, and leaves alone the temporary files of live writers, of other hosts,
// and anything not named like one of ours.
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { BIN, json, makeWorkspace } from './cli-harness.js';

const ws = makeWorkspace();
let keyId: string;
const hostTag = createHash('sha256').update(os.hostname()).digest('hex').slice(0, 8);

beforeAll(async () => {
  await ws.cli(['init']);
  keyId = json<{ keyId: string }>(await ws.cli(['create-key', '--json'])).keyId;
});
afterAll(() => ws.remove());

/** Starts `encrypt` from a pipe that stays open, waits for its temporary file, SIGKILLs it; returns the file name and the pid. */
async function killMidWrite(target: string): Promise<{ temp: string; pid: number }> {
  const child = spawn(process.execPath, [BIN, '--dir', ws.dir, 'encrypt', '--key-id', keyId, '--out', path.join(ws.base, target)], {
    env: { ...process.env, HSMKMS_SILENCE_SOFT_WARNING: '1' },
    stdio: ['pipe', 'ignore', 'ignore'],
  });
  const exited = new Promise<NodeJS.Signals | null>((resolve) => child.on('exit', (_code, signal) => resolve(signal)));
  child.stdin.on('error', () => undefined);
  child.stdin.write(Buffer.alloc(200_000, 7));
  let temp: string | undefined;
  for (let i = 0; i < 500 && temp === undefined; i++) {
    temp = readdirSync(ws.base).find((f) => f.startsWith(`.${target}.`));
    if (temp === undefined) await new Promise((resolve) => setTimeout(resolve, 20));
  }
  child.kill('SIGKILL');
  expect(await exited).toBe('SIGKILL');
  expect(temp).toBeDefined();
  return { temp: temp!, pid: child.pid! };
}

it('a SIGKILLed run leaves only its named temporary file, which the next run into the directory removes; live, foreign and unrelated files stay', async () => {
  const { temp, pid } = await killMidWrite('killed.enc');
  expect(temp).toMatch(new RegExp(`^\\.killed\\.enc\\.hsmkms-${hostTag}-${pid}-[0-9a-f]{12}\\.tmp$`));
  expect(readdirSync(ws.base)).not.toContain('killed.enc');

  const live = `.other.enc.hsmkms-${hostTag}-${process.pid}-0123456789ab.tmp`; // this test process: alive
  const foreign = `.other.enc.hsmkms-00000000-${pid}-0123456789ab.tmp`; // same dead pid, another host
  const unrelated = `.killed.enc.hsmkms-notours.tmp`;
  for (const name of [live, foreign, unrelated]) writeFileSync(path.join(ws.base, name), 'x');

  const plain = path.join(ws.base, 'plain.bin');
  writeFileSync(plain, 'the next run');
  const next = await ws.cli(['encrypt', '--key-id', keyId, '--in', plain, '--out', path.join(ws.base, 'next.enc')]);
  expect(next.stderr).toBe('');
  expect(next.code).toBe(0);
  const left = readdirSync(ws.base);
  expect(left).not.toContain(temp);
  expect(left).toEqual(expect.arrayContaining([live, foreign, unrelated, 'next.enc']));
  expect(left).not.toContain('killed.enc');

  const back = await ws.cli(['decrypt', '--in', path.join(ws.base, 'next.enc'), '--out', path.join(ws.base, 'next.out')]);
  expect(back.code).toBe(0);
  expect(readFileSync(path.join(ws.base, 'next.out'), 'utf8')).toBe('the next run');
}, 60_000);
