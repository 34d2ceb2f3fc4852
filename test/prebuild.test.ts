/**
 * The published package, end to end: `npm run prebuild` (prebuildify) in a
 * copy of the sources, `npm pack`, then `npm install <tgz>` into a fresh
 * project on a PATH with no compiler, make or python (dependencies from the
 * registry or npm's cache), hsmkms's install script run there, and child
 * processes that load the addon from prebuilds/ and round-trip a message.
 *
 * Slow: one Release compile of the addon, ~25 s on two cores (timeout 5 min).
 */
import { execFileSync, spawnSync, type SpawnSyncReturns } from 'node:child_process';
import {
  cpSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  realpathSync,
  renameSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { withoutSanitizer } from './helpers/without-sanitizer.js';

const root = path.resolve(__dirname, '..');
const SETUP_TIMEOUT = 300_000;

// What `npm run prebuild` and `npm pack` (its prepare script compiles dist/)
// need from the repository; node_modules is linked, not copied.
const PACKAGE_SOURCES = ['package.json', 'binding.gyp', 'tsconfig.json', 'native', 'lib', 'scripts'];
const COMPILERS = ['cc', 'gcc', 'c++', 'g++', 'clang', 'clang++', 'make', 'python3', 'python'];

const npmCli = realpathSync(
  execFileSync('sh', ['-c', 'command -v npm'], { encoding: 'utf8' }).trim(),
);

/**
 * The environment of a nested npm: no npm_* settings inherited from a parent
 * npm run, and none of a sanitizer run's (what ships is built and loaded).
 */
function cleanEnv(extra: Record<string, string>): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [key, value] of Object.entries(withoutSanitizer())) {
    if (/^npm_/i.test(key) || key === 'PREBUILDS_ONLY' || key === 'INIT_CWD') continue;
    env[key] = value;
  }
  return { ...env, ...extra };
}

function run(
  command: string,
  args: string[],
  cwd: string,
  env: NodeJS.ProcessEnv,
): SpawnSyncReturns<string> {
  return spawnSync(command, args, { cwd, env, encoding: 'utf8', maxBuffer: 64 << 20 });
}

function mustRun(command: string, args: string[], cwd: string, env: NodeJS.ProcessEnv): string {
  const result = run(command, args, cwd, env);
  if (result.status !== 0) {
    throw new Error(
      `${[command, ...args].join(' ')} failed (${result.status ?? result.signal}) in ${cwd}\n` +
        `${result.stdout}\n${result.stderr}\n${result.error?.message ?? ''}`,
    );
  }
  return result.stdout;
}

function found(tool: string, pathVar: string): string | undefined {
  return pathVar
    .split(path.delimiter)
    .map((dir) => path.join(dir, tool))
    .find((file) => existsSync(file));
}

