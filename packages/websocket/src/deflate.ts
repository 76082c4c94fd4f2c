/*
 * The permessage-deflate codec (RFC 7692 §7.2), one per connection once
 * negotiated (Beast keeps its zlib streams in detail/impl_base.hpp, `pmd_type`).
 *
 * Why node:zlib's *streaming* objects and not the one-shot `inflateRawSync`:
 *
 *  - Context takeover (§7.2.3.2): a message may refer back to the previous
 *    messages' bytes, so one inflater / deflater must live as long as the
 *    connection. A one-shot call starts from an empty window every time.
 *  - A compressed message may arrive in many frames and be read piecewise
 *    (`asyncReadSome`), so inflation has to be incremental.
 *  - Node has no public synchronous streaming call (`_processChunk` is
 *    private), so the codec is asynchronous: work runs on libuv's pool and
 *    the caller is told when there is progress.
 *
 * How inflation stays bounded (the deflate-bomb defence): the inflater's
 * output side is kept in *paused* mode and we pull from it only as much as
 * the caller's buffer takes, at most `highWaterMark` bytes per pull. Node's
 * zlib stops inflating when its readable buffer holds `highWaterMark`
 * bytes and resumes when we pull, so at any time at most about
 * 2 × OUTPUT_CHUNK inflated bytes exist beyond what the caller has taken,
 * and the read operation refuses the message (1009) as soon as the bytes
 * taken plus the bytes waiting exceed `readMessageMax`.
 */
import type { TransformOptions } from 'node:stream';
import zlib from 'node:zlib';
import { bufferBytes } from '@tsio/net';
import { localParams, type PmdConfig, type PmdLocalParams, type PmdOptions } from './detail/pmd.js';

/** zlib's output chunk and the inflater's readable high-water mark: the most inflated bytes held at once. */
const OUTPUT_CHUNK = 16 * 1024;

/** RFC 7692 §7.2.1 / §7.2.2: the empty stored block a sync flush ends with; removed on send, appended on receive. */
export const DEFLATE_TAIL: Buffer = Buffer.from([0x00, 0x00, 0xff, 0xff]);

/**
 * A whole message up to this size, without context takeover, is deflated by
 * one synchronous call; a larger one goes to the stream (libuv's thread
 * pool), so the event loop is never held for long.
 */
const SYNC_DEFLATE_MAX = 64 * 1024;

/** A progress callback: called once, on the next output, consumed input, error or close. */
type Waiter = () => void;

/** Incremental, bounded raw inflate over one persistent `zlib.InflateRaw`. */
export class Inflater {
  private z: zlib.InflateRaw | null = null;
  /** Chunks written whose processing has not finished. */
  private pending = 0;
  private waiter: Waiter | null = null;
  private closed = false;
  /** The zlib error that broke the stream (corrupt data); the inflater is unusable afterwards. */
  error: Error | null = null;
  /** Inflated bytes handed out since creation (tests use it to check the bound). */
  totalOut = 0;
  /** Output of a one-shot inflate (`inflateWhole`) not yet taken, and how much of it was. */
  private whole: Buffer | null = null;
  private wholeTaken = 0;
  /** Input went to the stream since the last `messageDone`. */
  private started = false;

  constructor(
    private readonly windowBits: number,
    /** The peer resets its window after every message (§7.1.1): a message can be inflated on its own. */
    readonly noContextTakeover: boolean,
  ) {}

  private stream(): zlib.InflateRaw {
    if (this.z !== null) return this.z;
    // zlib passes the stream options through to its Transform (the typings omit them).
    const options: zlib.ZlibOptions & TransformOptions = {
      windowBits: this.windowBits,
      chunkSize: OUTPUT_CHUNK,
      readableHighWaterMark: OUTPUT_CHUNK,
    };
    const z = zlib.createInflateRaw(options);
    // A 'readable' listener keeps the output side paused: zlib stalls when it is full.
    z.on('readable', () => this.notify());
    z.on('error', (e: Error) => {
      this.error = e;
      this.notify();
    });
    this.z = z;
    return z;
  }

  private notify(): void {
    const w = this.waiter;
    this.waiter = null;
    w?.();
  }

  /** Hands compressed bytes to zlib. `chunk` must not be modified afterwards (zlib reads it later). */
  write(chunk: Buffer): void {
    if (this.closed || this.error !== null) return;
    this.started = true;
    this.pending++;
    this.stream().write(chunk, () => {
      this.pending--;
      this.notify();
    });
  }

  /** RFC 7692 §7.2.2: appends the 4 octets the sender removed, which flushes the message's last bytes. */
  endMessage(): void {
    this.write(DEFLATE_TAIL);
  }

