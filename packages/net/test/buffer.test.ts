import { inspect } from 'node:util';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  BuffersSuffix,
  buffer,
  bufferBytes,
  bufferCopy,
  bufferSequenceToArray,
  bufferSize,
  buffersCat,
  buffersFront,
  buffersPrefix,
  buffersToBuffer,
  buffersToString,
  isBufferSequence,
  makePrintable,
} from '../src/buffer.js';

const u8 = (...xs: number[]): Uint8Array => Uint8Array.from(xs);
const flat = (seq: Uint8Array | readonly Uint8Array[]): number[] =>
  bufferSequenceToArray(seq).flatMap((v) => [...v]);

describe('buffer()', () => {
  it('returns a Buffer aliasing binary inputs, without copying', () => {
    const bytes = u8(1, 2, 3, 4);
    const b = buffer(bytes);
    expect(Buffer.isBuffer(b)).toBe(true);
    b[0] = 9;
    expect(bytes[0]).toBe(9);

    const node = Buffer.from('abc');
    expect(buffer(node)).toBe(node);

    const ab = new ArrayBuffer(4);
    buffer(ab)[3] = 7;
    expect(new Uint8Array(ab)[3]).toBe(7);

    const words = new Uint16Array([0x0102, 0x0304]);
    expect(buffer(words).length).toBe(4);

    const sub = bytes.subarray(1, 3);
    const bs = buffer(sub);
    expect(bs.byteOffset).toBe(sub.byteOffset);
    expect([...bs]).toEqual([2, 3]);
  });

  it('UTF-8 encodes strings', () => {
    expect([...buffer('é')]).toEqual([0xc3, 0xa9]);
    expect(buffer('').length).toBe(0);
  });

  it('limits the view to maxSize', () => {
    const bytes = u8(1, 2, 3, 4);
    expect([...buffer(bytes, 2)]).toEqual([1, 2]);
    expect(buffer(bytes, 2).buffer).toBe(bytes.buffer);
    expect(buffer(bytes, 10).length).toBe(4);
    expect(buffer(bytes, 0).length).toBe(0);
    expect(buffer('hello', 3).toString()).toBe('hel');
    expect(() => buffer(bytes, -1)).toThrow(RangeError);
    expect(() => buffer(bytes, Number.NaN)).toThrow(RangeError);
  });
});

describe('buffer sequences', () => {
  it('recognises sequences', () => {
    expect(isBufferSequence(u8())).toBe(true);
    expect(isBufferSequence([])).toBe(true);
    expect(isBufferSequence([u8(1), Buffer.alloc(0)])).toBe(true);
    expect(isBufferSequence([u8(1), 'x'])).toBe(false);
    expect(isBufferSequence('x')).toBe(false);
    expect(isBufferSequence(null)).toBe(false);
  });

  it('bufferSequenceToArray wraps a single view and passes arrays through', () => {
    const v = u8(1);
    expect(bufferSequenceToArray(v)).toEqual([v]);
    const arr = [v];
    expect(bufferSequenceToArray(arr)).toBe(arr);
  });

  it('bufferBytes counts every view, empty ones and empty arrays included', () => {
    expect(bufferBytes([])).toBe(0);
    expect(bufferBytes(u8())).toBe(0);
    expect(bufferBytes([u8(), u8()])).toBe(0);
    expect(bufferBytes([u8(1, 2), u8(), u8(3)])).toBe(3);
    expect(bufferSize(u8(1, 2))).toBe(2);
  });

  it('buffersToString decodes the concatenation, not each view', () => {
    const euro = Buffer.from('€'); // 3 bytes
    expect(buffersToString([euro.subarray(0, 1), euro.subarray(1, 2), euro.subarray(2)])).toBe('€');
    expect(buffersToString([])).toBe('');
    expect(buffersToString([u8(), u8()])).toBe('');
    expect(buffersToString([u8(), Buffer.from('a'), u8()])).toBe('a');
    expect(buffersToString(u8(0x68, 0x69))).toBe('hi');
    expect(buffersToString(u8(0xff), 'latin1')).toBe('ÿ');
  });

  it('buffersToBuffer copies into one Buffer', () => {
    const a = u8(1, 2);
    const out = buffersToBuffer([a, u8(), u8(3)]);
    expect([...out]).toEqual([1, 2, 3]);
    out[0] = 9;
    expect(a[0]).toBe(1);
    expect(buffersToBuffer([]).length).toBe(0);
  });

  it('makePrintable prints the text lazily through String(), templates and inspect', () => {
    const b = Buffer.from('hello');
    const p = makePrintable([b.subarray(0, 2), b.subarray(2)]);
    expect(String(p)).toBe('hello');
    expect(`${p}`).toBe('hello');
    expect(inspect(p)).toBe('hello');
    b.write('J');
    expect(p.toString()).toBe('Jello');
    expect(String(makePrintable([]))).toBe('');
  });

  it('buffersFront returns the first view or an empty one', () => {
    const a = u8(1);
    expect(buffersFront(a)).toBe(a);
    expect(buffersFront([a, u8(2)])).toBe(a);
    expect(buffersFront([]).length).toBe(0);
  });

  it('buffersPrefix keeps views, truncating the last one', () => {
    const a = u8(1, 2, 3);
    const b = u8(4, 5);
    expect(flat(buffersPrefix(4, [a, b]))).toEqual([1, 2, 3, 4]);
    expect(buffersPrefix(4, [a, b])[1]!.buffer).toBe(b.buffer);
    expect(buffersPrefix(0, [a, b])).toEqual([]);
    expect(flat(buffersPrefix(100, [a, b]))).toEqual([1, 2, 3, 4, 5]);
    expect(buffersPrefix(2, a)).toBeInstanceOf(Uint8Array);
    expect([...buffersPrefix(2, a)]).toEqual([1, 2]);
    expect(buffersPrefix(5, a)).toBe(a);
    expect(buffersPrefix(3, [])).toEqual([]);
    expect(flat(buffersPrefix(1, [u8(), u8(7, 8)]))).toEqual([7]);
  });

  it('buffersCat concatenates sequences without copying', () => {
    const a = u8(1);
    const b = u8(2);
    const c = buffersCat(a, [], [b, u8()], u8(3));
    expect(c[0]).toBe(a);
    expect(flat(c)).toEqual([1, 2, 3]);
    expect(buffersCat()).toEqual([]);
  });
});