describe('prebuilt binary package', () => {
  let tmp: string;
  let pkg: string; // the copy that builds and packs
  let app: string; // the fresh project that installs the tarball
  let bareEnv: NodeJS.ProcessEnv; // PATH with node, npm and sh only
  let tarball: string;
  let tarFiles: string[];
  let prebuildName: string;

  beforeAll(() => {
    tmp = realpathSync(mkdtempSync(path.join(os.tmpdir(), 'hsmkms-prebuild-')));
    pkg = path.join(tmp, 'pkg');
    app = path.join(tmp, 'app');
    mkdirSync(pkg);
    mkdirSync(app);
    for (const entry of PACKAGE_SOURCES) {
      cpSync(path.join(root, entry), path.join(pkg, entry), { recursive: true });
    }
    symlinkSync(path.join(root, 'node_modules'), path.join(pkg, 'node_modules'), 'dir');

    const buildEnv = cleanEnv({});
    mustRun(process.execPath, [npmCli, 'run', 'prebuild'], pkg, buildEnv);
    const prebuilds = readdirSync(path.join(pkg, 'prebuilds', `${process.platform}-${process.arch}`));
    expect(prebuilds.filter((f) => f.endsWith('.node'))).toHaveLength(1);
    prebuildName = prebuilds.find((f) => f.endsWith('.node'))!;

    // npm pack runs the prepare script (tsc) first.
    const packs = path.join(tmp, 'packs');
    mkdirSync(packs);
    mustRun(process.execPath, [npmCli, 'pack', '--pack-destination', packs], pkg, buildEnv);
    const tgzs = readdirSync(packs).filter((f) => f.endsWith('.tgz'));
    expect(tgzs).toHaveLength(1);
    tarball = path.join(packs, tgzs[0]!);
    tarFiles = execFileSync('tar', ['-tzf', tarball], { encoding: 'utf8' })
      .split('\n')
      .filter((f) => f.length > 0)
      .map((f) => f.replace(/^package\//, ''));

    // A PATH on which nothing can compile: only node, npm and a shell.
    const bin = path.join(tmp, 'bin');
    mkdirSync(bin);
    symlinkSync(process.execPath, path.join(bin, 'node'));
    symlinkSync(npmCli, path.join(bin, 'npm'));
    symlinkSync('/bin/sh', path.join(bin, 'sh'));
    bareEnv = cleanEnv({ PATH: bin });

    writeFileSync(
      path.join(app, 'package.json'),
      JSON.stringify({ name: 'hsmkms-prebuild-check', version: '1.0.0', private: true }, null, 2),
    );
    // Dependencies' own install scripts are not under test (some download
    // binaries, which this network cannot); hsmkms's is, right after.
    mustRun(
      process.execPath,
      [npmCli, 'install', '--ignore-scripts', '--no-audit', '--no-fund', '--prefer-offline', tarball],
      app,
      bareEnv,
    );
    mustRun(process.execPath, [npmCli, 'rebuild', 'hsmkms', '--foreground-scripts'], app, bareEnv);
  }, SETUP_TIMEOUT);

  afterAll(() => {
    if (tmp) rmSync(tmp, { recursive: true, force: true });
  });

  it('names the prebuild for N-API and the libc', () => {
    const glibc = (process.report.getReport() as { header?: { glibcVersionRuntime?: string } }).header
      ?.glibcVersionRuntime;
    // prebuildify 6 names a --napi build <package>.<tags>.node: no abi<N>
    // tag (one build serves every Node-API runtime), and no "napi" tag either
    // (prebuildify 5 wrote node.napi.<tags>.node; node-gyp-build reads both).
    const tags = prebuildName.split('.').slice(0, -1);
    expect(tags).toContain(glibc ? 'glibc' : 'musl');
    expect(tags.filter((tag) => /^abi\d+$/.test(tag))).toEqual([]);
    expect(prebuildName).toMatch(/^(hsmkms|node\.napi)\.(glibc|musl)\.node$/);
  });

  it('builds against Node-API only, stripped', () => {
    const file = path.join(pkg, 'prebuilds', `${process.platform}-${process.arch}`, prebuildName);
    const dynamic = run('nm', ['-D', '--undefined-only', file], tmp, process.env);
    if (dynamic.error) return; // no binutils here: nothing more to check
    expect(dynamic.status).toBe(0);
    const symbols = dynamic.stdout.split('\n').map((line) => line.trim().split(/\s+/).pop() ?? '');
    expect(symbols.filter((s) => s.startsWith('napi_')).length).toBeGreaterThan(10);
    // No V8, libuv or node:: C++ symbols: the binary is ABI-stable.
    expect(symbols.filter((s) => /^(_ZN2v8|_ZN4node|uv_)/.test(s))).toEqual([]);
    const all = run('nm', [file], tmp, process.env);
    expect(`${all.stdout}${all.stderr}`).toMatch(/no symbols/); // --strip
  });

  it('packs dist/, prebuilds/ and what a source build needs', () => {
    const expected = [
      'package.json',
      'dist/index.js',
      'dist/index.mjs',
      'dist/index.d.ts',
      'dist/native.js',
      `prebuilds/${process.platform}-${process.arch}/${prebuildName}`,
      'binding.gyp',
      'scripts/werror-flag.js', // binding.gyp runs it
    ];
    for (const file of expected) expect(tarFiles, file).toContain(file);
    for (const header of ['native/core/aes_gcm_key.h', 'native/binding/env_state.h']) {
      expect(tarFiles).toContain(header);
    }
    const gypSources = tarFiles.filter((f) => /^native\/.*\.cc$/.test(f));
    expect(gypSources.length).toBeGreaterThan(0);
    for (const unwanted of [/^build\//, /^build-/, /^test\//, /^node_modules\//, /^lib\/.*\.ts$/]) {
      expect(tarFiles.filter((f) => unwanted.test(f))).toEqual([]);
    }
  });

  it('installs with no compiler on the PATH', () => {
    for (const tool of COMPILERS) expect(found(tool, bareEnv.PATH!), tool).toBeUndefined();
    expect(Object.keys(bareEnv).filter((key) => /build_from_source/i.test(key))).toEqual([]);
    expect(found('node', bareEnv.PATH!)).toBeDefined();
    const installed = path.join(app, 'node_modules', 'hsmkms');
    expect(existsSync(path.join(installed, 'prebuilds', `${process.platform}-${process.arch}`, prebuildName))).toBe(
      true,
    );
    expect(existsSync(path.join(installed, 'build'))).toBe(false);
  });

  it('loads the addon from prebuilds/ and round-trips (require and import)', () => {
    const probe = `
      const fs = require('node:fs');
      const { aead } = require('hsmkms');
      (async () => {
        const key = aead.generateKey();
        const sealed = await aead.encrypt(key, new TextEncoder().encode('prebuilt'), { aad: new Uint8Array([1, 2]) });
        const opened = await aead.decrypt(key, sealed, { aad: new Uint8Array([1, 2]) });
        if (new TextDecoder().decode(opened) !== 'prebuilt') throw new Error('round trip mismatch');
        const addons = fs.readFileSync('/proc/self/maps', 'utf8').split('\\n')
          .map((line) => line.trim().split(/\\s+/).slice(5).join(' '))
          .filter((file) => file.endsWith('.node'));
        console.log(JSON.stringify([...new Set(addons)]));
        console.log('OK');
      })().catch((error) => { console.error(error); process.exit(1); });
    `;
    const result = run(process.execPath, ['-e', probe], app, bareEnv);
    expect(result.stderr).toBe('');
    expect(result.status).toBe(0);
    const [addonsLine, ok] = result.stdout.trim().split('\n');
    expect(ok).toBe('OK');
    const addons = JSON.parse(addonsLine!) as string[];
    expect(addons).toEqual([
      path.join(app, 'node_modules', 'hsmkms', 'prebuilds', `${process.platform}-${process.arch}`, prebuildName),
    ]);

    const esm = `
      import { aead } from 'hsmkms';
      const key = aead.generateKey();
      const sealed = await aead.encrypt(key, new Uint8Array([7]));
      const opened = await aead.decrypt(key, sealed);
      console.log(opened[0] === 7 ? 'OK' : 'mismatch');
    `;
    const esmResult = run(process.execPath, ['--input-type=module', '-e', esm], app, bareEnv);
    expect(esmResult.stderr).toBe('');
    expect(esmResult.stdout.trim()).toBe('OK');
  });

  it('would need a compiler without the prebuild (the PATH really has none)', () => {
    // Control: hide the prebuild and the same install step must fail,
    // proving the step above did not quietly compile.
    const installed = path.join(app, 'node_modules', 'hsmkms');
    const prebuilds = path.join(installed, 'prebuilds');
    renameSync(prebuilds, `${prebuilds}.hidden`);
    try {
      const result = run(process.execPath, [npmCli, 'rebuild', 'hsmkms', '--foreground-scripts'], app, bareEnv);
      expect(result.status).not.toBe(0);
      // node-gyp-build fell back to a source build, and that could not run.
      expect(`${result.stdout}${result.stderr}`).toMatch(/gyp ERR!/);
    } finally {
      rmSync(path.join(installed, 'build'), { recursive: true, force: true });
      renameSync(`${prebuilds}.hidden`, prebuilds);
    }
  });
});
