// Shared by TcpStream and SslStream; not part of the public API (index.ts does not re-export this file).
import type { Socket } from 'node:net';
import {
  type AsyncResult,
  Completion,
  type CompletionHandler,
  type CompletionToken,
  cancellationType,
  type ErrorCode,
  error,
  errorFromErrno,
  getAssociatedCancellationSlot,
  getAssociatedExecutor,
  launch,
} from '@tsio/completion-token';
import { type Executor, systemContext } from '@tsio/executor';
import { bufferBytes, type ConstBufferSequence, type MutableBufferSequence } from './buffer.js';
import { asBuffer } from './buffer-internal.js';
import { defineFlagAccessors } from './flag-accessors.js';
import type { ShutdownType } from './socket-base.js';
import { type LendHandler, type LendReceiver, lent } from './stream-extensions.js';

/**
 * Bytes a stream reads ahead of its user. Above this the Node socket is
 * paused, so the kernel's receive window fills and the peer is throttled by
 * TCP itself. 64 KiB is one `read(2)` of Node's: a reader that keeps up never
 * sees the socket paused, and an idle connection costs at most this much
 * (plus the socket's own readable buffer, 16 KiB by default in Node 20).
 */
export const READ_AHEAD_LIMIT = 64 * 1024;

/**
 * Writes up to this size are copied into a batch buffer and complete as soon
 * as they are queued; larger ones are handed to the socket without a copy and
 * complete when Node reports them written, since until then the caller's
 * memory is still being read from.
 */
export const COPY_WRITE_LIMIT = 16 * 1024;

/**
 * How long `close()` lets Node flush what it still holds for a socket
 * before destroying it (see `SocketIo.close`).
 */
let closeLingerMs = 10_000;

/** @internal For tests: changes the close linger time; returns the previous one. */
export function setCloseLinger(ms: number): number {
  const prev = closeLingerMs;
  closeLingerMs = ms;
  return prev;
}

function destroySocket(sock: Socket): void {
  sock.destroy();
}

/** Views up to this size are copied into the batch byte by byte. */
const SMALL_COPY = 16;

/** Size of the buffers small writes are coalesced into. */
const BATCH_BUFFER_SIZE = 64 * 1024;

/**
 * The slab every socket's small writes are copied into, shared by all
 * sockets (as Node's own `Buffer` pool). A socket appends at the slab's end
 * and keeps extending its region while nobody else appended in between, so
 * one turn's writes to a socket still leave as one buffer. Regions are never
 * reused: a full slab is replaced and the old one freed once the socket
 * writes that reference it are done. An idle socket holds no write buffer
 * (a slab per socket cost 64 KiB of external memory per idle connection).
 */
let slab: Buffer | null = null;
let slabUsed = 0;

/** Bits of `SocketOp.phase`. */
const SENT = 1;
const DONE = 2;

/**
 * One `readSome` or `writeSome`: the operation's record here and its
 * completion (the `Completion` the executor queues), in one object — the
 * only allocation of a socket operation besides a buffer-sequence array.
 */
export class SocketOp extends Completion {
  /**
   * `phase` bits, none while waiting (a write waiting for room has
   * transferred nothing; a read always waits): `SENT`, handed to the socket
   * with a write callback, which may still refer to it after it completed
   * (kept once done); `DONE`, completed. One field, not two (spare ops are kept).
   */
  phase = 0;
  /** A lending read's receiver, called instead of `handler` (which is then `noHandler`). */
  receiver: LendReceiver | null = null;
  /** The caller's buffers: one view as it is (no array around it), or the sequence; null for a lending read. */
  views: Views | null = null;
  bytes = 0;

  constructor(
    handler: CompletionHandler<[number]> | LendReceiver,
    ioExecutor: Executor,
    views: Views | null,
    bytes: number,
  ) {
    super(noHandler, ioExecutor, undefined);
    this.reuse(handler, ioExecutor, views, bytes);
  }

