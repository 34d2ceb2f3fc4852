/** Concurrent misses for one key share one load: the first caller loads, the others wait for its result. */
export class SingleFlight<T> {
  readonly #inflight = new Map<string, Promise<T>>();

  /** `load()` unless a load of `key` is already running, whose promise is returned instead. */
  run(key: string, load: () => Promise<T>): Promise<T> {
    const pending = this.#inflight.get(key);
    if (pending !== undefined) return pending;
    const loading = load().finally(() => this.#inflight.delete(key));
    this.#inflight.set(key, loading);
    return loading;
  }
}
