import {
  type CancellationSlot,
  type CancellationType,
  cancellationType,
  type ErrorCode,
  error as netError,
} from '@tsio/completion-token';
import type { Executor } from '@tsio/executor';
import {
  type AsyncStream,
  beastError,
  defineFlagAccessors,
  isChunkLender,
  isSpeculativeWriter,
} from '@tsio/net';
import type { PmdCodec } from './deflate.js';
import { FrameParser, headerSize, writeFrameHeader } from './detail/frame.js';
import type { RequestType, ResponseType } from './detail/handshake.js';
import { generateMaskKey, maskInto } from './detail/mask.js';
import { type CloseReason, closeCode } from './detail/rfc6455.js';
import { Utf8Checker } from './detail/utf8.js';
import { error as wsError } from './error.js';
import type { StreamOptions } from './options.js';
import { sharedOptions } from './options.js';

export type Role = 'client' | 'server';

/** An HTTP refusal chosen by a server-side hook. */
export interface Refusal {
  status: number;
  reason: string;
  body?: string;
}

/** The handshake's extension points, filled by the stream's options. */
export interface HandshakeHooks {
  /** Client: decorate the upgrade request (decorator, subprotocols, extension offers). */
  decorateRequest(req: RequestType): void;
  /** Client: check the 101 response beyond RFC 6455 §4.1 (subprotocol, extensions); an error fails it. */
  onResponse(req: RequestType, res: ResponseType): ErrorCode | null;
  /** Server: decorate the response, 101 or refusal. */
  decorateResponse(res: ResponseType): void;
  /** Server: negotiate (subprotocol, extensions) into the 101, or refuse the upgrade. */
  onRequest(req: RequestType, res: ResponseType): Refusal | null;
}

/** Beast's `status` (stream_base.hpp). */
export type Status = 'handshake' | 'open' | 'closing' | 'closed' | 'failed';

/** What the control callback is told (Beast's `frame_type`). */
export type FrameType = 'close' | 'ping' | 'pong';
export type ControlCallback = (kind: FrameType, payload: string) => void;

/**
 * Who may take the write block next, highest priority first. A finishing
 * write hands over to close before an idle ping, a read's pong or close echo,
 * a user's ping, and another write (Beast impl/write.hpp upcall order).
 */
const writeWaiterOrder = ['close', 'idlePing', 'read', 'ping', 'write'] as const;
export type WriteWaiter = (typeof writeWaiterOrder)[number];
/** A close op waiting for a pending read is resumed before a read waiting for the close. */
const readWaiterOrder = ['close', 'read'] as const;
export type ReadWaiter = (typeof readWaiterOrder)[number];

/** A parked operation: resumed with the block already handed to it. */
export type Resume = () => void;

/** The close reason before any close frame arrived (shared: `Stream.reason()` hands out copies). */
const noReason: CloseReason = Object.freeze({ code: closeCode.none, reason: '' });

/** Shared by every stream with no parked waiter; replaced by a stream's own object on first park. */
const noWaiters: Partial<Record<WriteWaiter | ReadWaiter, Resume>> = Object.freeze({});

/** Bits of `StreamImpl.flags`; each is also a boolean accessor of that name (defined after the class). */
/** The empty read buffer (shared: an empty Buffer per stream would cost an object each). */
const NO_BYTES: Buffer = Buffer.alloc(0);

const flag = {
  binary: 1 << 0,
  autoFragment: 1 << 1,
  rdInflate: 1 << 2,
  rdTailSent: 1 << 3,
  wrDeflate: 1 << 4,
  wrCompress: 1 << 5,
  rdText: 1 << 6,
  rdDone: 1 << 7,
  rdFin: 1 << 8,
  rdClose: 1 << 9,
  wrClose: 1 << 10,
  wrCont: 1 << 11,
  closeStarted: 1 << 12,
  idlePinged: 1 << 13,
  timedOut: 1 << 14,
  failedReported: 1 << 15,
  canWriteNow: 1 << 16,
  canLend: 1 << 17,
} as const;