  /** @internal Makes this operation ready for `handler`: a new one, or a spare (see `spareOps`). */
  reuse(
    handler: CompletionHandler<[number]> | LendReceiver,
    ioExecutor: Executor,
    views: Views | null,
    bytes: number,
  ): this {
    if (typeof handler === 'function') {
      const h = handler as CompletionHandler<unknown[]>;
      this.handler = h;
      this.ex = getAssociatedExecutor(h, ioExecutor);
      this.slot = getAssociatedCancellationSlot(h);
      this.receiver = null;
    } else {
      // A receiver has no associations: the stream's executor, no slot.
      this.handler = noHandler;
      this.receiver = handler;
      this.ex = ioExecutor;
      this.slot = undefined;
    }
    this.views = views;
    this.bytes = bytes;
    this.initiating = true;
    this.done = false;
    this.ec = null;
    this.phase = 0;
    return this;
  }

  override run(): void {
    // A socket operation always completes with (ec, value).
    const h = this.handler;
    const r = this.receiver;
    const ec = this.ec;
    const v = this.value;
    this.value = undefined;
    this.receiver = null;
    // Once it runs, an operation never handed to the socket is referenced by
    // nothing (its queue entry and slot handler are gone): it becomes a spare
    // before the handler — which usually starts the next one — runs.
    if ((this.phase & SENT) === 0 && spareOps.length < MAX_SPARE_OPS) {
      this.handler = noHandler;
      this.slot = undefined;
      this.views = noViews;
      spareOps.push(this);
    }
    if (r !== null) r[lent](ec, v as Buffer);
    else h(ec, v);
  }
}

function noHandler(): void {}
const noViews: Views = Object.freeze([]) as unknown as Views;

/**
 * Completed socket operations, kept for the next one on any socket, so that
 * a read or a small write per message allocates no operation object. A
 * write handed to the socket with a callback is never reused: the callback
 * may still run after the operation completed (cancelled while in flight).
 */
const spareOps: SocketOp[] = [];
const MAX_SPARE_OPS = 64;

type Op = SocketOp;
/** A pending read: its operation, or only its handler or receiver (`SocketIo.parkRead`). */
type PendingRead = Op | CompletionHandler<[number]> | LendReceiver;

/**
 * The empty queues every socket starts with, shared and frozen (a push on
 * one would throw rather than leak between sockets): a socket makes its own
 * array on first use. Empty arrays of its own cost ~32 B each per idle connection.
 */
const noOps = Object.freeze([]) as unknown as Op[];
const noChunks = Object.freeze([]) as unknown as (Buffer | undefined)[];

/**
 * What one socket writes at its next flush: the segments in order (with the
 * operation each large one completes), and the region of the shared slab
 * that its small writes are coalesced into, `[start, end)` of `region`.
 * Taken from a pool by the first write after a flush and given back by the
 * flush, so an idle socket holds none (six fields per connection less) and
 * a flush allocates no arrays.
 */
class WriteBatch {
  readonly segments: Buffer[] = [];
  readonly segmentOps: (Op | null)[] = [];
  region: Buffer | null = null;
  start = 0;
  end = 0;
  /** Bytes queued here, not yet handed to the socket (counted against its high-water mark). */
  bytes = 0;
}

const spareBatches: WriteBatch[] = [];
const MAX_SPARE_BATCHES = 64;

function releaseBatch(wb: WriteBatch): void {
  wb.segments.length = 0;
  wb.segmentOps.length = 0;
  wb.region = null;
  wb.bytes = 0;
  if (spareBatches.length < MAX_SPARE_BATCHES) spareBatches.push(wb);
}

/** An I/O object whose `readSome` / `writeSome` are socket operations (`TcpStream`, `SslStream`). */
export interface SocketOpStarter {
  /** @internal Starts one with a concrete handler (`startSocketOp` on its current `SocketIo`). */
  startIo(
    write: boolean,
    buffers: ConstBufferSequence | MutableBufferSequence | null,
    handler: CompletionHandler<[number]> | LendReceiver,
  ): void;
}

/**
 * The body of `readSome` (`write` false) and `writeSome` for any token: a
 * callback starts at once; another token object decides when (and how
 * often, `deferred`) the operation starts, each start a new operation.
 */
export function initiateSocketOp<T extends CompletionToken<[number]>>(
  owner: SocketOpStarter,
  write: boolean,
  buffers: ConstBufferSequence | MutableBufferSequence,
  token: T | undefined,
): AsyncResult<T, [number]> {
  if (typeof token === 'function') {
    owner.startIo(write, buffers, token as CompletionHandler<[number]>);
    return undefined as AsyncResult<T, [number]>;
  }
  return launchSocketOp(owner, write, buffers, token) as AsyncResult<T, [number]>;
}

