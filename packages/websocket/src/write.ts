/*
 * The write operations (Beast impl/write.hpp, RFC 6455 §5.4).
 *
 * `asyncWrite` sends one whole message; `asyncWriteSome(fin, ...)` sends one
 * frame of a message that ends when `fin` is true. With `autoFragment` the
 * payload goes out in frames of `writeBufferBytes`; between two frames the
 * write block is released to a waiting close, ping or pong, which therefore
 * never splits a frame but may slip in between fragments (§5.4 allows
 * control frames in the middle of a fragmented message).
 */
import {
  type AsyncResult,
  type CompletionHandler,
  type CompletionToken,
  ComposedOperation,
  type DefaultToken,
  type ErrorCode,
  launch,
  error as netError,
} from '@tsio/completion-token';
import { type AsyncStream, bufferBytes, type SpeculativeWriter, writeNow } from '@tsio/net';
import type { PmdCodec } from './deflate.js';
import { headerSize, MAX_HEADER_SIZE, writeFrameHeader } from './detail/frame.js';
import { generateMaskKey, maskCopy } from './detail/mask.js';
import { Opcode } from './detail/rfc6455.js';
import { error } from './error.js';
import type { StreamImpl } from './impl.js';

const noBuffers: readonly Uint8Array[] = [];
const noBuffer = new Uint8Array(0);
/**
 * Up to this size a client's frame is masked into a buffer of exactly its
 * size, kept by the operation for the next frame of the same size; a view
 * of a larger buffer would cost about as much as masking a few hundred bytes.
 */
const MASKED_EXACT_MAX = 4096;
/**
 * Above `MASKED_EXACT_MAX` and up to this size (a 64 KiB payload and the
 * largest header), a frame is masked into a view of a larger buffer the
 * operation keeps. A fresh buffer per frame was touched page by page: glibc
 * (default settings) gave most freed ones back to the kernel, and a client
 * sending 64 KiB messages took 16 page faults per frame for it
 * (docs/performance.md, item 48). Larger frames still get a buffer each.
 */
const MASKED_REUSE_MAX = 64 * 1024 + MAX_HEADER_SIZE;
/**
 * Write operations pooled beyond this many let go of their kept large
 * buffer, which bounds what an idle pool holds (4 × 64 KiB).
 */
const SPARES_KEEPING_LARGE = 4;
/** The key of the frame being masked: used synchronously, so one serves every stream. */
const scratchKey = new Uint8Array(4);

/**
 * One write, reused: a completed `WriteOp` goes back to a pool shared by all
 * streams and serves the next write of any of them (`ComposedOperation`), so
 * a write costs no operation object and a stream that is not writing holds
 * none (with its header buffers and handler, ~0.5 KB per used idle connection).
 */
class WriteOp<Next extends AsyncStream> extends ComposedOperation<[number]> {
  private payload: readonly Uint8Array[] = noBuffers;
  private total = 0;
  /** The message ends with this operation. */
  private fin = true;
  private sent = 0;
  private fragLen = 0;
  /** What goes on the wire: the caller's bytes, or their compressed form (RFC 7692 §7.2.1). */
  private out: readonly Uint8Array[] = noBuffers;
  private outTotal = 0;
  private compressed = false;
  /** The frame being written and how many of its bytes are not yet accepted by the next layer. */
  private frame: readonly Uint8Array[] = noBuffers;
  private frameLeft = 0;
  private readonly onWritten = (ec: ErrorCode | null, n: number): void => this.afterWrite(ec, n);
  /** A server's frame headers by their size (2, 4 or 10 bytes), made on first use and reused. */
  private readonly headers: (Buffer | undefined)[] = [];
  /** `[header, payload]` of a server's single-buffer frame, reused. */
  private readonly parts: Uint8Array[] = [noBuffer, noBuffer];
  /** `[frame]` of a client's masked frame, reused. */
  private readonly single: Uint8Array[] = [noBuffer];
  /** A client's last small masked frame buffer, reused for the next frame of the same size. */
  private masked: Buffer | null = null;
  /** A client's buffer for larger frames (up to `MASKED_REUSE_MAX`), reused through views. */
  private maskedLarge: Buffer | null = null;
  /** `[payload]` when the caller wrote a single view, reused (no array per message). */
  private readonly one: Uint8Array[] = [noBuffer];