/**
 * The role is kept in `flags` too, above the booleans: two bits, 0 for none,
 * then an index into `roles`. One field fewer per connection.
 */
const ROLE_SHIFT = 18;
const roles: readonly (Role | null)[] = [null, 'client', 'server'];

/** What parking needs of a composed operation's `self`. */
export interface Parkable {
  cancellationSlot(): CancellationSlot;
  resetCancellationState(filter?: CancellationType): void;
}

function resumeParked(self: Parkable, run: Resume): Resume {
  return () => {
    self.cancellationSlot().clear();
    self.resetCancellationState(cancellationType.terminal);
    run();
  };
}

function parkCancellable(self: Parkable, unpark: () => boolean, onCancel: Resume): void {
  self.resetCancellationState(cancellationType.all);
  self.cancellationSlot().assign(() => {
    if (unpark()) onCancel();
  });
}

/** Smallest free space worth a `readSome` into the read buffer before compacting it. */
const MIN_READ_SPACE = 2048;

/**
 * Frame parsers not held by any stream, for the next stream that receives a
 * frame (a stream gives its parser back between messages). Bounded: past
 * this many, a released parser is left to the garbage collector.
 */
const spareParsers: FrameParser[] = [];
const MAX_SPARE_PARSERS = 64;

function offerParser(p: FrameParser): void {
  if (spareParsers.length < MAX_SPARE_PARSERS) spareParsers.push(p);
}

/** A stream's timer (Beast's one timer per stream), made the first time it is armed. */
class StreamTimer {
  timer: NodeJS.Timeout | undefined = undefined;
  /** Bumped by every clear or re-arm, so that an expiry already posted is dropped. */
  gen = 0;
  /** `performance.now()` when bytes last arrived (for the idle timer). */
  lastReceived = 0;
}

/**
 * The state shared by a stream's composed operations (Beast's
 * `stream::impl_type` in impl/stream_impl.hpp). Each operation lives in its
 * own file and works on this object.
 *
 * The two "blocks" are Beast's soft mutexes: `wrBlock` is held by whoever is
 * writing a frame (write, ping/pong, close, a read sending a pong or close
 * echo), `rdBlock` by whoever is reading frames (a read, or close draining
 * to the peer's close frame). An operation that finds a block held parks in
 * the matching waiter slot; releasing a block hands it to the first parked
 * waiter in priority order.
 */
export class StreamImpl<Next extends AsyncStream = AsyncStream> {
  /** Beast's role: client after a handshake, server after an accept; null before either. */
  get role(): Role | null {
    return roles[(this.flags >>> ROLE_SHIFT) & 3] as Role | null;
  }

  set role(r: Role | null) {
    this.flags = (this.flags & ~(3 << ROLE_SHIFT)) | (roles.indexOf(r) << ROLE_SHIFT);
  }

  /**
   * A field, not bits of `flags` like the role: the read loop checks the
   * status on every step, and decoding it there cost ~8 % of an in-process echo.
   */
  private statusValue: Status = 'handshake';
  /**
   * The options; shared by every stream until one is changed (`ownOpts`).
   * `binary` and `autoFragment`, which change per message, are flags.
   */
  opts: StreamOptions = sharedOptions();
  /** The boolean state below, one bit each (`flag`): ~0.1 KB of heap per connection less than fields. */
  flags: number = flag.wrCompress | flag.rdDone | flag.autoFragment;
  /** Beast's `binary(bool)`: messages written are binary (else text). */
  declare binary: boolean;
  /** Beast's `auto_fragment(bool)`. */
  declare autoFragment: boolean;

  /**
   * Beast's `change_status` + `update_timer` (impl/stream_impl.hpp): each
   * status owns its timer. open arms the idle timer, closing bounds the
   * closing handshake, and closed/failed stop the timer and release the
   * zlib streams, so no timer or codec outlives the connection whichever
   * terminal path was taken. (handshake: the handshake and accept
   * operations arm the handshake timer themselves.)
   */
  get status(): Status {
    return this.statusValue;
  }

