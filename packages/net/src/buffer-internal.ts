// Helpers shared by the buffer modules; not part of the public API (index.ts does not re-export this file).

/** Validates a byte count; `allowInfinity` for "as many as there are". */
export function checkByteCount(n: number, what: string, allowInfinity = false): void {
  // Number.isInteger rejects NaN and fractions, which would otherwise corrupt offsets silently.
  if (!(Number.isInteger(n) && n >= 0) && !(allowInfinity && n === Number.POSITIVE_INFINITY)) {
    throw new RangeError(`${what} must be a non-negative integer, got ${String(n)}`);
  }
}

/** Validates a maximum size, which may be `Infinity`. */
export function checkMaxSize(n: number): void {
  checkByteCount(n, 'maxSize', true);
}

/** `v` as a Buffer over the same memory (itself when it is one). */
export function asBuffer(v: Uint8Array): Buffer {
  return Buffer.isBuffer(v) ? v : Buffer.from(v.buffer, v.byteOffset, v.byteLength);
}