describe('bufferCopy', () => {
  it('copies between views and sequences split differently', () => {
    const dst = [new Uint8Array(2), new Uint8Array(0), new Uint8Array(3)];
    const n = bufferCopy(dst, [u8(1), u8(), u8(2, 3, 4), u8(5, 6)]);
    expect(n).toBe(5);
    expect(flat(dst)).toEqual([1, 2, 3, 4, 5]);
  });

  it('stops at the smaller side and at maxBytes', () => {
    const d = new Uint8Array(4);
    expect(bufferCopy(d, u8(1, 2))).toBe(2);
    expect(bufferCopy(u8(0), u8(1, 2))).toBe(1);
    const e = new Uint8Array(4);
    expect(bufferCopy(e, [u8(1, 2), u8(3, 4)], 3)).toBe(3);
    expect([...e]).toEqual([1, 2, 3, 0]);
    expect(bufferCopy(e, u8(9), 0)).toBe(0);
    expect(bufferCopy([], [u8(1)])).toBe(0);
    expect(bufferCopy([new Uint8Array(2)], [])).toBe(0);
  });

  it('handles overlapping views of the same memory', () => {
    const m = u8(1, 2, 3, 4, 5);
    expect(bufferCopy(m.subarray(1), m.subarray(0, 4))).toBe(4);
    expect([...m]).toEqual([1, 1, 2, 3, 4]);
  });

  it('matches a flat copy for any split of source and destination', () => {
    const split = fc.array(fc.array(fc.integer({ min: 0, max: 255 }), { maxLength: 6 }), { maxLength: 6 });
    const sizes = fc.array(fc.integer({ min: 0, max: 6 }), { maxLength: 6 });
    fc.assert(
      fc.property(split, sizes, fc.option(fc.integer({ min: 0, max: 40 })), (src, dstSizes, max) => {
        const srcViews = src.map((xs) => Uint8Array.from(xs));
        const dst = dstSizes.map((s) => new Uint8Array(s));
        const all = src.flat();
        const limit = max ?? Number.POSITIVE_INFINITY;
        const expected = Math.min(all.length, bufferBytes(dst), limit);
        expect(bufferCopy(dst, srcViews, limit)).toBe(expected);
        expect(flat(dst).slice(0, expected)).toEqual(all.slice(0, expected));
      }),
      { numRuns: 200 },
    );
  });
});

describe('BuffersSuffix', () => {
  it('consumes across views without copying', () => {
    const a = u8(1, 2, 3);
    const b = u8(4, 5);
    const s = new BuffersSuffix([u8(), a, u8(), b]);
    expect(s.size()).toBe(5);
    expect(s.front()).toBe(a);
    s.consume(2);
    expect(s.size()).toBe(3);
    expect([...s.front()]).toEqual([3]);
    expect(s.front().buffer).toBe(a.buffer);
    expect(flat(s.data())).toEqual([3, 4, 5]);
    s.consume(1);
    expect(s.front()).toBe(b);
    s.consume(100);
    expect(s.size()).toBe(0);
    expect(s.data()).toEqual([]);
    expect(s.front().length).toBe(0);
    s.consume(1);
    expect(s.size()).toBe(0);
  });

  it('accepts a single view and an empty sequence', () => {
    const s = new BuffersSuffix(u8(1, 2));
    s.consume(1);
    expect(flat(s.data())).toEqual([2]);
    const e = new BuffersSuffix([]);
    expect(e.size()).toBe(0);
    expect(e.data()).toEqual([]);
  });

  it('agrees with slicing the concatenation', () => {
    const split = fc.array(fc.array(fc.integer({ min: 0, max: 255 }), { maxLength: 5 }), { maxLength: 5 });
    fc.assert(
      fc.property(split, fc.array(fc.integer({ min: 0, max: 7 }), { maxLength: 8 }), (src, steps) => {
        const s = new BuffersSuffix(src.map((xs) => Uint8Array.from(xs)));
        let model = src.flat();
        for (const k of steps) {
          s.consume(k);
          model = model.slice(k);
          expect(s.size()).toBe(model.length);
          expect(flat(s.data())).toEqual(model);
          const front = s.front();
          if (model.length === 0) expect(front.length).toBe(0);
          else expect(front[0]).toBe(model[0]);
        }
      }),
      { numRuns: 200 },
    );
  });
});