  set status(s: Status) {
    const before = this.statusValue;
    this.statusValue = s;
    // Setting 'open' again re-arms the idle timer (after a Timeout option change).
    if (s === before && s !== 'open') return;
    if (s === 'open') this.armIdle();
    else if (s === 'closing') this.setTimer(closingTimeoutOf(this.opts));
    else if (s === 'closed' || s === 'failed') {
      this.clearTimer();
      this.pmd?.close();
    }
  }

  // ---- permessage-deflate (RFC 7692) ----
  /** The negotiated codec, null when permessage-deflate is off for this connection. */
  pmd: PmdCodec | null = null;
  /** The message being read is compressed and not yet fully inflated (Beast's `rd_deflated`). */
  declare rdInflate: boolean;
  /** The final frame's payload is in the inflater and the §7.2.2 tail written after it. */
  declare rdTailSent: boolean;
  /** The message being written is compressed (decided on its first frame). */
  declare wrDeflate: boolean;
  /** Beast's `compress(bool)`: compress the messages written from now on (when negotiated). */
  declare wrCompress: boolean;

  // ---- read side ----
  /** The bytes being parsed, `[rdPos, rdEnd)` not yet consumed: our own buffer, or a chunk the next layer lent. */
  rdBuf: Buffer = NO_BYTES;
  rdPos = 0;
  rdEnd = 0;
  /**
   * What the read buffer is allocated at: it starts at MIN_READ_SPACE (a
   * slice of Node's shared pool) and doubles up to `readBufferBytes` each
   * time a read fills it, so an idle connection holds 2 KiB, not 16 KiB
   * (memory-idle: external memory per connection 16 KB -> 2 KB).
   */
  rdSize = MIN_READ_SPACE;
  /**
   * The frame parser, held only while a frame is being read: between
   * messages it goes back to a pool shared by all streams (`releaseParser`),
   * as the read buffer does, so an idle connection keeps none (~0.23 KB).
   */
  private parserStore: FrameParser | null = null;
  get parser(): FrameParser {
    return this.parserStore ?? this.takeParser();
  }
  /**
   * A data frame starts a message: its kind, whether it is compressed and
   * whether this frame ends it; not done, no deflate tail sent. One write of
   * `flags` rather than five through the accessors (once per message read).
   */
  startReadMessage(text: boolean, inflate: boolean, fin: boolean): void {
    const kept = this.flags & ~(flag.rdText | flag.rdDone | flag.rdInflate | flag.rdTailSent | flag.rdFin);
    this.flags = kept | (text ? flag.rdText : 0) | (inflate ? flag.rdInflate : 0) | (fin ? flag.rdFin : 0);
  }

  /** Whether the stream holds a parser now (a read waits for bytes before taking one, read.ts `first`). */
  get hasParser(): boolean {
    return this.parserStore !== null;
  }
  /** Bytes of the current message seen so far (compared with readMessageMax). */
  rdMsgSize = 0;
  declare rdText: boolean;
  /** The last frame of the current message has been fully read. */
  declare rdDone: boolean;
  /** FIN of the data frame whose payload is being read. */
  declare rdFin: boolean;
  /** Made on the first text message: a binary-only connection never needs it. */
  private utf8Checker: Utf8Checker | null = null;
  get utf8(): Utf8Checker {
    this.utf8Checker ??= new Utf8Checker();
    return this.utf8Checker;
  }
  declare rdClose: boolean;
  /** The peer's close reason (Beast's `reason()`). */
  cr: CloseReason = noReason;

  // ---- write side ----
  declare wrClose: boolean;
  /** A message started with writeSome(fin=false) is in progress: the next frame is a continuation. */
  declare wrCont: boolean;
  /** asyncClose was called (set at initiation, so a second close is refused even while the first waits). */
  declare closeStarted: boolean;

