/**
 * binding.gyp (what ships) and CMakeLists.txt (developer builds) each write
 * out the addon's source list once; this keeps the two lists equal and
 * pointing at files that exist, and checks that no .cc under native/ is left
 * out of every build (core code not shipped yet sits in another
 * HSMKMS_<X>_SOURCES list of CMakeLists.txt, built and tested by ctest; the
 * PKCS#11 layer and the soft root ship, with the binding that exposes them).
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';

const root = path.resolve(__dirname, '..');

/** Drops `#` comments outside strings (gyp files are Python literals). */
function stripHashComments(text: string): string {
  let out = '';
  let quote: string | null = null;
  for (let i = 0; i < text.length; i++) {
    const c = text[i]!;
    if (quote !== null) {
      out += c;
      if (c === '\\' && i + 1 < text.length) out += text[++i];
      else if (c === quote) quote = null;
    } else if (c === '"' || c === "'") {
      quote = c;
      out += c;
    } else if (c === '#') {
      while (i < text.length && text[i] !== '\n') i++;
      out += '\n';
    } else {
      out += c;
    }
  }
  return out;
}

/** The "sources" of binding.gyp's `hsmkms` target. */
function gypSources(text: string): string[] {
  // gyp accepts trailing commas; JSON does not.
  const json = stripHashComments(text).replace(/,(\s*[\]}])/g, '$1');
  const gyp = JSON.parse(json) as { targets?: { target_name?: string; sources?: unknown }[] };
  const targets = (gyp.targets ?? []).filter((t) => t.target_name === 'hsmkms');
  if (targets.length !== 1) throw new Error(`binding.gyp: expected one target "hsmkms", found ${targets.length}`);
  const sources = targets[0]!.sources;
  if (!Array.isArray(sources) || !sources.every((s) => typeof s === 'string')) {
    throw new Error('binding.gyp: "sources" must be a list of strings');
  }
  return sources as string[];
}

function cmakeCode(text: string): string {
  return text
    .split('\n')
    .map((line) => line.replace(/#.*$/, ''))
    .join('\n');
}

/** The entries of CMakeLists.txt's one `set(HSMKMS_ADDON_SOURCES ...)`. */
function cmakeSources(text: string): string[] {
  const sets = [...cmakeCode(text).matchAll(/\bset\(\s*HSMKMS_ADDON_SOURCES\b([^)]*)\)/g)];
  if (sets.length !== 1) {
    throw new Error(`CMakeLists.txt: expected one set(HSMKMS_ADDON_SOURCES ...), found ${sets.length}`);
  }
  return sets[0]![1]!.split(/\s+/).filter((s) => s.length > 0);
}

/**
 * The files written out in CMakeLists.txt's other `set(HSMKMS_<X>_SOURCES ...)`
 * lists: core code built and tested by ctest before the addon ships it.
 */
function cmakeCoreOnlySources(text: string): string[] {
  return [...cmakeCode(text).matchAll(/\bset\(\s*HSMKMS_(\w+)_SOURCES\b([^)]*)\)/g)]
    .filter((m) => m[1] !== 'ADDON')
    .flatMap((m) => m[2]!.split(/\s+/))
    .filter((s) => s.length > 0 && !s.includes('${'));
}

function ccFilesUnder(dir: string): string[] {
  const out: string[] = [];
  for (const entry of readdirSync(path.join(root, dir), { withFileTypes: true })) {
    const rel = `${dir}/${entry.name}`;
    if (entry.isDirectory()) out.push(...ccFilesUnder(rel));
    else if (entry.name.endsWith('.cc')) out.push(rel);
  }
  return out;
}

describe('build files', () => {
  const cmakeText = readFileSync(path.join(root, 'CMakeLists.txt'), 'utf8');
  const gyp = gypSources(readFileSync(path.join(root, 'binding.gyp'), 'utf8'));
  const cmake = cmakeSources(cmakeText);
  const coreOnly = cmakeCoreOnlySources(cmakeText);

  it('both list some sources', () => {
    expect(gyp.length).toBeGreaterThan(0);
    expect(cmake.length).toBeGreaterThan(0);
  });

  it("CMakeLists.txt lists exactly binding.gyp's sources, in the same order", () => {
    expect(cmake).toEqual(gyp);
  });

  it('lists each source once, as a relative path to an existing file', () => {
    for (const list of [gyp, cmake, coreOnly]) {
      expect(new Set(list).size).toBe(list.length);
      for (const source of list) {
        expect(path.isAbsolute(source), source).toBe(false);
        expect(existsSync(path.join(root, source)), `${source} does not exist`).toBe(true);
      }
    }
  });

  it('builds every .cc file under native/', () => {
    // In the addon lists, or (native/core only, not shipped yet) in another
    // HSMKMS_<X>_SOURCES list of CMakeLists.txt that ctest builds.
    expect(coreOnly.filter((file) => !file.startsWith('native/core/'))).toEqual([]);
    expect(coreOnly.filter((file) => gyp.includes(file))).toEqual([]);
    const listed = new Set([...gyp, ...coreOnly]);
    const missing = ccFilesUnder('native').filter((file) => !listed.has(file));
    expect(missing, 'add these to binding.gyp and CMakeLists.txt').toEqual([]);
  });

  it('ships the PKCS#11 layer, the soft root and every binding source (the binding uses them)', () => {
    // native/core/pkcs11 and native/core/soft moved from ctest-only lists into
    // the addon when the binding started to expose them: none of it may slip back out.
    const shipped = new Set(gyp);
    const missing = [...ccFilesUnder('native/core/pkcs11'), ...ccFilesUnder('native/core/soft'), ...ccFilesUnder('native/binding')].filter(
      (file) => !shipped.has(file),
    );
    expect(missing, 'add these to binding.gyp and CMakeLists.txt HSMKMS_ADDON_SOURCES').toEqual([]);
    expect(coreOnly.filter((file) => file.startsWith('native/core/pkcs11/') || file.startsWith('native/core/soft/'))).toEqual([]);
  });

  it('the parsers catch a difference', () => {
    // Guards the guard: a parser that returned [] for both would pass the rest.
    const gypText = '{ "targets": [ { "target_name": "hsmkms", # c\n "sources": ["a.cc", "b.cc",], } ] }';
    const text = 'set(HSMKMS_ADDON_SOURCES\n  a.cc # first\n  c.cc\n)\nset(HSMKMS_X_SOURCES ${HSMKMS_ADDON_SOURCES} x.cc)\n';
    expect(gypSources(gypText)).toEqual(['a.cc', 'b.cc']);
    expect(cmakeSources(text)).toEqual(['a.cc', 'c.cc']);
    expect(cmakeCoreOnlySources(text)).toEqual(['x.cc']);
    expect(() => cmakeSources('set(OTHER a.cc)')).toThrow(/HSMKMS_ADDON_SOURCES/);
  });
});
