import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { bufferBytes, bufferCopy, buffersToString } from '../src/buffer.js';
import { BufferOverflowError, isDynamicBuffer } from '../src/dynamic-buffer.js';
import { FlatStaticBuffer, StaticBuffer } from '../src/static-buffer.js';
import { opArb, RUNS, runModel } from './dynamic-buffer-model.js';

function write(b: StaticBuffer | FlatStaticBuffer, s: string): void {
  const bytes = Buffer.from(s);
  expect(bufferCopy(b.prepare(bytes.length), bytes)).toBe(bytes.length);
  b.commit(bytes.length);
}

describe('StaticBuffer', () => {
  it('has a fixed capacity equal to maxSize', () => {
    const b = new StaticBuffer(16);
    expect(b.capacity()).toBe(16);
    expect(b.maxSize()).toBe(16);
    expect(b.size()).toBe(0);
    expect(b.data()).toEqual([]);
    expect(isDynamicBuffer(b)).toBe(true);
  });

  it('round-trips prepare / commit / consume', () => {
    const b = new StaticBuffer(16);
    write(b, 'hello ');
    write(b, 'world');
    expect(buffersToString(b.data())).toBe('hello world');
    b.consume(6);
    expect(b.toString()).toBe('world');
  });

  it('wraps around: data() and prepare() return two views across the end', () => {
    const b = new StaticBuffer(8);
    write(b, 'abcdef');
    b.consume(4);
    const p = b.prepare(5);
    expect(p.map((v) => v.length)).toEqual([2, 3]);
    bufferCopy(p, Buffer.from('ghijk'));
    b.commit(5);
    expect(b.data().map((v) => v.length)).toEqual([4, 3]);
    expect(buffersToString(b.data())).toBe('efghijk');
    expect(b.toString()).toBe('efghijk');
    expect(b.capacity()).toBe(8);
  });

  it('restarts at offset 0 when emptied, so the next prepare is one view', () => {
    const b = new StaticBuffer(8);
    write(b, 'abcdef');
    b.consume(6);
    expect(b.prepare(8)).toHaveLength(1);
  });

  it('throws BufferOverflowError past capacity and leaves the data intact', () => {
    const b = new StaticBuffer(4);
    write(b, 'abc');
    expect(() => b.prepare(2)).toThrow(BufferOverflowError);
    expect(b.toString()).toBe('abc');
    expect(bufferBytes(b.prepare(1))).toBe(1);
    const zero = new StaticBuffer(0);
    expect(zero.prepare(0)).toEqual([]);
    expect(() => zero.prepare(1)).toThrow(BufferOverflowError);
  });

  it('keeps a pending prepared region valid across consume', () => {
    const b = new StaticBuffer(8);
    write(b, 'abcdef');
    bufferCopy(b.prepare(2), Buffer.from('gh'));
    b.consume(6);
    b.commit(2);
    expect(b.toString()).toBe('gh');
  });

  it('agrees with a byte-array model, wrap-around included', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 24 }), fc.array(opArb(12), { maxLength: 80 }), (cap, ops) =>
        runModel(new StaticBuffer(cap), ops, cap),
      ),
      RUNS,
    );
  });
});

describe('FlatStaticBuffer', () => {
  it('round-trips and compacts to make room, always one view', () => {
    const b = new FlatStaticBuffer(8);
    expect(b.maxSize()).toBe(8);
    write(b, 'abcdef');
    b.consume(4);
    const p = b.prepare(5);
    expect(p.length).toBe(5);
    p.write('ghijk');
    b.commit(5);
    expect(b.data().toString()).toBe('efghijk');
    expect(b.toString()).toBe('efghijk');
    expect(() => b.prepare(2)).toThrow(BufferOverflowError);
    b.clear();
    expect(b.size()).toBe(0);
  });

  it('agrees with a byte-array model', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 24 }), fc.array(opArb(12), { maxLength: 80 }), (cap, ops) =>
        runModel(new FlatStaticBuffer(cap), ops, cap),
      ),
      RUNS,
    );
  });
});