/**
 * `initiateSocketOp` for token objects. Apart because V8 makes the context
 * a closure captures on entry to the function that creates it, whichever
 * branch runs: a callback-token read or write then allocates none.
 */
function launchSocketOp(
  owner: SocketOpStarter,
  write: boolean,
  buffers: ConstBufferSequence | MutableBufferSequence,
  token: CompletionToken<[number]> | undefined,
): unknown {
  return launch(
    (handler) => owner.startIo(write, buffers, handler),
    token as CompletionToken<unknown[]> | undefined,
  );
}

/** The body of `[lendSome]`: a read with no destination, completing with the chunk itself. */
export function lendThrough(owner: SocketOpStarter, handler: LendHandler | LendReceiver): void {
  owner.startIo(false, null, handler as unknown as CompletionHandler<[number]> | LendReceiver);
}

/**
 * Starts a `readSome` (`write` false) or `writeSome` on `io` for `handler`;
 * without an `io` it fails with `noIo`. Used by `TcpStream` and `SslStream`
 * in place of `asyncInitiate`: the never-inline rule is `SocketOp`'s.
 */
export function startSocketOp(
  io: SocketIo | null,
  write: boolean,
  buffers: ConstBufferSequence | MutableBufferSequence | null,
  handler: CompletionHandler<[number]> | LendReceiver,
  ioExecutor: Executor,
  noIo: ErrorCode,
): void {
  // A lending read (`buffers` null) has no destination; its size only needs to be non-zero.
  const bytes = buffers === null ? 1 : bufferBytes(buffers);
  const spare = spareOps.pop();
  const op =
    spare !== undefined
      ? spare.reuse(handler, ioExecutor, buffers, bytes)
      : new SocketOp(handler, ioExecutor, buffers, bytes);
  try {
    if (io === null) op.complete(noIo, 0);
    else if (write) io.writeSome(op);
    else io.readSome(op);
  } finally {
    op.initiating = false;
  }
}

/** What a `SocketIo` needs from the stream that owns it: work counting and the expiry. */
export interface IoOwner {
  /** True when the stream's expiry has passed; the caller fails the operation with a timeout. */
  expired(): boolean;
  /** Closes the stream because its expiry passed; every pending operation completes with `timeout`. */
  timeOut(): void;
  /** An operation is now outstanding (counts executor work, arms the expiry timer). */
  opStarted(): void;
  opFinished(): void;
  /** The error an operation started after the expiry completes with. */
  readonly timeoutError: ErrorCode;
  /** The executor the stream's operations are started with (their handlers' default). */
  getExecutor(): Executor;
}

/**
 * The socket's listeners are shared by every socket: an EventEmitter calls a
 * listener with `this` set to the emitter, and the socket points to its
 * SocketIo. Five bound listeners and a flush closure per socket cost ~0.4 KB
 * of heap per idle connection.
 */
const ioKey: unique symbol = Symbol('tsio.socketIo');
type IoSocket = Socket & { [ioKey]?: SocketIo | undefined };

function sharedOnData(this: IoSocket, chunk: Buffer): void {
  this[ioKey]?.onData(chunk);
}
function sharedOnEnd(this: IoSocket): void {
  this[ioKey]?.onEnd();
}
function sharedOnError(this: IoSocket, err: Error): void {
  this[ioKey]?.onError(err);
}
function sharedOnClose(this: IoSocket): void {
  this[ioKey]?.onClose();
}
function sharedOnDrain(this: IoSocket): void {
  this[ioKey]?.onDrain();
}
function sharedFlush(io: SocketIo): void {
  io.flush();
}

/** Bits of `SocketIo.flags`: seven booleans in one number (~50 bytes of heap per connection less). */
const ioFlag = {
  paused: 1 << 0,
  readEnded: 1 << 1,
  receiveShut: 1 << 2,
  sendShut: 1 << 3,
  closed: 1 << 4,
  detached: 1 << 5,
  flushScheduled: 1 << 6,
} as const;

/** A buffer sequence as the socket keeps it: a single view, or an array of them. */
type Views = Uint8Array | readonly Uint8Array[];

function viewCount(views: Views): number {
  return views instanceof Uint8Array ? 1 : views.length;
}

