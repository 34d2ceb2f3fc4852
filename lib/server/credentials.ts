/**
 * Principals and their secrets, from a file in the AWS shared-credentials
 * format: each `[profile]` is a principal named after the profile, with
 * `aws_access_key_id` and `aws_secret_access_key`. Reloaded on `reload()`
 * and when the file changes; a file that does not parse leaves the loaded
 * credentials in place (and the error is reported without any secret).
 */
import { readFileSync, watch, type FSWatcher } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { KmsError } from '../errors.js';
import type { Credential } from './sigv4.js';

/** Parses the shared-credentials INI text. Profiles without both keys are skipped. */
export function parseCredentialsFile(text: string): Credential[] {
  const profiles = new Map<string, Record<string, string>>();
  let current: Record<string, string> | null = null;
  const lines = text.split(/\r?\n/);
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!.trim();
    if (line === '' || line.startsWith('#') || line.startsWith(';')) continue;
    const section = /^\[\s*(?:profile\s+)?([^\]]+?)\s*\]$/.exec(line);
    if (section !== null) {
      current = {};
      profiles.set(section[1]!, current);
      continue;
    }
    const eq = line.indexOf('=');
    // Say where, never what: the line may hold a secret.
    if (eq < 0 || current === null) throw new KmsError('ValidationException', `credentials file: line ${i + 1} is not "name = value" inside a [profile]`);
    current[line.slice(0, eq).trim().toLowerCase()] = line.slice(eq + 1).trim();
  }
  const credentials: Credential[] = [];
  const seen = new Set<string>();
  for (const [principal, values] of profiles) {
    const accessKeyId = values.aws_access_key_id;
    const secretAccessKey = values.aws_secret_access_key;
    if (!accessKeyId || !secretAccessKey) continue;
    if (seen.has(accessKeyId)) throw new KmsError('ValidationException', `credentials file: access key id of [${principal}] is used twice`);
    seen.add(accessKeyId);
    credentials.push({ principal, accessKeyId, secretAccessKey });
  }
  return credentials;
}

/** The loaded credentials, by access key id, reloadable from a file. */
export class CredentialStore {
  #byAccessKey = new Map<string, Credential>();
  readonly #file: string | null;
  #watcher: FSWatcher | null = null;
  #debounce: NodeJS.Timeout | null = null;
  readonly #onReload: (error: Error | null, count: number) => void;

  private constructor(file: string | null, onReload: (error: Error | null, count: number) => void) {
    this.#file = file;
    this.#onReload = onReload;
  }

  /** Loads `file` (which must parse) and, unless `watchFile` is false, reloads it whenever it changes. */
  static fromFile(file: string, options: { watchFile?: boolean; onReload?: (error: Error | null, count: number) => void } = {}): CredentialStore {
    const store = new CredentialStore(file, options.onReload ?? (() => undefined));
    let text: string;
    try {
      text = readFileSync(file, 'utf8');
    } catch (error) {
      throw new KmsError('ValidationException', `cannot read credentials file ${file} (${(error as NodeJS.ErrnoException).code ?? 'error'})`);
    }
    store.#set(parseCredentialsFile(text));
    if (options.watchFile !== false) store.#watch();
    return store;
  }

  /** Credentials given in code (tests, embedding). */
  static fromList(credentials: readonly Credential[]): CredentialStore {
    const store = new CredentialStore(null, () => undefined);
    store.#set(credentials);
    return store;
  }

  #set(credentials: readonly Credential[]): void {
    this.#byAccessKey = new Map(credentials.map((c) => [c.accessKeyId, { ...c }]));
  }

  /** How many principals are loaded. */
  get size(): number {
    return this.#byAccessKey.size;
  }

  /** The credential of an access key id. */
  readonly lookup = (accessKeyId: string): Credential | undefined => this.#byAccessKey.get(accessKeyId);

  /** True when a principal of that name is loaded. */
  hasPrincipal(principal: string): boolean {
    for (const c of this.#byAccessKey.values()) if (c.principal === principal) return true;
    return false;
  }

  /** Re-reads the file; on failure keeps the current credentials and rethrows. */
  async reload(): Promise<void> {
    if (this.#file === null) return;
    try {
      const text = await readFile(this.#file, 'utf8');
      this.#set(parseCredentialsFile(text));
      this.#onReload(null, this.#byAccessKey.size);
    } catch (error) {
      const reason = error instanceof KmsError ? error.message : `cannot read ${this.#file} (${(error as NodeJS.ErrnoException).code ?? 'error'})`;
      const failure = new KmsError('ValidationException', reason);
      this.#onReload(failure, this.#byAccessKey.size);
      throw failure;
    }
  }

  #watch(): void {
    if (this.#file === null) return;
    try {
      // Editors replace files (rename) as often as they write them: either way, re-read shortly after.
      this.#watcher = watch(this.#file, { persistent: false }, () => {
        if (this.#debounce !== null) clearTimeout(this.#debounce);
        this.#debounce = setTimeout(() => {
          this.#debounce = null;
          this.reload().catch(() => undefined);
          // A rename ends this watch: watch the new file.
          this.#watcher?.close();
          this.#watch();
        }, 50);
        this.#debounce.unref();
      });
      this.#watcher.on('error', () => undefined);
    } catch {
      this.#watcher = null;
    }
  }

  /** Stops watching the file. */
  close(): void {
    this.#watcher?.close();
    this.#watcher = null;
    if (this.#debounce !== null) clearTimeout(this.#debounce);
  }
}
