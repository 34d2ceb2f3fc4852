/**
 * Prometheus metrics in the text exposition format (no dependency): request
 * counts by operation and outcome, latency histograms by operation, HSM
 * errors, refusals, in-flight requests, and the CPU spent verifying
 * signatures and mapping the protocol (to compare with the process total).
 */
const BUCKETS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5];

function label(value: string): string {
  return value.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');
}

interface Histogram {
  counts: number[];
  sum: number;
  count: number;
}

/** The server's counters. */
export class Metrics {
  readonly #requests = new Map<string, number>();
  readonly #latency = new Map<string, Histogram>();
  readonly #hsmErrors = new Map<string, number>();
  readonly #refusals = new Map<string, number>();
  inFlight = 0;
  /** Seconds of synchronous work in SigV4 verification. */
  sigv4Seconds = 0;
  /** Seconds of synchronous work decoding requests and encoding responses. */
  protocolSeconds = 0;
  signingKeyCache: () => { hits: number; misses: number } = () => ({ hits: 0, misses: 0 });

  /** Counts a finished request. */
  observe(operation: string, outcome: string, seconds: number): void {
    const key = `${operation}\u0000${outcome}`;
    this.#requests.set(key, (this.#requests.get(key) ?? 0) + 1);
    let h = this.#latency.get(operation);
    if (h === undefined) {
      h = { counts: BUCKETS.map(() => 0), sum: 0, count: 0 };
      this.#latency.set(operation, h);
    }
    for (let i = 0; i < BUCKETS.length; i++) if (seconds <= BUCKETS[i]!) h.counts[i]!++;
    h.sum += seconds;
    h.count++;
  }

  /** Counts an error that came from the root of trust (a PKCS#11 return value, an unavailable HSM). */
  hsmError(code: string): void {
    this.#hsmErrors.set(code, (this.#hsmErrors.get(code) ?? 0) + 1);
  }

  /** Counts a request refused before the KMS ran (authentication, authorization, limits). */
  refusal(type: string): void {
    this.#refusals.set(type, (this.#refusals.get(type) ?? 0) + 1);
  }

  /** The exposition text. */
  render(): string {
    const out: string[] = [];
    out.push('# HELP hsmkms_requests_total KMS API requests by operation and outcome.', '# TYPE hsmkms_requests_total counter');
    for (const [key, n] of this.#requests) {
      const [operation, outcome] = key.split('\u0000') as [string, string];
      out.push(`hsmkms_requests_total{operation="${label(operation)}",outcome="${label(outcome)}"} ${n}`);
    }
    out.push('# HELP hsmkms_request_duration_seconds KMS API request latency.', '# TYPE hsmkms_request_duration_seconds histogram');
    for (const [operation, h] of this.#latency) {
      const op = label(operation);
      BUCKETS.forEach((le, i) => out.push(`hsmkms_request_duration_seconds_bucket{operation="${op}",le="${le}"} ${h.counts[i]}`));
      out.push(`hsmkms_request_duration_seconds_bucket{operation="${op}",le="+Inf"} ${h.count}`);
      out.push(`hsmkms_request_duration_seconds_sum{operation="${op}"} ${h.sum}`);
      out.push(`hsmkms_request_duration_seconds_count{operation="${op}"} ${h.count}`);
    }
    out.push('# HELP hsmkms_hsm_errors_total Errors from the root of trust, by code.', '# TYPE hsmkms_hsm_errors_total counter');
    for (const [code, n] of this.#hsmErrors) out.push(`hsmkms_hsm_errors_total{code="${label(code)}"} ${n}`);
    out.push('# HELP hsmkms_refusals_total Requests refused before the KMS ran, by AWS error type.', '# TYPE hsmkms_refusals_total counter');
    for (const [type, n] of this.#refusals) out.push(`hsmkms_refusals_total{type="${label(type)}"} ${n}`);
    const cache = this.signingKeyCache();
    const cpu = process.cpuUsage();
    out.push(
      '# HELP hsmkms_requests_in_flight Requests being served.', '# TYPE hsmkms_requests_in_flight gauge', `hsmkms_requests_in_flight ${this.inFlight}`,
      '# HELP hsmkms_sigv4_seconds_total Time spent verifying signatures.', '# TYPE hsmkms_sigv4_seconds_total counter', `hsmkms_sigv4_seconds_total ${this.sigv4Seconds}`,
      '# HELP hsmkms_protocol_seconds_total Time spent decoding requests and encoding responses.', '# TYPE hsmkms_protocol_seconds_total counter',
      `hsmkms_protocol_seconds_total ${this.protocolSeconds}`,
      '# HELP hsmkms_signing_key_cache_total SigV4 signing-key cache lookups.', '# TYPE hsmkms_signing_key_cache_total counter',
      `hsmkms_signing_key_cache_total{result="hit"} ${cache.hits}`, `hsmkms_signing_key_cache_total{result="miss"} ${cache.misses}`,
      '# HELP process_cpu_seconds_total User and system CPU time of the process.', '# TYPE process_cpu_seconds_total counter',
      `process_cpu_seconds_total ${(cpu.user + cpu.system) / 1e6}`,
      '# HELP process_cpu_user_seconds_total User CPU time of the process.', '# TYPE process_cpu_user_seconds_total counter',
      `process_cpu_user_seconds_total ${cpu.user / 1e6}`,
    );
    return `${out.join('\n')}\n`;
  }
}