function viewAt(views: Views, i: number): Uint8Array {
  return views instanceof Uint8Array ? views : views[i]!;
}

/**
 * The pull-based reader and batching writer over one Node socket (plain or
 * TLS). It implements `readSome` / `writeSome` for a `SocketOp` made by
 * `startSocketOp`, whose completion never runs the handler inline.
 *
 * Reading: `'data'` chunks are kept as they arrive (a partly consumed chunk
 * becomes a subarray view, never a copy) and copied once, into the caller's
 * buffers. The socket flows only while a read is pending or the read-ahead
 * has room.
 *
 * Writing: bytes written during one drain of the default executor are
 * flushed to the socket once, when that drain ends; bytes written elsewhere
 * (a promise continuation, a timer) from `process.nextTick`, which runs after
 * the microtasks queued with them.
 */
export class SocketIo {
  // Received chunks not yet read; `chunks[head]` may be a view of a partly consumed chunk.
  private chunks: (Buffer | undefined)[] = noChunks;
  private head = 0;
  private buffered = 0;
  /**
   * The pending reads in order: the first in its own field (an idle
   * connection keeps one pending read and no array), the rest, rare, after it.
   * The first may be kept as its bare handler (`parkRead`).
   */
  private read: PendingRead | null = null;
  private moreReads: Op[] = noOps;
  private writes: Op[] = noOps;
  /** The booleans below, one bit each (`ioFlag`; accessors defined after the class). */
  /** @internal */
  flags: number = ioFlag.paused;
  declare private paused: boolean;
  declare private readEnded: boolean;
  declare private receiveShut: boolean;
  declare private sendShut: boolean;
  declare private closed: boolean;
  declare private detached: boolean;
  declare private flushScheduled: boolean;
  private failure: ErrorCode | null = null;

  /** What the next flush writes; none between flushes (`WriteBatch`). */
  private wb: WriteBatch | null = null;
  private eofWaiters: ((ec: ErrorCode | null) => void)[] | null = null;

  constructor(
    readonly socket: Socket,
    private readonly owner: IoOwner,
  ) {
    (socket as IoSocket)[ioKey] = this;
    socket.on('data', sharedOnData);
    socket.on('end', sharedOnEnd);
    socket.on('error', sharedOnError);
    socket.on('close', sharedOnClose);
    socket.on('drain', sharedOnDrain);
    socket.pause();
    this.updateFlow();
  }

  /** True until closed locally, by a timeout or by an error. */
  isOpen(): boolean {
    return !this.closed && !this.socket.destroyed;
  }

  /** Operations outstanding (for tests and the owner's bookkeeping). */
  pendingCount(): number {
    return (this.read === null ? 0 : 1) + this.moreReads.length + this.writes.length;
  }

  // ---- reading ------------------------------------------------------------

  readSome(op: SocketOp): void {
    if (this.owner.expired()) {
      this.owner.timeOut();
      op.complete(this.owner.timeoutError, 0);
      return;
    }
    if (op.bytes === 0) {
      op.complete(null, 0);
      return;
    }
    if (this.read === null && this.buffered > 0 && !this.receiveShut) {
      const got = this.takeBuffered(op);
      this.updateFlow();
      op.complete(null, got);
      return;
    }
    const ec = this.readError();
    if (ec) {
      op.complete(ec, 0);
      return;
    }
    if (this.read === null) this.parkRead(op);
    else if (this.moreReads === noOps) this.moreReads = [op];
    else this.moreReads.push(op);
    this.owner.opStarted();
    // A pending read has transferred nothing (data is copied in only as it
    // completes), so every cancellation type leaves the stream as it was.
    op.slot?.assign((type) => {
      if ((type & cancellationType.all) === 0 || (op.phase & DONE) !== 0) return;
      this.removeRead(op);
      this.finish(op, error.operationAborted, 0);
      this.updateFlow();
    });
    this.updateFlow();
  }

