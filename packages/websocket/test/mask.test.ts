import fc from 'fast-check';
import { afterEach, describe, expect, it } from 'vitest';
import {
  generateMaskKey,
  hasWasmMask,
  mask,
  maskCopy,
  maskCopyRange,
  maskInto,
  maskJs,
  maskRange,
  setWasmMaskThreshold,
} from '../src/detail/mask.js';

function naive(buf: Uint8Array, key: Uint8Array, phase: number): Uint8Array {
  const out = Uint8Array.from(buf);
  for (let i = 0; i < out.length; i++) out[i]! ^= key[(phase + i) & 3]!;
  return out;
}

function pattern(len: number, seed: number, misalign: number): Uint8Array {
  // A view at an odd byte offset, to exercise the unaligned head/tail paths.
  const backing = new Uint8Array(len + misalign);
  for (let i = 0; i < backing.length; i++) backing[i] = (i * 31 + seed * 7) & 0xff;
  return backing.subarray(misalign);
}

const key = Uint8Array.of(0x37, 0xfa, 0x21, 0x3d);
const defaultThreshold = setWasmMaskThreshold(128);

afterEach(() => {
  setWasmMaskThreshold(defaultThreshold);
});

describe('mask', () => {
  it('WebAssembly SIMD is available on Node 20', () => {
    expect(hasWasmMask).toBe(true);
  });

  it('masks the RFC 6455 §5.7 "Hello" example', () => {
    const buf = Buffer.from('Hello');
    mask(buf, key);
    expect([...buf]).toEqual([0x7f, 0x9f, 0x4d, 0x51, 0x58]);
    mask(buf, key);
    expect(buf.toString()).toBe('Hello');
  });

  for (const [name, threshold] of [
    ['js', Number.POSITIVE_INFINITY],
    ['wasm', 0],
  ] as const) {
    it(`${name}: agrees with a byte loop for every length 0..300, every phase and alignment`, () => {
      setWasmMaskThreshold(threshold);
      for (let len = 0; len <= 300; len++) {
        for (let phase = 0; phase < 4; phase++) {
          for (const misalign of [0, 1, 3]) {
            const buf = pattern(len, len + phase, misalign);
            const expected = naive(buf, key, phase);
            const next = mask(buf, key, phase);
            expect(next).toBe((phase + len) & 3);
            if (!Buffer.from(buf).equals(Buffer.from(expected)))
              throw new Error(`${name} len=${len} phase=${phase}`);
            const src = pattern(len, len + phase, misalign);
            const dst = new Uint8Array(len + 5).subarray(misalign);
            maskInto(dst, src, key, phase);
            if (!Buffer.from(dst.subarray(0, len)).equals(Buffer.from(expected)))
              throw new Error(`into ${len}`);
            if (!Buffer.from(src).equals(Buffer.from(pattern(len, len + phase, misalign))))
              throw new Error('src');
          }
        }
      }
    });
  }

  it('maskRange masks exactly [start, end) with the given phase', () => {
    for (let len = 0; len <= 200; len += 7) {
      for (let phase = 0; phase < 4; phase++) {
        const buf = pattern(len + 10, len, 1);
        const expected = Uint8Array.from(buf);
        expected.set(naive(buf.subarray(3, 3 + len), key, phase), 3);
        expect(maskRange(buf, 3, 3 + len, key, phase)).toBe((phase + len) & 3);
        expect(Buffer.from(buf).equals(Buffer.from(expected))).toBe(true);
      }
    }
  });

  it('wasm handles buffers larger than its 64 KiB memory', () => {
    setWasmMaskThreshold(0);
    for (const len of [65536, 65537, 65536 * 3 + 13]) {
      const buf = pattern(len, 5, 1);
      const expected = naive(buf, key, 2);
      mask(buf, key, 2);
      expect(Buffer.from(buf).equals(Buffer.from(expected))).toBe(true);
    }
  });

  it('masking chunk by chunk with the returned phase equals masking at once (fast-check)', () => {
    fc.assert(
      fc.property(
        fc.uint8Array({ maxLength: 2000 }),
        fc.uint8Array({ minLength: 4, maxLength: 4 }),
        fc.array(fc.nat(), { maxLength: 6 }),
        fc.boolean(),
        (data, k, cuts, useWasm) => {
          setWasmMaskThreshold(useWasm ? 0 : Number.POSITIVE_INFINITY);
          const expected = naive(data, k, 0);
          const whole = Uint8Array.from(data);
          mask(whole, k);
          expect(Buffer.from(whole).equals(Buffer.from(expected))).toBe(true);
          const points = [...new Set(cuts.map((c) => c % (data.length + 1)))].sort((a, b) => a - b);
          const chunked = Uint8Array.from(data);
          let phase = 0;
          let prev = 0;
          for (const p of [...points, data.length]) {
            phase = mask(chunked.subarray(prev, p), k, phase);
            prev = p;
          }
          expect(Buffer.from(chunked).equals(Buffer.from(expected))).toBe(true);
          const js = Uint8Array.from(data);
          maskJs(js, k, 0);
          expect(Buffer.from(js).equals(Buffer.from(expected))).toBe(true);
        },
      ),
      { numRuns: 300 },
    );
  });
});

