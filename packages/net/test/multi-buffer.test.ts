import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { bufferBytes, bufferCopy, buffersToString } from '../src/buffer.js';
import { BufferOverflowError, isDynamicBuffer } from '../src/dynamic-buffer.js';
import { MultiBuffer } from '../src/multi-buffer.js';
import { opArb, RUNS, runModel } from './dynamic-buffer-model.js';

// Sizes at and around the default chunk size, where off-by-one errors at chunk ends would show.
const CHUNK_EDGES = [1, 511, 512, 513, 1024];

function write(b: MultiBuffer, s: string): void {
  const bytes = Buffer.from(s);
  expect(bufferCopy(b.prepare(bytes.length), bytes)).toBe(bytes.length);
  b.commit(bytes.length);
}

describe('MultiBuffer', () => {
  it('starts empty', () => {
    const b = new MultiBuffer();
    expect(b.size()).toBe(0);
    expect(b.capacity()).toBe(0);
    expect(b.data()).toEqual([]);
    expect(isDynamicBuffer(b)).toBe(true);
  });

  it('round-trips prepare / commit / consume', () => {
    const b = new MultiBuffer();
    write(b, 'hello ');
    write(b, 'world');
    expect(b.size()).toBe(11);
    expect(buffersToString(b.data())).toBe('hello world');
    expect(b.toString()).toBe('hello world');
    b.consume(6);
    expect(b.toString()).toBe('world');
    b.consume(6);
    expect(b.size()).toBe(0);
    expect(b.data()).toEqual([]);
  });

  it('spans chunks: a prepare larger than the free space of the last chunk adds one', () => {
    const b = new MultiBuffer();
    const first = b.prepare(10);
    expect(first).toHaveLength(1);
    b.commit(10);
    const cap = b.capacity();
    const p = b.prepare(cap - 10 + 5);
    expect(p).toHaveLength(2);
    expect(bufferBytes(p)).toBe(cap - 10 + 5);
    b.commit(Number.POSITIVE_INFINITY);
    expect(b.data()).toHaveLength(2);
    expect(b.size()).toBe(cap + 5);
  });

  it('handles a commit that ends exactly at the end of a chunk', () => {
    const b = new MultiBuffer();
    const p = b.prepare(b.capacity() || 512);
    const n = bufferBytes(p);
    bufferCopy(p, Buffer.alloc(n, 0x62));
    b.commit(n);
    expect(b.capacity()).toBe(n);
    expect(bufferBytes(b.data())).toBe(n);
    write(b, 'c');
    expect(b.size()).toBe(n + 1);
    expect(b.toString().endsWith('bc')).toBe(true);
    b.consume(n);
    expect(b.toString()).toBe('c');
  });

  it('consume drops whole chunks without touching the bytes that remain', () => {
    const b = new MultiBuffer();
    const big = Buffer.alloc(2000, 0x61);
    bufferCopy(b.prepare(2000), big);
    b.commit(2000);
    write(b, 'tail');
    const views = b.data();
    expect(views.length).toBeGreaterThanOrEqual(2);
    const last = views[views.length - 1]!;
    b.consume(2000);
    expect(b.data()).toHaveLength(1);
    expect(b.data()[0]!.buffer).toBe(last.buffer);
    expect(b.toString()).toBe('tail');
  });

  it('reuses trailing capacity after consuming everything', () => {
    const b = new MultiBuffer();
    write(b, 'abc');
    const cap = b.capacity();
    b.consume(3);
    b.prepare(cap);
    expect(b.capacity()).toBe(cap);
  });

  it('throws BufferOverflowError past maxSize and leaves the data intact', () => {
    const b = new MultiBuffer(8);
    write(b, '12345');
    expect(() => b.prepare(4)).toThrow(BufferOverflowError);
    expect(b.toString()).toBe('12345');
    expect(bufferBytes(b.prepare(3))).toBe(3);
    b.maxSize(100);
    expect(b.maxSize()).toBe(100);
    expect(bufferBytes(b.prepare(95))).toBe(95);
  });

  it('keeps a pending prepared region valid across consume', () => {
    const b = new MultiBuffer();
    write(b, 'abc');
    bufferCopy(b.prepare(2), Buffer.from('de'));
    b.consume(3);
    b.commit(2);
    expect(b.toString()).toBe('de');
  });

  it('clear keeps chunks, shrinkToFit releases unused ones', () => {
    const b = new MultiBuffer();
    write(b, 'abc');
    b.prepare(5000);
    const cap = b.capacity();
    b.clear();
    expect(b.size()).toBe(0);
    expect(b.capacity()).toBe(cap);
    write(b, 'xyz');
    b.prepare(5000);
    b.shrinkToFit();
    expect(b.toString()).toBe('xyz');
    expect(b.capacity()).toBeLessThan(cap);
    write(b, '!');
    expect(b.toString()).toBe('xyz!');
    b.consume(10);
    b.shrinkToFit();
    expect(b.capacity()).toBe(0);
  });

  it('agrees with a byte-array model (unbounded)', () => {
    fc.assert(
      fc.property(fc.array(opArb(700, CHUNK_EDGES), { maxLength: 40 }), (ops) =>
        runModel(new MultiBuffer(), ops, Infinity),
      ),
      RUNS,
    );
  });

  it('agrees with a byte-array model (bounded)', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 1500 }),
        fc.array(opArb(600, CHUNK_EDGES), { maxLength: 40 }),
        (max, ops) => runModel(new MultiBuffer(max), ops, max),
      ),
      RUNS,
    );
  });
});
