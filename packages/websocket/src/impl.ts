import { type ErrorCode, error as netError } from '@tsio/completion-token';
import type { Executor } from '@tsio/executor';
import { type AsyncStream, beastError } from '@tsio/net';
import { FrameParser, headerSize, serializeHeader } from './detail/frame.js';
import type { RequestType, ResponseType } from './detail/handshake.js';
import { generateMaskKey, maskInto } from './detail/mask.js';
import { type CloseReason, closeCode } from './detail/rfc6455.js';
import { Utf8Checker } from './detail/utf8.js';
import { error as wsError } from './error.js';
import type { StreamOptions } from './options.js';
import { defaultOptions } from './options.js';

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

/** Smallest free space worth a `readSome` into the read buffer before compacting it. */
const MIN_READ_SPACE = 2048;

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
  role: Role | null = null;
  status: Status = 'handshake';
  readonly opts: StreamOptions = defaultOptions();

  // ---- read side ----
  rdBuf: Buffer = Buffer.allocUnsafe(0);
  rdPos = 0;
  rdEnd = 0;
  parser: FrameParser = new FrameParser({ role: 'server' });
  /** Bytes of the current message seen so far (compared with readMessageMax). */
  rdMsgSize = 0;
  rdText = false;
  /** The last frame of the current message has been fully read. */
  rdDone = true;
  /** FIN of the data frame whose payload is being read. */
  rdFin = false;
  readonly utf8 = new Utf8Checker();
  rdClose = false;
  /** The peer's close reason (Beast's `reason()`). */
  cr: CloseReason = { code: closeCode.none, reason: '' };

  // ---- write side ----
  wrClose = false;
  /** A message started with writeSome(fin=false) is in progress: the next frame is a continuation. */
  wrCont = false;
  /** asyncClose was called (set at initiation, so a second close is refused even while the first waits). */
  closeStarted = false;

  // ---- blocks ----
  wrBlock: object | null = null;
  rdBlock: object | null = null;
  private readonly wrWaiters: Partial<Record<WriteWaiter, Resume>> = {};
  private readonly rdWaiters: Partial<Record<ReadWaiter, Resume>> = {};

  // ---- timer ----
  private timer: NodeJS.Timeout | undefined;
  timedOut = false;
  /** Set when the first error has been reported; later ones become operationAborted. */
  private failedReported = false;

  controlCallback: ControlCallback | null = null;
  /** Where options plug into the handshake (decorators, subprotocols, extensions). */
  hooks: HandshakeHooks = {
    decorateRequest: () => undefined,
    onResponse: () => null,
    decorateResponse: () => undefined,
    onRequest: () => null,
  };

  constructor(readonly next: Next) {}

  getExecutor(): Executor {
    return this.next.getExecutor();
  }

  /** Sets the role and resets the per-connection state (handshake or accept). */
  begin(role: Role): void {
    this.role = role;
    this.status = 'handshake';
    this.parser = new FrameParser({ role, rsv1Allowed: false });
    this.rdMsgSize = 0;
    this.rdDone = true;
    this.rdClose = false;
    this.wrClose = false;
    this.wrCont = false;
    this.closeStarted = false;
    this.cr = { code: closeCode.none, reason: '' };
    this.timedOut = false;
    this.failedReported = false;
  }

  isOpen(): boolean {
    return this.status === 'open';
  }

  // ---- write block ----

  /** Takes the write block now (true) or parks `resume` to be called once it is handed over. */
  tryLockWrite(owner: object, kind: WriteWaiter, resume: Resume): boolean {
    if (this.wrBlock === null) {
      this.wrBlock = owner;
      return true;
    }
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

  tryLockRead(owner: object, kind: ReadWaiter, resume: Resume): boolean {
    if (this.rdBlock === null) {
      this.rdBlock = owner;
      return true;
    }
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
    if (this.rdBuf.length - this.rdEnd < MIN_READ_SPACE) {
      const pending = this.rdEnd - this.rdPos;
      if (this.rdPos > 0 && this.rdBuf.length - pending >= MIN_READ_SPACE) {
        this.rdBuf.copyWithin(0, this.rdPos, this.rdEnd);
      } else {
        const grown = Buffer.allocUnsafe(Math.max(this.opts.readBufferBytes, pending + MIN_READ_SPACE));
        this.rdBuf.copy(grown, 0, this.rdPos, this.rdEnd);
        this.rdBuf = grown;
      }
      this.rdPos = 0;
      this.rdEnd = pending;
    }
    return this.rdBuf.subarray(this.rdEnd);
  }

  /** Releases the read buffer when it holds nothing (memory per idle connection). */
  shrinkReadBuffer(): void {
    if (this.rdPos === this.rdEnd) {
      this.rdPos = 0;
      this.rdEnd = 0;
      if (this.rdBuf.length > this.opts.readBufferBytes) this.rdBuf = Buffer.allocUnsafe(0);
    }
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
      serializeHeader(header, { fin, rsv1, opcode, len });
      return [header, ...payload];
    }
    const key = generateMaskKey();
    const out = Buffer.allocUnsafe(hlen + len);
    serializeHeader(out, { fin, rsv1, opcode, mask: key, len });
    let off = hlen;
    let phase = 0;
    for (const part of payload) {
      phase = maskInto(out.subarray(off, off + part.length), part, key, phase);
      off += part.length;
    }
    return [out];
  }

  invokeControlCallback(kind: FrameType, payload: Uint8Array): void {
    const cb = this.controlCallback;
    if (cb) cb(kind, Buffer.from(payload.buffer, payload.byteOffset, payload.length).toString('utf8'));
  }

  // ---- timer (Beast's timeout_handler, simplified) ----

  /** Arms the stream timer; on expiry the next layer is closed and pending operations report a timeout. */
  setTimer(ms: number): void {
    this.clearTimer();
    if (!Number.isFinite(ms)) return;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.timedOut = true;
      lowestClosable(this.next)?.close();
    }, ms);
  }

  clearTimer(): void {
    if (this.timer !== undefined) {
      clearTimeout(this.timer);
      this.timer = undefined;
    }
  }
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