describe('generateMaskKey', () => {
  it('returns 4 bytes, writes into a given buffer, and varies', () => {
    const keys = new Set<string>();
    for (let i = 0; i < 5000; i++) keys.add(Buffer.from(generateMaskKey()).toString('hex'));
    // 5000 draws from 2^32 values: a collision is possible but very unlikely.
    expect(keys.size).toBeGreaterThan(4990);
    const out = new Uint8Array(8);
    expect(generateMaskKey(out, 2)).toBe(out);
    expect(out[0]).toBe(0);
    expect(out[6]).toBe(0);
    expect(generateMaskKey().length).toBe(4);
  });
});

describe('maskCopy', () => {
  it('writes src masked into dst at an offset, for any size, key and phase, leaving the rest of dst alone (fast-check)', () => {
    fc.assert(
      fc.property(
        fc.uint8Array({ maxLength: 300 }),
        fc.uint8Array({ minLength: 4, maxLength: 4 }),
        fc.integer({ min: 0, max: 7 }),
        fc.integer({ min: 0, max: 20 }),
        (src, k, phase, offset) => {
          const dst = new Uint8Array(offset + src.length + 3).fill(0xa5);
          const after = maskCopy(dst, offset, src, k, phase);
          expect(after).toBe((phase + src.length) & 3);
          expect([...dst.subarray(offset, offset + src.length)]).toEqual([...naive(src, k, phase & 3)]);
          expect(dst.subarray(0, offset).every((b) => b === 0xa5)).toBe(true);
          expect(dst.subarray(offset + src.length).every((b) => b === 0xa5)).toBe(true);
        },
      ),
      { numRuns: 300 },
    );
  });
});

describe('maskCopyRange', () => {
  it('writes src[srcOffset, +n) masked into dst at dstOffset, both paths, sizes repeated and changing, leaving src and the rest of dst alone (fast-check)', () => {
    for (const threshold of [128, Number.POSITIVE_INFINITY]) {
      setWasmMaskThreshold(threshold);
      fc.assert(
        fc.property(
          fc.uint8Array({ minLength: 0, maxLength: 1500 }),
          fc.nat(),
          fc.nat(),
          fc.integer({ min: 0, max: 20 }),
          fc.uint8Array({ minLength: 4, maxLength: 4 }),
          fc.integer({ min: 0, max: 7 }),
          (bytes, a, b, dstOffset, k, phase) => {
            const src = Buffer.from(bytes);
            const srcOffset = bytes.length === 0 ? 0 : a % bytes.length;
            const n = (b % (bytes.length - srcOffset + 1)) | 0;
            const before = Buffer.from(src);
            const dst = new Uint8Array(dstOffset + n + 5).fill(0x5a);
            // Twice: the second call reuses the module memory's output view for the same size.
            for (let round = 0; round < 2; round++) {
              dst.fill(0x5a);
              const after = maskCopyRange(dst, dstOffset, src, srcOffset, n, k, phase);
              expect(after).toBe((phase + n) & 3);
              expect([...dst.subarray(dstOffset, dstOffset + n)]).toEqual([
                ...naive(src.subarray(srcOffset, srcOffset + n), k, phase & 3),
              ]);
              expect(dst.subarray(0, dstOffset).every((x) => x === 0x5a)).toBe(true);
              expect(dst.subarray(dstOffset + n).every((x) => x === 0x5a)).toBe(true);
            }
            expect(src.equals(before)).toBe(true);
          },
        ),
        { numRuns: 300 },
      );
    }
  });
});

describe('mask through WebAssembly into a large buffer', () => {
  it('agrees with a byte loop for payloads in a buffer of over 512 KiB (many 64 KiB pieces through the module memory), at an odd offset and any phase', () => {
    setWasmMaskThreshold(128);
    const backing = new Uint8Array((1 << 20) + 7);
    for (let i = 0; i < backing.length; i++) backing[i] = (i * 131 + 17) & 0xff;
    for (const [start, len, phase] of [
      [3, (1 << 20) - 1, 0],
      [1, 200_000, 3],
      [5, 16 * 1024, 1],
      [2, 16 * 1024 - 1, 2],
    ] as const) {
      const buf = backing.subarray(start, start + len);
      const want = naive(buf, key, phase);
      const after = mask(buf, key, phase);
      expect(after).toBe((phase + len) & 3);
      expect(Buffer.from(buf).equals(Buffer.from(want))).toBe(true);
      // And out of place, from a Buffer into the large buffer.
      const src = Buffer.from(want);
      const out = maskCopyRange(backing, start, src, 0, len, key, phase);
      expect(out).toBe((phase + len) & 3);
      expect(
        Buffer.from(backing.subarray(start, start + len)).equals(Buffer.from(naive(want, key, phase))),
      ).toBe(true);
    }
  });
});
