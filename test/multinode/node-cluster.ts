// Starts node processes (test/fixtures/multinode-node.cjs) that share one
// soft-root directory and one PostgreSQL database, and talks to them.
import { fork, type ChildProcess } from 'node:child_process';
import path from 'node:path';

const NODE_SCRIPT = path.resolve(__dirname, '../fixtures/multinode-node.cjs');

export interface NodeConfig {
  root: object;
  store: { connectionString: string; schema?: string; max?: number; listen?: boolean };
  cacheTtlMs?: number;
  auditFlushMs?: number;
  clockOffsetMs?: number;
  maintenanceOnOpen?: boolean;
}

/** A KMS error as it crossed the process boundary. */
export class NodeCallError extends Error {
  constructor(readonly code: string, message: string) {
    super(message);
  }
}

/** One node process. */
export class KmsNode {
  readonly #child: ChildProcess;
  readonly #pending = new Map<number, { resolve: (v: unknown) => void; reject: (e: unknown) => void }>();
  #next = 0;
  stderr = '';
  readonly pid: number;
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;

  private constructor(child: ChildProcess) {
    this.#child = child;
    this.pid = child.pid as number;
    child.stderr?.on('data', (chunk: Buffer) => (this.stderr += chunk.toString()));
    this.exited = new Promise((resolve) => child.on('exit', (code, signal) => resolve({ code, signal })));
    child.on('message', (m: { id?: number; result?: unknown; error?: { code: string; message: string } }) => {
      if (m.id === undefined) return;
      const waiter = this.#pending.get(m.id);
      this.#pending.delete(m.id);
      if (m.error !== undefined) waiter?.reject(new NodeCallError(m.error.code, m.error.message));
      else waiter?.resolve(m.result);
    });
    void this.exited.then(() => {
      for (const waiter of this.#pending.values()) waiter.reject(new NodeCallError('NodeExited', `node ${this.pid} exited: ${this.stderr}`));
      this.#pending.clear();
    });
  }

  /** Starts a node and waits until its Kms is open. */
  static async start(config: NodeConfig): Promise<KmsNode> {
    const child = fork(NODE_SCRIPT, [JSON.stringify(config)], {
      serialization: 'advanced',
      stdio: ['ignore', 'inherit', 'pipe', 'ipc'],
      env: { ...process.env, HSMKMS_SILENCE_SOFT_WARNING: '1' },
    });
    const node = new KmsNode(child);
    await new Promise<void>((resolve, reject) => {
      child.on('message', (m: { ready?: boolean }) => m.ready === true && resolve());
      void node.exited.then(({ code }) => reject(new Error(`node exited (${code}) before it was ready: ${node.stderr}`)));
    });
    return node;
  }

  /** Calls a Kms method (or a fixture command) on the node. */
  call<T = any>(call: string, args?: unknown): Promise<T> {
    const id = this.#next++;
    return new Promise<T>((resolve, reject) => {
      this.#pending.set(id, { resolve: resolve as (v: unknown) => void, reject });
      this.#child.send({ id, call, args });
    });
  }

  /** The error code a call fails with, or 'SUCCESS'. */
  async codeOf(call: string, args?: unknown): Promise<string> {
    try {
      await this.call(call, args);
      return 'SUCCESS';
    } catch (error) {
      return (error as NodeCallError).code;
    }
  }

  kill(): void {
    this.#child.kill('SIGKILL');
  }

  /** Closes the node's Kms (flushing its audit) and waits for it to exit. */
  async close(): Promise<void> {
    if (this.#child.exitCode !== null || this.#child.signalCode !== null) return;
    await this.call('close').catch(() => undefined);
    await this.exited;
  }
}

/** Closes (or kills, if that hangs) every node given. */
export async function closeAll(nodes: KmsNode[]): Promise<void> {
  await Promise.all(
    nodes.map(async (n) => {
      const timer = setTimeout(() => n.kill(), 10_000);
      await n.close();
      clearTimeout(timer);
    }),
  );
}