  // ---- blocks ----
  wrBlock: object | null = null;
  rdBlock: object | null = null;
  /**
   * The last completed read operation (read.ts), kept for the next one: a
   * stream reads one message at a time, so one object serves every message
   * (an idle stream has its read pending anyway). Write operations are
   * pooled across streams instead (write.ts): a stream that is not writing
   * holds none.
   */
  spareReadOp: object | null = null;
  // Made when an operation first parks: most streams never park one (memory per idle connection).
  private wrWaiters: Partial<Record<WriteWaiter, Resume>> = noWaiters;
  private rdWaiters: Partial<Record<ReadWaiter, Resume>> = noWaiters;

  // ---- timer ----
  /** Made when a timer is first armed: a stream without timeouts (the default) never needs it. */
  private tm: StreamTimer | null = null;
  /** The keep-alive ping for the current silence was sent. */
  declare private idlePinged: boolean;
  declare timedOut: boolean;
  /** Set when the first error has been reported; later ones become operationAborted. */
  declare private failedReported: boolean;

  /**
   * The next layer lends the bytes it receives (`ChunkLender`: a TCP or TLS
   * stream): reads then parse frames in Node's own buffers, with no copy
   * into `rdBuf` first and no read buffer kept while idle.
   */
  declare readonly canLend: boolean;

  /** The next layer writes synchronously when it has room (`SpeculativeWriter`: a TCP or TLS stream). */
  declare readonly canWriteNow: boolean;

  constructor(readonly next: Next) {
    // The next layer's capabilities, as flags like the rest of the state (no field per connection).
    if (isChunkLender(next)) this.flags |= flag.canLend;
    if (isSpeculativeWriter(next)) this.flags |= flag.canWriteNow;
  }

  getExecutor(): Executor {
    return this.next.getExecutor();
  }

  /** Sets the role and resets the per-connection state (handshake or accept). */
  begin(role: Role): void {
    this.role = role;
    this.status = 'handshake';
    this.pmd?.close();
    this.pmd = null;
    // The next frame is parsed with the new role (and no RSV1) by a parser taken then.
    this.dropParser();
    this.rdInflate = false;
    this.rdTailSent = false;
    this.wrDeflate = false;
    this.rdMsgSize = 0;
    this.rdDone = true;
    this.rdClose = false;
    this.wrClose = false;
    this.wrCont = false;
    this.closeStarted = false;
    this.cr = noReason;
    this.timedOut = false;
    this.failedReported = false;
  }

  /** The handshake negotiated permessage-deflate: RSV1 now marks compressed messages (RFC 7692 §6). */
  enablePmd(codec: PmdCodec): void {
    this.pmd = codec;
    // RSV1 is allowed from now on: the next parser taken is configured so.
    this.dropParser();
  }

  isOpen(): boolean {
    return this.status === 'open';
  }

  // ---- the frame parser, pooled between messages ----

  private takeParser(): FrameParser {
    const role = this.role ?? 'server';
    const rsv1Allowed = this.pmd !== null;
    let p = spareParsers.pop();
    if (p === undefined) p = new FrameParser({ role, rsv1Allowed });
    else p.configure(role, rsv1Allowed);
    this.parserStore = p;
    return p;
  }

  /**
   * A read has ended: a parser at rest (between messages) goes back to the
   * pool — unless bytes are still buffered, which the next read parses at
   * once (frames arriving back to back keep their parser).
   */
  releaseParser(): void {
    const p = this.parserStore;
    if (p === null || this.rdPos !== this.rdEnd || !p.atRest) return;
    this.parserStore = null;
    offerParser(p);
  }

  /** The parser's options change (new role, permessage-deflate): the next frame gets a parser configured anew. */
  private dropParser(): void {
    const p = this.parserStore;
    this.parserStore = null;
    if (p?.atRest) offerParser(p);
  }

  // ---- parking a user operation (Beast's saved_handler with its cancellation filter) ----

