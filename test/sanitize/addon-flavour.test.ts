// HSMKMS_ADDON_FLAVOUR picks another build of the addon for test runs: only
// a name from a fixed table, resolved under the package root, never a path.
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { expect, it } from 'vitest';
import { addonDirectory } from '../../dist/addon-directory.js';
import { KmsError } from '../../dist/errors.js';

const ROOT = path.resolve(__dirname, '../..');

it('unset or empty: the package root (the shipped build); sanitize: build-sanitize below it', () => {
  expect(addonDirectory(ROOT, undefined)).toBe(ROOT);
  expect(addonDirectory(ROOT, '')).toBe(ROOT);
  expect(addonDirectory(ROOT, 'sanitize')).toBe(path.join(ROOT, 'build-sanitize'));
});

it.each(['../../tmp', '/tmp', 'build-sanitize', '__proto__', 'toString', 'Sanitize'])('%s: a KmsError, never a path', (flavour) => {
  let thrown: unknown;
  try {
    addonDirectory(ROOT, flavour);
  } catch (error) {
    thrown = error;
  }
  expect(thrown).toBeInstanceOf(KmsError);
  expect((thrown as KmsError).code).toBe('ValidationException');
});

it('the package refuses to load with an unknown flavour', () => {
  const child = spawnSync(process.execPath, ['-e', `try { require(${JSON.stringify(path.join(ROOT, 'dist/index.js'))}) } catch (e) { console.log(e.code) }`], {
    env: { ...process.env, HSMKMS_ADDON_FLAVOUR: '../build' },
    encoding: 'utf8',
  });
  expect(child.stdout.trim()).toBe('ValidationException');
});
