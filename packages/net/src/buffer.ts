/**
 * Buffer views and buffer sequences — Asio's `const_buffer` / `mutable_buffer`
 * / `buffer()` and Beast's buffer algorithms (`buffer_bytes`,
 * `buffers_to_string`, `make_printable`, `buffers_prefix`, `buffers_suffix`,
 * `buffers_front`, `buffers_cat`).
 *
 * A view is any `Uint8Array` (Node's `Buffer` included): it already is Asio's
 * (pointer, size) pair, so there is no wrapper type and no copy.
 */

import { asBuffer, checkByteCount } from './buffer-internal.js';

/** A view of bytes that an operation reads (Asio's `const_buffer`). */
export type ConstBuffer = Uint8Array;
/** A view of bytes that an operation writes into (Asio's `mutable_buffer`). */
export type MutableBuffer = Uint8Array;
/** One view, or an ordered list of views whose concatenation is the data. */
export type ConstBufferSequence = Uint8Array | readonly Uint8Array[];
/** Writable counterpart of {@link ConstBufferSequence}. */
export type MutableBufferSequence = Uint8Array | readonly Uint8Array[];

/** What {@link buffer} accepts. */
export type BufferData = Uint8Array | ArrayBufferView | ArrayBufferLike | string;

const EMPTY: Buffer = Buffer.alloc(0);

/**
 * Asio's `buffer()`: a `Buffer` view of `data`, at most `maxSize` bytes long.
 *
 * Binary inputs are aliased, never copied, so writes through the result are
 * visible in `data` (that is what lets a read fill a caller's memory). A
 * string has no bytes to alias, so it is UTF-8 encoded into a new Buffer.
 */
export function buffer(data: BufferData, maxSize?: number): Buffer {
  if (maxSize !== undefined) checkByteCount(maxSize, 'maxSize', true);
  let view: Buffer;
  if (typeof data === 'string') {
    view = Buffer.from(data, 'utf8');
  } else if (Buffer.isBuffer(data)) {
    view = data;
  } else if (ArrayBuffer.isView(data)) {
    view = Buffer.from(data.buffer, data.byteOffset, data.byteLength);
  } else {
    view = Buffer.from(data);
  }
  if (maxSize !== undefined && maxSize < view.length) return view.subarray(0, maxSize);
  return view;
}

/** True when `x` is a view or an array of views. */
export function isBufferSequence(x: unknown): x is ConstBufferSequence {
  if (x instanceof Uint8Array) return true;
  if (!Array.isArray(x)) return false;
  for (const v of x) if (!(v instanceof Uint8Array)) return false;
  return true;
}

/** The views of `seq` as an array (the same array when `seq` already is one). */
export function bufferSequenceToArray(seq: ConstBufferSequence): readonly Uint8Array[] {
  return seq instanceof Uint8Array ? [seq] : seq;
}

/** Beast's `buffer_bytes`: total number of bytes in the sequence. */
export function bufferBytes(seq: ConstBufferSequence): number {
  if (seq instanceof Uint8Array) return seq.length;
  let n = 0;
  for (let i = 0; i < seq.length; i++) n += seq[i]!.length;
  return n;
}

/** Asio's older name for {@link bufferBytes}. */
export const bufferSize: (seq: ConstBufferSequence) => number = bufferBytes;

/** A new `Buffer` holding a copy of the concatenation of `seq`. */
export function buffersToBuffer(seq: ConstBufferSequence): Buffer {
  const total = bufferBytes(seq);
  const out = Buffer.allocUnsafe(total);
  let off = 0;
  for (const v of bufferSequenceToArray(seq)) {
    out.set(v, off);
    off += v.length;
  }
  return out;
}

/**
 * Beast's `buffers_to_string`: the concatenation decoded as text (UTF-8 by
 * default). Decoding the concatenation, not each view, keeps a character
 * split across two views intact. Pass `'latin1'` for Beast's byte-for-byte
 * `std::string`.
 */
export function buffersToString(seq: ConstBufferSequence, encoding: BufferEncoding = 'utf8'): string {
  if (seq instanceof Uint8Array) return asBuffer(seq).toString(encoding);
  let single: Uint8Array | undefined;
  let nonEmpty = 0;
  for (const v of seq) {
    if (v.length > 0) {
      single = v;
      nonEmpty++;
    }
  }
  if (nonEmpty === 0) return '';
  if (nonEmpty === 1) return asBuffer(single!).toString(encoding);
  return buffersToBuffer(seq).toString(encoding);
}

/** What {@link makePrintable} returns. */
export interface Printable {
  toString(): string;
}

// Keyed by the registered symbol so that this module needs no node:util import.
const inspectCustom = Symbol.for('nodejs.util.inspect.custom');

/**
 * Beast's `make_printable`: wraps a sequence so that string conversion and
 * `console.log` / `util.inspect` show its text. Decoding is deferred until
 * the text is asked for, so a disabled log statement costs nothing; the
 * views are not copied, so the text is whatever they hold at that moment.
 */
export function makePrintable(seq: ConstBufferSequence): Printable {
  const text = (): string => buffersToString(seq);
  return {
    toString: text,
    [Symbol.toPrimitive]: text,
    [inspectCustom]: text,
  } as Printable;
}