  /** Inflated bytes ready to be taken. */
  available(): number {
    if (this.whole !== null) return this.whole.length - this.wholeTaken;
    return this.z === null ? 0 : this.z.readableLength;
  }

  /** Nothing of a message is in the inflater: a new message may be inflated in one shot. */
  idle(): boolean {
    return !this.started && this.whole === null && this.pending === 0 && !this.closed && this.error === null;
  }

  /**
   * Inflates a whole message (its payload with the §7.2.2 tail appended) in
   * one synchronous call, when nothing carries over between messages (no
   * context takeover, §7.1.1): no trips through libuv's thread pool. At most
   * `maxOutput` bytes are produced; 'tooBig' when the message would inflate
   * to more (nothing is kept then, and the stream is untouched), 'error' on
   * corrupt data (`error` is set, as the stream would). The output is then
   * handed out by `take` like the stream's.
   */
  inflateWhole(input: Buffer, maxOutput: number): 'ok' | 'tooBig' | 'error' {
    try {
      this.whole = zlib.inflateRawSync(input, {
        windowBits: this.windowBits,
        finishFlush: zlib.constants.Z_SYNC_FLUSH,
        maxOutputLength: maxOutput,
      });
      this.wholeTaken = 0;
      return 'ok';
    } catch (e) {
      if ((e as { code?: string }).code === 'ERR_BUFFER_TOO_LARGE') return 'tooBig';
      this.error = e as Error;
      return 'error';
    }
  }

  /** zlib still has input of ours to process. */
  busy(): boolean {
    return this.pending > 0 && !this.closed && this.error === null;
  }

  isClosed(): boolean {
    return this.closed;
  }

  /**
   * Copies up to `dst.length` inflated bytes into `dst`; returns how many.
   * Never pulls more than the high-water mark at once: a larger `read(n)`
   * would raise Node's high-water mark and with it the bound above.
   */
  take(dst: Uint8Array): number {
    const w = this.whole;
    if (w !== null) {
      const n = Math.min(dst.length, w.length - this.wholeTaken);
      dst.set(w.subarray(this.wholeTaken, this.wholeTaken + n), 0);
      this.wholeTaken += n;
      this.totalOut += n;
      if (this.wholeTaken === w.length) this.whole = null;
      return n;
    }
    const z = this.z;
    if (z === null) return 0;
    const n = Math.min(dst.length, z.readableLength, z.readableHighWaterMark);
    if (n === 0) return 0;
    const b = z.read(n) as Buffer | null;
    if (b === null) return 0;
    dst.set(b, 0);
    this.totalOut += b.length;
    return b.length;
  }

  /** Calls `fn` once on the next progress (output, consumed input, error or close). */
  wait(fn: Waiter): void {
    this.waiter = fn;
  }

  /** The message is fully inflated: forget the window if the peer resets its context (§7.1.1). */
  messageDone(): void {
    this.started = false;
    this.whole = null;
    if (this.noContextTakeover && this.z !== null && !this.closed && this.error === null) this.z.reset();
  }

  /** Releases zlib's memory; a waiting operation is woken to see that the stream is gone. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.whole = null;
    const z = this.z;
    this.z = null;
    z?.close();
    this.notify();
  }
}

/** Raw deflate of whole messages or message pieces over one persistent `zlib.DeflateRaw`. */
export class Deflater {
  private z: zlib.DeflateRaw | null = null;
  private out: Buffer[] = [];
  private closed = false;
  /** A message is being compressed piece by piece (writeSome with fin=false): it stays on the stream. */
  private midMessage = false;
  private failed: Error | null = null;
  /** The callback of the compression in flight, called once (by the flush or by `close`). */
  private inFlight: ((err: Error | null, out: Buffer) => void) | null = null;

  constructor(
    private readonly windowBits: number,
    private readonly noContextTakeover: boolean,
    private readonly level: number,
    private readonly memLevel: number,
  ) {}

  private stream(): zlib.DeflateRaw {
    if (this.z !== null) return this.z;
    const z = zlib.createDeflateRaw({
      windowBits: this.windowBits,
      level: this.level,
      memLevel: this.memLevel,
    });
    z.on('readable', () => this.drain());
    z.on('error', (e: Error) => {
      this.failed = e;
    });
    this.z = z;
    return z;
  }

  private drain(): void {
    const z = this.z;
    if (z === null) return;
    // Bounded: each read() empties the buffer; compressed output is about the input's size.
    for (let c = z.read() as Buffer | null; c !== null; c = z.read() as Buffer | null) this.out.push(c);
  }

