// Shared by the buffer tests: drives a DynamicBuffer and a plain byte array
// through the same random operations and checks they agree after each one.
import fc from 'fast-check';
import { expect } from 'vitest';
import { bufferBytes, bufferSequenceToArray } from '../src/buffer.js';
import { BufferOverflowError, type DynamicBuffer } from '../src/dynamic-buffer.js';

export type Op =
  | { kind: 'write'; k: number; j: number }
  | { kind: 'consume'; m: number }
  // A consume between prepare and commit must not disturb the prepared bytes.
  | { kind: 'prepareConsumeCommit'; k: number; m: number; j: number };

/** Random operations with sizes up to `maxK`, plus `special` sizes (chunk boundaries) drawn often. */
export function opArb(maxK: number, special: readonly number[] = []): fc.Arbitrary<Op> {
  const size = (max: number): fc.Arbitrary<number> =>
    special.length === 0
      ? fc.integer({ min: 0, max })
      : fc.oneof(fc.integer({ min: 0, max }), fc.constantFrom(...special));
  const write = fc.tuple(size(maxK), size(maxK + 2)).map(([k, j]): Op => ({ kind: 'write', k, j }));
  const consume = size(maxK + 5).map((m): Op => ({ kind: 'consume', m }));
  const pcc = fc
    .tuple(size(maxK), size(maxK + 5), size(maxK))
    .map(([k, m, j]): Op => ({ kind: 'prepareConsumeCommit', k, m, j }));
  return fc.oneof(
    { arbitrary: write, weight: 4 },
    { arbitrary: consume, weight: 3 },
    { arbitrary: pcc, weight: 1 },
  );
}

export function readable(b: DynamicBuffer): number[] {
  const out: number[] = [];
  for (const v of bufferSequenceToArray(b.data())) for (const x of v) out.push(x);
  return out;
}

let counter = 0;
function fill(views: readonly Uint8Array[]): number[] {
  const written: number[] = [];
  for (const v of views) {
    for (let i = 0; i < v.length; i++) {
      counter = (counter + 1) % 251;
      v[i] = counter;
      written.push(counter);
    }
  }
  return written;
}

/** Applies `ops` to `b` and to a byte-array model; `limit` is the buffer's maxSize. */
export function runModel(b: DynamicBuffer, ops: readonly Op[], limit: number): void {
  let model: number[] = [];
  for (const op of ops) {
    if (op.kind === 'consume') {
      b.consume(op.m);
      model = model.slice(op.m);
    } else {
      const fits = op.k <= limit - model.length;
      if (!fits) {
        expect(() => b.prepare(op.k)).toThrow(BufferOverflowError);
      } else {
        const views = bufferSequenceToArray(b.prepare(op.k));
        expect(bufferBytes(views)).toBe(op.k);
        const written = fill(views);
        if (op.kind === 'prepareConsumeCommit') {
          b.consume(op.m);
          model = model.slice(op.m);
        }
        b.commit(op.j);
        model.push(...written.slice(0, Math.min(op.j, op.k)));
      }
    }
    expect(b.size()).toBe(model.length);
    expect(readable(b)).toEqual(model);
    expect(b.capacity()).toBeGreaterThanOrEqual(b.size());
    expect(b.size()).toBeLessThanOrEqual(b.maxSize());
  }
}

export const RUNS = { numRuns: 200 };
