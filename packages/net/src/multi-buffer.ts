/**
 * Beast's `multi_buffer`: a DynamicBuffer kept as a list of separately
 * allocated chunks. Readable bytes are never moved: `prepare` adds chunks,
 * `consume` drops whole chunks. `data()` and `prepare()` return arrays of
 * views.
 *
 * The readable bytes start at `chunks[0][inPos]` and end at
 * `chunks[outIdx][outPos]`; the prepared bytes follow from there, possibly
 * over later chunks; any chunks after them are spare capacity.
 */

import { checkByteCount, checkMaxSize } from './buffer-internal.js';
import { BufferOverflowError, type DynamicBuffer } from './dynamic-buffer.js';

// Small prepares (a few bytes of a parser's lookahead) would otherwise make a chunk each.
const MIN_CHUNK = 512;
// Chunk sizes follow the buffer's size so that a large buffer is not thousands of tiny views.
const MAX_CHUNK = 64 * 1024;

export class MultiBuffer implements DynamicBuffer {
  private chunks: Buffer[] = [];
  private inPos = 0;
  private outIdx = 0;
  private outPos = 0;
  private inSize = 0;
  private prepSize = 0;
  private max: number;

  /** @param maxSize Beast's `limit`: the largest `size()` allowed (default: unbounded). */
  constructor(maxSize: number = Number.POSITIVE_INFINITY) {
    checkMaxSize(maxSize);
    this.max = maxSize;
  }

  size(): number {
    return this.inSize;
  }

  /** The limit on `size()`; with an argument, sets it (Beast's `max_size(n)`) for later `prepare` calls. */
  maxSize(): number;
  maxSize(n: number): void;
  maxSize(n?: number): number | undefined {
    if (n === undefined) return this.max;
    checkMaxSize(n);
    this.max = n;
    return undefined;
  }

  /** Readable bytes plus the writable space of the chunks already allocated. */
  capacity(): number {
    let n = this.inSize;
    for (let i = this.outIdx; i < this.chunks.length; i++) {
      n += this.chunks[i]!.length - (i === this.outIdx ? this.outPos : 0);
    }
    return n;
  }

  /** The readable bytes, one view per chunk that holds some (empty array when empty). */
  data(): Buffer[] {
    const views: Buffer[] = [];
    if (this.inSize === 0) return views;
    for (let i = 0; i <= this.outIdx; i++) {
      const c = this.chunks[i]!;
      const start = i === 0 ? this.inPos : 0;
      const end = i === this.outIdx ? this.outPos : c.length;
      if (end > start) views.push(start === 0 && end === c.length ? c : c.subarray(start, end));
    }
    return views;
  }

  /** Same as {@link data}: Beast's `cdata()`. */
  cdata(): Buffer[] {
    return this.data();
  }

  /**
   * Writable views totalling exactly `n` bytes after the readable bytes,
   * reusing space left in existing chunks before allocating one more.
   */
  prepare(n: number): Buffer[] {
    checkByteCount(n, 'n');
    if (n > this.max - this.inSize) throw new BufferOverflowError(n, this.inSize, this.max);
    if (this.inSize === 0 && this.chunks.length > 0) {
      // Every chunk is free: start over at the first one so nothing is wasted.
      this.inPos = 0;
      this.outIdx = 0;
      this.outPos = 0;
    }
    const views: Buffer[] = [];
    let left = n;
    let i = this.outIdx;
    let pos = this.outPos;
    while (left > 0 && i < this.chunks.length) {
      const c = this.chunks[i]!;
      const take = Math.min(c.length - pos, left);
      if (take > 0) views.push(c.subarray(pos, pos + take));
      left -= take;
      i++;
      pos = 0;
    }
    if (left > 0) {
      const hint = Math.min(MAX_CHUNK, Math.max(MIN_CHUNK, this.inSize), this.max - this.inSize);
      // Zero-filled so that committing never-written bytes cannot expose other heap memory.
      const chunk = Buffer.alloc(Math.max(left, hint));
      this.chunks.push(chunk);
      views.push(chunk.subarray(0, left));
    }
    this.prepSize = n;
    return views;
  }

  /** Moves up to `n` prepared bytes to the readable part; `Infinity` commits all of them. */
  commit(n: number): void {
    checkByteCount(n, 'n', true);
    let left = Math.min(n, this.prepSize);
    this.inSize += left;
    this.prepSize = 0;
    while (left > 0) {
      const avail = this.chunks[this.outIdx]!.length - this.outPos;
      if (left <= avail) {
        this.outPos += left;
        return;
      }
      left -= avail;
      this.outIdx++;
      this.outPos = 0;
    }
  }

  /** Removes `n` readable bytes from the front, releasing chunks that become empty. */
  consume(n: number): void {
    checkByteCount(n, 'n', true);
    if (n >= this.inSize) {
      // The chunk holding the out position stays: a pending prepare() region starts there.
      this.drop(this.outIdx);
      this.inPos = this.outPos;
      this.inSize = 0;
      return;
    }
    this.inSize -= n;
    let left = n;
    let dropped = 0;
    for (;;) {
      const end = dropped === this.outIdx ? this.outPos : this.chunks[dropped]!.length;
      const avail = end - this.inPos;
      if (left < avail) {
        this.inPos += left;
        break;
      }
      left -= avail;
      dropped++;
      this.inPos = 0;
    }
    this.drop(dropped);
  }

  /** Empties the buffer, keeping its chunks for reuse. */
  clear(): void {
    this.inPos = 0;
    this.outIdx = 0;
    this.outPos = 0;
    this.inSize = 0;
    this.prepSize = 0;
  }

  /** Releases chunks holding no readable bytes (spare capacity and any prepared region). */
  shrinkToFit(): void {
    this.prepSize = 0;
    if (this.inSize === 0) {
      this.chunks = [];
      this.clear();
      return;
    }
    const keep = this.outPos === 0 ? this.outIdx : this.outIdx + 1;
    if (keep < this.chunks.length) this.chunks.length = keep;
    if (this.outPos === 0) {
      // The out position sat at the start of a released chunk; the end of the previous one is equivalent.
      this.outIdx--;
      this.outPos = this.chunks[this.outIdx]!.length;
    }
  }

  /** The readable bytes decoded as text (UTF-8 by default). */
  toString(encoding: BufferEncoding = 'utf8'): string {
    const views = this.data();
    if (views.length === 1) return views[0]!.toString(encoding);
    return Buffer.concat(views, this.inSize).toString(encoding);
  }

  private drop(count: number): void {
    if (count === 0) return;
    this.chunks.splice(0, count);
    this.outIdx -= count;
  }
}