  /**
   * Compresses one piece of a message; `done` gets the compressed bytes.
   * Every piece ends with a sync flush so that nothing stays behind in zlib
   * while the frame goes out. On the last piece (`fin`) the trailing
   * `00 00 ff ff` is removed (§7.2.1) and, without context takeover, the
   * window is reset (§7.1.1). An intermediate piece keeps its flush marker:
   * it is part of the message's deflate stream.
   * The caller's buffers must stay unchanged until `done` runs.
   */
  compress(parts: readonly Uint8Array[], fin: boolean, done: (err: Error | null, out: Buffer) => void): void {
    if (this.closed || this.inFlight !== null)
      return done(new Error('deflater closed or busy'), Buffer.alloc(0));
    if (parts.every((p) => p.length === 0)) {
      // zlib produces nothing for a flush with no new input after a flush (Z_BUF_ERROR), so an
      // empty piece is written by hand: nothing, or for a whole empty message the single 0x00 of
      // RFC 7692 §7.2.3.6 (an empty stored block, tail removed; the stream is byte-aligned
      // after the previous message's sync flush).
      return done(null, fin ? Buffer.from([0x00]) : Buffer.alloc(0));
    }
    if (this.noContextTakeover && fin && !this.midMessage && bufferBytes(parts) <= SYNC_DEFLATE_MAX) {
      return this.compressWhole(parts, done);
    }
    this.midMessage = !fin;
    const z = this.stream();
    this.out = [];
    this.inFlight = done;
    for (const p of parts) if (p.length > 0) z.write(p);
    z.flush(zlib.constants.Z_SYNC_FLUSH, () => {
      if (this.inFlight !== done) return; // closed meanwhile; close() has answered
      this.inFlight = null;
      if (this.failed) return done(this.failed, Buffer.alloc(0));
      this.drain();
      const all = Buffer.concat(this.out);
      this.out = [];
      if (!fin) return done(null, all);
      if (all.length < 4 || !all.subarray(all.length - 4).equals(DEFLATE_TAIL)) {
        return done(new Error('deflate output does not end with a sync flush'), all);
      }
      if (this.noContextTakeover) z.reset();
      done(null, all.subarray(0, all.length - 4));
    });
  }

  /**
   * A whole message without context takeover (§7.1.1): nothing carries over
   * from one message to the next, so a one-shot synchronous deflate does the
   * same as the stream, without two trips through libuv's thread pool (the
   * stream's write and flush). `done` is called before this returns.
   */
  private compressWhole(parts: readonly Uint8Array[], done: (err: Error | null, out: Buffer) => void): void {
    const input = parts.length === 1 ? (parts[0] as Uint8Array) : Buffer.concat(parts);
    let all: Buffer;
    try {
      all = zlib.deflateRawSync(input, {
        windowBits: this.windowBits,
        level: this.level,
        memLevel: this.memLevel,
        finishFlush: zlib.constants.Z_SYNC_FLUSH,
      });
    } catch (e) {
      return done(e as Error, Buffer.alloc(0));
    }
    if (all.length < 4 || !all.subarray(all.length - 4).equals(DEFLATE_TAIL)) {
      return done(new Error('deflate output does not end with a sync flush'), all);
    }
    done(null, all.subarray(0, all.length - 4));
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    const z = this.z;
    this.z = null;
    z?.close();
    const done = this.inFlight;
    this.inFlight = null;
    done?.(new Error('deflater closed'), Buffer.alloc(0));
  }
}

/** What was negotiated and the codec of one connection (Beast's `pmd_type`). */
export class PmdCodec {
  readonly local: PmdLocalParams;
  private inflaterObj: Inflater | null = null;
  private deflaterObj: Deflater | null = null;
  private closed = false;

  constructor(
    readonly config: PmdConfig,
    role: 'client' | 'server',
    private readonly opts: PmdOptions,
  ) {
    this.local = localParams(config, role);
  }

  /** Created on first use: a connection that never sends compressed data does not pay for zlib's state. */
  inflater(): Inflater {
    if (this.inflaterObj === null) {
      this.inflaterObj = new Inflater(this.local.inflateWindowBits, this.local.inflateNoContextTakeover);
      // Asked for after the connection ended: born closed (it would never be released otherwise).
      if (this.closed) this.inflaterObj.close();
    }
    return this.inflaterObj;
  }

  deflater(): Deflater {
    if (this.deflaterObj === null) {
      this.deflaterObj = new Deflater(
        this.local.deflateWindowBits,
        this.local.deflateNoContextTakeover,
        this.opts.compLevel,
        this.opts.memLevel,
      );
      if (this.closed) this.deflaterObj.close();
    }
    return this.deflaterObj;
  }

  /** Beast's `msg_size_threshold`: smaller messages go out uncompressed. */
  shouldCompress(size: number): boolean {
    return size >= this.opts.msgSizeThreshold;
  }

  close(): void {
    this.closed = true;
    this.inflaterObj?.close();
    this.deflaterObj?.close();
  }
}
