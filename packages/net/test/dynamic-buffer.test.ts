import { describe, expect, it } from 'vitest';
import { BufferOverflowError, isDynamicBuffer } from '../src/dynamic-buffer.js';

describe('isDynamicBuffer', () => {
  it('accepts any object with the seven methods', () => {
    const fn = (): number => 0;
    const custom = {
      size: fn,
      maxSize: fn,
      capacity: fn,
      data: () => [],
      prepare: () => [],
      commit: () => {},
      consume: () => {},
    };
    expect(isDynamicBuffer(custom)).toBe(true);
    expect(isDynamicBuffer({ ...custom, consume: 1 })).toBe(false);
    expect(isDynamicBuffer(null)).toBe(false);
    expect(isDynamicBuffer(Buffer.alloc(1))).toBe(false);
    expect(isDynamicBuffer([])).toBe(false);
  });
});

describe('BufferOverflowError', () => {
  it('is a RangeError carrying the request', () => {
    const e = new BufferOverflowError(5, 3, 4);
    expect(e).toBeInstanceOf(RangeError);
    expect(e).toBeInstanceOf(Error);
    expect(e.name).toBe('BufferOverflowError');
    expect(e.code).toBe('ERR_TSIO_BUFFER_OVERFLOW');
    expect([e.requested, e.size, e.maxSize]).toEqual([5, 3, 4]);
    expect(e.message).toMatch(/overflow/);
  });
});