/**
 * Asio's `buffer_copy`: copies `min(bufferBytes(dst), bufferBytes(src),
 * maxBytes)` bytes from `src` into `dst`, walking both sequences however
 * they are split, and returns that count. Overlapping views are safe
 * (`TypedArray#set` copies as if through a temporary).
 */
export function bufferCopy(
  dst: MutableBufferSequence,
  src: ConstBufferSequence,
  maxBytes: number = Number.POSITIVE_INFINITY,
): number {
  checkByteCount(maxBytes, 'maxBytes', true);
  if (dst instanceof Uint8Array && src instanceof Uint8Array) {
    const n = Math.min(dst.length, src.length, maxBytes);
    if (n > 0) dst.set(n === src.length ? src : src.subarray(0, n));
    return n;
  }
  const d = bufferSequenceToArray(dst);
  const s = bufferSequenceToArray(src);
  let di = 0;
  let dOff = 0;
  let si = 0;
  let sOff = 0;
  let copied = 0;
  while (copied < maxBytes && di < d.length && si < s.length) {
    const dv = d[di]!;
    const sv = s[si]!;
    const n = Math.min(dv.length - dOff, sv.length - sOff, maxBytes - copied);
    if (n > 0) {
      dv.set(sv.subarray(sOff, sOff + n), dOff);
      copied += n;
      dOff += n;
      sOff += n;
    }
    if (dOff >= dv.length) {
      di++;
      dOff = 0;
    }
    if (sOff >= sv.length) {
      si++;
      sOff = 0;
    }
  }
  return copied;
}

/** Beast's `buffers_front`: the first view of the sequence, or an empty view if there is none. */
export function buffersFront(seq: ConstBufferSequence): Uint8Array {
  if (seq instanceof Uint8Array) return seq;
  return seq.length > 0 ? seq[0]! : EMPTY;
}

/**
 * Beast's `buffers_prefix`: the first `n` bytes of `seq`, as views into the
 * same memory. A single view stays a single view.
 */
export function buffersPrefix(n: number, seq: Uint8Array): Uint8Array;
export function buffersPrefix(n: number, seq: readonly Uint8Array[]): Uint8Array[];
export function buffersPrefix(n: number, seq: ConstBufferSequence): ConstBufferSequence;
export function buffersPrefix(n: number, seq: ConstBufferSequence): ConstBufferSequence {
  checkByteCount(n, 'n', true);
  if (seq instanceof Uint8Array) return n >= seq.length ? seq : seq.subarray(0, n);
  const out: Uint8Array[] = [];
  let left = n;
  for (let i = 0; i < seq.length && left > 0; i++) {
    const v = seq[i]!;
    if (v.length <= left) {
      out.push(v);
      left -= v.length;
    } else {
      out.push(v.subarray(0, left));
      left = 0;
    }
  }
  return out;
}

/** Beast's `buffers_cat`: one sequence made of the views of all arguments, in order (views are not copied). */
export function buffersCat(...seqs: ConstBufferSequence[]): Uint8Array[] {
  const out: Uint8Array[] = [];
  for (const s of seqs) {
    if (s instanceof Uint8Array) out.push(s);
    else for (const v of s) out.push(v);
  }
  return out;
}

/**
 * Beast's `buffers_suffix` (Asio's consuming buffers): a sequence from which
 * bytes are removed at the front as an operation makes progress, without
 * copying. A composed write loops `writeSome(rest.data())`,
 * `rest.consume(written)` until `rest.size() === 0`.
 */
export class BuffersSuffix {
  private readonly views: readonly Uint8Array[];
  private index = 0;
  private offset = 0;
  private remaining: number;

  constructor(seq: ConstBufferSequence) {
    this.views = bufferSequenceToArray(seq);
    this.remaining = bufferBytes(this.views);
    this.skipExhausted();
  }

  /** Bytes not yet consumed. */
  size(): number {
    return this.remaining;
  }

  /** Removes up to `n` bytes from the front; `Infinity` removes everything. */
  consume(n: number): void {
    checkByteCount(n, 'n', true);
    let left = Math.min(n, this.remaining);
    this.remaining -= left;
    while (left > 0) {
      const avail = this.views[this.index]!.length - this.offset;
      if (left < avail) {
        this.offset += left;
        return;
      }
      left -= avail;
      this.index++;
      this.offset = 0;
    }
    this.skipExhausted();
  }

  // Keeping the cursor off exhausted and empty views lets front() return real bytes.
  private skipExhausted(): void {
    while (this.index < this.views.length && this.views[this.index]!.length === this.offset) {
      this.index++;
      this.offset = 0;
    }
  }

  /** The first remaining (non-empty unless nothing remains) view. */
  front(): Uint8Array {
    if (this.index >= this.views.length) return EMPTY;
    const v = this.views[this.index]!;
    return this.offset === 0 ? v : v.subarray(this.offset);
  }

  /** The remaining bytes as views into the original memory. */
  data(): Uint8Array[] {
    const out: Uint8Array[] = [];
    for (let i = this.index; i < this.views.length; i++) {
      const v = this.views[i]!;
      out.push(i === this.index && this.offset > 0 ? v.subarray(this.offset) : v);
    }
    return out;
  }
}