  /** The stream this write is for; null while the object waits in the pool. */
  private stream: StreamImpl<Next> | null;

  constructor(impl: StreamImpl<Next>) {
    super();
    this.stream = impl;
  }

  private get impl(): StreamImpl<Next> {
    return this.stream as StreamImpl<Next>;
  }

  /** A pooled object taken for a write on `impl`. */
  attach(impl: StreamImpl<Next>): this {
    this.stream = impl;
    return this;
  }

  /** Prepares this object for the next write; `begin` then starts it. */
  reset(buffers: Uint8Array | readonly Uint8Array[], total: number, fin: boolean): this {
    let payload: readonly Uint8Array[];
    if (buffers instanceof Uint8Array) {
      this.one[0] = buffers;
      payload = this.one;
    } else payload = buffers;
    this.payload = payload;
    this.total = total;
    this.fin = fin;
    this.sent = 0;
    this.fragLen = 0;
    this.out = payload;
    this.outTotal = total;
    this.compressed = false;
    return this;
  }

  /**
   * The write has completed: drop the caller's buffers and the stream, and
   * offer this object for the next write of any stream. Nothing calls into
   * it any more: every intermediate step (the next layer's write, a zlib
   * compression) completed before the write did.
   */
  protected override released(): void {
    this.payload = noBuffers;
    this.out = noBuffers;
    this.frame = noBuffers;
    this.parts[1] = noBuffer;
    this.single[0] = noBuffer;
    this.one[0] = noBuffer;
    this.stream = null;
    if (spareWriteOps.length >= SPARES_KEEPING_LARGE) this.maskedLarge = null;
    if (spareWriteOps.length < MAX_SPARE_WRITE_OPS) spareWriteOps.push(this as WriteOp<AsyncStream>);
  }

  protected start(): void {
    const impl = this.impl;
    // At most one write at a time (Beast asserts; tsio reports it).
    if (impl.wrBlock instanceof WriteOp || impl.hasWriteWaiter('write')) {
      return this.complete(error.operationNotPermitted, 0);
    }
    // The usual case, a free block: taken without making the parking closures.
    if (impl.lockWriteIfFree(this)) return this.writeFrame();
    // Waiting for a control frame to go out: total cancellation leaves no trace.
    impl.lockWriteOrPark(
      this,
      'write',
      this,
      () => this.writeFrame(),
      () => this.complete(netError.operationAborted, 0),
    );
  }

  private writeFrame(): void {
    const impl = this.impl;
    if (impl.wrClose) return this.finish(error.closed);
    if (impl.status !== 'open') return this.finish(impl.notOpenError());
    // Whether a message is compressed is decided on its first frame (Beast's msg_size_threshold, compress()).
    // Each flag is written only when it changes: a setter call per message
    // (these accessors are not always inlined here) showed in the small-message profile.
    if (!impl.wrCont && this.sent === 0 && !this.compressed) {
      const deflate = impl.pmd !== null && impl.wrCompress && impl.pmd.shouldCompress(this.total);
      if (deflate !== impl.wrDeflate) impl.wrDeflate = deflate;
    }
    if (impl.wrDeflate && !this.compressed) return this.compress();
    const remaining = this.outTotal - this.sent;
    const len = impl.autoFragment ? Math.min(remaining, impl.opts.writeBufferBytes) : remaining;
    const last = this.sent + len === this.outTotal;
    const frameFin = last && this.fin;
    const opcode = impl.wrCont ? Opcode.cont : impl.binary ? Opcode.binary : Opcode.text;
    // RFC 7692 §6.1: RSV1 on the first frame of a compressed message only.
    const rsv1 = impl.wrDeflate && !impl.wrCont;
    if (impl.wrCont === frameFin) impl.wrCont = !frameFin;
    this.fragLen = len;
    // A whole message in one frame (the common case) needs no slicing.
    const bytes = this.sent === 0 && len === this.outTotal ? this.out : slice(this.out, this.sent, len);
    this.frame =
      impl.role === 'client'
        ? this.maskedFrame(opcode, frameFin, rsv1, bytes, len)
        : this.unmaskedFrame(opcode, frameFin, rsv1, bytes, len);
    this.frameLeft = bufferBytes(this.frame);
    // A message's first frame is offered to a next layer that can take it at
    // once (Asio's speculative write): no intermediate completion to wait
    // for. Only the first, so a long run of fragments cannot recurse.
    if (this.sent === 0 && impl.canWriteNow) {
      const n = (impl.next as unknown as SpeculativeWriter)[writeNow](this.frame, this.frameLeft);
      if (n > 0) return this.afterWrite(null, n);
    }
    // Straight to the next layer's writeSome rather than through `writeAll`: no
    // per-frame closure or filtered array (partial writes are handled in afterWrite).
    impl.next.writeSome(this.frame, this.bind(this.onWritten));
  }

