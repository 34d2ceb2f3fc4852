// The PostgreSQL server of the tests. scripts/test.sh starts a private one
// and exports HSMKMS_TEST_POSTGRES_URL; under CI it must be there (tests
// fail, never skip, without it). Run locally without it, this starts one
// through the same script for this test file's process and stops it at exit.
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import path from 'node:path';
import pg from 'pg';
import { withoutSanitizer } from './without-sanitizer.js';

const SCRIPT = path.resolve(__dirname, '../../scripts/start-postgres.sh');
let started: { url: string; dir: string } | undefined;

/** The server's URL (an admin connection to its `hsmkms` database). */
export function postgresUrl(): string {
  const url = process.env.HSMKMS_TEST_POSTGRES_URL;
  if (url !== undefined && url !== '') return url;
  if (process.env.CI === 'true') {
    throw new Error('HSMKMS_TEST_POSTGRES_URL is not set: run the tests through `npm test` (scripts/test.sh starts PostgreSQL)');
  }
  if (started === undefined) {
    const out = execFileSync('bash', [SCRIPT], { encoding: 'utf8', env: withoutSanitizer() });
    const value = (name: string): string => /^(\w+)=(.*)$/m.exec(out.split('\n').find((l) => l.startsWith(`${name}=`)) ?? '')?.[2] ?? '';
    started = { url: value('HSMKMS_TEST_POSTGRES_URL'), dir: value('HSMKMS_TEST_POSTGRES_DIR') };
    process.on('exit', stopStarted);
    process.env.HSMKMS_TEST_POSTGRES_URL = started.url;
  }
  return started.url;
}

/** The server's data directory when this process started it, else from the environment (for restarts). */
export function postgresDir(): string | undefined {
  return started?.dir ?? process.env.HSMKMS_TEST_POSTGRES_DIR;
}

/** `url` with another database name. */
export function withDatabase(url: string, database: string): string {
  const u = new URL(url);
  u.pathname = `/${database}`;
  return u.toString();
}

/** Runs SQL on the server's admin database. */
export async function adminQuery(sql: string, params: unknown[] = []): Promise<pg.QueryResult> {
  const client = new pg.Client({ connectionString: postgresUrl() });
  await client.connect();
  try {
    return await client.query(sql, params);
  } finally {
    await client.end();
  }
}

/** Stops the server this process started, if any (vitest may end a worker without an 'exit' event). */
function stopStarted(): void {
  if (started === undefined) return;
  const { dir } = started;
  started = undefined;
  execFileSync('bash', [SCRIPT, 'stop', dir]);
}

/**
 * A fresh database of its own for one test file; `drop()` removes it
 * (closing whatever still uses it), and stops the server if this process started it.
 */
export async function freshDatabase(prefix = 't'): Promise<{ url: string; name: string; drop(): Promise<void> }> {
  const name = `${prefix}_${process.pid}_${randomBytes(4).toString('hex')}`;
  await adminQuery(`CREATE DATABASE ${name}`);
  return {
    name,
    url: withDatabase(postgresUrl(), name),
    drop: async () => {
      await adminQuery(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      stopStarted();
    },
  };
}
