/*
 * Masking keys come from a cryptographically strong source (RFC 6455 §5.3,
 * §10.3), batched: `crypto.randomFillSync` refills a pool, never
 * `Math.random`. Would fail if keys were constant or Math.random-based.
 */
import { randomFillSync } from 'node:crypto';
import { TestStream } from '@tsio/net';
import { describe, expect, it, vi } from 'vitest';
import { generateMaskKey } from '../src/detail/mask.js';
import { Stream } from '../src/index.js';

vi.mock('node:crypto', async (importOriginal) => {
  const real = await importOriginal<typeof import('node:crypto')>();
  return { ...real, randomFillSync: vi.fn(real.randomFillSync) };
});

describe('masking keys', () => {
  it('are drawn from crypto.randomFillSync in batches, never from Math.random', () => {
    const spyRandom = vi.spyOn(Math, 'random');
    const fill = vi.mocked(randomFillSync);
    fill.mockClear();
    const keys = new Set<number>();
    const n = 10_000;
    for (let i = 0; i < n; i++) keys.add(Buffer.from(generateMaskKey()).readUInt32BE(0));
    // Batched: far fewer calls than keys, but at least one per pool of keys.
    expect(fill.mock.calls.length).toBeGreaterThanOrEqual(2);
    expect(fill.mock.calls.length).toBeLessThan(n / 100);
    expect(spyRandom).not.toHaveBeenCalled();
    // 10,000 random 32-bit keys collide with probability ~1 %; allow a couple.
    expect(keys.size).toBeGreaterThan(n - 3);
    spyRandom.mockRestore();
  });

  it('every key the pool hands out is the random bytes it was filled with', () => {
    const fill = vi.mocked(randomFillSync);
    // Make the next refill deterministic: the keys must be exactly those bytes.
    fill.mockImplementationOnce(<T extends NodeJS.ArrayBufferView>(buf: T): T => {
      const b = buf as unknown as Uint8Array;
      for (let i = 0; i < b.length; i++) b[i] = (i * 7 + 3) & 0xff;
      return buf;
    });
    // Drain the current pool (at most 2048 keys of 4 bytes) until the refill happens.
    const before = fill.mock.calls.length;
    let key = generateMaskKey();
    for (let i = 0; i < 3000 && fill.mock.calls.length === before; i++) key = generateMaskKey();
    expect(fill.mock.calls.length).toBe(before + 1);
    expect([...key]).toEqual([3, 10, 17, 24]);
    expect([...generateMaskKey()]).toEqual([31, 38, 45, 52]);
    // Use up the deterministic pool so later keys are real again.
    const after = fill.mock.calls.length;
    for (let i = 0; i < 3000 && fill.mock.calls.length === after; i++) generateMaskKey();
  });

  it("a client stream's frames carry distinct keys", async () => {
    const [a, b] = TestStream.pair();
    const client = new Stream(a);
    const server = new Stream(b);
    await Promise.all([server.asyncAccept(), client.asyncHandshake('localhost', '/')]);
    const keys = new Set<string>();
    const wire: Buffer[] = [];
    const orig = a.writeSome.bind(a);
    // Observe the bytes the client writes (frames of 5 bytes: 2-byte header + key; payload 'x').
    a.writeSome = ((bufs: Uint8Array | readonly Uint8Array[], token: never) => {
      for (const v of bufs instanceof Uint8Array ? [bufs] : bufs) wire.push(Buffer.from(v));
      return orig(bufs, token);
    }) as typeof a.writeSome;
    for (let i = 0; i < 500; i++) await client.asyncWrite('x');
    const all = Buffer.concat(wire);
    for (let o = 0; o + 7 <= all.length; o += 7) keys.add(all.subarray(o + 2, o + 6).toString('hex'));
    expect(keys.size).toBeGreaterThan(495);
  });
});