  /**
   * Makes `op` the first pending read. A lending read that nothing can
   * cancel and whose handler runs on the stream's executor — the websocket
   * read of an idle connection — is kept as its bare handler or receiver:
   * its operation goes back to the spare pool and is made again, the same,
   * when the read completes (`shiftRead`). An idle connection keeps no
   * `SocketOp` (0.11 KB).
   */
  private parkRead(op: Op): void {
    if (op.views !== null || op.slot !== undefined || op.ex !== this.owner.getExecutor()) {
      this.read = op;
      return;
    }
    this.read = op.receiver ?? op.handler;
    // Its `initiating` is cleared by startSocketOp after this returns; `reuse` sets it again.
    op.handler = noHandler;
    op.receiver = null;
    if (spareOps.length < MAX_SPARE_OPS) spareOps.push(op);
  }

  /** Takes the first pending read off the queue (there must be one), as an operation. */
  private shiftRead(): Op {
    const first = this.read as PendingRead;
    this.read = this.moreReads.length > 0 ? (this.moreReads.shift() as Op) : null;
    if (first instanceof SocketOp) return first;
    const ex = this.owner.getExecutor();
    const spare = spareOps.pop();
    const op = spare !== undefined ? spare.reuse(first, ex, null, 1) : new SocketOp(first, ex, null, 1);
    op.initiating = false;
    return op;
  }

  private removeRead(op: Op): void {
    if (this.read === op) this.shiftRead();
    else {
      const i = this.moreReads.indexOf(op);
      if (i >= 0) this.moreReads.splice(i, 1);
    }
  }

  private readError(): ErrorCode | null {
    if (this.closed) return this.failure ?? error.badDescriptor;
    if (this.readEnded || this.receiveShut) return error.eof;
    return this.failure;
  }

  /** What a read gets of the buffered bytes: the first chunk itself (lending), or a copy into its buffers. */
  private takeBuffered(op: Op): number | Buffer {
    return op.views === null ? this.lendOut() : this.copyOut(op.views);
  }

  /** Hands over the first buffered chunk as it is (a lending read). */
  private lendOut(): Buffer {
    const chunk = this.chunks[this.head]!;
    this.chunks[this.head++] = undefined;
    if (this.head === this.chunks.length) {
      this.chunks = noChunks;
      this.head = 0;
    }
    this.buffered -= chunk.length;
    return chunk;
  }

  private copyOut(views: Views): number {
    let copied = 0;
    let vi = 0;
    let vOff = 0;
    const count = viewCount(views);
    while (vi < count && this.buffered > 0) {
      const view = viewAt(views, vi);
      const chunk = this.chunks[this.head]!;
      const n = Math.min(view.length - vOff, chunk.length);
      view.set(n === chunk.length ? chunk : chunk.subarray(0, n), vOff);
      copied += n;
      vOff += n;
      this.buffered -= n;
      if (n === chunk.length) {
        this.chunks[this.head++] = undefined;
        if (this.head === this.chunks.length) {
          // Drained: back to the shared empty queue (an idle connection keeps no array).
          this.chunks = noChunks;
          this.head = 0;
        }
      } else {
        this.chunks[this.head] = chunk.subarray(n);
      }
      if (vOff === view.length) {
        vi++;
        vOff = 0;
      }
    }
    return copied;
  }

  private serveReads(): void {
    while (this.read !== null && this.buffered > 0) {
      const op = this.shiftRead();
      this.finish(op, null, this.takeBuffered(op));
    }
    if (this.read !== null) {
      const ec = this.readError();
      if (ec) this.failReads(ec);
    }
  }

  private failReads(ec: ErrorCode): void {
    // The reads pending now: a handler run inline may start a new one, which this does not fail.
    if (this.read === null) return;
    const rest = this.moreReads;
    this.moreReads = noOps;
    // With no more reads queued, this also leaves `read` empty.
    const first = this.shiftRead();
    this.finish(first, ec, 0);
    for (const op of rest) this.finish(op, ec, 0);
  }

  private updateFlow(): void {
    if (this.closed || this.detached || this.readEnded) return;
    const flow = this.read !== null || this.buffered < READ_AHEAD_LIMIT || this.receiveShut;
    if (flow === !this.paused) return;
    this.paused = !flow;
    if (flow) this.socket.resume();
    else this.socket.pause();
  }

  /** @internal */
  onData(chunk: Buffer): void {
    if (this.receiveShut || this.closed) return;
    if (this.buffered === 0 && this.read !== null) {
      const op = this.shiftRead();
      if (op.views === null) {
        // A lending read takes the chunk itself.
        this.finish(op, null, chunk);
      } else {
        // Straight into the waiting reader's memory, keeping only the excess.
        this.pushChunk(chunk);
        this.buffered = chunk.length;
        this.finish(op, null, this.copyOut(op.views));
      }
    } else {
      this.pushChunk(chunk);
      this.buffered += chunk.length;
    }
    this.serveReads();
    this.updateFlow();
  }

