import { isUtf8 } from 'node:buffer';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { isValidUtf8, Utf8Checker } from '../src/detail/utf8.js';

function fatalDecodes(bytes: Uint8Array): boolean {
  try {
    new TextDecoder('utf-8', { fatal: true }).decode(bytes);
    return true;
  } catch {
    return false;
  }
}

/** Feeds `bytes` split at `points`; returns [overall validity, index of the first chunk whose write failed]. */
function check(bytes: Uint8Array, points: number[]): [boolean, number] {
  const c = new Utf8Checker();
  let prev = 0;
  const bounds = [...points, bytes.length];
  for (let k = 0; k < bounds.length; k++) {
    if (!c.write(bytes, prev, bounds[k]!)) return [false, k];
    prev = bounds[k]!;
  }
  return [c.finish(), bounds.length];
}

function cutPoints(len: number, cuts: number[]): number[] {
  return [...new Set(cuts.map((c) => c % (len + 1)))].sort((a, b) => a - b);
}

/** Byte index at which a streaming fatal decoder first fails (bytes fed one at a time), or -1. */
function firstBadByte(bytes: Uint8Array): number {
  const d = new TextDecoder('utf-8', { fatal: true });
  for (let i = 0; i < bytes.length; i++) {
    try {
      d.decode(bytes.subarray(i, i + 1), { stream: true });
    } catch {
      return i;
    }
  }
  try {
    d.decode();
  } catch {
    return bytes.length;
  }
  return -1;
}

// Bytes biased towards UTF-8 structure so that both valid and subtly invalid inputs are common.
const utf8ish = fc
  .array(
    fc.oneof(
      fc.integer({ min: 0, max: 0x7f }).map((b) => [b]),
      fc.integer({ min: 0x80, max: 0xbf }).map((b) => [b]),
      fc.integer({ min: 0, max: 0x10ffff }).map((cp) => [...Buffer.from(String.fromCodePoint(cp))]),
      fc.constantFrom(
        [0xe0, 0x80],
        [0xed, 0xa0],
        [0xf4, 0x90],
        [0xc0, 0xaf],
        [0xf5],
        [0xff],
        [0xf0, 0x9f, 0x98],
      ),
      fc.integer({ min: 0, max: 255 }).map((b) => [b]),
    ),
    { maxLength: 80 },
  )
  .map((parts) => Uint8Array.from(parts.flat()));

describe('Utf8Checker', () => {
  it('accepts valid text in any chunking', () => {
    const bytes = Buffer.from('Hello, wörld — 𝄞 ✓ 日本語'.repeat(5));
    for (let cut = 0; cut <= bytes.length; cut++) expect(check(bytes, [cut])[0]).toBe(true);
  });

  it('fails on the very byte that makes the prefix invalid (truncated overlong, surrogate, > U+10FFFF)', () => {
    for (const bad of [
      [0xe0, 0x80],
      [0xe0, 0x9f],
      [0xed, 0xa0],
      [0xed, 0xbf],
      [0xf4, 0x90],
      [0xf0, 0x80],
      [0xf0, 0x8f],
      [0xc0],
      [0xc1],
      [0xf5],
      [0xff],
      [0x80],
    ]) {
      const c = new Utf8Checker();
      expect(c.write(Buffer.from('abc'))).toBe(true);
      // Feed all but the last byte: still a viable prefix.
      for (const b of bad.slice(0, -1)) expect(c.write(Uint8Array.of(b))).toBe(true);
      expect(c.write(Uint8Array.of(bad[bad.length - 1]!)), bad.join(',')).toBe(false);
      expect(c.write(Buffer.from('x'))).toBe(false); // sticky
      expect(c.finish()).toBe(false);
    }
  });

  it('fails early when the doomed prefix ends a long chunk (native fast path)', () => {
    const c = new Utf8Checker();
    const chunk = Buffer.concat([Buffer.alloc(100, 0x61), Buffer.from([0xed, 0xa0])]);
    expect(c.write(chunk)).toBe(false);
    const d = new Utf8Checker();
    expect(d.write(Buffer.concat([Buffer.alloc(100, 0x61), Buffer.from([0xf0, 0x9f, 0x98])]))).toBe(true);
    expect(d.write(Uint8Array.of(0x80))).toBe(true);
    expect(d.finish()).toBe(true);
  });

  it('finish() fails on a dangling partial sequence', () => {
    const c = new Utf8Checker();
    expect(c.write(Uint8Array.of(0x61, 0xe2, 0x82))).toBe(true);
    expect(c.finish()).toBe(false);
    c.reset();
    expect(c.write(Uint8Array.of(0xe2, 0x82, 0xac))).toBe(true);
    expect(c.finish()).toBe(true);
  });

  it('agrees with TextDecoder(fatal) and buffer.isUtf8 for any bytes in any chunking (fast-check)', () => {
    fc.assert(
      fc.property(utf8ish, fc.array(fc.nat(), { maxLength: 8 }), (bytes, cuts) => {
        const expected = fatalDecodes(bytes);
        expect(isUtf8(bytes)).toBe(expected);
        expect(isValidUtf8(bytes)).toBe(expected);
        expect(check(bytes, cutPoints(bytes.length, cuts))[0]).toBe(expected);
      }),
      { numRuns: 500 },
    );
  });

  it('fails no later than the chunk holding the byte where a streaming fatal decoder fails (fast-check)', () => {
    fc.assert(
      fc.property(utf8ish, fc.array(fc.nat(), { maxLength: 8 }), (bytes, cuts) => {
        const bad = firstBadByte(bytes);
        const points = cutPoints(bytes.length, cuts);
        const [ok, failedChunk] = check(bytes, points);
        if (bad < 0) {
          expect(ok).toBe(true);
          return;
        }
        expect(ok).toBe(false);
        if (bad === bytes.length) return; // only detectable at finish()
        // Index of the chunk that contains byte `bad` (WHATWG's decoder fails at the first impossible byte).
        const k = [...points, bytes.length].findIndex((b) => b > bad);
        expect(failedChunk).toBeLessThanOrEqual(k);
      }),
      { numRuns: 500 },
    );
  });
});
