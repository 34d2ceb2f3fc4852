/** Types of fuzz-runner.mjs (plain JavaScript, shared with scripts/fuzz.mjs). */
export const ROOT: string;
export const BUILD: string;
export const FUZZERS: string;

export interface FuzzTarget {
  name: string;
  kind: 'native' | 'js';
  /** The native binary, or the JavaScript target module. */
  file: string;
}

export interface FuzzRun {
  exitCode: number;
  executions: number;
  execPerSec: number;
  newUnits: number;
  corpusFiles: number;
  /** Crash inputs written in this run. */
  crashes: string[];
  output: string;
}

export function listTargets(): FuzzTarget[];
export function seedDirs(target: FuzzTarget, generatedRoot: string): string[];
export function runTarget(
  target: FuzzTarget,
  options: { seconds: number; corpusDir: string; seeds: string[]; artifactDir: string; extraArgs?: string[] },
): Promise<FuzzRun>;