  /**
   * Takes the write block for an operation, or parks it until a holder hands
   * the block over. While parked the operation has done nothing, so total as
   * well as terminal cancellation removes it without a trace and calls
   * `onCancel`; once it holds the block only terminal is honoured
   * (Beast: "total succeeds if the operation is suspended").
   */
  lockWriteOrPark(owner: object, kind: WriteWaiter, self: Parkable, run: Resume, onCancel: Resume): void {
    if (this.tryLockWrite(owner, kind, resumeParked(self, run))) return run();
    parkCancellable(self, () => this.cancelWriteWaiter(kind), onCancel);
  }

  /** As `lockWriteOrPark`, for the read block; `resumed` runs instead of `run` after parking. */
  lockReadOrPark(
    owner: object,
    kind: ReadWaiter,
    self: Parkable,
    run: Resume,
    onCancel: Resume,
    resumed: Resume = run,
  ): void {
    if (this.tryLockRead(owner, kind, resumeParked(self, resumed))) return run();
    parkCancellable(self, () => this.cancelReadWaiter(kind), onCancel);
  }

  // ---- write block ----

  /** Takes the write block if nobody holds it (then nobody waits for it either). */
  lockWriteIfFree(owner: object): boolean {
    if (this.wrBlock !== null) return false;
    this.wrBlock = owner;
    return true;
  }

  /** Takes the write block now (true) or parks `resume` to be called once it is handed over. */
  tryLockWrite(owner: object, kind: WriteWaiter, resume: Resume): boolean {
    if (this.lockWriteIfFree(owner)) return true;
    if (this.wrWaiters === noWaiters) this.wrWaiters = {};
    this.wrWaiters[kind] = () => {
      this.wrBlock = owner;
      resume();
    };
    return false;
  }

  hasWriteWaiter(kind: WriteWaiter): boolean {
    return this.wrWaiters[kind] !== undefined;
  }

  /** Removes a parked waiter (cancellation while parked); true if it was parked. */
  cancelWriteWaiter(kind: WriteWaiter): boolean {
    if (!this.wrWaiters[kind]) return false;
    delete this.wrWaiters[kind];
    return true;
  }

  /** True when an operation of higher priority than a write waits for the block (between fragments). */
  writeWaitersAhead(): boolean {
    const w = this.wrWaiters;
    return w.close !== undefined || w.idlePing !== undefined || w.read !== undefined || w.ping !== undefined;
  }

  /**
   * Between two fragments of a message: if a close, ping or pong waits,
   * park `resume` behind them and hand the block over; else keep it.
   * Returns true when the block was handed over.
   */
  yieldWrite(owner: object, resume: Resume): boolean {
    if (this.wrBlock !== owner || !this.writeWaitersAhead()) return false;
    // writeWaitersAhead() was true, so wrWaiters is this stream's own object.
    this.wrWaiters.write = () => {
      this.wrBlock = owner;
      resume();
    };
    this.unlockWrite(owner);
    return true;
  }

  unlockWrite(owner: object): void {
    if (this.wrBlock !== owner) return;
    this.wrBlock = null;
    // Nothing ever parked on this stream (the usual case): no waiter to look for.
    if (this.wrWaiters === noWaiters) return;
    for (const kind of writeWaiterOrder) {
      const resume = this.wrWaiters[kind];
      if (resume) {
        delete this.wrWaiters[kind];
        resume();
        return;
      }
    }
  }

  // ---- read block ----

  /** Takes the read block if nobody holds it (then nobody waits for it either). */
  lockReadIfFree(owner: object): boolean {
    if (this.rdBlock !== null) return false;
    this.rdBlock = owner;
    return true;
  }

  tryLockRead(owner: object, kind: ReadWaiter, resume: Resume): boolean {
    if (this.lockReadIfFree(owner)) return true;
    if (this.rdWaiters === noWaiters) this.rdWaiters = {};
    this.rdWaiters[kind] = () => {
      this.rdBlock = owner;
      resume();
    };
    return false;
  }