  private pushChunk(chunk: Buffer): void {
    if (this.chunks === noChunks) this.chunks = [chunk];
    else this.chunks.push(chunk);
  }

  /** @internal */
  onEnd(): void {
    this.readEnded = true;
    this.serveReads();
    this.settleEofWaiters(null);
  }

  /** @internal */
  onError(err: Error): void {
    if (this.closed) return;
    this.failure ??= errorFromErrno(err);
    // Bytes received before the error are still delivered; only then the error.
    this.serveReads();
    this.failWrites(this.failure);
    this.settleEofWaiters(this.failure);
  }

  /** @internal */
  onClose(): void {
    if (this.closed) return;
    if (!this.readEnded && !this.failure) this.failure = error.connectionAborted;
    this.closed = true;
    this.failReads(this.failure ?? error.eof);
    this.failWrites(this.failure ?? error.brokenPipe);
    this.settleEofWaiters(this.failure);
  }

  // ---- writing ------------------------------------------------------------

  writeSome(op: SocketOp): void {
    const bytes = op.bytes;
    if (this.owner.expired()) {
      this.owner.timeOut();
      op.complete(this.owner.timeoutError, 0);
      return;
    }
    if (bytes === 0) {
      op.complete(null, 0);
      return;
    }
    const ec = this.writeError();
    if (ec) {
      op.complete(ec, 0);
      return;
    }
    if (this.canCopyNow(bytes)) {
      this.copyIn(op.views as Views, bytes);
      op.complete(null, bytes);
      return;
    }
    if (this.writes === noOps) this.writes = [op];
    else this.writes.push(op);
    this.owner.opStarted();
    op.slot?.assign((type) => {
      if ((op.phase & DONE) !== 0) return;
      // Waiting for room nothing has moved, so any type applies; once handed
      // to the socket the bytes may be on the wire, so only terminal does.
      const allowed = op.phase === 0 ? cancellationType.all : cancellationType.terminal;
      if ((type & allowed) === 0) return;
      const i = this.writes.indexOf(op);
      if (i >= 0) this.writes.splice(i, 1);
      this.finish(op, error.operationAborted, 0);
    });
    this.pumpWrites();
  }

  /**
   * A speculative write: takes `views` now, copied into the batch, when a
   * `writeSome` of them would complete at once; returns the bytes taken
   * (all or 0). Everything that would make `writeSome` wait or fail returns
   * 0, and the caller then uses `writeSome`, which reports it.
   */
  trySend(views: Views, bytes: number): number {
    if (bytes === 0 || this.owner.expired() || this.writeError() !== null || !this.canCopyNow(bytes))
      return 0;
    this.copyIn(views, bytes);
    return bytes;
  }

  /** A write of `bytes` (valid, on a writable socket) is copied into the batch and completes at once. */
  private canCopyNow(bytes: number): boolean {
    return this.writes.length === 0 && bytes <= COPY_WRITE_LIMIT && this.hasRoom();
  }

  private writeError(): ErrorCode | null {
    if (this.failure) return this.failure;
    if (this.closed) return error.badDescriptor;
    if (this.sendShut) return error.shutDown;
    return null;
  }

  private hasRoom(): boolean {
    const queued = this.wb === null ? 0 : this.wb.bytes;
    return this.socket.writableLength + queued < this.socket.writableHighWaterMark;
  }

  /** Starts waiting writes, in order, while the socket has room. */
  private pumpWrites(): void {
    // An index loop, not for-of: no iterator per flush.
    for (let i = 0; i < this.writes.length; i++) {
      const op = this.writes[i] as Op;
      if (op.phase !== 0) continue;
      const ec = this.writeError();
      if (ec) {
        this.failWrites(ec);
        return;
      }
      if (!this.hasRoom()) return;
      const views = op.views as Views;
      if (op.bytes <= COPY_WRITE_LIMIT) {
        this.copyIn(views, op.bytes);
        this.writes.splice(i, 1);
        this.finish(op, null, op.bytes);
        this.pumpWrites();
        return;
      }
      op.phase = SENT;
      this.closeBatchSegment();
      for (let k = 0, count = viewCount(views); k < count; k++) {
        const v = viewAt(views, k);
        if (v.length === 0) continue;
        this.pushSegment(asBuffer(v));
      }
      const wb = this.batchOf();
      wb.segmentOps[wb.segmentOps.length - 1] = op;
      wb.bytes += op.bytes;
      this.scheduleFlush();
    }
  }

