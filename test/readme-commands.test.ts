// The README's two set-up commands are the ones CI and the demo really run:
// `.ci/run` runs the test command, `npm run demo` runs `hsmkms demo`, and the
// CLI has that command.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { expect, it } from 'vitest';

const ROOT = path.resolve(__dirname, '..');
const read = (file: string): string => readFileSync(path.join(ROOT, file), 'utf8');

it('the README names the main job and the test command, and they are what .ci/run and package.json run', () => {
  const readme = read('README.md');
  const setup = readme.slice(readme.indexOf('## Set-up'));
  const block = /```sh\n([\s\S]*?)```/.exec(setup)?.[1] ?? '';
  const commands = block.split('\n').map((l) => l.replace(/#.*$/, '').trim()).filter(Boolean);
  expect(commands).toEqual(['npm install && npm run demo', 'npm install && npm test']);

  const ci = read('.ci/run');
  expect(ci).toMatch(/^\s*npm install && npm test\b/m);
  const pkg = JSON.parse(read('package.json')) as { scripts: Record<string, string>; bin: Record<string, string> };
  expect(pkg.scripts.demo).toBe('node bin/hsmkms.js demo');
  expect(pkg.bin.hsmkms).toBe('bin/hsmkms.js');
  expect(pkg.scripts.test).toBe('bash scripts/test.sh');
  expect(read('lib/cli/commands/demo-command.ts')).toContain(".command('demo')");
});