  hasReadWaiter(kind: ReadWaiter): boolean {
    return this.rdWaiters[kind] !== undefined;
  }

  cancelReadWaiter(kind: ReadWaiter): boolean {
    if (!this.rdWaiters[kind]) return false;
    delete this.rdWaiters[kind];
    return true;
  }

  unlockRead(owner: object): void {
    if (this.rdBlock !== owner) return;
    this.rdBlock = null;
    if (this.rdWaiters === noWaiters) return;
    for (const kind of readWaiterOrder) {
      const resume = this.rdWaiters[kind];
      if (resume) {
        delete this.rdWaiters[kind];
        resume();
        return;
      }
    }
  }

  // ---- errors (Beast's check_stop_now) ----

  /**
   * Turns an intermediate error into the one an operation reports: a timeout
   * first, the first real error as it is (the stream becomes failed), and
   * anything after that as operationAborted, as Beast's `check_stop_now`.
   */
  stopError(ec: ErrorCode): ErrorCode {
    if (this.timedOut && !this.failedReported) {
      this.failedReported = true;
      this.status = 'failed';
      return beastError.timeout;
    }
    if (this.failedReported) return netError.operationAborted;
    this.failedReported = true;
    if (this.status !== 'closed') this.status = 'failed';
    return ec;
  }

  /** The error for an operation started when the stream is no longer open. */
  notOpenError(): ErrorCode {
    // A timeout with no operation pending is delivered to the next caller (Beast's check_stop_now).
    if (this.timedOut && !this.failedReported) {
      this.failedReported = true;
      return beastError.timeout;
    }
    if (this.status === 'closed' && this.rdClose && this.wrClose) return wsError.closed;
    return netError.operationAborted;
  }

  /** Fails the stream after an I/O error: closes the lowest layer so nothing leaks. */
  closeNextLayer(): void {
    this.clearTimer();
    const lowest = lowestClosable(this.next);
    lowest?.close();
  }

  // ---- read buffer ----

  /** Makes room for a `readSome` into the read buffer; returns the free view. */
  prepareRead(): Buffer {
    if (this.rdPos === this.rdEnd) {
      this.rdPos = 0;
      this.rdEnd = 0;
    }
    if (
      this.rdBuf.length - this.rdEnd < MIN_READ_SPACE ||
      (this.rdEnd === 0 && this.rdBuf.length < this.rdSize)
    ) {
      const pending = this.rdEnd - this.rdPos;
      if (this.rdPos > 0 && this.rdBuf.length - pending >= MIN_READ_SPACE) {
        this.rdBuf.copyWithin(0, this.rdPos, this.rdEnd);
      } else {
        const grown = Buffer.allocUnsafe(Math.max(this.rdSize, pending + MIN_READ_SPACE));
        this.rdBuf.copy(grown, 0, this.rdPos, this.rdEnd);
        this.rdBuf = grown;
      }
      this.rdPos = 0;
      this.rdEnd = pending;
    }
    // An empty buffer is read into whole: no view (an idle connection's pending read keeps it).
    return this.rdEnd === 0 ? this.rdBuf : this.rdBuf.subarray(this.rdEnd);
  }

  /** A read from the next layer filled the read buffer: allocate a larger one next time. */
  readBufferFilled(): void {
    if (this.rdSize < this.opts.readBufferBytes)
      this.rdSize = Math.min(this.rdSize * 2, this.opts.readBufferBytes);
  }

  /**
   * Releases the read buffer when it holds nothing (memory per idle
   * connection): a large one, or any when the next layer lends its bytes
   * (the next read needs no buffer of ours).
   */
  shrinkReadBuffer(): void {
    if (this.rdPos === this.rdEnd) {
      this.rdPos = 0;
      this.rdEnd = 0;
      if (this.canLend || this.rdBuf.length > this.opts.readBufferBytes) this.rdBuf = NO_BYTES;
    }
  }