  private failWrites(ec: ErrorCode): void {
    if (this.writes.length === 0) return;
    const writes = this.writes.splice(0);
    for (const op of writes) this.finish(op, ec, 0);
  }

  private copyIn(views: Views, bytes: number): void {
    // Extend our open region of the shared slab if it ends where the slab does.
    const wb = this.batchOf();
    if (wb.region === null || wb.region !== slab || wb.end !== slabUsed || slab.length - slabUsed < bytes) {
      this.closeBatchSegment();
      if (slab === null || slab.length - slabUsed < bytes) {
        slab = Buffer.allocUnsafe(Math.max(BATCH_BUFFER_SIZE, bytes));
        slabUsed = 0;
      }
      wb.region = slab;
      wb.start = wb.end = slabUsed;
    }
    const batch = wb.region;
    let end = wb.end;
    for (let i = 0, count = viewCount(views); i < count; i++) {
      const v = viewAt(views, i);
      const n = v.length;
      // A frame header or a small payload: a loop costs less than set()'s call into C++.
      if (n <= SMALL_COPY) for (let j = 0; j < n; j++) batch[end + j] = v[j]!;
      else batch.set(v, end);
      end += n;
    }
    wb.end = end;
    slabUsed = end;
    wb.bytes += bytes;
    this.scheduleFlush();
  }

  /**
   * Turns the coalesced bytes into a segment and lets go of the slab. The
   * slab keeps filling after them (for any socket): the socket only ever
   * reads the region already handed over.
   */
  private closeBatchSegment(): void {
    const wb = this.wb;
    if (wb === null || wb.region === null) return;
    if (wb.end !== wb.start) this.pushSegment(wb.region.subarray(wb.start, wb.end));
    wb.region = null;
  }

  private pushSegment(seg: Buffer): void {
    const wb = this.batchOf();
    wb.segments.push(seg);
    wb.segmentOps.push(null);
  }

  private batchOf(): WriteBatch {
    if (this.wb === null) this.wb = spareBatches.pop() ?? new WriteBatch();
    return this.wb;
  }

  private scheduleFlush(): void {
    // The bit itself, not the accessor: once per message written, and the
    // accessor call was not always inlined (profile of the 32 B echo).
    if ((this.flags & ioFlag.flushScheduled) !== 0) return;
    this.flags |= ioFlag.flushScheduled;
    // Inside a drain of the default executor (every callback-token handler
    // and composed-operation step), flush when that drain ends; otherwise
    // (a promise continuation, a timer, an IoContext) from the next tick.
    if (!systemContext.atDrainEnd(sharedFlush, this)) process.nextTick(sharedFlush, this);
  }

  /** Hands the batch to the socket: one write, or a corked run that Node turns into one `writev`. */
  flush(): void {
    this.flags &= ~ioFlag.flushScheduled;
    this.closeBatchSegment();
    const wb = this.wb;
    if (wb === null) return;
    this.wb = null;
    const segs = wb.segments;
    const ops = wb.segmentOps;
    if (segs.length === 0 || this.closed || this.socket.destroyed) {
      releaseBatch(wb);
      return;
    }
    const sock = this.socket;
    const many = segs.length > 1;
    if (many) sock.cork();
    for (let i = 0; i < segs.length; i++) {
      const op = ops[i];
      if (op) sock.write(segs[i]!, (err) => this.onWritten(op, err));
      else sock.write(segs[i]!);
    }
    if (many) sock.uncork();
    releaseBatch(wb);
    this.pumpWrites();
  }

  private onWritten(op: Op, err: Error | null | undefined): void {
    if ((op.phase & DONE) !== 0) return;
    const i = this.writes.indexOf(op);
    if (i >= 0) this.writes.splice(i, 1);
    if (err) {
      this.failure ??= errorFromErrno(err);
      this.finish(op, this.failure, 0);
    } else {
      this.finish(op, null, op.bytes);
    }
  }