  /**
   * A server's frame: this object's header buffer for the length's encoding
   * and the payload views, in an array also kept by this object. Both are
   * reused by the next frame, which is safe: a buffer given to `writeSome`
   * need only stay valid until its handler runs (Asio's rule), and this op
   * writes one frame at a time.
   */
  private unmaskedFrame(
    opcode: number,
    fin: boolean,
    rsv1: boolean,
    bytes: readonly Uint8Array[],
    len: number,
  ): readonly Uint8Array[] {
    const hlen = headerSize(len, false);
    const header = this.headers[hlen] ?? this.makeHeader(hlen);
    writeFrameHeader(header, 0, fin, rsv1, opcode, len);
    if (bytes.length === 1 && len > 0) {
      const parts = this.parts;
      parts[0] = header;
      parts[1] = bytes[0] as Uint8Array;
      return parts;
    }
    return withoutEmpty([header, ...bytes]);
  }

  /**
   * A client's frame (RFC 6455 §5.3): header and payload masked with a fresh
   * key into one buffer of this op's (`maskBuffer`); the caller's bytes are
   * not touched. Reusing it is safe: the op writes one frame at a time and
   * the next layer is done with a frame's bytes once its handler has run
   * (Asio's rule for buffers given to `async_write_some`).
   */
  private maskedFrame(
    opcode: number,
    fin: boolean,
    rsv1: boolean,
    bytes: readonly Uint8Array[],
    len: number,
  ): readonly Uint8Array[] {
    const hlen = headerSize(len, true);
    const out = this.maskBuffer(hlen + len);
    const key = generateMaskKey(scratchKey, 0);
    writeFrameHeader(out, 0, fin, rsv1, opcode, len, key);
    let off = hlen;
    let phase = 0;
    for (let i = 0; i < bytes.length; i++) {
      const part = bytes[i] as Uint8Array;
      phase = maskCopy(out, off, part, key, phase);
      off += part.length;
    }
    const parts = this.single;
    parts[0] = out;
    return parts;
  }

  /** `size` bytes to mask a frame into: a kept buffer or a view of one when it fits, else a new one. */
  private maskBuffer(size: number): Buffer {
    if (size <= MASKED_EXACT_MAX) {
      const small = this.masked;
      if (small !== null && small.length === size) return small;
      const fresh = Buffer.allocUnsafe(size);
      this.masked = fresh;
      return fresh;
    }
    if (size > MASKED_REUSE_MAX) return Buffer.allocUnsafe(size);
    let large = this.maskedLarge;
    if (large === null || large.length < size) {
      large = Buffer.allocUnsafe(size);
      this.maskedLarge = large;
    }
    return large.length === size ? large : large.subarray(0, size);
  }

  private makeHeader(hlen: number): Buffer {
    const header = Buffer.allocUnsafe(hlen);
    this.headers[hlen] = header;
    return header;
  }

  /** Deflates this operation's bytes (holding the write block, so messages stay in order), then frames them. */
  private compress(): void {
    const impl = this.impl;
    const ex = this.getExecutor();
    (impl.pmd as PmdCodec).deflater().compress(this.payload, this.fin, (err, out) =>
      ex.post(() => {
        if (impl.status !== 'open') return this.finish(impl.notOpenError());
        if (err) {
          const reported = impl.stopError(error.partialDeflateBlock);
          impl.closeNextLayer();
          return this.finish(reported);
        }
        this.compressed = true;
        this.out = [out];
        this.outTotal = out.length;
        this.writeFrame();
      }),
    );
  }

