import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { buffersToString, makePrintable } from '../src/buffer.js';
import { BufferOverflowError, isDynamicBuffer } from '../src/dynamic-buffer.js';
import { FlatBuffer } from '../src/flat-buffer.js';
import { opArb, RUNS, runModel } from './dynamic-buffer-model.js';

class CountingFlatBuffer extends FlatBuffer {
  copied = 0;
  compactions = 0;
  reallocations = 0;
  protected override onRelocate(bytes: number, kind: 'compact' | 'reallocate'): void {
    this.copied += bytes;
    if (kind === 'compact') this.compactions++;
    else this.reallocations++;
  }
}

function write(b: FlatBuffer, s: string): void {
  const bytes = Buffer.from(s);
  b.prepare(bytes.length).set(bytes);
  b.commit(bytes.length);
}

describe('FlatBuffer', () => {
  it('starts empty and unbounded', () => {
    const b = new FlatBuffer();
    expect(b.size()).toBe(0);
    expect(b.capacity()).toBe(0);
    expect(b.maxSize()).toBe(Number.POSITIVE_INFINITY);
    expect(b.data().length).toBe(0);
    expect(isDynamicBuffer(b)).toBe(true);
  });

  it('round-trips prepare / commit / consume', () => {
    const b = new FlatBuffer();
    write(b, 'hello ');
    write(b, 'world');
    expect(b.size()).toBe(11);
    expect(b.data()).toBeInstanceOf(Buffer);
    expect(buffersToString(b.data())).toBe('hello world');
    expect(b.toString()).toBe('hello world');
    expect(`${makePrintable(b.data())}`).toBe('hello world');
    b.consume(6);
    expect(b.toString()).toBe('world');
    expect(b.cdata().toString()).toBe('world');
    b.consume(100);
    expect(b.size()).toBe(0);
    expect(b.toString()).toBe('');
  });

  it('commit is clamped to what was prepared, and a commit without prepare is a no-op', () => {
    const b = new FlatBuffer();
    b.prepare(3).set([1, 2, 3]);
    b.commit(10);
    expect([...b.data()]).toEqual([1, 2, 3]);
    b.commit(5);
    expect(b.size()).toBe(3);
    b.prepare(4).set([4, 5, 6, 7]);
    b.commit(2);
    expect([...b.data()]).toEqual([1, 2, 3, 4, 5]);
  });

  it('prepare returns exactly n bytes right after the readable bytes', () => {
    const b = new FlatBuffer();
    write(b, 'ab');
    const p = b.prepare(5);
    expect(p.length).toBe(5);
    expect(p.buffer).toBe(b.data().buffer);
    expect(p.byteOffset).toBe(b.data().byteOffset + 2);
  });

  it('prepare(0) works on an empty buffer', () => {
    const b = new FlatBuffer(0);
    expect(b.prepare(0).length).toBe(0);
    b.commit(0);
    expect(b.size()).toBe(0);
  });

  it('throws BufferOverflowError past maxSize and leaves the data intact', () => {
    const b = new FlatBuffer(10);
    write(b, '0123456');
    let err: unknown;
    try {
      b.prepare(4);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(BufferOverflowError);
    expect(err).toBeInstanceOf(RangeError);
    const e = err as BufferOverflowError;
    expect(e.requested).toBe(4);
    expect(e.size).toBe(7);
    expect(e.maxSize).toBe(10);
    expect(b.toString()).toBe('0123456');
    expect(b.prepare(3).length).toBe(3);
    expect(b.capacity()).toBeLessThanOrEqual(10);
  });

  it('never grows capacity past maxSize, compacting instead', () => {
    const b = new CountingFlatBuffer(8);
    write(b, '12345678');
    expect(b.capacity()).toBe(8);
    b.consume(2);
    write(b, 'ab');
    expect(b.toString()).toBe('345678ab');
    expect(b.capacity()).toBe(8);
    expect(b.compactions).toBe(1);
  });

  it('maxSize(n) changes the limit', () => {
    const b = new FlatBuffer();
    b.maxSize(4);
    expect(b.maxSize()).toBe(4);
    expect(() => b.prepare(5)).toThrow(BufferOverflowError);
  });

  it('rejects negative, fractional and NaN counts', () => {
    const b = new FlatBuffer();
    expect(() => b.prepare(-1)).toThrow(RangeError);
    expect(() => b.prepare(1.5)).toThrow(RangeError);
    expect(() => b.prepare(Number.NaN)).toThrow(RangeError);
    expect(() => b.prepare(Number.POSITIVE_INFINITY)).toThrow(RangeError);
    expect(() => b.consume(-1)).toThrow(RangeError);
    expect(() => new FlatBuffer(-1)).toThrow(RangeError);
    b.consume(Number.POSITIVE_INFINITY);
  });

  it('reserve, shrinkToFit and clear', () => {
    const b = new FlatBuffer(1000);
    b.reserve(100);
    expect(b.capacity()).toBe(100);
    write(b, 'xyz');
    b.reserve(10);
    expect(b.capacity()).toBe(100);
    expect(() => b.reserve(1001)).toThrow(BufferOverflowError);
    b.consume(1);
    b.shrinkToFit();
    expect(b.capacity()).toBe(2);
    expect(b.toString()).toBe('yz');
    b.clear();
    expect(b.size()).toBe(0);
    expect(b.capacity()).toBe(2);
    b.shrinkToFit();
    expect(b.capacity()).toBe(0);
  });

  it('keeps a pending prepared region valid across consume', () => {
    const b = new FlatBuffer();
    write(b, 'abc');
    b.prepare(2).write('de');
    b.consume(3);
    b.commit(2);
    expect(b.toString()).toBe('de');
  });

  it('decodes UTF-8 in toString and buffersToString', () => {
    const b = new FlatBuffer();
    write(b, 'héllo €');
    expect(b.toString()).toBe('héllo €');
    expect(buffersToString(b.data())).toBe('héllo €');
  });

  it('copies amortised O(n) bytes over 1e5 one-byte prepare/commit cycles with consumes', () => {
    const n = 100_000;
    const b = new CountingFlatBuffer();
    let next = 0;
    let mismatches = 0;
    // A queue that keeps growing slowly while being drained: the worst case
    // for a buffer that compacts whenever compaction would make room.
    for (let i = 0; i < n; i++) {
      b.prepare(1)[0] = i & 0xff;
      b.commit(1);
      if (i % 3 === 2) {
        if (b.data()[0] !== (next & 0xff)) mismatches++;
        b.consume(1);
        next++;
      }
    }
    expect(mismatches).toBe(0);
    expect(b.size()).toBe(n - next);
    expect(b.copied).toBeLessThanOrEqual(4 * n);
    // Geometric growth: the capacity at least doubles on each reallocation.
    expect(b.reallocations).toBeLessThanOrEqual(Math.ceil(Math.log2(n)));
    expect(b.capacity()).toBeLessThanOrEqual(4 * b.size() + 64);
  });

  it('copies amortised O(n) bytes when the readable size stays large and steady', () => {
    const n = 100_000;
    const b = new CountingFlatBuffer();
    for (let i = 0; i < 1000; i++) {
      b.prepare(1);
      b.commit(1);
    }
    // size hovers near 1000: a naive "compact when it fits" buffer would move
    // ~1000 bytes on nearly every prepare once the end is reached.
    for (let i = 0; i < n; i++) {
      b.prepare(1);
      b.commit(1);
      b.consume(1);
    }
    expect(b.size()).toBe(1000);
    expect(b.copied).toBeLessThanOrEqual(4 * (n + 1000));
  });

  it('agrees with a byte-array model (unbounded)', () => {
    fc.assert(
      fc.property(fc.array(opArb(40), { maxLength: 60 }), (ops) => runModel(new FlatBuffer(), ops, Infinity)),
      RUNS,
    );
  });

  it('agrees with a byte-array model (bounded)', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 48 }), fc.array(opArb(24), { maxLength: 60 }), (max, ops) =>
        runModel(new FlatBuffer(max), ops, max),
      ),
      RUNS,
    );
  });
});
