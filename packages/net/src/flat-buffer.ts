/**
 * Beast's `flat_buffer`: a DynamicBuffer whose readable and writable bytes
 * are each one contiguous view of a single `Buffer`.
 *
 * Layout of the storage:  [ consumed | readable (in..out) | prepared (out..last) | spare ]
 */

import { checkByteCount, checkMaxSize } from './buffer-internal.js';
import { BufferOverflowError, type DynamicBuffer } from './dynamic-buffer.js';

const EMPTY: Buffer = Buffer.alloc(0);
// Below this, doubling from tiny sizes would allocate over and over for no benefit.
const MIN_CAPACITY = 64;

export class FlatBuffer implements DynamicBuffer {
  private buf: Buffer = EMPTY;
  private in = 0;
  private out = 0;
  private last = 0;
  /** The limit; `null` when unbounded (not `Infinity`, a boxed number kept by every buffer). */
  private limit: number | null;
  /**
   * The last view handed out and the range it covers: a loop that reads one
   * message, echoes `data()` and consumes it asks for the same range every
   * time, and a view costs an allocation.
   */
  private view: Buffer = EMPTY;
  private viewOf: Buffer = EMPTY;
  private viewStart = 0;

  /** @param maxSize Beast's `limit`: the largest `size()` allowed (default: unbounded). */
  constructor(maxSize: number = Number.POSITIVE_INFINITY) {
    checkMaxSize(maxSize);
    this.limit = maxSize === Number.POSITIVE_INFINITY ? null : maxSize;
  }

  size(): number {
    return this.out - this.in;
  }

  /** The limit on `size()`; with an argument, sets it (Beast's `max_size(n)`) for later `prepare` calls. */
  maxSize(): number;
  maxSize(n: number): void;
  maxSize(n?: number): number | undefined {
    if (n === undefined) return this.max;
    checkMaxSize(n);
    this.limit = n === Number.POSITIVE_INFINITY ? null : n;
    return undefined;
  }

  private get max(): number {
    return this.limit ?? Number.POSITIVE_INFINITY;
  }

  capacity(): number {
    return this.buf.length;
  }

  /** The readable bytes: one view into the storage, valid until the next modifying call. */
  data(): Buffer {
    return this.range(this.in, this.out);
  }

  /** Same as {@link data}: Beast's `cdata()`. */
  cdata(): Buffer {
    return this.range(this.in, this.out);
  }

  /**
   * Writable view of exactly `n` bytes right after the readable bytes.
   * Its contents are unspecified (leftovers of earlier data, or zeros).
   */
  prepare(n: number): Buffer {
    checkByteCount(n, 'n');
    const size = this.out - this.in;
    if (size === 0) {
      // Nothing to keep: restart at the front for free instead of compacting later.
      this.in = 0;
      this.out = 0;
    }
    if (n > this.buf.length - this.out) this.makeRoom(n, size);
    this.last = this.out + n;
    return this.range(this.out, this.last);
  }

  /** A view of `[start, end)` of the storage: the last one again when it covers the same bytes. */
  private range(start: number, end: number): Buffer {
    const v = this.view;
    if (this.viewOf === this.buf && this.viewStart === start && v.length === end - start) return v;
    const fresh = this.buf.subarray(start, end);
    this.view = fresh;
    this.viewOf = this.buf;
    this.viewStart = start;
    return fresh;
  }

  /** Moves up to `n` prepared bytes to the readable part; `Infinity` commits all of them. */
  commit(n: number): void {
    checkByteCount(n, 'n', true);
    const avail = this.last - this.out;
    this.out += Math.min(n, avail);
    this.last = this.out;
  }

  /** Removes `n` readable bytes from the front; `n >= size()` empties the buffer. */
  consume(n: number): void {
    checkByteCount(n, 'n', true);
    // Leaving `out` alone keeps a pending prepare() region valid across a consume.
    if (n >= this.out - this.in) this.in = this.out;
    else this.in += n;
  }

  /** Empties the buffer, keeping its storage. */
  clear(): void {
    this.in = 0;
    this.out = 0;
    this.last = 0;
  }

  /** Ensures `capacity() >= n` (Beast's `reserve`); readable bytes are kept, prepared ones are not. */
  reserve(n: number): void {
    checkByteCount(n, 'n');
    if (n > this.max) throw new BufferOverflowError(n, this.size(), this.max);
    if (n > this.buf.length) this.reallocate(n);
  }

  /** Reallocates the storage to exactly `size()` bytes (releasing it all when empty). */
  shrinkToFit(): void {
    const size = this.out - this.in;
    if (size === this.buf.length) return;
    if (size === 0) {
      this.buf = EMPTY;
      this.clear();
      return;
    }
    this.reallocate(size);
  }

  /** The readable bytes decoded as text (UTF-8 by default). */
  toString(encoding: BufferEncoding = 'utf8'): string {
    return this.buf.toString(encoding, this.in, this.out);
  }

  /**
   * Called with the number of bytes moved each time the readable bytes are
   * relocated (compaction, or reallocation by growth, `reserve` or
   * `shrinkToFit`). A no-op; exists so tests and
   * benchmarks can measure copying by subclassing.
   */
  protected onRelocate(_bytes: number, _kind: 'compact' | 'reallocate'): void {}

  private makeRoom(n: number, size: number): void {
    if (n > this.max - size) throw new BufferOverflowError(n, size, this.max);
    const cap = this.buf.length;
    // Compact only when the consumed prefix is at least as large as what must
    // move, so each moved byte is paid for by a consumed one (amortised O(1));
    // otherwise grow, unless the limit forbids it.
    if (n <= cap - size && (this.in >= size || cap >= this.max)) {
      this.buf.copyWithin(0, this.in, this.out);
      this.onRelocate(size, 'compact');
      this.in = 0;
      this.out = size;
      return;
    }
    const doubled = Math.min(this.max, Math.max(2 * cap, MIN_CAPACITY));
    this.reallocate(Math.max(doubled, size + n));
  }

  private reallocate(capacity: number): void {
    // Zero-filled rather than allocUnsafe: prepare() hands this memory to
    // callers, and committing bytes that were never written must not leak
    // another part of the process's heap. Growth is rare, so the fill is cheap.
    const next = Buffer.alloc(capacity);
    const size = this.out - this.in;
    if (size > 0) {
      this.buf.copy(next, 0, this.in, this.out);
      this.onRelocate(size, 'reallocate');
    }
    this.buf = next;
    this.in = 0;
    this.out = size;
    this.last = size;
  }
}