  /** Parses `chunk`, lent by the next layer, from now on (the read buffer held nothing). */
  useLentChunk(chunk: Buffer): void {
    this.rdBuf = chunk;
    this.rdPos = 0;
    this.rdEnd = chunk.length;
  }

  /** Bytes already read from the next layer that belong to the websocket (handshake leftovers). */
  appendRead(bytes: Uint8Array): void {
    if (bytes.length === 0) return;
    const pending = this.rdEnd - this.rdPos;
    const grown = Buffer.allocUnsafe(Math.max(this.opts.readBufferBytes, pending + bytes.length));
    this.rdBuf.copy(grown, 0, this.rdPos, this.rdEnd);
    grown.set(bytes, pending);
    this.rdBuf = grown;
    this.rdPos = 0;
    this.rdEnd = pending + bytes.length;
  }

  // ---- frames ----

  /**
   * Serializes one frame: header plus payload. A client masks into a fresh
   * buffer (the caller's bytes are never modified); a server sends the
   * caller's buffers as they are after a separate header, so the next layer
   * can gather them in one write.
   */
  makeFrame(
    opcode: number,
    fin: boolean,
    payload: readonly Uint8Array[],
    len: number,
    rsv1 = false,
  ): Uint8Array[] {
    const masked = this.role === 'client';
    const hlen = headerSize(len, masked);
    if (!masked) {
      const header = Buffer.allocUnsafe(hlen);
      writeFrameHeader(header, 0, fin, rsv1, opcode, len);
      return [header, ...payload];
    }
    const key = generateMaskKey();
    const out = Buffer.allocUnsafe(hlen + len);
    writeFrameHeader(out, 0, fin, rsv1, opcode, len, key);
    let off = hlen;
    let phase = 0;
    for (const part of payload) {
      phase = maskInto(out.subarray(off, off + part.length), part, key, phase);
      off += part.length;
    }
    return [out];
  }

  invokeControlCallback(kind: FrameType, payload: Uint8Array): void {
    const cb = this.opts.controlCallback;
    if (cb) cb(kind, Buffer.from(payload.buffer, payload.byteOffset, payload.length).toString('utf8'));
  }

  // ---- timer (Beast's timeout_handler, impl/stream_impl.hpp) ----

  /**
   * Arms the stream timer; on expiry the stream times out: it fails, the
   * next layer is closed, and pending operations report `beastError.timeout`
   * (Beast's `time_out`).
   */
  setTimer(ms: number): void {
    this.armTimer(ms, () => this.timeOut());
  }

  /** Whether a Node timer is armed for this stream now (the soak's leak check reads it). */
  timerArmed(): boolean {
    return this.tm !== null && this.tm.timer !== undefined;
  }

  clearTimer(): void {
    const tm = this.tm;
    if (tm === null) return;
    tm.gen++;
    if (tm.timer !== undefined) {
      clearTimeout(tm.timer);
      tm.timer = undefined;
    }
  }

  /**
   * One timer per stream, as Beast. The Node timer only posts to the
   * stream's executor (Beast's timeout_handler runs there); a generation
   * number drops an expiry that was overtaken by a clear or a re-arm.
   * Not `unref`ed: like an Asio timer it is outstanding work, and every
   * terminal path clears it (see `status`), which the tests check with
   * `process.getActiveResourcesInfo()` (unref'd timers do not show there).
   */
  private armTimer(ms: number, onExpire: () => void): void {
    this.clearTimer();
    if (!Number.isFinite(ms)) return;
    const tm = this.timerState();
    const gen = tm.gen;
    tm.timer = setTimeout(
      () => {
        tm.timer = undefined;
        this.getExecutor().post(() => {
          if (gen === tm.gen) onExpire();
        });
      },
      Math.max(0, ms),
    );
  }

  private timerState(): StreamTimer {
    this.tm ??= new StreamTimer();
    return this.tm;
  }

  private timeOut(): void {
    this.timedOut = true;
    this.status = 'failed';
    lowestClosable(this.next)?.close();
  }