  /** @internal */
  onDrain(): void {
    this.pumpWrites();
  }

  // ---- completion, cancellation, closing -----------------------------------

  /** `got`: bytes transferred, or a lending read's chunk. */
  private finish(op: Op, ec: ErrorCode | null, got: number | Buffer): void {
    op.phase |= DONE;
    this.owner.opFinished();
    op.complete(ec, got);
  }

  /** Completes every pending operation with `ec` (Asio's `cancel()` gives `operationAborted`). */
  abortAll(ec: ErrorCode): void {
    this.failReads(ec);
    this.failWrites(ec);
  }

  /**
   * Asio's `shutdown`. `'send'` flushes what is queued and then sends FIN
   * (for TLS, close_notify first); `'receive'` makes reads report `eof` and
   * discards whatever arrives from now on.
   */
  shutdown(what: ShutdownType): ErrorCode | null {
    if (this.closed) return error.badDescriptor;
    if (what !== 'receive' && !this.sendShut) {
      this.sendShut = true;
      this.flush();
      this.failWrites(error.shutDown);
      this.socket.end();
    }
    if (what !== 'send' && !this.receiveShut) {
      this.receiveShut = true;
      this.discardBuffered();
      this.failReads(error.eof);
      this.updateFlow();
    }
    return null;
  }

  private discardBuffered(): void {
    this.chunks = noChunks;
    this.head = 0;
    this.buffered = 0;
  }

  /**
   * Waits for the peer's end of the stream, discarding data that arrives
   * first; `null` on eof. Used by the TLS shutdown, which waits for the
   * peer's close_notify or FIN.
   */
  waitEof(callback: (ec: ErrorCode | null) => void): void {
    this.discardBuffered();
    this.receiveShut = true;
    this.failReads(error.eof);
    if (this.readEnded) {
      callback(null);
      return;
    }
    if (this.closed) {
      callback(this.failure);
      return;
    }
    this.eofWaiters ??= [];
    this.eofWaiters.push(callback);
    this.updateFlow();
  }

  private settleEofWaiters(ec: ErrorCode | null): void {
    const waiters = this.eofWaiters;
    if (waiters === null) return;
    this.eofWaiters = null;
    for (const w of waiters) w(ec);
  }

  /**
   * Closes the socket: pending operations complete with `ec`. Bytes whose
   * `writeSome` already completed are still sent (as the kernel would send
   * them after `close(2)`), unless `abortive` — a timeout or an error, where
   * the peer is not expected to read them.
   */
  close(ec: ErrorCode = error.operationAborted, abortive = false): void {
    if (this.closed) return;
    this.abortAll(ec);
    this.settleEofWaiters(ec);
    this.flush();
    this.closed = true;
    this.discardBuffered();
    const sock = this.socket;
    if (!abortive && !this.failure && sock.writableLength > 0 && !sock.writableEnded) {
      // Node still holds bytes the kernel has not taken: let them drain, but
      // not forever — a peer that never reads would keep the socket (and the
      // process) alive. After the linger time the rest is dropped, as a
      // kernel drops a closed socket's queue after its own timeouts.
      const linger = setTimeout(destroySocket, closeLingerMs, sock);
      linger.unref();
      sock.end(() => {
        clearTimeout(linger);
        sock.destroy();
      });
      sock.resume();
    } else {
      sock.destroy();
    }
  }

  /**
   * Stops using the socket without closing it and gives it back with the
   * bytes read ahead pushed back into it, so a TLS layer taking over the
   * connection sees every byte (Node's TLSSocket feeds a wrapped socket's
   * buffered data to the TLS engine).
   */
  detach(): Socket {
    this.flush();
    this.detached = true;
    const sock = this.socket;
    sock.pause();
    sock.off('data', sharedOnData);
    sock.off('end', sharedOnEnd);
    sock.off('error', sharedOnError);
    sock.off('close', sharedOnClose);
    sock.off('drain', sharedOnDrain);
    (sock as IoSocket)[ioKey] = undefined;
    for (let i = this.chunks.length - 1; i >= this.head; i--) sock.unshift(this.chunks[i]!);
    this.discardBuffered();
    this.closed = true;
    return sock;
  }
}

defineFlagAccessors(SocketIo.prototype, ioFlag);
