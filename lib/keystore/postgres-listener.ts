/**
 * The LISTEN side of the PostgreSQL store's change hints: one dedicated
 * connection (a pool connection would be handed to other queries) that
 * LISTENs on the store's channel and reconnects with backoff when it drops.
 * Notifications sent while it is down are lost, so after every reconnect it
 * reports a resync (a change with neither key nor alias) to its listeners.
 */
import pg from 'pg';
import type { KeyStoreChange } from './key-store.js';

const FIRST_RETRY_MS = 100;
const MAX_RETRY_MS = 2_000;

/** Parses a notification payload made by the store's generation bump; anything else is a resync. */
function parseChange(payload: string | undefined): KeyStoreChange {
  try {
    const raw = JSON.parse(payload ?? '') as { generation?: unknown; keyId?: unknown; aliasName?: unknown };
    const change: KeyStoreChange = {};
    if (typeof raw.generation === 'number') change.generation = raw.generation;
    if (typeof raw.keyId === 'string') change.keyId = raw.keyId;
    if (typeof raw.aliasName === 'string') change.aliasName = raw.aliasName;
    return change;
  } catch {
    return {};
  }
}

/** A self-healing LISTEN connection. */
export class ChangeListener {
  readonly #config: pg.ClientConfig;
  readonly #channel: string;
  readonly #emit: (change: KeyStoreChange) => void;
  #client: pg.Client | null = null;
  #stopped = false;
  #retryMs = FIRST_RETRY_MS;
  #timer: NodeJS.Timeout | null = null;
  #connects = 0;

  constructor(config: pg.ClientConfig, channel: string, emit: (change: KeyStoreChange) => void) {
    this.#config = config;
    this.#channel = channel;
    this.#emit = emit;
  }

  /** Whether the LISTEN connection is up. */
  get connected(): boolean {
    return this.#client !== null;
  }

  /** How many times it has connected (1 + reconnects). */
  get connects(): number {
    return this.#connects;
  }

  /** Starts listening (in the background; failures are retried). */
  start(): void {
    void this.#connect();
  }

  /** Stops listening and closes the connection. */
  async stop(): Promise<void> {
    this.#stopped = true;
    if (this.#timer !== null) clearTimeout(this.#timer);
    const client = this.#client;
    this.#client = null;
    await client?.end().catch(() => undefined);
  }

  async #connect(): Promise<void> {
    if (this.#stopped) return;
    const client = new pg.Client(this.#config);
    let lost = false;
    const onLost = (): void => {
      if (lost) return;
      lost = true;
      if (this.#client === client) this.#client = null;
      void client.end().catch(() => undefined);
      this.#retry();
    };
    client.on('error', onLost);
    client.on('end', onLost);
    client.on('notification', (message) => {
      if (message.channel === this.#channel) this.#emit(parseChange(message.payload));
    });
    try {
      await client.connect();
      await client.query(`LISTEN ${client.escapeIdentifier(this.#channel)}`);
    } catch {
      onLost();
      return;
    }
    if (this.#stopped || lost) {
      await client.end().catch(() => undefined);
      return;
    }
    this.#client = client;
    this.#retryMs = FIRST_RETRY_MS;
    this.#connects++;
    // Whatever was notified while no connection listened is lost: say so.
    if (this.#connects > 1) this.#emit({});
  }

  #retry(): void {
    if (this.#stopped || this.#timer !== null) return;
    const delay = this.#retryMs;
    this.#retryMs = Math.min(MAX_RETRY_MS, this.#retryMs * 2);
    this.#timer = setTimeout(() => {
      this.#timer = null;
      void this.#connect();
    }, delay);
    this.#timer.unref();
  }
}
