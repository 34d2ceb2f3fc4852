/**
 * A progress bar on stderr with throughput and time left, shown only when
 * both stderr and stdout are terminals (never mixed into piped output).
 */
import type { CliIo } from './io.js';

const REDRAW_MS = 100;
const WIDTH = 24;

export interface Progress {
  advance(bytes: number): void;
  done(): void;
}

const NO_PROGRESS: Progress = { advance: () => undefined, done: () => undefined };

function formatBytes(n: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let i = 0;
  while (n >= 1024 && i < units.length - 1) {
    n /= 1024;
    i++;
  }
  return `${n.toFixed(i === 0 ? 0 : 1)} ${units[i]}`;
}

function formatSeconds(s: number): string {
  if (!Number.isFinite(s)) return '--:--';
  const t = Math.round(s);
  return `${Math.floor(t / 60)}:${String(t % 60).padStart(2, '0')}`;
}

/** `force`: true/false from --progress/--no-progress; undefined decides by the terminals. */
export function startProgress(io: CliIo, label: string, total: number | undefined, force?: boolean): Progress {
  const show = force ?? (io.stderr.isTTY === true && io.stdout.isTTY === true);
  if (!show) return NO_PROGRESS;
  const started = Date.now();
  let bytes = 0;
  let drawnAt = 0;
  const draw = (final: boolean): void => {
    const seconds = Math.max((Date.now() - started) / 1000, 1e-3);
    const rate = bytes / seconds;
    let line = `${label} ${formatBytes(bytes)}`;
    if (total !== undefined && total > 0) {
      const share = Math.min(bytes / total, 1);
      const filled = Math.round(share * WIDTH);
      line = `${label} [${'#'.repeat(filled)}${'.'.repeat(WIDTH - filled)}] ${(share * 100).toFixed(0).padStart(3)}% ${formatBytes(bytes)}`;
      if (!final) line += `  ETA ${formatSeconds((total - bytes) / rate)}`;
    }
    line += `  ${formatBytes(rate)}/s${final ? `  in ${formatSeconds(seconds)}` : ''}`;
    io.stderr.write(`\r\x1b[2K${line}${final ? '\n' : ''}`);
  };
  return {
    advance(n) {
      bytes += n;
      const now = Date.now();
      if (now - drawnAt >= REDRAW_MS) {
        drawnAt = now;
        draw(false);
      }
    },
    done: () => draw(true),
  };
}
