// `npm run docs` builds the API reference from the TSDoc comments; this
// checks the same configuration (typedoc.json) validates with warnings as
// errors (broken {@link}s, unknown tags), without writing the HTML.
import { execFileSync } from 'node:child_process';
import path from 'node:path';
import { expect, it } from 'vitest';

const ROOT = path.resolve(__dirname, '..');

it('the API reference builds from the TSDoc comments without a warning', () => {
  const typedoc = path.join(ROOT, 'node_modules', 'typedoc', 'bin', 'typedoc');
  const output = execFileSync(process.execPath, [typedoc, '--emit', 'none', '--treatWarningsAsErrors'], { cwd: ROOT, encoding: 'utf8' });
  expect(output).not.toMatch(/warning|error/i);
}, 120_000);