  /** Data arrived from the peer (Beast's `reset_idle`). */
  noteReceived(): void {
    // The clock matters only with an idle timeout (none by default, as Beast).
    if (this.opts.timeout.idleTimeout !== Number.POSITIVE_INFINITY)
      this.timerState().lastReceived = performance.now();
    this.idlePinged = false;
  }

  /**
   * The idle timer while open (RFC 6455 has no idle rule; this is Beast's
   * `idle_timeout`). Measured from the last received byte: with
   * `keepAlivePings`, half the idle time of silence sends a ping through
   * the write block (priority 'idlePing') and a whole idle time of silence
   * times out; without, a whole idle time of silence times out. Unlike
   * Beast, which pings every half period whatever arrives, a busy peer is
   * not pinged.
   */
  private armIdle(): void {
    const t = this.opts.timeout;
    if (!Number.isFinite(t.idleTimeout)) return this.clearTimer();
    this.timerState().lastReceived = performance.now();
    this.idlePinged = false;
    this.scheduleIdle();
  }

  private scheduleIdle(): void {
    const t = this.opts.timeout;
    const due = t.keepAlivePings && !this.idlePinged ? t.idleTimeout / 2 : t.idleTimeout;
    const left = this.timerState().lastReceived + due - performance.now();
    // At least 1 ms: a Node timer may fire slightly before `performance.now()` says it is due.
    this.armTimer(Math.max(1, left), () => this.onIdleTimer());
  }

  private onIdleTimer(): void {
    if (this.statusValue !== 'open') return;
    const t = this.opts.timeout;
    const silent = performance.now() - this.timerState().lastReceived;
    if (silent >= t.idleTimeout) return this.timeOut();
    if (t.keepAlivePings && !this.idlePinged && silent >= t.idleTimeout / 2) {
      this.idlePinged = true;
      StreamImpl.idlePing?.(this);
    }
    this.scheduleIdle();
  }

  /**
   * Sends the keep-alive ping (`sendIdlePing` in ping.ts, which registers
   * itself here: a hook avoids an import cycle, and a static one costs no
   * closure per stream).
   */
  static idlePing: ((impl: StreamImpl) => void) | null = null;
}

/**
 * The bound on a closing handshake: the handshake timeout, as Beast's
 * `update_timer` uses it while closing; 30 s when none is set, so a peer that
 * never answers a close cannot hold a connection forever (Beast: unbounded).
 */
defineFlagAccessors(StreamImpl.prototype, flag);

/**
 * A user hook (decorator, request filter, subprotocol selector) threw
 * during a handshake. The operation completes with `handshakeHookFailed` —
 * an error as a value, as every other failure — and the exception itself is
 * reported as a process warning, so it is neither lost nor fatal.
 */
export function reportHookError(e: unknown): void {
  const detail = e instanceof Error ? (e.stack ?? e.message) : String(e);
  process.emitWarning(`a WebSocket handshake hook threw: ${detail}`, 'TsioWarning', 'TSIO_HANDSHAKE_HOOK');
}

/** Copies the shared options the first time a stream changes one. */
export function ownOpts(impl: StreamImpl): StreamOptions {
  if (impl.opts === sharedOptions()) impl.opts = { ...impl.opts };
  return impl.opts;
}

export function closingTimeoutOf(opts: StreamOptions): number {
  const t = opts.timeout.handshakeTimeout;
  return Number.isFinite(t) ? t : 30_000;
}

interface Closable {
  close(): void;
}

/** The lowest layer if it can be closed (TcpStream, TestStream, a user's stream with `close()`). */
export function lowestClosable(s: unknown): Closable | undefined {
  let cur: unknown = s;
  for (;;) {
    if (typeof cur !== 'object' || cur === null) return undefined;
    const next = (cur as { nextLayer?: () => unknown }).nextLayer;
    if (typeof next !== 'function') break;
    cur = next.call(cur);
  }
  return typeof (cur as Closable).close === 'function' ? (cur as Closable) : undefined;
}
