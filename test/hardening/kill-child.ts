// Runs the crash child (test/fixtures/crash-consistency-child.cjs) until a
// kill plan fires, SIGKILLs it, and returns every fact it printed, including
// lines still in the pipe when it died (they were written, so they count).
import { spawn } from 'node:child_process';
import path from 'node:path';
import { createInterface } from 'node:readline';

export const CHILD = path.resolve(__dirname, '../fixtures/crash-consistency-child.cjs');

export type Fact =
  | { t: 'checked'; counts: Record<string, number>; failures: string[]; aliases: Record<string, string | null> }
  | { t: 'ready' }
  | { t: 'intent'; op: string; key?: string; name?: string; target?: string | null }
  | { t: 'key'; key: string }
  | { t: 'rotated'; key: string; version: number }
  | { t: 'domain'; version: number }
  | { t: 'alias'; name: string; target: string | null }
  | { t: 'blob'; key: string; blob: string; plaintext: string; context: Record<string, string> };

/** Kill a random time after the child is working, or right after its n-th acknowledged operation. */
export type KillPlan = { kind: 'random'; delayMs: number } | { kind: 'ack'; nth: number };

export interface KilledRun {
  facts: Fact[];
  signal: NodeJS.Signals | null;
  code: number | null;
  stderr: string;
  /** Acknowledgements printed before the child died. */
  acks: number;
}

/** Never wait forever: a child that neither works nor dies fails the run. */
const STUCK_MS = 20_000;

export async function runAndKill(config: object, plan: KillPlan): Promise<KilledRun> {
  const child = spawn(process.execPath, [CHILD], {
    env: { ...process.env, HSMKMS_SILENCE_SOFT_WARNING: '1' },
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  child.stdin.end(JSON.stringify(config));
  let stderr = '';
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.on('exit', (code, signal) => resolve({ code, signal })),
  );
  const stuck = setTimeout(() => child.kill('SIGKILL'), STUCK_MS);
  const facts: Fact[] = [];
  let acks = 0;
  let armed = true;
  for await (const line of createInterface({ input: child.stdout })) {
    const fact = JSON.parse(line) as Fact;
    facts.push(fact);
    if (fact.t !== 'ready' && fact.t !== 'intent' && fact.t !== 'checked') acks++;
    if (!armed) continue;
    if (plan.kind === 'random' && fact.t === 'ready') {
      armed = false;
      setTimeout(() => child.kill('SIGKILL'), plan.delayMs);
    } else if (plan.kind === 'ack' && acks >= plan.nth) {
      armed = false;
      child.kill('SIGKILL');
    }
  }
  const { code, signal } = await exited;
  clearTimeout(stuck);
  return { facts, signal, code, stderr, acks };
}
