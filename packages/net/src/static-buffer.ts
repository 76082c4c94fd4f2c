/**
 * Fixed-capacity DynamicBuffers, allocated once at construction:
 *
 * - {@link StaticBuffer} — Beast's `static_buffer<N>`: circular, so `prepare`
 *   never moves bytes, and `data()` / `prepare()` return one or two views.
 * - {@link FlatStaticBuffer} — Beast's `flat_static_buffer<N>`: linear, so
 *   each is always one view, at the price of compacting in `prepare`.
 */

import { checkByteCount } from './buffer-internal.js';
import { BufferOverflowError, type DynamicBuffer } from './dynamic-buffer.js';

export class StaticBuffer implements DynamicBuffer {
  private readonly buf: Buffer;
  private inOff = 0;
  private inSize = 0;
  private outSize = 0;

  /** @param capacity The fixed capacity, which is also `maxSize()`. */
  constructor(capacity: number) {
    checkByteCount(capacity, 'capacity');
    this.buf = Buffer.alloc(capacity);
  }

  size(): number {
    return this.inSize;
  }

  maxSize(): number {
    return this.buf.length;
  }

  capacity(): number {
    return this.buf.length;
  }

  /** The readable bytes: no view when empty, two when they wrap around the end of the storage. */
  data(): Buffer[] {
    return this.region(this.inOff, this.inSize);
  }

  /** Same as {@link data}: Beast's `cdata()`. */
  cdata(): Buffer[] {
    return this.region(this.inOff, this.inSize);
  }

  /** Writable views totalling `n` bytes after the readable bytes (two when they wrap). */
  prepare(n: number): Buffer[] {
    checkByteCount(n, 'n');
    const cap = this.buf.length;
    if (n > cap - this.inSize) throw new BufferOverflowError(n, this.inSize, cap);
    // When empty, restarting at offset 0 gives the longest contiguous first view.
    if (this.inSize === 0) this.inOff = 0;
    this.outSize = n;
    return this.region(this.wrap(this.inOff + this.inSize), n);
  }

  /** Moves up to `n` prepared bytes to the readable part; `Infinity` commits all of them. */
  commit(n: number): void {
    checkByteCount(n, 'n', true);
    this.inSize += Math.min(n, this.outSize);
    this.outSize = 0;
  }

  /** Removes `n` readable bytes from the front; `n >= size()` empties the buffer. */
  consume(n: number): void {
    checkByteCount(n, 'n', true);
    if (n >= this.inSize) {
      // Moving the start to the end (not to 0) keeps a pending prepare() region valid.
      this.inOff = this.wrap(this.inOff + this.inSize);
      this.inSize = 0;
      return;
    }
    this.inOff = this.wrap(this.inOff + n);
    this.inSize -= n;
  }

  /** Empties the buffer. */
  clear(): void {
    this.inOff = 0;
    this.inSize = 0;
    this.outSize = 0;
  }

  /** The readable bytes decoded as text (UTF-8 by default). */
  toString(encoding: BufferEncoding = 'utf8'): string {
    const end = this.inOff + this.inSize;
    if (end <= this.buf.length) return this.buf.toString(encoding, this.inOff, end);
    return Buffer.concat(this.data(), this.inSize).toString(encoding);
  }

  // Offsets stay below 2 * capacity, so one subtraction suffices (and capacity 0 needs no special case).
  private wrap(off: number): number {
    return off >= this.buf.length ? off - this.buf.length : off;
  }

  private region(start: number, length: number): Buffer[] {
    if (length === 0) return [];
    const end = start + length;
    const cap = this.buf.length;
    if (end <= cap) return [this.buf.subarray(start, end)];
    return [this.buf.subarray(start, cap), this.buf.subarray(0, end - cap)];
  }
}

export class FlatStaticBuffer implements DynamicBuffer {
  private readonly buf: Buffer;
  private in = 0;
  private out = 0;
  private last = 0;

  /** @param capacity The fixed capacity, which is also `maxSize()`. */
  constructor(capacity: number) {
    checkByteCount(capacity, 'capacity');
    this.buf = Buffer.alloc(capacity);
  }

  size(): number {
    return this.out - this.in;
  }

  maxSize(): number {
    return this.buf.length;
  }

  capacity(): number {
    return this.buf.length;
  }

  /** The readable bytes as one view. */
  data(): Buffer {
    return this.buf.subarray(this.in, this.out);
  }

  /** Same as {@link data}: Beast's `cdata()`. */
  cdata(): Buffer {
    return this.buf.subarray(this.in, this.out);
  }

  /** One writable view of `n` bytes, moving the readable bytes to the front if that is needed to fit. */
  prepare(n: number): Buffer {
    checkByteCount(n, 'n');
    const size = this.out - this.in;
    if (size === 0) {
      this.in = 0;
      this.out = 0;
    }
    if (n > this.buf.length - this.out) {
      if (n > this.buf.length - size) throw new BufferOverflowError(n, size, this.buf.length);
      this.buf.copyWithin(0, this.in, this.out);
      this.in = 0;
      this.out = size;
    }
    this.last = this.out + n;
    return this.buf.subarray(this.out, this.last);
  }

  /** Moves up to `n` prepared bytes to the readable part; `Infinity` commits all of them. */
  commit(n: number): void {
    checkByteCount(n, 'n', true);
    this.out += Math.min(n, this.last - this.out);
    this.last = this.out;
  }

  /** Removes `n` readable bytes from the front; `n >= size()` empties the buffer. */
  consume(n: number): void {
    checkByteCount(n, 'n', true);
    if (n >= this.out - this.in) this.in = this.out;
    else this.in += n;
  }

  /** Empties the buffer. */
  clear(): void {
    this.in = 0;
    this.out = 0;
    this.last = 0;
  }

  /** The readable bytes decoded as text (UTF-8 by default). */
  toString(encoding: BufferEncoding = 'utf8'): string {
    return this.buf.toString(encoding, this.in, this.out);
  }
}
