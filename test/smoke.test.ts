import { describe, expect, it } from 'vitest';
import { aead } from '../dist/index.js';

describe('smoke', () => {
  it('round-trips', async () => {
    const key = aead.generateKey();
    const sealed = await aead.encrypt(key, new TextEncoder().encode('hello'));
    expect(new TextDecoder().decode(await aead.decrypt(key, sealed))).toBe('hello');
  });
});
