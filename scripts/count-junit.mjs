// Prints "<passed> <failed>" from ctest's JUnit report (--output-junit).
import { readFileSync } from 'node:fs';

try {
  const xml = readFileSync(process.argv[2], 'utf8');
  const suite = xml.match(/<testsuite\b[^>]*>/)?.[0] ?? '';
  const attr = (name) => Number(suite.match(new RegExp(`\\b${name}="(\\d+)"`))?.[1] ?? 0);
  const total = attr('tests');
  const failed = attr('failures') + attr('errors');
  const skipped = attr('skipped') + attr('disabled');
  console.log(`${total - failed - skipped} ${failed}`);
} catch {
  console.log('0 1');
}