  private afterWrite(ec: ErrorCode | null, n: number): void {
    const impl = this.impl;
    if (ec) {
      const reported = impl.stopError(ec);
      impl.closeNextLayer();
      return this.finish(reported);
    }
    this.frameLeft -= n;
    if (this.frameLeft > 0) {
      // A partial write (a next layer that takes less than everything): write the rest.
      this.frame = dropFront(this.frame, n);
      impl.next.writeSome(this.frame, this.bind(this.onWritten));
      return;
    }
    this.sent += this.fragLen;
    if (this.sent === this.outTotal) return this.finish(null);
    // Let a waiting close, ping or pong out between two fragments.
    if (impl.yieldWrite(this, () => this.writeFrame())) return;
    this.writeFrame();
  }

  private finish(ec: ErrorCode | null): void {
    this.impl.unlockWrite(this);
    // Bytes of the caller's buffers: all of them once the compressed form is out, none before.
    const n = !this.compressed ? this.sent : this.sent === this.outTotal ? this.total : 0;
    this.complete(ec, n);
  }
}

/** The sequence without empty buffers (copied only when it has some). */
function withoutEmpty(bufs: Uint8Array[]): Uint8Array[] {
  for (let i = 0; i < bufs.length; i++) {
    if ((bufs[i] as Uint8Array).length === 0) return bufs.filter((b) => b.length > 0);
  }
  return bufs;
}

/** The sequence after its first `n` bytes. */
function dropFront(bufs: readonly Uint8Array[], n: number): Uint8Array[] {
  const out: Uint8Array[] = [];
  for (const b of bufs) {
    if (n >= b.length) {
      n -= b.length;
      continue;
    }
    out.push(n === 0 ? b : b.subarray(n));
    n = 0;
  }
  return out;
}

/** The bytes `[start, start + len)` of a buffer sequence, as views. */
function slice(bufs: readonly Uint8Array[], start: number, len: number): Uint8Array[] {
  const out: Uint8Array[] = [];
  let skip = start;
  let want = len;
  for (const b of bufs) {
    if (want === 0) break;
    if (skip >= b.length) {
      skip -= b.length;
      continue;
    }
    const take = Math.min(b.length - skip, want);
    out.push(skip === 0 && take === b.length ? b : b.subarray(skip, skip + take));
    want -= take;
    skip = 0;
  }
  return out;
}

/** Completed write operations, for the next write of any stream (bounded, as the socket layer's). */
const spareWriteOps: WriteOp<AsyncStream>[] = [];
const MAX_SPARE_WRITE_OPS = 64;

/** A pooled write operation attached to `impl`, or a new one. */
function writeOpOf<Next extends AsyncStream>(impl: StreamImpl<Next>): WriteOp<Next> {
  const spare = spareWriteOps.pop() as WriteOp<Next> | undefined;
  return spare === undefined ? new WriteOp(impl) : spare.attach(impl);
}

export function startWrite<
  Next extends AsyncStream,
  T extends CompletionToken<[number]> = DefaultToken<[number]>,
>(
  impl: StreamImpl<Next>,
  payload: Uint8Array | readonly Uint8Array[],
  fin: boolean,
  token: T | undefined,
): AsyncResult<T, [number]> {
  const total = bufferBytes(payload);
  if (typeof token === 'function') {
    writeOpOf(impl)
      .reset(payload, total, fin)
      .begin(token as CompletionHandler<[number]>, impl.next.getExecutor());
    return undefined as AsyncResult<T, [number]>;
  }
  return launchWrite(impl, payload, total, fin, token) as AsyncResult<T, [number]>;
}

/**
 * `startWrite` for the other tokens, which may start the operation later, or
 * (deferred) more than once: an object per start. Apart so that a
 * callback-token write makes no closure context (see read.ts's `launchRead`).
 */
function launchWrite<Next extends AsyncStream>(
  impl: StreamImpl<Next>,
  payload: Uint8Array | readonly Uint8Array[],
  total: number,
  fin: boolean,
  token: CompletionToken<[number]> | undefined,
): unknown {
  return launch(
    (handler) => writeOpOf(impl).reset(payload, total, fin).begin(handler, impl.next.getExecutor()),
    token as CompletionToken<unknown[]> | undefined,
  );
}
