/**
 * The DynamicBuffer concept (Beast's DynamicBuffer_v1): readable bytes
 * followed by writable bytes, filled by `prepare` + `commit` and drained by
 * `consume`. Composed reads (`asyncRead`, `asyncReadUntil`, websocket
 * `read`) append into one of these so that no per-message buffer is made.
 */

import type { ConstBufferSequence, MutableBufferSequence } from './buffer.js';

export interface DynamicBuffer {
  /** Number of readable bytes. */
  size(): number;
  /** Largest `size()` the buffer may ever reach; `prepare` beyond it throws {@link BufferOverflowError}. */
  maxSize(): number;
  /** Readable plus writable bytes that fit without allocating. */
  capacity(): number;
  /** The readable bytes. Invalidated by any call that modifies the buffer. */
  data(): ConstBufferSequence;
  /**
   * Writable space of exactly `n` bytes following the readable bytes.
   * Invalidates earlier results of `data()` and `prepare()`.
   * @throws BufferOverflowError when `size() + n > maxSize()`.
   */
  prepare(n: number): MutableBufferSequence;
  /** Moves `min(n, prepared)` bytes from the writable to the readable part. */
  commit(n: number): void;
  /** Removes `n` bytes from the front of the readable part (all of them when `n >= size()`). */
  consume(n: number): void;
}

/**
 * Thrown by `prepare` (and `reserve`) when the request would exceed
 * `maxSize()`: Beast's `std::length_error`. The composed operations map it to
 * the `bufferOverflow` error code. It is a `RangeError`, so code that
 * catches those keeps working.
 */
export class BufferOverflowError extends RangeError {
  override readonly name = 'BufferOverflowError';
  readonly code = 'ERR_TSIO_BUFFER_OVERFLOW';

  constructor(
    /** Bytes asked for. */
    readonly requested: number,
    /** Readable bytes at the time. */
    readonly size: number,
    /** The buffer's limit. */
    readonly maxSize: number,
  ) {
    super(`buffer overflow: ${requested} bytes requested with ${size} of ${maxSize} in use`);
  }
}

const METHODS = ['size', 'maxSize', 'capacity', 'data', 'prepare', 'commit', 'consume'] as const;

/** True when `x` has every method of {@link DynamicBuffer} (a structural check, as for any concept). */
export function isDynamicBuffer(x: unknown): x is DynamicBuffer {
  if (typeof x !== 'object' || x === null) return false;
  const r = x as Record<string, unknown>;
  for (const m of METHODS) if (typeof r[m] !== 'function') return false;
  return true;
}
